"""The Training studio page, driven by Streamlit's AppTest: real (small) training runs in the
background on the built-in 8x8 digits and on uploaded images, the comparison with PCA, the
training methods, and PCA against an autoencoder on a plane and a curved surface."""

import io
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from page_helpers import drawn, png_bytes, wait_for_job, without_torch
from PIL import Image, ImageDraw
from run_control import hold_job_reports
from streamlit.runtime.memory_media_file_storage import _calculate_file_id
from streamlit.testing.v1 import AppTest

import engine
from app_pages import session_models
from app_pages.logic import studio as logic, studio_pca as pca_logic
from engine.core import jobs, precomputed
from engine.tasks.studio import serve as studio_serve

pytestmark = pytest.mark.slow   # every test drives the app under AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
STUDIO = "app_pages/studio.py"
needs_torch = pytest.mark.skipif(not engine.training.available(), reason="training needs PyTorch")


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


def choose(at: AppTest, family: str = "convolutional", data: str = "digits8", count: int = 250, epochs: int = 1,
           **settings) -> None:
    """The Train tab's settings; `settings` maps widget keys (without 'studio_') to values."""
    at.selectbox(key="studio_family").set_value(family).run()
    at.radio(key="studio_data").set_value(data).run()
    if data != "upload":
        at.select_slider(key="studio_count").set_value(count)
    at.slider(key="studio_epochs").set_value(epochs)
    for key, value in settings.items():
        setting(at, key).set_value(value)
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def setting(at: AppTest, key: str):
    """The Train tab's widget of session-state key 'studio_' + `key`, whatever its kind."""
    return next(w for kind in ("select_slider", "selectbox", "radio", "slider", "checkbox")
                for w in getattr(at, kind) if w.key == f"studio_{key}")


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
    """The first table (interactive or static) with this column."""
    return next(f.value for f in [*at.dataframe, *at.table] if column in f.value.columns)


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
    script = next(c.value for c in at.code if "train_model(" in c.value)   # "Reproduce in Python"
    assert script.strip() == logic.reproduce_script(run).strip() and f"train_model({run.result.family!r}" in script
    assert f"epochs={run.result.settings.epochs}" in script and f"seed={run.result.settings.seed}" in script


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

    assert logic.NOISY_EVAL == studio_serve.NOISY_EVAL
    assert logic.NOISY_SEED == studio_serve.HELDOUT_SEED


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
    # the replay: a snapshot before the first step and after the epoch, the last one shown
    replay = at.select_slider(key="studio_last_replay")
    assert replay.options == ["start", "epoch 1"] and replay.value == 1
    assert any(e.label == "Replay the training (2 snapshots)" for e in at.expander)
    assert any(c.value.startswith("The model after epoch 1") for c in at.caption)
    replay.set_value(0).run()
    assert any(c.value.startswith("The model before the first step") for c in at.caption)
    assert run.watched_labels is not None and len(run.watched_labels) == len(run.result.snapshots[-1].map)
    recon, _ = engine.reconstruct_and_encode(run.result.onnx, run.result.heldout[:4])
    assert np.abs(recon - run.result.reconstructions[:4]).max() < 1e-4
    assert at.session_state[session_models.STUDIO_RUNS] == [run]


@needs_torch
def test_a_stopped_run_says_so_and_still_yields_a_usable_model(monkeypatch):
    hold_job_reports(monkeypatch)   # the run is still going when the test presses Stop, however fast the machine
    at = open_studio()
    choose(at, "convolutional", "digits8", count=250, epochs=30)
    at.button(key="studio_train").click().run()
    job = at.session_state["studio_job"].job
    try:
        job = wait_for_job(at, "studio_job", lambda j: j.updates or not j.running)  # the first epoch reports
        assert job.running, job.error
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
    assert share["#2 sparse (L1, λ=0.01), code 16"] > share["#1 undercomplete, code 16"] + 10   # percent
    runs = at.session_state[session_models.STUDIO_RUNS]
    assert table.loc["PCA-16", "Held-out MSE"] == runs[0].pca["heldout_mse"] == runs[1].pca["heldout_mse"]
    assert table.loc["#1 undercomplete, code 16", "Held-out MSE"] == round(runs[0].result.heldout_mse, 5)

    # The session's models run on an uploaded drawing (made into a centred 8x8 digit first).
    assert at.selectbox(key="studio_try_model").value == runs[1].label  # the latest first
    seven = drawn([[(20, 12), (70, 12), (40, 62)]])
    at.file_uploader(key="studio_try_upload").upload("seven.png", seven, "image/png").run()
    assert not at.exception and not at.error
    assert {"Your image: seven.png", "What the model sees (8x8)", "Reconstruction"} <= set(captions(at))
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
    # The label quotes the upload's name, escaped for markdown (app_pages/text.plain).
    assert any(c.replace("\\", "").startswith("Some of your 6 images (pics.zip) at 28x28") for c in captions(at))
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
def show_part(at: AppTest, part: str) -> list[str]:
    """Opens a part of the PCA tab; the titles of the charts then drawn."""
    at.session_state["pca_part"] = part
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return chart_titles(at)


def chart_specs(at: AppTest) -> list[dict]:
    """The Vega-Lite specs of the page's charts."""
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


def chart_titles(at: AppTest) -> list[str]:
    return [spec["title"] if isinstance(spec["title"], str) else spec["title"]["text"] for spec in chart_specs(at)]


