"""How each shipped model is built from the project's own code and built-in data: the data,
the model, the training, the export with its parity check, and the manifest entry.

`python -m engine train denoiser` runs these; everything is seeded."""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import io
import os
import shutil
import tempfile
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import datasets, runtime
from .export import atomic_write_bytes, export_onnx, pca_to_onnx, with_metadata
from .imaging import add_noise
from .models import (VAE, CharAutoencoder, CharAutoencoderConfig, ColorizerConfig, DigitClassifier,
                     DigitClassifierConfig,
                     PhotoDenoiser, PhotoDenoiserConfig, PhotoEmbedder, VAEConfig, checkpoint,
                     from_checkpoint, vae_terms)
from .train import TrainConfig, TrainProgress, fit

Progress = Callable[[TrainProgress], None]


@dataclass
class BuildOptions:
    out_dir: Path = runtime.PRETRAINED_DIR
    scale: float = 1.0          # multiplies steps and data sizes: 0.01 makes a smoke-test build
    seed: int = 0
    progress: Progress | None = None
    models_dir: Path = runtime.PRETRAINED_DIR   # where a build finds models it builds on


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
    buffer = io.BytesIO()
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


def _train_char_model(clean: np.ndarray, config: CharAutoencoderConfig, steps: int,
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


def _export_char_model(model: CharAutoencoder, name: str, clean: np.ndarray, task: str,
                       data_note: str, opts: BuildOptions, output: str = "reconstruction") -> bytes:
    rng = np.random.default_rng(opts.seed + 1)
    parity = [rng.random((n, 1, 28, 28), dtype=np.float32) for n in (1, 2, 7)]
    meta = {"task": task, "input": "(N, 1, 28, 28) float32 in [0, 1], light on dark",
            "preprocessing": "engine.prepare_character", "training_data": data_note,
            "config": model.config.__dict__}
    return export_onnx(model, opts.out_dir / f"{name}.onnx", example=torch.from_numpy(clean[:2, None]),
                       output=output, metadata=meta, parity_inputs=parity)


def _pca_baseline(name: str, clean: np.ndarray, code_size: int, task: str, data_note: str,
                  opts: BuildOptions, code_only: bool = False) -> tuple[bytes, dict]:
    """PCA with the autoencoder's code size, fit on the same clean characters, as ONNX (the
    whole linear autoencoder, or with code_only just its encoder)."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=code_size, random_state=opts.seed).fit(clean.reshape(len(clean), -1))
    data = pca_to_onnx(pca.mean_, pca.components_, (1, 28, 28), code_only=code_only, metadata={
        "task": task, "training_data": data_note,
        "explained_variance": float(pca.explained_variance_ratio_.sum())})
    atomic_write_bytes(opts.out_dir / f"{name}.onnx", data)
    return data, _entry(name, data, task=task, name=f"PCA, {code_size} components",
                        summary=f"PCA with {code_size} components (the autoencoder's code size), "
                                "fit on the same clean characters.", training_data=data_note)


def build_denoiser_char(opts: BuildOptions) -> dict[str, dict]:
    clean = character_training_set(opts.scale, opts.seed)
    config = CharAutoencoderConfig()
    model = _train_char_model(clean, config, 16_000, lambda t, rng: _noise_sample(t, rng, 0.7), opts)
    data_note = (f"{len(clean)} characters: digits and letters rendered from "
                 f"{len(datasets.font_split(False))} training fonts with random distortions, "
                 "and 1,497 scikit-learn handwritten digits")
    onnx_bytes = _export_char_model(model, "denoiser_char", clean, "denoise", data_note, opts)
    entries = {"denoiser_char": _write_model(model, "denoiser_char", onnx_bytes, _entry(
        "denoiser_char", onnx_bytes, task="denoise", name="Convolutional denoising autoencoder",
        summary=(f"A convolutional autoencoder that squeezes each 28x28 character into "
                 f"{config.code_size} numbers and rebuilds it; trained on {data_note}."),
        training_data=data_note), opts)}
    entries["pca_char"] = _pca_baseline("pca_char", clean, config.code_size, "denoise-baseline",
                                        data_note, opts)[1]
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


# ------------------------------------------------------------------ anomaly detector

ANOMALY_CODE_SIZE = 16
ANOMALY_NOISE = 0.2      # the strongest Gaussian noise in training: a little keeps the code general
CALIBRATION_FPR = 0.05


@functools.lru_cache(maxsize=2)  # the classifier and four VAEs of `train vae` share one rendering
def labelled_digits(scale: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Only digits: rendered from the training fonts, plus the training handwritten digits
    (twice: a rarer style). Returns (images (N, 28, 28), labels (N,) int); shared, read-only."""
    rendered, labels = datasets.render_characters(datasets.DIGITS, max(200, int(20_000 * scale)),
                                                  fonts=datasets.font_split(held_out=False), seed=seed)
    handwritten, hand_labels = datasets.handwritten_digits(held_out=False)
    images = np.concatenate([rendered, handwritten, handwritten])
    return images, np.concatenate([labels, hand_labels, hand_labels]).astype(np.int64)


def digit_training_set(scale: float, seed: int) -> np.ndarray:
    return labelled_digits(scale, seed)[0]


def calibration_digits(seed: int, count: int = 1000) -> np.ndarray:
    """Digits the detector never trained on, whose scores set the threshold for a chosen
    false-positive rate: new renders of the training fonts with the wider distortions, and the
    300 held-out handwritten digits. Calibrating on the training distortions alone set the
    threshold so low that 45% of digits in unseen fonts were flagged at a nominal 5%."""
    rendered, _ = datasets.render_characters(datasets.DIGITS, count, fonts=datasets.font_split(False),
                                             seed=seed + 10_007, distortion=datasets.EVAL_DISTORTION)
    return np.concatenate([rendered, datasets.handwritten_digits(held_out=True)[0]])


def _calibrate(name: str, onnx_bytes: bytes, digits: np.ndarray, note: str,
               opts: BuildOptions) -> tuple[bytes, dict]:
    """Scores of the calibration digits under every scoring; the ONNX file carries the default
    threshold so that a notebook reaches the page's verdict without the manifest."""
    from .tasks.anomaly import ANOMALY_SCORINGS, ANOMALY_DEFAULT_SCORING, pixel_errors, threshold_for

    recon = runtime.run(onnx_bytes, digits[:, None])[:, 0]
    scores = {s: pixel_errors(digits, recon, s).mean(axis=(1, 2)).round(7).tolist() for s in ANOMALY_SCORINGS}
    threshold = threshold_for(scores[ANOMALY_DEFAULT_SCORING], CALIBRATION_FPR)
    data = with_metadata(onnx_bytes, {"scoring": ANOMALY_DEFAULT_SCORING, "threshold": threshold,
                                      "false_positive_rate": CALIBRATION_FPR, "calibration_data": note})
    atomic_write_bytes(opts.out_dir / f"{name}.onnx", data)
    return data, {"data": note, "false_positive_rate": CALIBRATION_FPR, "scores": scores}


def build_anomaly_char(opts: BuildOptions) -> dict[str, dict]:
    clean = digit_training_set(opts.scale, opts.seed)
    config = CharAutoencoderConfig(code_size=ANOMALY_CODE_SIZE)
    # A little noise keeps the code from memorising pixels; letters are never shown.
    model = _train_char_model(clean, config, 8_000, lambda t, rng: _noise_sample(t, rng, ANOMALY_NOISE),
                              opts)
    data_note = (f"{len(clean)} digits only: rendered from {len(datasets.font_split(False))} training "
                 "fonts with random distortions, and 1,497 scikit-learn handwritten digits")
    digits = calibration_digits(opts.seed)
    note = (f"{len(digits)} digits never trained on: new renders of the training fonts with wider "
            "distortions, and the 300 held-out scikit-learn handwritten digits")
    onnx_bytes = _export_char_model(model, "anomaly_char", clean, "anomaly", data_note, opts)
    onnx_bytes, calibration = _calibrate("anomaly_char", onnx_bytes, digits, note, opts)
    entries = {"anomaly_char": _write_model(model, "anomaly_char", onnx_bytes, _entry(
        "anomaly_char", onnx_bytes, task="anomaly", name="Digits-only convolutional autoencoder",
        summary=(f"A convolutional autoencoder with a {config.code_size}-number code, trained on "
                 f"{data_note}: it has never seen a letter."), training_data=data_note,
        calibration=calibration), opts)}
    pca_bytes, entry = _pca_baseline("anomaly_pca", clean, config.code_size, "anomaly-baseline",
                                     data_note, opts)
    pca_bytes, calibration = _calibrate("anomaly_pca", pca_bytes, digits, note, opts)
    entries["anomaly_pca"] = {**entry, "sha256": runtime.sha256_of(pca_bytes), "calibration": calibration}
    return entries


# ------------------------------------------------------------------ search encoders

SEARCH_CODE_SIZE = 64
SEARCH_NOISE = 0.3


def _light_noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half the time Gaussian noise up to SEARCH_NOISE, so scanned or noisy queries still match."""
    if rng.random() < 0.5:
        return image
    return add_noise(image, "gaussian", float(rng.uniform(0, SEARCH_NOISE)), seed=int(rng.integers(2**31)))


def build_search_char(opts: BuildOptions) -> dict[str, dict]:
    """An autoencoder that turns each distorted glyph back into the same glyph upright (same
    font, no rotation, shear, stretch, blur or extra weight). It never sees a label: the
    distortions are its noise. Its code keeps what the character is and drops how it was
    distorted, which is what a search for "the same character" needs."""
    count = max(200, int(40_000 * opts.scale))
    distorted, _, upright = datasets.render_characters(
        datasets.DIGITS + datasets.LETTERS, count, fonts=datasets.font_split(held_out=False),
        seed=opts.seed, upright=True)
    config = CharAutoencoderConfig(code_size=SEARCH_CODE_SIZE)
    model = _train_char_model(distorted, config, 6_000, _light_noise, opts, targets=upright)
    data_note = (f"{count} digits and letters rendered from {len(datasets.font_split(False))} training "
                 "fonts with random distortions, each paired with the same glyph upright")
    onnx_bytes = _export_char_model(model, "search_char", distorted, "search", data_note, opts,
                                    output="code")
    entry = _write_model(model, "search_char", onnx_bytes, _entry(
        "search_char", onnx_bytes, task="search", name="Distortion-undoing convolutional autoencoder",
        summary=(f"A convolutional autoencoder trained to redraw each distorted character upright "
                 f"from a {config.code_size}-number code; the code is what search compares. "
                 f"Trained on {data_note}."), training_data=data_note), opts)
    # The graph serves the encoder alone, the checkpoint's forward runs the decoder too: not a
    # like-for-like pair for `bench`, so the checkpoint is recorded under another key.
    entry["checkpoint"], entry["checkpoint_sha256"] = entry.pop("torch_file"), entry.pop("torch_sha256")
    entries = {"search_char": entry}
    entries["search_pca"] = _pca_baseline("search_pca", distorted, config.code_size, "search-baseline",
                                          data_note, opts, code_only=True)[1]
    return entries


def build_embed_photo(opts: BuildOptions) -> dict[str, dict]:
    """The photo denoiser's encoder pooled to a fixed-size code (no training of its own: it
    reuses the denoiser's weights, so build that first)."""
    for folder in (opts.out_dir, opts.models_dir):   # a build of "all" has it in staging
        source = Path(folder) / "denoiser_photo.pt"
        if source.exists():
            break
    else:
        raise FileNotFoundError("embed-photo needs denoiser_photo.pt: run `python -m engine train "
                                "denoiser-photo` first")
    denoiser = from_checkpoint(torch.load(source, weights_only=False))
    model = PhotoEmbedder(denoiser.config)
    model.load_state_dict(denoiser.state_dict())
    rng = np.random.default_rng(opts.seed + 1)
    parity = [rng.random(s, dtype=np.float32) for s in ((1, 3, 32, 44), (2, 3, 64, 64), (1, 3, 128, 92))]
    data_note = "the photo denoiser's training data (its encoder, reused)"
    meta = {"task": "search", "input": "(N, 3, H, W) float32 RGB in [0, 1], H and W multiples of 4",
            "preprocessing": "longer side resized to 128; grey repeated over 3 channels",
            "output": f"(N, {4 * denoiser.config.width}) mean and spread of each deepest feature map",
            "training_data": data_note, "config": denoiser.config.__dict__}
    onnx_bytes = export_onnx(model, opts.out_dir / "embed_photo.onnx", example=torch.from_numpy(parity[1]),
                             output="code", spatial_multiple=PhotoDenoiser.multiple, metadata=meta,
                             parity_inputs=parity)
    return {"embed_photo": _write_model(model, "embed_photo", onnx_bytes, _entry(
        "embed_photo", onnx_bytes, task="search", name="Pooled photo encoder",
        summary=("The photo denoiser's fully convolutional encoder; the mean and spread of each of "
                 f"its {2 * denoiser.config.width} deepest feature maps make a "
                 f"{4 * denoiser.config.width}-number code for a photo of any size."),
        training_data=data_note), opts)}


# ------------------------------------------------------------------ VAEs and their judge

DIGITS_NOTE = ("{n} digits: rendered from {fonts} training fonts with random distortions, and "
               "1,497 scikit-learn handwritten digits")
VAE_RECIPES = {
    "vae": VAEConfig(latent_size=16, beta=1.0),
    "vae_beta4": VAEConfig(latent_size=16, beta=4.0),
    "vae_2d": VAEConfig(latent_size=2, beta=1.0),
    "cvae": VAEConfig(latent_size=16, classes=10, beta=1.0),
}
VAE_STEPS = 6000


class _VAEEncoder(torch.nn.Module):
    """The encoder alone, as served: (x[, one-hot label]) -> mean, log_var."""

    def __init__(self, vae: VAE):
        super().__init__()
        self.vae = vae

    def forward(self, x: torch.Tensor, *label: torch.Tensor) -> dict[str, torch.Tensor]:
        mean, log_var = self.vae.encode(x, *label)
        return {"mean": mean, "log_var": log_var}


class _VAEDecoder(torch.nn.Module):
    """The decoder alone, as served: (z[, one-hot label]) -> pixel probabilities."""

    def __init__(self, vae: VAE):
        super().__init__()
        self.vae = vae

    def forward(self, z: torch.Tensor, *label: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"image": self.vae.decode(z, *label)}


def build_digit_classifier(opts: BuildOptions) -> dict[str, dict]:
    """A small CNN on real digits, used only to judge generated ones."""
    images, labels = labelled_digits(opts.scale, opts.seed)
    train_config = TrainConfig(steps=max(20, int(3000 * opts.scale)), batch_size=128, lr=2e-3,
                               seed=opts.seed)

    def batch(step: int, rng: np.random.Generator):
        picks = rng.integers(len(images), size=train_config.batch_size)
        return images[picks][:, None], labels[picks]

    model = DigitClassifier(DigitClassifierConfig())
    fit(model, batch, train_config, progress=opts.progress,
        loss_fn=lambda out, target: torch.nn.functional.cross_entropy(out["logits"], target))
    note = DIGITS_NOTE.format(n=len(images), fonts=len(datasets.font_split(False)))
    rng = np.random.default_rng(opts.seed + 1)
    onnx_bytes = export_onnx(model, opts.out_dir / "digit_classifier.onnx",
                             example=torch.from_numpy(images[:2, None]), output="probabilities",
                             metadata={"task": "vae-judge", "input": "(N, 1, 28, 28) float32 in [0, 1]",
                                       "output": "(N, 10) probabilities", "training_data": note},
                             parity_inputs=[rng.random((n, 1, 28, 28), dtype=np.float32) for n in (1, 5)])
    return {"digit_classifier": _write_model(model, "digit_classifier", onnx_bytes, _entry(
        "digit_classifier", onnx_bytes, task="vae-judge", name="Digit classifier (the judge)",
        summary=f"A small convolutional classifier trained on {note}; it only judges generated digits.",
        training_data=note), opts)}


def build_vae(name: str, opts: BuildOptions) -> dict[str, dict]:
    """Train one VAE of VAE_RECIPES on digits and export its encoder and decoder apart."""
    config = VAE_RECIPES[name]
    images, labels = labelled_digits(opts.scale, opts.seed)
    one_hot = np.eye(10, dtype=np.float32)
    train_config = TrainConfig(steps=max(20, int(VAE_STEPS * opts.scale)), batch_size=128, lr=2e-3,
                               seed=opts.seed)

    def batch(step: int, rng: np.random.Generator):
        picks = rng.integers(len(images), size=train_config.batch_size)
        x = images[picks][:, None]                                       # (B, 1, 28, 28)
        return ((x, one_hot[labels[picks]]) if config.classes else x), x

    def loss(out: dict, target: torch.Tensor) -> torch.Tensor:
        reconstruction, kl = vae_terms(target, out["logits"], out["mean"], out["log_var"])
        return (reconstruction + config.beta * kl).mean()

    model = VAE(config)
    fit(model, batch, train_config, loss_fn=loss, progress=opts.progress)
    note = DIGITS_NOTE.format(n=len(images), fonts=len(datasets.font_split(False)))
    rng = np.random.default_rng(opts.seed + 1)
    label_example = (torch.from_numpy(one_hot[labels[:2]]),) if config.classes else ()

    def with_labels(*arrays: np.ndarray):
        return (*arrays, one_hot[np.arange(len(arrays[0])) % 10]) if config.classes else arrays[0]

    label_note = ", one-hot label (N, 10)" if config.classes else ""
    meta = {"task": "vae", "training_data": note, "config": dataclasses.asdict(config)}
    encoder = export_onnx(_VAEEncoder(model), opts.out_dir / f"{name}_encoder.onnx",
                          example=(torch.from_numpy(images[:2, None]), *label_example),
                          input_names=("input", "label")[:1 + bool(config.classes)], output=("mean", "log_var"),
                          metadata={**meta, "input": f"(N, 1, 28, 28) float32 in [0, 1]{label_note}"},
                          parity_inputs=[with_labels(rng.random((n, 1, 28, 28), dtype=np.float32)) for n in (1, 3)])
    decoder = export_onnx(_VAEDecoder(model), opts.out_dir / f"{name}_decoder.onnx",
                          example=(torch.zeros(2, config.latent_size), *label_example),
                          input_names=("z", "label")[:1 + bool(config.classes)], output="image",
                          metadata={**meta, "input": f"(N, {config.latent_size}) latent points{label_note}"},
                          parity_inputs=[with_labels(rng.standard_normal((n, config.latent_size)).astype(np.float32))
                                         for n in (1, 3)])
    buffer = io.BytesIO()
    torch.save(checkpoint(model), buffer)
    atomic_write_bytes(opts.out_dir / f"{name}.pt", buffer.getvalue())
    kind = "conditional VAE" if config.classes else "VAE"
    summary = (f"A convolutional {kind} with a {config.latent_size}-number code and KL weight beta "
               f"{config.beta:g}, trained on {note}.")
    shared = dict(task="vae", training_data=note, checkpoint=f"{name}.pt",
                  checkpoint_sha256=runtime.sha256_of(buffer.getvalue()))
    return {f"{name}_encoder": _entry(f"{name}_encoder", encoder, name=f"{kind} encoder ({name})",
                                      summary=summary, **shared),
            f"{name}_decoder": _entry(f"{name}_decoder", decoder, name=f"{kind} decoder ({name})",
                                      summary=summary, **shared)}


# ------------------------------------------------------------------ colorizer

COLORIZER_STEPS = 2000


def build_colorizer(opts: BuildOptions) -> dict[str, dict]:
    """A fully convolutional network from Lab lightness to a and b, trained with MSE (the loss
    PSNR rewards) on patches of the built-in colour photos not held out."""
    from .tasks.colorize import LabPatches, export_colorizer, new_colorizer, train_colorizer

    names = datasets.colour_training_photos()
    patches = LabPatches([datasets.load_photo(n) for n in names], size=128, scales=(1.0, 0.7, 0.5, 0.35))
    model = new_colorizer(ColorizerConfig(), patches.mean_ab())
    # One thread: the same numbers on any machine, so the shipped model is rebuilt exactly.
    train_config = TrainConfig(steps=max(20, int(COLORIZER_STEPS * opts.scale)), batch_size=16, lr=1e-3,
                               weight_decay=0.05, seed=opts.seed, threads=1)
    train_colorizer(model, patches, train_config, progress=opts.progress)
    note = (f"128x128 patches of {len(names)} built-in colour photos ({', '.join(names)}) at 4 scales, "
            "flipped, with exposure, noise and blur jitter")
    onnx_bytes = export_colorizer(model, opts.out_dir / "colorizer.onnx", patches.mean_ab(), note, opts.seed)
    return {"colorizer": _write_model(model, "colorizer", onnx_bytes, _entry(
        "colorizer", onnx_bytes, task="colorize", name="Fully convolutional colorizer",
        summary=("A U-Net-shaped encoder-decoder that reads a photo's lightness (Lab L) and predicts its "
                 f"colour (a and b) at any size; trained on {note}."), training_data=note), opts)}


def _vae_step(name: str) -> Callable[[BuildOptions], dict]:
    step = functools.partial(build_vae, name)
    step.__name__ = f"build_{name}"
    return step


BUILDS: dict[str, tuple[Callable[[BuildOptions], dict], ...]] = {
    "denoiser": (build_denoiser_char, build_denoiser_photo),
    "denoiser-char": (build_denoiser_char,),
    "denoiser-photo": (build_denoiser_photo,),
    "anomaly": (build_anomaly_char,),
    "search": (build_search_char, build_embed_photo),
    "search-char": (build_search_char,),
    "embed-photo": (build_embed_photo,),
    "digit-classifier": (build_digit_classifier,),
    "vae": (build_digit_classifier, *(_vae_step(name) for name in VAE_RECIPES)),
    **{name.replace("_", "-"): (_vae_step(name),) for name in VAE_RECIPES if name != "vae"},
    "vae-beta1": (_vae_step("vae"),),
    "colorizer": (build_colorizer,),
}
BUILDS["all"] = (build_denoiser_char, build_denoiser_photo, build_anomaly_char, build_search_char,
                 build_embed_photo, *BUILDS["vae"], build_colorizer)


def update_manifest(out_dir: Path, entries: dict[str, dict]) -> None:
    manifest = {"models": dict(sorted({**runtime.load_manifest(out_dir)["models"], **entries}.items()))}
    atomic_write_bytes(Path(out_dir) / runtime.MANIFEST_NAME,
                       (json.dumps(manifest, indent=2) + "\n").encode())


def build(target: str, opts: BuildOptions, command: str) -> dict[str, dict]:
    """Build every model of `target` in a staging folder, then move the files into place and
    record them in the manifest: a build killed part way leaves the shipped models as they were."""
    opts.out_dir = Path(opts.out_dir)
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=opts.out_dir))
    try:
        entries: dict[str, dict] = {}
        for step in BUILDS[target]:
            for name, entry in step(dataclasses.replace(opts, out_dir=staging)).items():
                entries[name] = {**entry, "command": command}
        for path in staging.iterdir():
            os.replace(path, opts.out_dir / path.name)
        update_manifest(opts.out_dir, entries)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return entries
