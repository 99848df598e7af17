"""Faults: a changed byte in a shipped model is caught by its checksum and reported in the page
that needs it, while the other pages keep working."""
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import engine
from engine.core import runtime

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"


def damaged(tmp_path, monkeypatch, file: str):
    """A copy of pretrained/ in which one byte of `file` is changed, used in its place."""
    copy = tmp_path / "pretrained"
    shutil.copytree(runtime.PRETRAINED_DIR, copy, ignore=shutil.ignore_patterns("*.pt"))
    model = copy / file
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    monkeypatch.setattr(runtime, "PRETRAINED_DIR", copy)
    st.cache_data.clear()       # results cached by earlier tests would hide the damage
    st.cache_resource.clear()
    return copy


@pytest.fixture
def damaged_denoiser(tmp_path, monkeypatch):
    """A copy of pretrained/ in which one byte of the character denoiser is changed."""
    yield damaged(tmp_path, monkeypatch, "denoiser_char.onnx")
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def damaged_forecaster(tmp_path, monkeypatch):
    """A copy of pretrained/ in which one byte of the sequence forecaster is changed."""
    yield damaged(tmp_path, monkeypatch, "sequence_forecaster.onnx")
    st.cache_data.clear()
    st.cache_resource.clear()


def test_engine_names_the_damaged_model_and_the_others_still_run(damaged_denoiser):
    chars = np.stack(engine.builtin_gallery("digits", count=4).images)
    with pytest.raises(engine.ModelError, match="denoiser_char.onnx does not match its checksum"):
        engine.denoise(chars)
    assert engine.anomaly_scores(chars).shape == (4,)
    assert engine.embed(chars).shape == (4, 64)


@pytest.mark.slow
def test_pages_report_the_damage_and_the_other_pages_work(damaged_denoiser):
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page("app_pages/denoising.py").run()
    assert not at.exception
    at.selectbox(key="example").set_value(next(o for o in at.selectbox(key="example").options
                                               if o.startswith("Character"))).run()
    assert not at.exception
    assert any("checksum" in e.value and "python -m engine train" in e.value for e in at.error)

    for page in ("app_pages/anomaly.py", "app_pages/search.py"):
        at.switch_page(page).run()
        assert not at.exception and not at.error, page
        assert at.dataframe or at.metric


@pytest.mark.slow
def test_the_sequence_page_reports_a_damaged_forecaster_in_its_tab_and_the_rest_works(damaged_forecaster):
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page("app_pages/sequence.py").run()
    assert not at.exception
    assert any("sequence_forecaster.onnx" in e.value and "checksum" in e.value for e in at.error)
    assert any("How the sequence autoencoder works" in h.value for h in at.subheader)   # the page goes on
    at.session_state["seq_tab"] = "2. Find anomalous days"
    at.run()
    assert not at.exception and not at.error
    assert any(m.label == "Injected anomalies detected" for m in at.metric)


def _models_verify_and_load(folder: Path) -> int:
    manifest = runtime.load_manifest(folder)["models"]
    for name, entry in manifest.items():
        data = (folder / entry["file"]).read_bytes()
        assert runtime.sha256_of(data) == entry["sha256"], name
        runtime.session(data)        # onnxruntime opens it
    return len(manifest)


BUILD = [sys.executable, "-m", "engine", "train", "vae-2d", "--scale", "0.005", "--out"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A folder as a finished `train vae-2d --out` leaves it: the 2-D VAE's two graphs and their
    manifest entries (the shipped ones, copied)."""
    folder = tmp_path_factory.mktemp("built")
    models = {name: entry for name, entry in runtime.available_models().items() if name.startswith("vae_2d_")}
    for entry in models.values():
        shutil.copy(runtime.PRETRAINED_DIR / entry["file"], folder)
    (folder / runtime.MANIFEST_NAME).write_text(json.dumps({"models": models}))
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("after_seconds", [1.0, 4.0, 7.0])
def test_a_build_killed_at_any_point_leaves_loadable_models(built, tmp_path, after_seconds):
    """SIGKILL a rebuild part way (while importing, training or exporting): every model the
    manifest lists still matches its checksum and loads, and no half-written file is left."""
    folder = tmp_path / "pretrained"
    shutil.copytree(built, folder)
    assert _models_verify_and_load(folder) == 2
    before = {p.name for p in folder.glob("*.onnx")}
    process = subprocess.Popen([*BUILD, str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               cwd=APP.parent)
    time.sleep(after_seconds)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert _models_verify_and_load(folder) == 2
    assert {p.name for p in folder.glob("*.onnx")} == before
    assert not list(folder.glob(".*.tmp"))      # atomic writes leave no partial file behind