def turnable(spec: dict) -> bool:
    """Whether a chart is a 3-D view, with its turn and tilt sliders."""
    sliders = [p["name"] for p in spec.get("params", []) if isinstance(p.get("bind"), dict) and p["bind"].get("input") == "range"]
    return sliders == ["turn", "tilt"]


SURFACE_TITLES = ["Points on a plane", "Points on a curved surface"]


@needs_torch
def test_pca_rebuilds_the_plane_exactly_and_the_digits_are_projected():
    from app_pages.parts.studio_pca import PARTS

    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(STUDIO)
    for key, value in (("pc_points", 200), ("pc_epochs", 20), ("proj_dims", 3), ("proj_epochs", 5)):
        at.session_state[key] = value
    show_tab(at, "PCA vs autoencoders")
    # other settings than the opening ones: nothing trained yet, and the tab opens on the surfaces
    assert not at.error and not at.get("vega_lite_chart")
    at.button(key="surfaces_fit").click().run()
    assert not at.error and chart_titles(at) == SURFACE_TITLES
    table = frame(at, "Autoencoder MSE").set_index("Surface")
    assert float(table.loc["Plane", "PCA MSE"]) < 1e-20  # the plane is PCA's own subspace
    assert float(table.loc["Curved surface", "PCA MSE"]) > 1e-2  # the bowl is not
    assert float(table.loc["Curved surface", "Autoencoder MSE"]) > 0
    assert show_part(at, PARTS[2]) == []   # these digits' settings are not fitted either
    at.button(key="projection_fit").click().run()
    assert not at.error and chart_titles(at) == ["PCA", "Autoencoder"] and all(map(turnable, chart_specs(at)))
    projection = frame(at, "Neighbour agreement")
    assert list(projection["Method"]) == ["PCA", "Autoencoder"]
    # what this session fitted stays fitted: back on the surfaces, no button
    assert show_part(at, PARTS[0]) == SURFACE_TITLES and "surfaces_fit" not in [b.key for b in at.button]


