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


# ------------------------------------------------------------------ sequence autoencoders (time series)

SEQUENCE_FORECAST_STEPS = 6000
SEQUENCE_AUTOENCODER_STEPS = 4000
SEQUENCE_DATA_SEED = 0      # the built-in series the page and `eval sequence` use


def build_sequence(opts: BuildOptions) -> dict[str, dict]:
    """The LSTM forecaster (6 hours in, 3 out) and the LSTM autoencoder of 24-hour windows, on
    the training part of the built-in synthetic load series (a time split: the final four
    months never train). The autoencoder's threshold is calibrated on the validation months."""
    from .series import SeriesStats, default_split, synthetic_load_series
    from .tasks.sequence import (DEFAULT_THRESHOLD_PERCENTILE, RECONSTRUCTION_WINDOW, SEQUENCE_AUTOENCODER,
                                 SEQUENCE_FORECASTER, calibration_scores, export_sequence_model,
                                 train_sequence_model)

    series = synthetic_load_series(seed=SEQUENCE_DATA_SEED)
    split = default_split(series)
    stats = SeriesStats.of(series, split.train)
    parts = split.describe(series)
    note = f"{series.name}, training part {parts['train']}"
    entries = {}
    for name, kind, steps, title in (
            (SEQUENCE_FORECASTER, "forecast", SEQUENCE_FORECAST_STEPS, "LSTM encoder-decoder forecaster"),
            (SEQUENCE_AUTOENCODER, "reconstruct", SEQUENCE_AUTOENCODER_STEPS, "LSTM sequence autoencoder")):
        # One thread: the same numbers on any machine, so the shipped model is rebuilt exactly.
        model, _ = train_sequence_model(kind, series, split, stats, steps=max(20, int(steps * opts.scale)),
                                        seed=opts.seed, threads=1, progress=opts.progress, report_every=250)
        onnx_bytes = export_sequence_model(model, None, stats, note, parts, seed=opts.seed)
        fields = {}
        if kind == "reconstruct":
            scores = calibration_scores(series, split, stats, onnx_bytes)
            calibration = {"percentile": DEFAULT_THRESHOLD_PERCENTILE,
                           "threshold": float(np.percentile(scores, DEFAULT_THRESHOLD_PERCENTILE)),
                           "windows": len(scores), "period": parts["validation"],
                           "score": "RMS reconstruction error, % of the expected level"}
            onnx_bytes = with_metadata(onnx_bytes, {"calibration": calibration})
            fields["calibration"] = calibration
        atomic_write_bytes(opts.out_dir / f"{name}.onnx", onnx_bytes)
        config = model.config
        shape = (f"reads {config.window} hours of load and temperature, squeezes them into a "
                 f"{config.code_size}-number code, repeats it and decodes "
                 + (f"the next {config.output_steps} hours of load" if kind == "forecast"
                    else f"the {RECONSTRUCTION_WINDOW} hours of load back"))
        entries[name] = _write_model(model, name, onnx_bytes, _entry(
            name, onnx_bytes, task="sequence", name=title,
            summary=f"An LSTM encoder-decoder that {shape}; trained on {note}.", training_data=note,
            normalisation=dataclasses.asdict(stats), **fields), opts)
    return entries


# ------------------------------------------------------------------ semi-supervised learning

def build_semisupervised(opts: BuildOptions) -> dict[str, dict]:
    """The PCA baseline of the semi-supervised comparison: PCA with the pretrained encoder's
    code size, fit on the unlabelled digit pool (no labels). The pretrained encoder is the
    shipped search_char, which never saw a label nor a held-out font or handwritten digit."""
    from .tasks.semisupervised import ENCODER, PCA_ENCODER, POOL_RENDERED, POOL_SEED, unlabelled_digits

    pool = unlabelled_digits(max(200, int(POOL_RENDERED * opts.scale)), POOL_SEED + opts.seed)
    code_size = int(runtime.session(ENCODER).get_outputs()[0].shape[1])
    note = (f"{len(pool.images)} unlabelled digits: {int((~pool.handwritten).sum())} rendered from "
            f"{len(datasets.font_split(False))} training fonts with random distortions, and 1,497 "
            "scikit-learn handwritten digits")
    data, entry = _pca_baseline(PCA_ENCODER, pool.images, code_size, "semisupervised", note, opts,
                                code_only=True)
    entry.update(name=f"PCA features, {code_size} components",
                 summary=(f"PCA with {code_size} components (the pretrained encoder's code size), fit "
                          f"without labels on {note}: the features of the semi-supervised baseline."))
    return {PCA_ENCODER: entry}


