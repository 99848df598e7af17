"""How the shipped denoisers are built: `python -m engine train denoiser`."""
from __future__ import annotations

import numpy as np
import torch

from engine.core import datasets
from engine.core.quantize import Int8Recipe, feeds_of
from engine.nn.export import export_onnx
from engine.nn.layers import CharAutoencoderConfig
from engine.nn.recipes import (
    BuildOptions,
    export_char_model,
    manifest_entry,
    noise_sample,
    pca_baseline,
    train_char_model,
    write_model,
)
from engine.nn.train import TrainConfig, fit
from engine.tasks.denoise.evaluate import photo_psnr
from engine.tasks.denoise.model import PhotoDenoiser, PhotoDenoiserConfig


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
    model = train_char_model(clean, config, 16_000, lambda t, rng: noise_sample(t, rng, 0.7), opts)
    data_note = (f"{len(clean)} characters: digits and letters rendered from "
                 f"{len(datasets.font_split(False))} training fonts with random distortions, "
                 "and 1,497 scikit-learn handwritten digits")
    onnx_bytes = export_char_model(model, "denoiser_char", clean, "denoise", data_note, opts)
    entries = {"denoiser_char": write_model(model, "denoiser_char", onnx_bytes, manifest_entry(
        "denoiser_char", onnx_bytes, task="denoise", name="Convolutional denoising autoencoder",
        summary=(f"A convolutional autoencoder that squeezes each 28x28 character into "
                 f"{config.code_size} numbers and rebuilds it; trained on {data_note}."),
        training_data=data_note), opts)}
    entries["pca_char"] = pca_baseline("pca_char", clean, config.code_size, "denoise-baseline",
                                        data_note, opts)[1]
    return entries


def photo_training_images(seed: int) -> list[np.ndarray]:
    """Every built-in photo not held out, and rendered text pages in the training fonts."""
    fonts = datasets.font_split(held_out=False)
    images = [datasets.load_photo(n) for n in datasets.photo_names(held_out=False)]
    images += [datasets.render_text_page(384, 384, fonts=fonts, seed=seed + s) for s in range(8)]
    return images


def _noisy_patches(patches: np.ndarray, grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, 3, H, W) inputs with training noise of random kind and strength; grey patches get the
    same noise on all three channels, as the task feeds them."""
    inputs = np.stack([np.repeat(noise_sample(t[..., 0], rng, 55 / 255)[..., None], 3, axis=2)
                       if g else noise_sample(t, rng, 55 / 255) for t, g in zip(patches, grey)])
    return inputs.transpose(0, 3, 1, 2).copy()


def photo_calibration(seed: int = 90_210) -> list[dict[str, np.ndarray]]:
    """The int8 twin's calibration: noisy patches of the training photos and pages, 256 of
    64x64 and 32 of 256x256 (a seed no build or evaluation uses)."""
    rng, images, feeds = np.random.default_rng(seed), photo_training_images(seed), []
    for count, size, batch in ((256, 64, 32), (32, 256, 8)):
        patches, grey = datasets.random_patches(images, count, size, seed=seed + size)
        feeds += feeds_of(_noisy_patches(patches, grey, rng), batch)
    return feeds


def build_denoiser_photo(opts: BuildOptions) -> dict[str, dict]:
    images = photo_training_images(opts.seed)
    patches, is_grey = datasets.random_patches(images, max(256, int(30_000 * opts.scale)), 64,
                                               seed=opts.seed)
    config = PhotoDenoiserConfig()

    def batch(step: int, rng: np.random.Generator):
        idx = rng.integers(len(patches), size=train_config.batch_size)
        return _noisy_patches(patches[idx], is_grey[idx], rng), patches[idx].transpose(0, 3, 1, 2).copy()

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
    return {"denoiser_photo": write_model(model, "denoiser_photo", onnx_bytes, manifest_entry(
        "denoiser_photo", onnx_bytes, task="denoise", name="Fully convolutional denoising autoencoder",
        summary=("A fully convolutional encoder-decoder that takes photos and scanned pages of any "
                 f"size; trained on {data_note}, with noise of random kind and strength."),
        training_data=data_note), opts)}


# `python -m engine quantize`: int8 twins, shipped where the held-out PSNR of every photo holds
INT8 = {"denoiser_photo": Int8Recipe(calibrate=photo_calibration, quality=photo_psnr, tolerance=0.1,
                                     timing_shape=(1, 3, 1024, 1024))}

# `python -m engine train NAME`: the build steps of each target
TARGETS = {
    "denoiser": (build_denoiser_char, build_denoiser_photo),
    "denoiser-char": (build_denoiser_char,),
    "denoiser-photo": (build_denoiser_photo,),
}
