"""Runtime: the manifest's checksums guard every shipped model; sessions are cached and
sized from the CPUs this process may use."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import engine
from engine.core import runtime


@pytest.fixture()
def pretrained_copy(tmp_path, monkeypatch):
    """A private copy of pretrained/ that a test may damage."""
    copy = tmp_path / "pretrained"
    shutil.copytree(runtime.PRETRAINED_DIR, copy)
    monkeypatch.setattr(runtime, "PRETRAINED_DIR", copy)
    return copy


def test_manifest_lists_every_shipped_file_with_its_checksum():
    models = runtime.available_models()
    assert {"denoiser_char", "pca_char", "denoiser_photo"} <= set(models)
    for name, entry in models.items():
        data = (runtime.PRETRAINED_DIR / entry["file"]).read_bytes()
        assert runtime.sha256_of(data) == entry["sha256"], name
        assert entry["command"].startswith("python -m engine train"), name
        assert entry["metrics"], name


def test_a_changed_byte_is_caught_and_other_models_keep_working(pretrained_copy):
    entry = runtime.model_info("denoiser_char")
    path = pretrained_copy / entry["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(engine.ModelError, match="checksum"):
        runtime.session("denoiser_char")
    assert runtime.run("denoiser_photo", np.zeros((1, 4, 8, 8), np.float32)).shape == (1, 3, 8, 8)


def test_a_missing_model_file_says_how_to_rebuild(pretrained_copy):
    entry = runtime.model_info("pca_char")
    (pretrained_copy / entry["file"]).unlink()
    with pytest.raises(engine.ModelError, match="python -m engine train"):
        runtime.session("pca_char")


def test_unknown_model_name():
    with pytest.raises(engine.ModelError, match="No pretrained model"):
        runtime.session("no_such_model")


def test_sessions_are_cached_and_use_the_cpus_we_may_use():
    a = runtime.session("denoiser_char")
    assert runtime.session("denoiser_char") is a
    assert "CPUExecutionProvider" in a.get_providers()
    assert runtime.cpu_count() == len(os.sched_getaffinity(0))
    assert runtime.device_name() in ("CPU", "CUDA")


def test_session_from_path_and_bytes_and_metadata():
    path = runtime.PRETRAINED_DIR / runtime.model_info("denoiser_char")["file"]
    by_path = runtime.session(str(path))
    assert runtime.session(path.read_bytes()) is by_path
    meta = runtime.metadata("denoiser_char")
    assert meta["task"] == "denoise" and "training_data" in meta and "input" in meta


def test_serving_imports_no_torch():
    code = ("import sys, numpy as np, engine\n"
            "x = np.random.default_rng(0).random((2, 28, 28), dtype=np.float32)\n"
            "engine.denoise(x); engine.denoise(np.random.rand(1, 30, 41, 3).astype('float32'))\n"
            "engine.compare_denoising(x[0])\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
