"""The Training studio page, driven by Streamlit's AppTest: real (small) training runs in the
background on the built-in 8x8 digits and on uploaded images, the comparison with PCA, the
training methods, and PCA against an autoencoder on a plane and a curved surface."""

import ast
import importlib.util
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from page_helpers import drawn, png_bytes, wait_for_job, without_torch
from PIL import Image, ImageDraw
from streamlit.runtime.memory_media_file_storage import _calculate_file_id
from streamlit.testing.v1 import AppTest

from engine.tasks.studio import serve as studio_serve
import engine

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
STUDIO = "app_pages/studio.py"
needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="training needs PyTorch")


def open_studio(tab: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(STUDIO).run()
    assert not at.exception
    if tab is not None:
        show_tab(at, tab)
    return at


def show_tab(at: AppTest, tab: str) -> None:
    at.session_state["studio_tab"] = tab
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def page_constant(name: str):
    tree = ast.parse((ROOT / STUDIO).read_text())
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and any(getattr(t, "id", None) == name
                                                                          for t in n.targets))
    return ast.literal_eval(node.value)


def choose(at: AppTest, family: str = "convolutional", data: str = "digits8", count: int = 250, epochs: int = 1,
           **settings) -> None:
    """The Train tab's settings; `settings` maps widget keys (without 'studio_') to values."""
    at.selectbox(key="studio_family").set_value(family).run()
    at.radio(key="studio_data").set_value(data).run()
    if data != "upload":
        at.select_slider(key="studio_count").set_value(count)
    at.slider(key="studio_epochs").set_value(epochs)
    for key, value in settings.items():
        widget = next(w for kind in ("select_slider", "selectbox", "radio", "slider", "checkbox")
                      for w in getattr(at, kind) if w.key == f"studio_{key}")
        widget.set_value(value)
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def train(at: AppTest, key: str = "studio_job", button: str = "studio_train") -> engine.Job:
    at.button(key=button).click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = at.session_state[key].job
    try:
        if job.running:  # the first rerun almost always sees it: progress and a stop button
            assert at.get("progress") and at.button(key=f"{key}_stop")
        return wait_for_job(at, key, lambda j: not j.running)
    finally:
        job.stop()


def captions(at: AppTest) -> list[str]:
    return [caption for image in at.image for caption in image.captions]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def frame(at: AppTest, column: str):
    return next(f.value for f in at.dataframe if column in f.value.columns)


def assert_run_shown(at: AppTest, run) -> None:
    """A finished run's reconstructions, code statistics, and its ONNX model to download."""
    assert {"Held-out originals", "Reconstructions"} <= set(captions(at))
    shown = metrics(at)
    assert shown["Held-out MSE"] == f"{run.result.heldout_mse:.4f}"
    assert shown["Near-zero share"] == f"{run.result.code_stats.near_zero_share:.0%}"
    assert shown["Parameters"] == f"{run.result.parameters:,}"
    download = next(b for b in at.get("download_button") if b.label == "Download the model (ONNX)")
    file_id = _calculate_file_id(run.result.onnx, "application/octet-stream",
                                 f"studio_{run.number}_{run.result.family}.onnx")
    assert download.proto.url.rsplit("/", 1)[-1].split(".")[0] == file_id
    assert any(j.value and f'"family": "{run.result.family}"'.replace(" ", "") in j.value.replace(" ", "")
               for j in at.json), "the model's metadata"
    assert len(at.get("plotly_chart")) >= 3  # code histogram, units, learning curves