# ------------------------------------------------------------------ filling in missing values

IMPUTE_STEPS = 3000
IMPUTE_TABLE_STEPS = 3000
IMPUTE_PCA_RANKS = (16, 32, 64, 128)
IMPUTE_PCA_MAX_ITERATIONS = 50


def impute_training_masks(rng: np.random.Generator, count: int) -> np.ndarray:
    """Missing-pixel masks (True = missing) for training the masking autoencoder: per image,
    random pixels (10-90% missing), random 7x7 blocks (10-60%) or one random rectangle, so all
    the page's kinds are in its experience."""
    from .tasks.impute import random_mask, rectangle_mask

    masks = np.empty((count, 28, 28), dtype=bool)
    for i in range(count):
        pick, seed = rng.random(), int(rng.integers(2**31))
        if pick < 0.5:
            masks[i] = random_mask((28, 28), "pixels", float(rng.uniform(0.1, 0.9)), seed)
        elif pick < 0.8:
            masks[i] = random_mask((28, 28), "blocks", float(rng.uniform(0.1, 0.6)), seed)
        else:
            top, left = rng.integers(0, 24, size=2)
            height, width = rng.integers(4, 21, size=2)
            masks[i] = rectangle_mask((top, min(28, top + height)), (left, min(28, left + width)))
    return masks


def pca_completion_to_onnx(mean: np.ndarray, components: np.ndarray, iterations: int,
                           metadata: dict | None = None) -> bytes:
    """Mean filling and iterative PCA completion of 28x28 characters as one ONNX graph (no
    torch). Input (N, 2, 28, 28): channel 0 the character with missing pixels 0, channel 1 the
    mask (1 observed). Outputs "mean_fill" (missing pixels get the training mean) and
    "pca_fill": from the mean fill, `iterations` rounds of f <- m x + (1 - m) clip(mean +
    (f - mean) W^T W, 0, 1), unrolled."""
    from onnx import TensorProto, helper, numpy_helper

    from .export import _finish

    k, d = components.shape
    f32 = np.float32
    inits = [numpy_helper.from_array(np.array(v, dtype=dtype), name) for name, v, dtype in (
        ("flat_shape", [-1, d], np.int64), ("image_shape", [-1, 1, 28, 28], np.int64),
        ("zero_index", 0, np.int64), ("one_index", 1, np.int64), ("zero", 0, f32), ("one", 1, f32))]
    inits += [numpy_helper.from_array(mean.astype(f32).reshape(1, d), "mean"),
              numpy_helper.from_array(np.ascontiguousarray(components.T, dtype=f32), "encoder"),
              numpy_helper.from_array(np.ascontiguousarray(components, dtype=f32), "decoder")]
    nodes = [
        helper.make_node("Gather", ["input", "zero_index"], ["values_2d"], axis=1),      # (N, 28, 28)
        helper.make_node("Gather", ["input", "one_index"], ["observed_2d"], axis=1),
        helper.make_node("Reshape", ["values_2d", "flat_shape"], ["values"]),            # (N, 784)
        helper.make_node("Reshape", ["observed_2d", "flat_shape"], ["observed"]),
        helper.make_node("Sub", ["one", "observed"], ["missing"]),
        helper.make_node("Mul", ["observed", "values"], ["kept"]),
        helper.make_node("Mul", ["missing", "mean"], ["mean_part"]),
        helper.make_node("Add", ["kept", "mean_part"], ["fill_0"]),
        helper.make_node("Reshape", ["fill_0", "image_shape"], ["mean_fill"]),
    ]
    for t in range(iterations):
        nodes += [
            helper.make_node("Sub", [f"fill_{t}", "mean"], [f"centred_{t}"]),
            helper.make_node("MatMul", [f"centred_{t}", "encoder"], [f"code_{t}"]),         # (N, k)
            helper.make_node("MatMul", [f"code_{t}", "decoder"], [f"decoded_{t}"]),         # (N, 784)
            helper.make_node("Add", [f"decoded_{t}", "mean"], [f"restored_{t}"]),
            helper.make_node("Clip", [f"restored_{t}", "zero", "one"], [f"clipped_{t}"]),
            helper.make_node("Mul", ["missing", f"clipped_{t}"], [f"guess_{t}"]),
            helper.make_node("Add", ["kept", f"guess_{t}"], [f"fill_{t + 1}"]),
        ]
    nodes.append(helper.make_node("Reshape", [f"fill_{iterations}", "image_shape"], ["pca_fill"]))
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", 1, 28, 28])
               for n in ("mean_fill", "pca_fill")]
    graph = helper.make_graph(nodes, "pca_completion",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 2, 28, 28])],
                              outputs, inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="engine.builds.pca_completion_to_onnx")
    proto.ir_version = 8
    _finish(proto, metadata)
    return proto.SerializeToString()


