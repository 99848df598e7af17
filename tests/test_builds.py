"""The build pipeline end to end at a tiny scale: train, export, parity, manifest, CLI."""
import json
import subprocess
import sys

import numpy as np
import torch

from engine import builds, runtime
from engine.models import CharAutoencoder, CharAutoencoderConfig
from engine.train import TrainConfig, fit


def test_training_loop_lowers_the_loss_and_reports_progress():
    rng = np.random.default_rng(0)
    data = (rng.random((300, 1, 28, 28)) > 0.8).astype(np.float32)
    seen = []
    model = CharAutoencoder(CharAutoencoderConfig(code_size=16, channels=(8, 16)))
    losses = fit(model, lambda step, r: (data[r.integers(300, size=32)],) * 2,
                 TrainConfig(steps=60, batch_size=32, lr=3e-3), progress=seen.append, report_every=20)
    assert len(losses) == 60 and np.mean(losses[-10:]) < np.mean(losses[:10]) * 0.8
    assert [p.step for p in seen] == [20, 40, 60] and not model.training


def test_tiny_char_build_writes_models_and_manifest(tmp_path):
    opts = builds.BuildOptions(out_dir=tmp_path, scale=0.005)
    entries = builds.build("denoiser-char", opts, "python -m engine train denoiser-char")
    assert set(entries) == {"denoiser_char", "pca_char"}
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    for name, entry in manifest["models"].items():
        assert runtime.sha256_of((tmp_path / entry["file"]).read_bytes()) == entry["sha256"]
        assert entry["command"] == "python -m engine train denoiser-char"
    checkpoint = torch.load(tmp_path / "denoiser_char.pt", weights_only=False)
    assert checkpoint["class"] == "CharAutoencoder" and checkpoint["config"]["code_size"] == 64
    out = runtime.run(str(tmp_path / "pca_char.onnx"), np.zeros((2, 1, 28, 28), np.float32))
    assert out.shape == (2, 1, 28, 28)


def test_cli_bench_and_eval_print_json():
    bench = subprocess.run([sys.executable, "-m", "engine", "bench", "--json", "--repeats", "1"],
                           capture_output=True, text=True, check=True, timeout=600)
    result = json.loads(bench.stdout)
    rows = result["tables"][0]["rows"]
    assert {r[0] for r in rows} >= {"denoiser_char", "denoiser_photo", "pca_char"}
    assert all(r[2] > 0 for r in rows)
    table = subprocess.run([sys.executable, "-m", "engine", "eval", "denoise", "--count", "100"],
                           capture_output=True, text=True, check=True, timeout=600)
    assert "Autoencoder" in table.stdout and "PSNR" in table.stdout