def image_zip(count: int = 6) -> bytes:
    """A zip of `count` PNG pictures of different sizes and modes: a bar on a dark ground."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(count):
            picture = Image.new("RGB", (30 + 7 * i, 40 + 3 * i), (10, 10, 10))
            ImageDraw.Draw(picture).rectangle([5 + i, 8, 14 + i, 30], fill=(250, 240 - 20 * i, 200))
            archive.writestr(f"pics/bar{i}.png", png_bytes(picture))
    return buffer.getvalue()


# --- Rendering -----------------------------------------------------------------------------------
def test_the_page_renders_every_tab_without_training():
    at = open_studio()
    assert at.title[0].value == "Training studio"
    assert at.button(key="studio_train").disabled is False
    assert len(at.latex) >= 1  # the chosen family's formula
    for family in ("sparse", "stacked", "denoising", "variational"):
        at.selectbox(key="studio_family").set_value(family).run()
        assert not at.exception and not at.error, family
    show_tab(at, "Compare runs")
    assert any("No model trained yet" in i.value for i in at.info)
    show_tab(at, "Training methods")
    assert at.button(key="methods_train").disabled is False and len(at.latex) == 1
    assert not at.error


def test_the_noisy_input_matches_the_engines_comparison():

    assert page_constant("NOISY_EVAL") == studio_serve.NOISY_EVAL
    assert page_constant("NOISY_SEED") == studio_serve.HELDOUT_SEED


# --- Training ------------------------------------------------------------------------------------
@needs_torch
def test_a_small_convolutional_run_shows_reconstructions_code_stats_and_the_model():
    at = open_studio()
    choose(at, "convolutional", "digits8", count=250, epochs=1, code=8)
    job = train(at)
    assert job.state == "done", job.error
    run = job.result
    assert run.ended == "finished" and run.result.family == "convolutional"
    assert run.result.heldout.shape == run.result.reconstructions.shape == (300, 8, 8)
    assert run.result.codes.shape == (300, 8)
    assert not at.error
    assert any("trained for 1 epoch in" in s.value for s in at.success)
    assert_run_shown(at, run)
    assert metrics(at)["PCA, code 8"] == f"{run.pca['heldout_mse']:.4f}"
    recon, codes = engine.reconstruct_and_encode(run.result.onnx, run.result.heldout[:4])
    assert np.abs(recon - run.result.reconstructions[:4]).max() < 1e-4
    assert at.session_state["studio_runs"] == [run]


@needs_torch
def test_a_stopped_run_says_so_and_still_yields_a_usable_model():
    at = open_studio()
    choose(at, "convolutional", "digits8", count=12000, epochs=30)
    at.button(key="studio_train").click().run()
    job = at.session_state["studio_job"].job
    try:
        job = wait_for_job(at, "studio_job", lambda j: j.updates or not j.running)  # the first epoch reports
        assert job.running, "30 epochs ended before the stop button could be pressed"
        at.switch_page("app_pages/home.py").run()  # the run goes on while the user is elsewhere
        at.switch_page(STUDIO).run()
        assert not at.exception and at.get("progress")
        assert at.selectbox(key="studio_family").value == "convolutional"  # the settings are kept
        at.button(key="studio_job_stop").click().run()
        assert not at.exception
        job = wait_for_job(at, "studio_job", lambda j: not j.running)
    finally:
        job.stop()
    assert job.state == "stopped", job.error
    run = job.result
    assert run.ended == "stopped" and run.result.stopped
    epochs = run.result.history[-1].epoch
    assert 1 <= epochs < 30
    assert any(f"stopped after {epochs:.1f} of 30 epochs" in w.value for w in at.warning)
    assert_run_shown(at, run)
    recon, codes = engine.reconstruct_and_encode(run.result.onnx, run.result.heldout[:3])
    assert recon.shape == (3, 8, 8) and codes.shape == (3, 32) and np.isfinite(recon).all()


@needs_torch
def test_a_sparse_code_has_more_units_at_rest_than_a_plain_one_in_the_comparison():
    at = open_studio()
    choose(at, "undercomplete", "digits8", count=12000, epochs=2, code=16, lr=1e-2)
    assert train(at).state == "done"
    choose(at, "sparse", "digits8", count=12000, epochs=2, code=16, lr=1e-2, weight_l1=1e-2)
    assert train(at).state == "done"
    show_tab(at, "Compare runs")
    assert not at.error
    table = frame(at, "Near-zero code share").set_index("Variant")
    assert list(table.index) == ["#1 undercomplete, code 16", "#2 sparse (L1, λ=0.01), code 16", "PCA-16"]
    share = table["Near-zero code share"]
    assert share["#2 sparse (L1, λ=0.01), code 16"] > share["#1 undercomplete, code 16"] + 0.1
    runs = at.session_state["studio_runs"]
    assert table.loc["PCA-16", "Held-out MSE"] == runs[0].pca["heldout_mse"] == runs[1].pca["heldout_mse"]
    assert table.loc["#1 undercomplete, code 16", "Held-out MSE"] == round(runs[0].result.heldout_mse, 5)

    # The session's models run on an uploaded drawing (made into a centred 8x8 digit first).
    assert at.selectbox(key="studio_try_model").value == runs[1].label  # the latest first
    seven = drawn([[(20, 12), (70, 12), (40, 62)]])
    at.file_uploader(key="studio_try_upload").upload("seven.png", seven, "image/png").run()
    assert not at.exception and not at.error
    assert {"Input: seven.png", "Reconstruction"} <= set(captions(at))
    at.file_uploader(key="studio_try_upload").upload("x.png", b"garbage", "image/png").run()
    assert not at.exception
    assert len(at.error) == 1 and "x.png" in at.error[0].value


@needs_torch
def test_a_zip_of_images_is_trained_on():
    at = open_studio()
    choose(at, "undercomplete", "upload", epochs=1, code=4)
    assert at.button(key="studio_train").disabled  # nothing to train on yet
    at.file_uploader(key="studio_files").set_value([("pics.zip", image_zip(6), "application/zip")]).run()
    assert not at.exception and not at.error
    assert any(c.startswith("Some of your 6 images (pics.zip) at 28x28") for c in captions(at))
    job = train(at)
    assert job.state == "done", job.error
    run = job.result
    assert run.data.builtin is None and run.data.train is None  # the run keeps no copy of the images
    assert "pics.zip" in run.result.data_note
    assert run.result.heldout.shape == (1, 28, 28)  # one of the six held out
    assert run.pca is not None and run.pca["code_size"] == 4
    assert not at.error
    assert_run_shown(at, run)


def test_bad_uploads_are_named_and_the_page_goes_on():
    at = open_studio()
    at.radio(key="studio_data").set_value("upload").run()
    at.file_uploader(key="studio_files").set_value(
        [("x.png", b"\x00garbage bytes", "image/png"),
         ("broken.zip", b"PK\x03\x04 not really", "application/zip")]
    ).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 2 and "x.png" in errors[0] and "broken.zip" in errors[1], errors
    assert "Traceback" not in " ".join(errors)
    assert at.button(key="studio_train").disabled
    # Good images afterwards: the errors go and training may start.
    at.file_uploader(key="studio_files").set_value([("pics.zip", image_zip(4), "application/zip")]).run()
    assert not at.exception and not at.error
    assert not at.button(key="studio_train").disabled


@needs_torch
def test_the_three_training_methods_side_by_side():
    at = open_studio("Training methods")
    at.selectbox(key="methods_data").set_value("digits8")
    at.select_slider(key="methods_count").set_value(250)
    at.select_slider(key="methods_code").set_value(8)
    at.slider(key="methods_epochs").set_value(2)
    at.run()
    job = train(at, "methods_job", "methods_train")
    assert job.state == "done", job.error
    table = frame(at, "Method")
    assert list(table["Method"]) == ["All layers at once", "Layer-wise pretraining, then fine-tuning",
                                     "Tied weights (decoder = encoder transposed)"]
    runs = job.result
    assert [r.result.settings.method for r in runs] == ["all-at-once", "layer-wise", "all-at-once"]
    assert runs[2].result.config["tied"] and runs[2].result.parameters < runs[0].result.parameters
    assert list(table["Held-out MSE"]) == [round(r.result.heldout_mse, 5) for r in runs]
    assert at.get("plotly_chart") and len(at.image) == 3
    assert not at.error


# --- PCA against autoencoders --------------------------------------------------------------------
@needs_torch
def test_pca_rebuilds_the_plane_exactly_and_the_digits_are_projected():
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(STUDIO)
    for key, value in (("pc_points", 200), ("pc_epochs", 20), ("proj_dims", 3), ("proj_epochs", 5)):
        at.session_state[key] = value
    show_tab(at, "PCA vs autoencoders")
    assert not at.error
    table = frame(at, "Autoencoder MSE").set_index("Surface")
    assert float(table.loc["Plane", "PCA MSE"]) < 1e-20  # the plane is PCA's own subspace
    assert float(table.loc["Curved surface", "PCA MSE"]) > 1e-2  # the bowl is not
    assert float(table.loc["Curved surface", "Autoencoder MSE"]) > 0
    projection = frame(at, "Neighbour agreement")
    assert list(projection["Method"]) == ["PCA", "Autoencoder"]
    assert len(at.get("plotly_chart")) == 4  # two surfaces, two projections


def test_without_torch_training_points_to_the_training_requirements(monkeypatch):
    without_torch(monkeypatch)
    at = open_studio()
    assert not at.error
    for tab in ("Train", "Training methods", "PCA vs autoencoders"):
        show_tab(at, tab)
        assert not at.error, tab
        assert any("requirements-train.txt" in info.value for info in at.info), tab
    assert not [b for b in at.button if b.key in ("studio_train", "methods_train")]
    assert not at.get("plotly_chart")
    show_tab(at, "Compare runs")
    assert any("No model trained yet" in i.value for i in at.info)


def test_opening_every_tab_imports_no_torch():
    """Until the user trains, the page needs no torch: a serving-only install can show it."""
    code = f"""
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({str(APP)!r}, default_timeout=120).run()
at.switch_page({STUDIO!r}).run()
for tab in ("Compare runs", "Training methods"):
    at.session_state["studio_tab"] = tab
    at.run()
assert not at.exception, [e.value for e in at.exception]
assert "torch" not in sys.modules, "torch imported"
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=300)
