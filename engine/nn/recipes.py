"""What the builds of several tasks share: build options, the manifest entry of a model, its
checkpoint beside the ONNX file, the noise of training, and the character autoencoder's
training, export and PCA baseline."""
from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.core import runtime
from engine.core.imaging import add_noise
from engine.core.progress import Progress
from engine.core.runtime import atomic_write_bytes
from engine.nn.checkpoints import checkpoint
from engine.nn.export import export_onnx, pca_to_onnx
from engine.nn.layers import CharAutoencoder, CharAutoencoderConfig
from engine.nn.train import TrainConfig, fit

ProgressFn = Callable[[Progress], None]


@dataclass
class BuildOptions:
    out_dir: Path = runtime.PRETRAINED_DIR
    scale: float = 1.0          # multiplies steps and data sizes: 0.01 makes a smoke-test build
    seed: int = 0
    progress: ProgressFn | None = None
    models_dir: Path = runtime.PRETRAINED_DIR   # where a build finds models it builds on


def noise_sample(clean: np.ndarray, rng: np.random.Generator, gaussian_max: float) -> np.ndarray:
    """One training corruption: mostly Gaussian of random strength, sometimes salt-and-pepper
    or masking, so the page's three noise kinds are all in the model's experience."""
    pick = rng.random()
    seed = int(rng.integers(2**31))
    if pick < 0.7:
        return add_noise(clean, "gaussian", float(rng.uniform(0, gaussian_max)), seed=seed)
    if pick < 0.85:
        return add_noise(clean, "salt_pepper", float(rng.uniform(0, 0.3)), seed=seed)
    return add_noise(clean, "mask", float(rng.uniform(0, 0.4)), seed=seed)


def write_model(model: torch.nn.Module, name: str, onnx_bytes: bytes, entry: dict,
                 opts: BuildOptions) -> dict:
    """Save the checkpoint next to the ONNX file and return the manifest entry."""
    torch_path = opts.out_dir / f"{name}.pt"
    buffer = io.BytesIO()
    torch.save(checkpoint(model), buffer)
    atomic_write_bytes(torch_path, buffer.getvalue())
    entry.update(torch_file=torch_path.name, torch_sha256=runtime.sha256_of(buffer.getvalue()))
    return entry


def manifest_entry(model_id: str, data: bytes, **fields) -> dict:
    return {"file": f"{model_id}.onnx", "sha256": runtime.sha256_of(data),
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **fields}


def train_char_model(clean: np.ndarray, config: CharAutoencoderConfig, steps: int,
                      corrupt: Callable[[np.ndarray, np.random.Generator], np.ndarray],
                      opts: BuildOptions, targets: np.ndarray | None = None) -> CharAutoencoder:
    """Train a CharAutoencoder to rebuild `clean` characters from corrupt(character), or, when
    `targets` are given, to turn corrupt(clean[i]) into targets[i]."""
    train_config = TrainConfig(steps=max(20, int(steps * opts.scale)), batch_size=128, lr=2e-3,
                               seed=opts.seed)
    goals = clean if targets is None else targets

    def batch(step: int, rng: np.random.Generator):
        picks = rng.integers(len(clean), size=train_config.batch_size)
        inputs = np.stack([corrupt(c, rng) for c in clean[picks]])
        return inputs[:, None], goals[picks][:, None]                 # (B, 1, 28, 28)

    model = CharAutoencoder(config)
    fit(model, batch, train_config, progress=opts.progress)
    return model


def export_char_model(model: CharAutoencoder, name: str, clean: np.ndarray, task: str,
                       data_note: str, opts: BuildOptions, output: str = "reconstruction") -> bytes:
    rng = np.random.default_rng(opts.seed + 1)
    parity = [rng.random((n, 1, 28, 28), dtype=np.float32) for n in (1, 2, 7)]
    meta = {"task": task, "input": "(N, 1, 28, 28) float32 in [0, 1], light on dark",
            "preprocessing": "engine.prepare_character", "training_data": data_note,
            "config": model.config.__dict__}
    return export_onnx(model, opts.out_dir / f"{name}.onnx", example=torch.from_numpy(clean[:2, None]),
                       output=output, metadata=meta, parity_inputs=parity)


def pca_baseline(name: str, clean: np.ndarray, code_size: int, task: str, data_note: str,
                  opts: BuildOptions, code_only: bool = False) -> tuple[bytes, dict]:
    """PCA with the autoencoder's code size, fit on the same clean characters, as ONNX (the
    whole linear autoencoder, or with code_only just its encoder)."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=code_size, random_state=opts.seed).fit(clean.reshape(len(clean), -1))
    data = pca_to_onnx(pca.mean_, pca.components_, (1, 28, 28), code_only=code_only, metadata={
        "task": task, "training_data": data_note,
        "explained_variance": float(pca.explained_variance_ratio_.sum())})
    atomic_write_bytes(opts.out_dir / f"{name}.onnx", data)
    return data, manifest_entry(name, data, task=task, name=f"PCA, {code_size} components",
                        summary=f"PCA with {code_size} components (the autoencoder's code size), "
                                "fit on the same clean characters.", training_data=data_note)