def side_fit(name: str, points: np.ndarray, follower: np.ndarray) -> engine.SurfaceFit:
    """A SurfaceFit by PCA (scikit-learn's), with `follower` as the autoencoder's reconstruction."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2).fit(points)
    codes = pca.transform(points)
    recon = pca.inverse_transform(codes)
    return engine.SurfaceFit(name, points, codes, recon, float(np.mean((recon - points) ** 2)), codes, follower,
                             float(np.mean((follower - points) ** 2)))


def test_the_surfaces_side_view_shows_pca_flat_and_the_bowl_rising_from_it():
    surfaces = engine.surface_points(400, seed=1)
    rng = np.random.default_rng(0)
    for flip in (1, -1):       # a bowl upside down is seen the same way up: the plane's normal has no sign
        bowl = surfaces["curve"] * [1, 1, flip]
        views = pca_logic.side_view(side_fit("curve", bowl, bowl + rng.normal(0, 0.01, bowl.shape)))
        along, off = views["original points"]
        assert np.all(np.abs(views["PCA's reconstruction"][1]) < 1e-9)     # PCA answers on its plane
        assert np.corrcoef(along ** 2, off)[0, 1] > 0.9                    # the bowl: a parabola, opening upwards
        assert off[along > 0.9].mean() - off[along < 0.3].mean() > 0.4
        assert np.corrcoef(views["autoencoder's reconstruction"][1], off)[0, 1] > 0.95   # a follower keeps the curve
        np.testing.assert_allclose(np.hypot(*pca_logic.side_view(side_fit("c", bowl, bowl))["original points"]),
                                   np.linalg.norm(bowl - bowl.mean(0), axis=1), atol=1e-9)   # distances kept
    plane = surfaces["plane"]
    views = pca_logic.side_view(side_fit("plane", plane, plane * 1.1))
    assert all(np.all(np.abs(views[name][1]) < 1e-9) for name in ("original points", "PCA's reconstruction"))
    assert np.abs(views["autoencoder's reconstruction"][1]).max() > 1e-3   # a reconstruction off the plane shows
    chart = pca_logic.surface_side_chart(side_fit("plane", plane, plane), "Points on a plane")
    assert chart.data["group"].value_counts().to_dict() == dict.fromkeys(pca_logic.SET_COLOURS, 400)
    assert not turnable(chart.to_dict())


def vega_eval(expression: str, **values):
    """A PROJECTION expression evaluated in numpy (Vega's `datum.f` and PI, sin and cos)."""
    return eval(expression.replace("datum.", "").replace("PI", "pi"),   # noqa: S307 - the module's own constants
                {"sin": np.sin, "cos": np.cos, "pi": np.pi}, values)


def projected(points: np.ndarray, turn: float, tilt: float) -> dict[str, np.ndarray]:
    """What a 3-D view draws for these angles: its calculate transforms, in order."""
    row = {"x": points[:, 0], "y": points[:, 1], "z": points[:, 2], "turn": turn, "tilt": tilt}
    for name, expression in pca_logic.PROJECTION.items():
        row[name] = vega_eval(expression, **row)
    return row


def test_the_3d_views_turn_the_points_in_the_browser_without_stretching_them():
    rng = np.random.default_rng(3)
    points = rng.normal(size=(300, 3)) * [3, 2, 1] + [5, -2, 7]
    data, box, reach = pca_logic.turnable_rows(points, np.array(["a"] * 300))
    centred = data[["x", "y", "z"]].to_numpy()
    np.testing.assert_allclose(centred.mean(axis=0), 0, atol=1e-12)
    for turn, tilt in ((0, 0), (35, 20), (-120, 75), (180, -90)):
        view = projected(centred, turn, tilt)
        # a rotation: every point keeps its distance from the centre, split over across, up and near
        np.testing.assert_allclose(view["across"] ** 2 + view["up"] ** 2 + view["near"] ** 2, (centred ** 2).sum(axis=1))
        assert np.abs(view["across"]).max() <= reach and np.abs(view["up"]).max() <= reach   # nothing leaves the view
    front, top = projected(centred, 0, 0), projected(centred, 0, 90)
    np.testing.assert_allclose(front["across"], centred[:, 0])   # from the front: x across, z up
    np.testing.assert_allclose(front["up"], centred[:, 2])
    np.testing.assert_allclose(top["up"], centred[:, 1], atol=1e-12)   # from above: y up, the highest points nearest
    np.testing.assert_allclose(top["near"], centred[:, 2], atol=1e-12)
    # the box: 12 edges, each along one axis between corners of the points' extent
    assert len(box) == 12
    lengths = np.abs(box[["x2", "y2", "z2"]].to_numpy() - box[["x", "y", "z"]].to_numpy())
    assert ((lengths > 0).sum(axis=1) == 1).all()
    # each edge's far end is projected as a point there would be (the box turns with the points)
    ends = {"x2": box["x2"].to_numpy(), "y2": box["y2"].to_numpy(), "z2": box["z2"].to_numpy(), "turn": 35, "tilt": 20}
    for name, expression in {**pca_logic.ANGLES, **pca_logic.projection("2")}.items():
        ends[name] = vega_eval(expression, **ends)
    as_points = projected(box[["x2", "y2", "z2"]].to_numpy(), 35, 20)
    for name in ("across", "up", "near"):
        np.testing.assert_allclose(ends[f"{name}2"], as_points[name])
    np.testing.assert_allclose(np.sort(lengths.max(axis=1))[::4], np.sort(np.ptp(centred, axis=0)))
    chart = pca_logic.turnable_chart(points, np.array(["a", "b", "c"] * 100), ["a", "b", "c"], ["#000", "#111", "#222"], "t")
    spec = chart.to_dict()
    assert turnable(spec) and spec["width"] == spec["height"]   # square: turning keeps the shape
    assert spec["autosize"] == {"type": "pad"}   # the plot itself square: its title and legend add to it
    assert [p["value"] for p in spec["params"] if p["name"] in ("turn", "tilt")] == [pca_logic.TURN, pca_logic.TILT]


@needs_torch
def test_the_pca_tab_opens_on_precomputed_results_one_part_at_a_time():
    from app_pages.parts import studio_pca

    stores = precomputed.register_all()
    assert list(stores["studio_surfaces"].variants()) == [(studio_pca.OPENING["pc_points"], 0, studio_pca.OPENING["pc_epochs"])]
    assert {("projection", *v) for v in stores["studio_projections"].variants()} == {
        ("projection", dims, studio_pca.OPENING["proj_epochs"]) for dims in (2, 3)}
    assert precomputed.stale(stores={n: stores[n] for n in ("studio_surfaces", "studio_projections", "studio_lessons")}) == {}
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(STUDIO)
    show_tab(at, "PCA vs autoencoders")
    # only the open part runs: the surfaces, not the lessons' or the digits' charts; edge-on first
    assert not at.error and chart_titles(at) == SURFACE_TITLES and not any(map(turnable, chart_specs(at)))
    at.toggle(key="pc_rotate").set_value(True).run()
    assert not at.error and chart_titles(at) == SURFACE_TITLES and all(map(turnable, chart_specs(at)))
    assert show_part(at, studio_pca.PARTS[1]) == ["Share of variance per principal component",
                                                  "The spring, found from ten cameras' pictures"]
    lessons = frame(at, "PCA loses")
    assert list(lessons["Code size"]) == [2, 1]
    assert lessons["PCA loses"].iloc[0] > 70   # random data: nothing to compress
    assert lessons["PCA loses"].iloc[1] < 3 and float(lessons["PCA follows the spring"].iloc[1]) > 0.99
    assert lessons["PCA follows the spring"].iloc[0] == "—"   # random data has no truth to follow
    assert show_part(at, studio_pca.PARTS[2]) == ["PCA", "Autoencoder"] and not any(map(turnable, chart_specs(at)))
    at.radio(key="proj_dims").set_value(3).run()
    assert not at.error and chart_titles(at) == ["PCA", "Autoencoder"] and all(map(turnable, chart_specs(at)))
    assert not [b for b in at.button if b.key in ("surfaces_fit", "projection_fit")]
    assert not at.get("plotly_chart")   # the tab draws no plotly chart: plotly's script is not loaded for it


# --- Sharing the server --------------------------------------------------------------------------
@pytest.fixture
def one_job_server(monkeypatch) -> jobs.JobQueue:
    """A server that trains one job and queues none; what a test leaves going is stopped."""
    queue = jobs.JobQueue(slots=1, waiting=0)
    monkeypatch.setattr(jobs, "_queue", queue)
    yield queue
    for job in queue.jobs():
        job.stop()
        job.wait(60)


@needs_torch
def test_a_full_server_says_so_and_the_settings_are_kept(one_job_server):
    others = jobs.start_job(lambda job: job._stop.wait(240), label="Another visitor's run", owner="another visitor")
    at = open_studio()
    choose(at, "convolutional", "digits8", count=250, epochs=3)
    at.button(key="studio_train").click().run()
    assert not at.exception and not at.error, [e.value for e in at.exception]
    assert [w.value for w in at.warning] == [
        "The server is busy training for other visitors (1 running, 0 waiting their turn: as many as it takes "
        "at once). Try again in a minute."]
    assert "studio_job" not in at.session_state and one_job_server.jobs() == [others]
    assert at.slider(key="studio_epochs").value == 3 and not at.button(key="studio_train").disabled


@needs_torch
def test_a_visitor_trains_one_run_at_a_time_and_can_stop_it_from_the_refusal(one_job_server, monkeypatch):

    def methods_until_stopped(choice, code_size, epochs, lr, job, reports, runs):
        job._stop.wait(240)
        return []

    monkeypatch.setattr(logic, "train_methods", methods_until_stopped)
    at = open_studio("Training methods")
    at.button(key="methods_train").click().run()
    methods = at.session_state["methods_job"].job
    assert methods.running and methods.owner and methods.owner_alive()   # the visitor's session, still there
    show_tab(at, "Train")
    choose(at, "convolutional", "digits8", count=250, epochs=1)
    at.button(key="studio_train").click().run()   # the same visitor, another run
    assert not at.exception and not at.error
    assert "studio_job" not in at.session_state and not at.warning
    assert any("«Comparing the training methods» is still going" in i.value for i in at.info)
    at.button(key="studio-convolutional_stop_other").click().run()
    assert not at.exception
    assert methods.wait(60) and methods.state == "stopped"
    show_tab(at, "Training methods")
    assert any("stopped before a model was trained" in i.value for i in at.info)


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


# --- The page's logic, without streamlit ---------------------------------------------------------
def progress(epoch: float, validation: float | None = 0.02, phase: str = "training") -> engine.StudioProgress:
    return engine.StudioProgress(step=int(epoch * 10), steps=100, loss=0.3, seconds=2.0 * epoch, validation=validation,
                                 epoch=epoch, phase=phase)


def fake_run(number: int, family: str = "undercomplete", config: dict | None = None, key: str = "digits8:250",
             ended: str = "finished", pca: dict | None = None, history: list | None = None, method: str = "all-at-once",
             epochs: int = 10, patience: int | None = 3) -> logic.Run:
    """A run as the page keeps it, with just the numbers the logic reads (no training)."""
    config = {"code_size": 8, **(config or {})}
    result = SimpleNamespace(
        family=family, config=config,
        settings=SimpleNamespace(method=method, epochs=epochs, patience=patience, code_size=config["code_size"]),
        parameters=1000 * number, heldout_mse=0.0123456, seconds=3.21, history=history or [progress(1.0)],
        code_stats=engine.CodeStats(0.5, 0.25, 6.0, 1), codes=np.zeros((4, config["code_size"])),
        heldout=np.zeros((4, 8, 8), np.float32), onnx=b"model", snapshots=[],
    )
    data = logic.DataChoice(key, f"data {key}", "digits8", 250)
    return logic.Run(number, f"#{number} {logic.run_label(result)}", data, result, 0.0456789, pca, ended)


def test_run_labels_name_the_family_and_its_settings():
    def label(family: str, method: str = "all-at-once", **config) -> str:
        return logic.run_label(SimpleNamespace(family=family, config={"code_size": 16, **config},
                                               settings=SimpleNamespace(method=method)))

    assert label("undercomplete") == "undercomplete, code 16"
    assert label("sparse", penalty="l1", weight=0.01) == "sparse (L1, λ=0.01), code 16"
    assert label("convolutional", code_layer="maps", channels=(16, 8, 8)) == "convolutional, feature maps 16-8-8, code 16"
    assert label("sparse", penalty="kl", weight=0.1, rho=0.05) == "sparse (KL, λ=0.1, ρ=0.05), code 16"
    assert label("stacked", hidden=(128, 64), tied=True) == "stacked 128-64, tied, code 16"
    assert label("stacked", "layer-wise", hidden=(64,), tied=False) == "stacked 64, layer-wise, code 16"
    assert label("denoising", noise="mask", mask_fraction=0.3) == "denoising (mask 0.3), code 16"
    assert label("denoising", noise="gaussian", noise_factor=0.5) == "denoising (gaussian 0.5), code 16"
    assert label("variational", beta=2.0) == "variational (β=2), code 16"


def test_how_a_run_ended_tells_the_users_stop_from_the_time_limit():
    def ended(stopped: bool, early: bool, asked: bool) -> str:
        return logic.how_it_ended(SimpleNamespace(stopped=stopped, stopped_early=early),
                                  SimpleNamespace(should_stop=lambda: asked))

    assert ended(True, False, True) == "stopped"
    assert ended(True, False, False) == "time limit"
    assert ended(False, True, False) == "early stopping"
    assert ended(False, False, False) == "finished"


def test_the_users_images_are_split_and_named_by_their_bytes_and_side():
    images = np.arange(25, dtype=np.float32)[:, None, None] * np.ones((1, 4, 4), np.float32)
    train, heldout = engine.split_heldout(images)
    assert len(heldout) == round(25 * engine.UPLOAD_HELDOUT_SHARE) and len(train) + len(heldout) == 25
    assert sorted(np.concatenate([train, heldout])[:, 0, 0]) == list(range(25))  # each image once
    assert np.array_equal(engine.split_heldout(images)[1], heldout)  # seeded
    assert len(engine.split_heldout(images[:3])[1]) == 1  # at least one held out
    choice = logic.uploaded_choice(images, ["a", "b"], ["1.png", "2.png", "3.png", "4.png"], 16)
    assert choice.builtin is None and choice.count == len(choice.train) == len(train)
    assert choice.label == "your 25 images (1.png, 2.png, 3.png and 1 more) at 16x16, 2 held out"
    assert choice.key == logic.uploaded_choice(images, ["a", "b"], ["other.png"], 16).key
    assert choice.key != logic.uploaded_choice(images, ["a", "b"], ["other.png"], 28).key
    assert choice.key != logic.uploaded_choice(images, ["a", "c"], ["other.png"], 16).key


def test_upload_messages_count_what_was_passed_over():
    skipped = [(f"m{i}.txt", "not an image") for i in range(7)]
    assert logic.skipped_text("a.zip", skipped) == ("In **a.zip**, 7 files were passed over: " + "; ".join(
        f"m{i}.txt: not an image" for i in range(5)) + " (and 2 more)")
    assert logic.skipped_text("a.zip", skipped[:1]) == "In **a.zip**, 1 files were passed over: m0.txt: not an image"
    assert logic.too_many_text(20000) == "Your files hold 20,000 images; the first 12,000 are used."
    assert logic.too_few_text(1).endswith("There is 1.") and logic.too_few_text(2).endswith("There are 2.")
    assert logic.builtin_choice("digits8", 2000).label == "built-in handwritten digits, 8x8, 2,000 training images at most"


def test_the_comparison_lists_the_runs_then_pca_once_per_code_size():
    pca8 = {"variant": "PCA-8", "code_size": 8, "parameters": 100, "heldout_mse": 0.02, "noisy_mse": 0.03,
            "near_zero_share": 0.0, "seconds": 0.1}  # as engine.training.compare_family gives PCA's row
    pca4 = {**pca8, "variant": "PCA-4", "code_size": 4}
    runs = [fake_run(1, pca=pca8), fake_run(2, family="sparse", config={"penalty": "l1", "weight": 0.01}, pca=pca8),
            fake_run(3, config={"code_size": 4}, pca=pca4, ended="stopped")]
    rows = logic.comparison_rows(runs)
    assert [row["Variant"] for row in rows] == ["#1 undercomplete, code 8", "#2 sparse (L1, λ=0.01), code 8",
                                                "#3 undercomplete, code 4", "PCA-4", "PCA-8"]
    assert rows[0] == {"Variant": "#1 undercomplete, code 8", "Code size": 8, "Parameters": 1000,
                       "Held-out MSE": 0.01235, "MSE from noisy input": 0.04568, "Near-zero code share": 25.0,
                       "Seconds": 3.2, "Ended": "finished"}
    assert rows[2]["Ended"] == "stopped" and rows[3]["Ended"] == rows[4]["Ended"] == ""
    assert len(logic.comparison_rows([fake_run(1)])) == 1  # no PCA (too few images for it): no row


def test_runs_are_grouped_by_their_data_and_picked_latest_first():
    runs = [fake_run(1, key="a"), fake_run(2, key="b"), fake_run(3, key="a")]
    assert list(logic.data_groups(runs)) == ["a", "b"]
    assert [run.number for run in logic.trained_on(runs, "a")] == [1, 3]
    assert [run.number for run in logic.latest_first(runs).values()] == [3, 2, 1]
    assert logic.validation_figure([fake_run(1, history=[progress(1.0, None)])]) is None
    figure = logic.validation_figure(runs)
    assert [trace.name for trace in figure.data] == [run.label for run in runs]


def test_a_runs_status_says_how_it_ended_in_epochs():
    history = [progress(1.0), progress(2.5)]
    assert logic.run_status(fake_run(1, ended="stopped", history=history, epochs=30)) == (
        "warning", "**#1 undercomplete, code 8**: stopped after 2.5 of 30 epochs; below is the model as it was then.",
        ":material/stop_circle:")
    kind, words, icon = logic.run_status(fake_run(1, ended="time limit", history=history))
    assert (kind, icon) == ("warning", ":material/timer:")
    assert "reached the 5-minute limit after 2.5 of 10 epochs" in words
    kind, words, icon = logic.run_status(fake_run(1, ended="early stopping", history=history, patience=1))
    assert (kind, icon) == ("info", ":material/trending_flat:")
    assert "early stopping after 2 of 10 epochs" in words and "for 1 epoch)" in words
    assert logic.run_status(fake_run(1, epochs=1)) == (
        "success", "**#1 undercomplete, code 8**: trained for 1 epoch in 3.2 s.", ":material/check_circle:")
    assert logic.plural(2, "epoch") == "2 epochs"
    assert logic.model_file_name(fake_run(4, family="sparse", config={"penalty": "l1", "weight": 0.1})) == (
        "studio_4_sparse.onnx")
    assert logic.units_caption(fake_run(1).result) == "6.0 of 8 units are active for an average image; 1 never are."


def test_the_progress_words_follow_the_latest_report():
    pending = logic.Pending(SimpleNamespace(gate=engine.PauseGate()), [], 10, "data")
    assert logic.progress_words(pending) == "Preparing the data and training the first epoch…"
    pending.reports.append(("Tied weights", progress(2.0)))
    assert logic.progress_words(pending) == ("Tied weights · training, epoch 2 of 10 · loss 0.3000 · validation MSE "
                                             "0.0200 · 4 s")
    pending.reports.append(("", progress(3.0, None, "pretraining layer 1 of 2")))
    assert logic.progress_words(pending) == (
        "pretraining layer 1 of 2, epoch 3 of 10 · loss of rebuilding the pixels 0.3000 · 6 s")
    pending.reports.append(("", progress(4.0, None, "pretraining layer 2 of 2")))
    assert "loss of rebuilding layer 1's codes 0.3000 (on the codes' own scale: not comparable with the pixels' loss)" \
        in logic.progress_words(pending)
    pending.job.gate.pause()   # not yet held at a step: no step to name
    assert logic.progress_words(pending).startswith("Paused: resume, or take one step at a time, below.")


def test_the_methods_table_names_each_method_and_warns_when_one_was_cut_short():
    runs = [fake_run(5), fake_run(6), fake_run(7)]
    assert list(logic.method_names(runs).values()) == list(logic.METHOD_LABELS.values())
    assert [row["Method"] for row in logic.methods_rows(runs)] == list(logic.METHOD_LABELS.values())
    assert logic.methods_rows(runs)[0]["Held-out MSE"] == 0.01235
    assert not logic.methods_incomplete(runs)
    assert logic.methods_incomplete(runs[:2])
    assert logic.methods_incomplete([*runs[:2], fake_run(7, ended="time limit")])
    assert len(logic.methods_curves(runs).data) == 6  # objective and validation per method
    stopped = SimpleNamespace(should_stop=lambda: True)
    assert logic.train_methods(logic.builtin_choice("digits8", 250), 8, 1, 1e-3, stopped, [], []) == []


def test_a_strip_lays_images_side_by_side_enlarged_with_white_gaps():
    images = np.stack([np.zeros((8, 8)), np.full((8, 8), 0.5), np.full((8, 8), 2.0)]).astype(np.float32)
    pixels = logic.strip(images)  # 56-pixel tiles: each pixel as a 7x7 block
    assert pixels.dtype == np.uint8 and pixels.shape == (56, 3 * 56 + 2 * 2)
    assert (pixels[:, :56] == 0).all() and (pixels[:, 56:58] == 255).all() and (pixels[:, 58:114] == 128).all()
    assert (pixels[:, -56:] == 255).all()  # clipped to [0, 1]
    assert logic.strip(images[:1], 112).shape == (112, 112)


def test_other_pages_see_a_studio_run_as_its_model():
    model = session_models.as_model(fake_run(2))
    assert model == session_models.StudioModel("#2 undercomplete, code 8", b"model", 8)
    assert session_models.as_model(SimpleNamespace(label="#1 failed", result=SimpleNamespace(onnx=None))) is None
    with pytest.raises(AttributeError):
        model.label = "another"  # frozen: other pages read, only the studio records


def test_a_run_is_set_against_pca_in_plain_words():
    def run(family: str, mse: float, pca: float, validation: list[float]) -> logic.Run:
        config = {"penalty": "l1", "weight": 3e-4} if family == "sparse" else None
        made = fake_run(1, family=family, config=config, pca={"code_size": 8, "heldout_mse": pca})
        made.result.heldout_mse, made.result.validation_losses = mse, validation
        return made

    kind, words = logic.pca_verdict(run("convolutional", 0.0031, 0.0060, [0.0040, 0.0039]))
    assert kind == "success" and "Ahead of PCA" in words and "0.0031 against PCA's 0.0060" in words
    # the old default: a blurry mean digit, its validation error flat
    kind, words = logic.pca_verdict(run("undercomplete", 0.0326, 0.0061, [0.03310, 0.03308]))
    assert kind == "warning" and "5.3 times PCA's error" in words and "more epochs" in words
    assert "still falling" not in words
    assert "still falling" in logic.pca_verdict(run("convolutional", 0.0126, 0.0060, [0.020, 0.015]))[1]
    kind, words = logic.pca_verdict(run("sparse", 0.0075, 0.0060, [0.0076, 0.0076]))
    assert kind == "info" and "Behind PCA by 25%" in words and "sparsity penalty" in words
    assert logic.pca_verdict(run("sparse", 0.02, 0.0060, [0.02, 0.02]))[0] == "warning"   # far behind: not the penalty
    assert logic.pca_verdict(fake_run(1)) is None
    # codes of feature maps (the lecture's D and E) on 8x8 images: 64 pixels
    wide = fake_run(1, "convolutional", {"code_size": 32}, pca={"code_size": 32, "heldout_mse": 0.0001})
    kind, words = logic.pca_verdict(wide)
    assert kind == "info" and "A wide code" in words and "32 numbers for 64 pixels" in words
    kind, words = logic.pca_verdict(fake_run(1, "denoising", {"code_size": 128, "noise": "gaussian",
                                                                 "noise_factor": 0.5}))   # PCA cannot have 128 components
    assert kind == "info" and "No compression" in words and "rebuild clean images from corrupted ones" in words


def test_the_live_picture_draws_any_code_with_its_digits_colours():
    rng = np.random.default_rng(0)
    for codes in (np.full((5, 3), 0.5, np.float32), rng.random((300, 64), dtype=np.float32) * 0.5 + 0.3,
                  np.zeros((1, 1), np.float32), rng.normal(size=(300, 2)).astype(np.float32)):
        labels = np.arange(len(codes)) % 10
        picture = engine.snapshot_picture(codes, engine.code_map(codes), labels, logic.DIGIT_COLOURS)
        assert picture.shape == (280, 840, 3) and picture.dtype == np.uint8
        colours = {tuple(int(logic.DIGIT_COLOURS[d][i:i + 2], 16) for i in (1, 3, 5)) for d in np.unique(labels)}
        drawn_colours = {tuple(c) for c in picture[:, 420:].reshape(-1, 3)}
        assert colours <= drawn_colours   # every digit on the map has its colour (its points and the legend)
    plain_map = engine.snapshot_picture(codes, engine.code_map(codes), None, logic.DIGIT_COLOURS)   # the user's images: no digits
    orange = tuple(int(logic.DIGIT_COLOURS[1][i:i + 2], 16) for i in (1, 3, 5))
    assert orange not in {tuple(c) for c in plain_map.reshape(-1, 3)}
    # Fashion-MNIST's kinds are named in the legend: longer words push its colour boxes further left
    labels = np.arange(300) % 10
    codes = rng.random((300, 8), dtype=np.float32)
    named = engine.snapshot_picture(codes, engine.code_map(codes), labels, logic.DIGIT_COLOURS, names=engine.FASHION_CLASSES)
    digits = engine.snapshot_picture(codes, engine.code_map(codes), labels, logic.DIGIT_COLOURS)
    first = tuple(int(logic.DIGIT_COLOURS[0][i:i + 2], 16) for i in (1, 3, 5))

    def legend_box_left(picture: np.ndarray) -> int:
        return int(np.flatnonzero((picture[30:42, 700:] == first).all(axis=2).any(axis=0)).min()) + 700
    assert legend_box_left(named) < legend_box_left(digits) - 40
    figure = logic.code_map_figure(engine.code_map(codes), labels, False, tuple(engine.FASHION_CLASSES))
    assert [trace.name for trace in figure.data] == list(engine.FASHION_CLASSES) and "by kind" in figure.layout.title.text


def test_live_views_show_the_latest_snapshot_while_a_run_trains():
    def page():
        from types import SimpleNamespace

        import numpy as np
        import streamlit as st

        import engine
        from app_pages.logic import studio as logic
        from app_pages.parts.studio_common import job_progress

        job = SimpleNamespace(running=True, fraction=0.4, state="running", updates=[], stop=lambda: None,
                              should_stop=lambda: False, gate=engine.PauseGate())
        rng = np.random.default_rng(0)
        live = logic.LiveViews(rng.random((8, 8, 8), dtype=np.float32), np.arange(300) % 10)
        for epoch in (0, 1, 2):
            codes = rng.normal(size=(300, 6)).astype(np.float32)
            live.snapshots.append(engine.StudioSnapshot(epoch * 9, float(epoch), rng.random((8, 8, 8), dtype=np.float32),
                                                        codes, engine.code_map(codes)))
        st.session_state["pending"] = logic.Pending(job, [("", engine.StudioProgress(18, 30, 0.1, 2.0, 0.09, 2.0))], 3,
                                                    "digits", live)
        job_progress("pending")

    at = AppTest.from_function(page, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [c.value for c in at.caption if c.value.startswith("The model")]
    assert len(shown) == 1 and shown[0].startswith("The model after epoch 2 (step 18):")   # the latest only
    assert "of the code values are near zero" in shown[0]
    assert "Their reconstructions at this point" in captions(at)
    assert len(at.get("plotly_chart")) == 1   # the curves; the histogram and the map are one still picture
    picture = next(i for i in at.image if any(c.startswith("The code's values and the held-out codes' map") for c in i.captions))
    assert picture is not None and list(at.session_state["pending"].live.pictures) == [18]   # drawn once, for the latest


@needs_torch
def test_a_run_pauses_takes_one_step_at_a_time_with_its_snapshot_and_resumes(monkeypatch):
    real = engine.training.train_model

    def after_pause(*args, stop, pause, **kwargs):
        """The run's first step waits until the test has pressed Pause, on a machine of any speed."""
        waited = []

        def stop_first_after_pause() -> bool:
            deadline = time.monotonic() + 240
            while not waited and not pause.paused and time.monotonic() < deadline:
                time.sleep(0.02)
            waited.append(True)
            return stop()

        return real(*args, stop=stop_first_after_pause, pause=pause, **kwargs)

    monkeypatch.setattr(engine.training, "train_model", after_pause)
    at = open_studio()
    choose(at, "undercomplete", "digits8", count=1000, epochs=3, code=8)
    at.button(key="studio_train").click().run()
    job = at.session_state["studio_job"].job
    try:
        wait_for_job(at, "studio_job", lambda j: at.session_state["studio_job"].live.snapshots or not j.running)
        at.button(key="studio_job_views_pause").click().run()   # waits until the run is held
        assert not at.exception and job.gate.held, "held after Pause"
        live = at.session_state["studio_job"].live
        held_at = live.snapshots[-1].step
        assert any(f"Paused at step {held_at:,}" in p.proto.text for p in at.get("progress"))
        time.sleep(0.3)
        assert all(u.step <= held_at for u in job.updates) and job.gate.held   # no step taken while paused
        for _ in range(2):
            before = len(live.snapshots)
            at.button(key="studio_job_views_step").click().run()
            assert not at.exception and job.gate.held
            assert len(live.snapshots) == before + 1 and live.snapshots[-1].step == held_at + 1   # one batch, shown
            held_at += 1
            shown = [c.value for c in at.caption if c.value.startswith("The model")]
            assert shown == [logic.snapshot_caption(live.snapshots[-1])] and f"after step {held_at:,}" in shown[0]
        at.button(key="studio_job_views_resume").click().run()
        assert not job.gate.paused
        wait_for_job(at, "studio_job", lambda j: not j.running)
    finally:
        job.stop()
    assert job.state == "done", job.error
    result = job.result.result
    steps = [s.step for s in result.snapshots]
    assert {held_at - 1, held_at} <= set(steps) and steps == sorted(steps)   # the single steps are in the replay
    assert result.history[-1].epoch == 3


@needs_torch
def test_a_run_without_live_views_keeps_no_snapshots():
    at = open_studio()
    choose(at, "undercomplete", "digits8", count=250, epochs=1, code=8, live=False)
    job = train(at)
    assert job.state == "done", job.error
    assert job.result.result.snapshots == [] and at.session_state["studio_job"].live.snapshots == []
    assert not any(e.label.startswith("Replay the training") for e in at.expander)


@needs_torch
def test_the_lectures_convolutional_presets_set_a_code_of_feature_maps_and_train_with_it():
    at = open_studio()
    at.selectbox(key="studio_preset").set_value("conv_denoising").run()
    assert not at.exception, [e.value for e in at.exception]
    keys = ("family", "code_layer", "maps", "noise", "noise_factor", "optimizer", "lr", "batch", "epochs")
    shown = {key: setting(at, key).value for key in keys}
    assert shown == {"family": "denoising", "code_layer": "maps", "maps": "32-32, decoder 32-32", "noise": "gaussian",
                     "noise_factor": 0.5, "optimizer": "adadelta", "lr": 1.0, "batch": 128, "epochs": 30}
    assert any("7x7: 1,568 numbers" in c.value for c in at.caption)
    at.selectbox(key="studio_preset").set_value("conv_maps").run()
    assert (at.selectbox(key="studio_family").value, at.selectbox(key="studio_maps").value) == (
        "convolutional", "16-8-8, decoder 8-8")
    # the preset's network, trained briefly on the 8x8 digits: 8 maps of 2x2
    choose(at, "convolutional", "digits8", count=250, epochs=1)
    assert any("2x2: 32 numbers" in c.value for c in at.caption)
    job = train(at)
    assert job.state == "done", job.error
    result = job.result.result
    assert result.config["code_layer"] == "maps" and result.settings.code_size == 32 and result.parameters == 3145
    assert result.settings.optimizer == "adadelta" and result.settings.lr == 1.0
    assert job.result.pca["code_size"] == 32


@needs_torch
def test_a_preset_sets_the_source_documents_network_and_trains_with_it():
    at = open_studio()
    at.selectbox(key="studio_preset").set_value("tutorial").run()
    assert not at.exception
    shown = {"family": at.selectbox(key="studio_family").value, "code": at.select_slider(key="studio_code").value,
             "activation": at.radio(key="studio_activation").value, "optimizer": at.selectbox(key="studio_optimizer").value,
             "loss": at.selectbox(key="studio_loss").value, "batch": at.selectbox(key="studio_batch").value,
             "schedule": at.selectbox(key="studio_schedule").value, "epochs": at.slider(key="studio_epochs").value,
             "lr": at.select_slider(key="studio_lr").value}
    assert shown == {"family": "undercomplete", "code": 256, "activation": "sigmoid", "optimizer": "rmsprop", "loss": "mse",
                     "batch": 100, "schedule": "constant", "epochs": 20, "lr": 0.01}
    assert any("784 → 256 (sigmoid) → 784 (sigmoid)" in c.value for c in at.caption)
    # the preset's training, on a small set to keep the test short
    choose(at, "undercomplete", "digits8", count=250, epochs=1, code=16)
    job = train(at)
    assert job.state == "done", job.error
    settings = job.result.result.settings
    assert (settings.optimizer, settings.batch_size, settings.schedule, settings.lr) == ("rmsprop", 100, "constant", 0.01)
    assert job.result.result.config["loss"] == "mse" and job.result.result.config["code_activation"] == "sigmoid"
    at.selectbox(key="studio_preset").set_value("stacked").run()
    assert at.selectbox(key="studio_hidden").value == "128-64" and at.selectbox(key="studio_optimizer").value == "adam"


@needs_torch
def test_fashion_mnist_is_offered_and_trained_on(fake_fashion):
    at = open_studio()
    assert logic.DATA_LABELS["fashion"] in at.radio(key="studio_data").options
    choose(at, "undercomplete", "fashion", count=250, epochs=1, code=8)
    job = train(at)
    assert job.state == "done", job.error
    run = job.result
    assert run.result.heldout.shape == (200, 28, 28)       # the stand-in files' test set, whole
    assert "Fashion-MNIST" in run.result.data_note
    assert run.label_names == tuple(engine.FASHION_CLASSES)   # the replay's map names the kinds
    assert not at.error


def test_without_fashion_mnist_the_studio_says_how_to_add_it(no_fashion):
    at = open_studio()
    assert logic.DATA_LABELS["fashion"] not in at.radio(key="studio_data").options
    assert any("apt-get install dataset-fashion-mnist" in c.value for c in at.caption)