def _choose_image_pca(clean: np.ndarray, validation: np.ndarray, seed: int) -> tuple[object, int]:
    """The PCA (its rank) and the rounds of completion that fill validation characters best
    (mean error over 50% random pixels and 25% blocks missing): the baseline at its best."""
    from sklearn.decomposition import PCA

    from .tasks.impute import hidden_rmse, random_mask

    flat, x = clean.reshape(len(clean), -1), validation.reshape(len(validation), -1)
    masks = [random_mask(validation.shape, kind, fraction, seed).reshape(x.shape)
             for kind, fraction in (("pixels", 0.5), ("blocks", 0.25))]
    best = (np.inf, None, 0)
    for rank in IMPUTE_PCA_RANKS:
        pca = PCA(n_components=rank, random_state=seed).fit(flat)
        errors = np.zeros(IMPUTE_PCA_MAX_ITERATIONS)
        for missing in masks:
            fill = np.where(missing, pca.mean_, x)
            for t in range(IMPUTE_PCA_MAX_ITERATIONS):
                restored = np.clip((fill - pca.mean_) @ pca.components_.T @ pca.components_ + pca.mean_, 0, 1)
                fill = np.where(missing, restored, x)
                errors[t] += hidden_rmse(x, fill, missing) / len(masks)
        if errors.min() < best[0]:
            best = (float(errors.min()), pca, int(np.argmin(errors)) + 1)
    return best[1], best[2]


