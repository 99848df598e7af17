"""How each shipped model is built from the project's own code and built-in data: the data,
the model, the training, the export with its parity check, and the manifest entry.

`python -m engine train denoiser` runs these; everything is seeded."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import datasets, runtime
from .export import atomic_write_bytes, export_onnx, pca_to_onnx
from .imaging import add_noise
from .models import (CharAutoencoder, CharAutoencoderConfig, PhotoDenoiser, PhotoDenoiserConfig,
                     checkpoint)
from .train import TrainConfig, TrainProgress, fit

Progress = Callable[[TrainProgress], None]


@dataclass
class BuildOptions:
    out_dir: Path = runtime.PRETRAINED_DIR
    scale: float = 1.0          # multiplies steps and data sizes: 0.01 makes a smoke-test build
    seed: int = 0
    progress: Progress | None = None


def _noise_sample(clean: np.ndarray, rng: np.random.Generator, gaussian_max: float) -> np.ndarray:
    """One training corruption: mostly Gaussian of random strength, sometimes salt-and-pepper
    or masking, so the page's three noise kinds are all in the model's experience."""
    pick = rng.random()
    seed = int(rng.integers(2**31))
    if pick < 0.7:
        return add_noise(clean, "gaussian", float(rng.uniform(0, gaussian_max)), seed=seed)
    if pick < 0.85:
        return add_noise(clean, "salt_pepper", float(rng.uniform(0, 0.3)), seed=seed)
    return add_noise(clean, "mask", float(rng.uniform(0, 0.4)), seed=seed)


def _write_model(model: torch.nn.Module, name: str, onnx_bytes: bytes, entry: dict,
                 opts: BuildOptions) -> dict:
    """Save the checkpoint next to the ONNX file and return the manifest entry."""
    torch_path = opts.out_dir / f"{name}.pt"
    buffer = __import__("io").BytesIO()
    torch.save(checkpoint(model), buffer)
    atomic_write_bytes(torch_path, buffer.getvalue())
    entry.update(torch_file=torch_path.name, torch_sha256=runtime.sha256_of(buffer.getvalue()))
    return entry


def _entry(model_id: str, data: bytes, **fields) -> dict:
    return {"file": f"{model_id}.onnx", "sha256": runtime.sha256_of(data),
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **fields}


# ------------------------------------------------------------------ character denoiser

def character_training_set(scale: float, seed: int) -> np.ndarray:
    """Digits and letters from the training fonts plus the training half of the handwritten
    digits: (N, 28, 28)."""
    count = max(200, int(40_000 * scale))
    rendered, _ = datasets.render_characters(datasets.DIGITS + datasets.LETTERS, count,
                                             fonts=datasets.font_split(held_out=False), seed=seed)
    handwritten, _ = datasets.handwritten_digits(held_out=False)
    return np.concatenate([rendered, handwritten, handwritten])  # handwritten twice: rarer style


def build_denoiser_char(opts: BuildOptions) -> dict[str, dict]:
    clean = character_training_set(opts.scale, opts.seed)
    config = CharAutoencoderConfig()

    def batch(step: int, rng: np.random.Generator):
        targets = clean[rng.integers(len(clean), size=train_config.batch_size)]
        inputs = np.stack([_noise_sample(t, rng, 0.7) for t in targets])
        return inputs[:, None], targets[:, None]                     # (B, 1, 28, 28)

    train_config = TrainConfig(steps=max(20, int(16_000 * opts.scale)), batch_size=128, lr=2e-3,
                               seed=opts.seed)
    model = CharAutoencoder(config)
    fit(model, batch, train_config, progress=opts.progress)
    data_note = (f"{len(clean)} characters: digits and letters rendered from "
                 f"{len(datasets.font_split(False))} training fonts with random distortions, "
                 "and 1,497 scikit-learn handwritten digits")
    rng = np.random.default_rng(opts.seed + 1)
    parity = [rng.random((n, 1, 28, 28), dtype=np.float32) for n in (1, 2, 7)]
    meta = {"task": "denoise", "input": "(N, 1, 28, 28) float32 in [0, 1], light on dark",
            "preprocessing": "engine.prepare_character, then noise", "training_data": data_note,
            "config": config.__dict__}
    onnx_bytes = export_onnx(model, opts.out_dir / "denoiser_char.onnx",
                             example=torch.from_numpy(clean[:2, None]), metadata=meta,
                             parity_inputs=parity)
    entries = {"denoiser_char": _write_model(model, "denoiser_char", onnx_bytes, _entry(
        "denoiser_char", onnx_bytes, task="denoise", name="Convolutional denoising autoencoder",
        summary=(f"A convolutional autoencoder that squeezes each 28x28 character into "
                 f"{config.code_size} numbers and rebuilds it; trained on {data_note}."),
        training_data=data_note), opts)}

    # The PCA baseline: the same code size, fit on the same clean characters.
    from sklearn.decomposition import PCA

    pca = PCA(n_components=config.code_size, random_state=opts.seed).fit(clean.reshape(len(clean), -1))
    pca_bytes = pca_to_onnx(pca.mean_, pca.components_, (1, 28, 28), metadata={
        "task": "denoise-baseline", "training_data": data_note,
        "explained_variance": float(pca.explained_variance_ratio_.sum())})
    atomic_write_bytes(opts.out_dir / "pca_char.onnx", pca_bytes)
    entries["pca_char"] = _entry("pca_char", pca_bytes, task="denoise-baseline",
                                 name=f"PCA, {config.code_size} components",
                                 summary=f"PCA with {config.code_size} components (the autoencoder's "
                                         "code size), fit on the same clean characters.",
                                 training_data=data_note)
    return entries


# ------------------------------------------------------------------ photo denoiser

def photo_training_images(seed: int) -> list[np.ndarray]:
    """Every built-in photo not held out, and rendered text pages in the training fonts."""
    fonts = datasets.font_split(held_out=False)
    images = [datasets.load_photo(n) for n in datasets.photo_names(held_out=False)]
    images += [datasets.render_text_page(384, 384, fonts=fonts, seed=seed + s) for s in range(8)]
    return images


def build_denoiser_photo(opts: BuildOptions) -> dict[str, dict]:
    images = photo_training_images(opts.seed)
    patches, is_grey = datasets.random_patches(images, max(256, int(30_000 * opts.scale)), 64,
                                               seed=opts.seed)
    config = PhotoDenoiserConfig()

    def batch(step: int, rng: np.random.Generator):
        idx = rng.integers(len(patches), size=train_config.batch_size)
        targets, grey = patches[idx], is_grey[idx]
        # Grey photos get the same noise on all three channels, as the task feeds them.
        inputs = np.stack([np.repeat(_noise_sample(t[..., 0], rng, 55 / 255)[..., None], 3, axis=2)
                           if g else _noise_sample(t, rng, 55 / 255) for t, g in zip(targets, grey)])
        return inputs.transpose(0, 3, 1, 2).copy(), targets.transpose(0, 3, 1, 2).copy()

    train_config = TrainConfig(steps=max(20, int(14_000 * opts.scale)), batch_size=32, lr=2e-3,
                               seed=opts.seed)
    model = PhotoDenoiser(config)
    fit(model, batch, train_config, progress=opts.progress)
    data_note = (f"{len(patches)} 64x64 patches of {len(images) - 8} built-in photos "
                 "(scikit-image, scikit-learn) and 8 rendered text pages")
    rng = np.random.default_rng(opts.seed + 1)
    parity = [rng.random(s, dtype=np.float32) for s in ((1, 3, 28, 36), (2, 3, 64, 64), (1, 3, 132, 84))]
    meta = {"task": "denoise", "input": "(N, 3, H, W) float32 RGB in [0, 1], H and W multiples of 4",
            "preprocessing": "grey images repeated over 3 channels; sides padded by reflection",
            "training_data": data_note, "config": config.__dict__}
    onnx_bytes = export_onnx(model, opts.out_dir / "denoiser_photo.onnx",
                             example=torch.from_numpy(patches[:2].transpose(0, 3, 1, 2).copy()),
                             spatial_multiple=PhotoDenoiser.multiple, metadata=meta,
                             parity_inputs=parity)
    return {"denoiser_photo": _write_model(model, "denoiser_photo", onnx_bytes, _entry(
        "denoiser_photo", onnx_bytes, task="denoise", name="Fully convolutional denoising autoencoder",
        summary=("A fully convolutional encoder-decoder that takes photos and scanned pages of any "
                 f"size; trained on {data_note}, with noise of random kind and strength."),
        training_data=data_note), opts)}


BUILDS: dict[str, tuple[Callable[[BuildOptions], dict], ...]] = {
    "denoiser": (build_denoiser_char, build_denoiser_photo),
    "denoiser-char": (build_denoiser_char,),
    "denoiser-photo": (build_denoiser_photo,),
}


def update_manifest(out_dir: Path, entries: dict[str, dict]) -> None:
    manifest = runtime.load_manifest(out_dir)
    manifest["models"].update(entries)
    manifest["models"] = dict(sorted(manifest["models"].items()))
    atomic_write_bytes(Path(out_dir) / runtime.MANIFEST_NAME,
                       (json.dumps(manifest, indent=2) + "\n").encode())


def build(target: str, opts: BuildOptions, command: str) -> dict[str, dict]:
    """Build every model of `target`, then record them in the manifest in one write."""
    entries: dict[str, dict] = {}
    for step in BUILDS[target]:
        for name, entry in step(opts).items():
            entries[name] = {**entry, "command": command}
    update_manifest(opts.out_dir, entries)
    return entries
