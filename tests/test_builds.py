"""The build pipeline end to end at a tiny scale: train, export, parity, manifest, CLI."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from engine import builds as builds
from engine.core import runtime
from engine.nn import recipes as recipes
from engine.nn.layers import CharAutoencoder, CharAutoencoderConfig
from engine.nn.train import TrainConfig, fit


@pytest.mark.slow
def test_training_loop_lowers_the_loss_and_reports_progress():
    rng = np.random.default_rng(0)
    data = (rng.random((300, 1, 28, 28)) > 0.8).astype(np.float32)
    seen = []
    model = CharAutoencoder(CharAutoencoderConfig(code_size=16, channels=(8, 16)))
    losses = fit(model, lambda step, r: (data[r.integers(300, size=32)],) * 2,
                 TrainConfig(steps=60, batch_size=32, lr=3e-3), progress=seen.append, report_every=20)
    assert len(losses) == 60 and np.mean(losses[-10:]) < np.mean(losses[:10]) * 0.8
    assert [p.step for p in seen] == [20, 40, 60] and not model.training


@pytest.mark.slow
def test_tiny_char_build_writes_models_and_manifest(tmp_path):
    opts = recipes.BuildOptions(out_dir=tmp_path, scale=0.005)
    entries = builds.build("denoiser-char", opts, "python -m engine train denoiser-char")
    assert set(entries) == {"denoiser_char", "pca_char"}
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    for _name, entry in manifest["models"].items():
        assert runtime.sha256_of((tmp_path / entry["file"]).read_bytes()) == entry["sha256"]
        assert entry["command"] == "python -m engine train denoiser-char"
    checkpoint = torch.load(tmp_path / "denoiser_char.pt", weights_only=False)
    assert checkpoint["class"] == "CharAutoencoder" and checkpoint["config"]["code_size"] == 64
    out = runtime.run(str(tmp_path / "pca_char.onnx"), np.zeros((2, 1, 28, 28), np.float32))
    assert out.shape == (2, 1, 28, 28)


@pytest.mark.slow
def test_cli_bench_and_eval_print_json():
    bench = subprocess.run([sys.executable, "-m", "engine", "bench", "--json", "--repeats", "1", "--load-rounds", "2",
                            "--models", "denoiser_char", "denoiser_photo", "pca_char", "--no-baselines"],
                           capture_output=True, text=True, check=True, timeout=600)
    result = json.loads(bench.stdout)
    latency, tasks, serving, load = result["tables"]
    rows = latency["rows"]
    assert {r[0] for r in rows} == {"denoiser_char", "denoiser_photo", "pca_char"} and len(rows) == 6
    assert all(r[3] > 0 and r[5] > 0 and r[7] > 0 for r in rows)          # onnxruntime, torch, MFLOP
    assert [r[2] for r in rows] == ["float"] * 6                           # no int8 twin among these
    assert all((r[4] is not None) == (r[2] == "int8") for r in rows)      # the float graph beside an int8 twin
    assert all(r[8] > 0 for r in rows if r[1].startswith("256x")) and result["peak_gflops"] > 0
    assert [r[0] for r in tasks["rows"]] == ["denoise (photo)"]
    models, resident_mb, torch_imported = serving["rows"][0]
    assert models == len(runtime.available_models()) and resident_mb > 50 and torch_imported is False
    assert [len(r) for r in load["rows"]] == [6, 6] and all(r[4] > 50 for r in load["rows"])
    table = subprocess.run([sys.executable, "-m", "engine", "eval", "anomaly", "--count", "100"],
                           capture_output=True, text=True, check=True, timeout=600)
    assert "AUROC letters" in table.stdout and "PCA, 16 components" in table.stdout


def test_a_build_that_dies_leaves_the_shipped_models_alone(tmp_path, monkeypatch):
    (tmp_path / "manifest.json").write_text('{"models": {}}')
    (tmp_path / "old.onnx").write_bytes(b"old")

    def dies_after_writing(opts):
        (opts.out_dir / "old.onnx").write_bytes(b"half-written")
        raise KeyboardInterrupt

    monkeypatch.setitem(builds.BUILDS, "dying", (dies_after_writing,))
    try:
        builds.build("dying", recipes.BuildOptions(out_dir=tmp_path), "python -m engine train dying")
    except KeyboardInterrupt:
        pass
    assert (tmp_path / "old.onnx").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "old.onnx"]


@pytest.mark.slow
def test_tiny_anomaly_build_carries_its_calibration(tmp_path):
    from engine.tasks.anomaly.serve import ANOMALY_DEFAULT_SCORING, threshold_for

    entries = builds.build("anomaly", recipes.BuildOptions(out_dir=tmp_path, scale=0.005),
                           "python -m engine train anomaly")
    calibration = entries["anomaly_char"]["calibration"]
    scores = calibration["scores"][ANOMALY_DEFAULT_SCORING]
    assert len(scores) == 1300 and calibration["false_positive_rate"] == 0.05
    meta = runtime.metadata(str(tmp_path / "anomaly_char.onnx"))
    assert float(meta["threshold"]) == threshold_for(scores, 0.05)
    assert set(entries) == {"anomaly_char", "anomaly_pca"}
    for entry in entries.values():
        assert runtime.sha256_of((tmp_path / entry["file"]).read_bytes()) == entry["sha256"]