def build_impute(opts: BuildOptions) -> dict[str, dict]:
    """The masking autoencoder for characters and its baselines (mean filling and PCA
    completion, one graph), and the masking autoencoder for the digits table."""
    from .models import (MaskedCharAutoencoder, MaskedCharAutoencoderConfig, MaskedTableAutoencoder,
                         MaskedTableAutoencoderConfig)
    from .tasks.impute import IMAGE_BASELINE, IMAGE_MODEL, load_table, model_input

    count = max(200, int(8000 * opts.scale))
    fonts = datasets.font_split(held_out=False)
    rendered, _ = datasets.render_characters(datasets.DIGITS + datasets.LETTERS, count, fonts=fonts, seed=opts.seed)
    handwritten, _ = datasets.handwritten_digits(held_out=False)
    clean = np.concatenate([rendered, handwritten, handwritten])   # handwritten twice: a rarer style
    data_note = (f"{len(clean)} characters: {count} digits and letters rendered from {len(fonts)} training "
                 "fonts with random distortions, and 1,497 scikit-learn handwritten digits (twice)")
    train_config = TrainConfig(steps=max(20, int(IMPUTE_STEPS * opts.scale)), batch_size=64, lr=2e-3,
                               seed=opts.seed, threads=1)

    def batch(step: int, rng: np.random.Generator):
        targets = clean[rng.integers(len(clean), size=train_config.batch_size)]
        return model_input(targets, impute_training_masks(rng, len(targets))), targets[:, None]

    model = MaskedCharAutoencoder(MaskedCharAutoencoderConfig())
    fit(model, batch, train_config, progress=opts.progress,
        loss_fn=lambda out, target: torch.nn.functional.mse_loss(out["filled"], target))
    rng = np.random.default_rng(opts.seed + 1)
    parity = [model_input(rng.random((n, 28, 28), dtype=np.float32), impute_training_masks(rng, n)) for n in (1, 2, 7)]
    layout = ("(N, 2, 28, 28) float32: channel 0 the character (light on dark, in [0, 1]) with missing "
              "pixels set to 0, channel 1 the mask, 1 where observed and 0 where missing")
    meta = {"task": "impute", "input": layout, "output": "(N, 1, 28, 28) observed pixels kept, missing ones filled",
            "preprocessing": "engine.prepare_character", "training_data": data_note,
            "masks": "random pixels 10-90%, random 7x7 blocks 10-60%, or one random rectangle",
            "config": model.config.__dict__}
    onnx_bytes = export_onnx(model, opts.out_dir / f"{IMAGE_MODEL}.onnx", example=torch.from_numpy(parity[1]),
                             output="filled", metadata=meta, parity_inputs=parity)
    entries = {IMAGE_MODEL: _write_model(model, IMAGE_MODEL, onnx_bytes, _entry(
        IMAGE_MODEL, onnx_bytes, task="impute", name="Masking denoising autoencoder (characters)",
        summary=("A convolutional autoencoder that reads a character with missing pixels and its mask "
                 "(a second channel) and fills in the missing pixels; observed ones are kept. Trained on "
                 f"{data_note}, with random masks."), training_data=data_note, input=layout), opts)}

    validation, _ = datasets.render_characters(datasets.DIGITS + datasets.LETTERS, max(100, int(1000 * opts.scale)),
                                               fonts=fonts, seed=opts.seed + 31)
    pca, rounds = _choose_image_pca(clean, validation, opts.seed)
    baseline_note = (f"PCA with {pca.n_components_} components fit on the same {len(clean)} characters; "
                     f"{rounds} rounds (rank and rounds chosen on {len(validation)} validation characters "
                     "of the training fonts)")
    baseline = pca_completion_to_onnx(pca.mean_, pca.components_, rounds, metadata={
        "task": "impute-baseline", "input": layout, "training_data": data_note, "rank": pca.n_components_,
        "iterations": rounds, "outputs": "mean_fill, pca_fill: (N, 1, 28, 28)"})
    atomic_write_bytes(opts.out_dir / f"{IMAGE_BASELINE}.onnx", baseline)
    entries[IMAGE_BASELINE] = _entry(IMAGE_BASELINE, baseline, task="impute-baseline",
                                     name="Mean filling and PCA completion (characters)",
                                     summary=f"Missing pixels filled with the training mean, and by iterative "
                                             f"{baseline_note}.", training_data=data_note, input=layout)

    table = load_table("digits")
    rows = table.values[:table.training_rows]
    scale = rows.std(axis=0)
    table_model = MaskedTableAutoencoder(MaskedTableAutoencoderConfig(features=rows.shape[1]))
    with torch.no_grad():
        table_model.column_mean.copy_(torch.from_numpy(rows.mean(axis=0)))
        table_model.column_scale.copy_(torch.from_numpy(np.where(scale > 1e-6, scale, 1.0).astype(np.float32)))
    table_config = TrainConfig(steps=max(20, int(IMPUTE_TABLE_STEPS * opts.scale)), batch_size=128, lr=2e-3,
                               seed=opts.seed, threads=1)

    def table_batch(step: int, rng: np.random.Generator):
        values = rows[rng.integers(len(rows), size=table_config.batch_size)]
        missing = rng.random(values.shape) < rng.uniform(0.1, 0.9, size=(len(values), 1))
        return model_input(values, missing), values

    fit(table_model, table_batch, table_config, progress=opts.progress,
        loss_fn=lambda out, target: torch.nn.functional.mse_loss(out["filled"], target))
    table_note = f"the first {table.training_rows} rows of {table.title}"
    table_layout = ("(N, 2, 64) float32: row 0 the values (0 to 16) with missing entries set to 0, row 1 the "
                    "mask, 1 where observed and 0 where missing")
    parity = [model_input(table.values[:n], rng.random((n, rows.shape[1])) < 0.5) for n in (1, 2, 9)]
    table_bytes = export_onnx(table_model, opts.out_dir / f"{table.model}.onnx", example=torch.from_numpy(parity[1]),
                              output="filled", metadata={"task": "impute", "input": table_layout,
                                                         "output": "(N, 64) observed entries kept, missing ones filled",
                                                         "training_data": table_note,
                                                         "config": table_model.config.__dict__},
                              parity_inputs=parity)
    entries[table.model] = _write_model(table_model, table.model, table_bytes, _entry(
        table.model, table_bytes, task="impute", name="Masking denoising autoencoder (digits table)",
        summary=(f"An MLP autoencoder that reads a table row with missing entries and its mask and fills "
                 f"them in; trained on {table_note}, with 10-90% of each row hidden at random."),
        training_data=table_note, input=table_layout), opts)
    return entries


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
    "sequence": (build_sequence,),
    "semisupervised": (build_semisupervised,),
    "impute": (build_impute,),
}
BUILDS["all"] = (build_denoiser_char, build_denoiser_photo, build_anomaly_char, build_search_char,
                 build_embed_photo, *BUILDS["vae"], build_colorizer, build_sequence,
                 build_semisupervised, build_impute)


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
