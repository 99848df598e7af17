"""Denoising: characters through a convolutional autoencoder with a 64-number code, photos and
scanned text of any size through a fully convolutional encoder-decoder. Numpy in, numpy out."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from engine.core import runtime
from engine.core.baselines import best_classical_filter
from engine.core.imaging import add_noise, fit_within, prepare_character
from engine.core.metrics import psnr, ssim

CHAR_MODEL = "denoiser_char"
CHAR_BASELINE = "pca_char"
PHOTO_MODEL = "denoiser_photo"
MAX_PHOTO_PIXELS = 1_500_000      # larger uploads are downscaled first, and the page says so
CHARACTER_MAX_SIDE = 64           # "auto" treats images up to this size as one character
TREAT_AS = ("auto", "character", "photo")


# A sensible starting noise for each kind of input: the lecture's noise factor for characters;
# photos were trained with Gaussian noise up to 55/255, about 0.2.
DEFAULT_NOISE_AMOUNT = {"character": 0.5, "photo": 0.1}


def _is_character_batch(images: np.ndarray) -> bool:
    return images.ndim == 3 and images.shape[1:] == (28, 28)


def takes_characters(model: str | bytes) -> bool:
    """Whether a model (a name, a path or ONNX bytes, such as a training-studio model) takes
    28x28 characters as (N, 1, 28, 28)."""
    shape = runtime.session(model).get_inputs()[0].shape
    return list(shape[1:]) == [1, 28, 28]


def _denoise_photo(image: np.ndarray, model: str) -> np.ndarray:
    """One (H, W) or (H, W, 3) image: grey goes through as three equal channels; the sides are
    padded by reflection to the model's multiple of 4 and cropped back."""
    grey = image.ndim == 2
    rgb = np.repeat(image[..., None], 3, axis=2) if grey else image
    h, w = rgb.shape[:2]
    pad = ((0, -h % 4), (0, -w % 4), (0, 0))
    mode = "reflect" if min(h, w) > 4 else "edge"  # reflection needs a side longer than the pad
    x = np.pad(rgb, pad, mode=mode).transpose(2, 0, 1)[None]         # (1, 3, H', W')
    y = runtime.run(model, x)[0].transpose(1, 2, 0)[:h, :w]           # (H, W, 3)
    y = np.clip(y, 0.0, 1.0)
    return y.mean(axis=2) if grey else y


def denoise(images: np.ndarray, model: str | None = None) -> np.ndarray:
    """Denoise a batch: characters (N, 28, 28) with the character autoencoder; grey (N, H, W)
    or colour (N, H, W, 3) photos of any size with the photo denoiser. `model` names another
    model (a pretrained name or an .onnx path) for the same kind of input."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 3):
        raise ValueError(f"expected (N, H, W) or (N, H, W, 3) images, got shape {images.shape}")
    if len(images) == 0:
        return images.copy()
    if _is_character_batch(images) and (model is None or takes_characters(model)):
        return runtime.run(model or CHAR_MODEL, images[:, None])[:, 0]  # (N, 28, 28)
    return np.stack([_denoise_photo(im, model or PHOTO_MODEL) for im in images])


def denoise_target(image: np.ndarray, treat_as: str = "auto") -> str:
    """Which model an image goes to: "character" or "photo". "auto" takes anything up to
    CHARACTER_MAX_SIDE pixels on its longer side as one character."""
    if treat_as not in TREAT_AS:
        raise ValueError(f"treat_as must be one of {TREAT_AS}")
    if treat_as != "auto":
        return treat_as
    return "character" if max(np.shape(image)[:2]) <= CHARACTER_MAX_SIDE else "photo"


@dataclass(frozen=True)
class DenoiseComparison:
    target: str                     # "character" or "photo"
    model_id: str                   # the key in pretrained/manifest.json
    model_name: str                 # what to call it on a page
    model_summary: str
    clean: np.ndarray
    noisy: np.ndarray
    denoised: np.ndarray
    baseline: np.ndarray
    baseline_name: str
    metrics: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _row(name: str, clean: np.ndarray, image: np.ndarray) -> dict:
    return {"Image": name, "PSNR (dB)": round(psnr(clean, image), 2), "SSIM": round(ssim(clean, image), 3)}


def compare_denoising(image: np.ndarray, *, kind: str = "gaussian", amount: float = 0.5,
                      seed: int | None = 0, treat_as: str = "auto",
                      char_model: tuple[str, bytes] | None = None) -> DenoiseComparison:
    """Add noise to `image`, then denoise it with the autoencoder and with the baseline, and
    measure both against the clean image. A character is first centred into 28x28; a photo
    larger than MAX_PHOTO_PIXELS is downscaled first. `char_model` (a name to show, ONNX
    bytes) replaces the shipped character model, e.g. one trained in the training studio."""
    image = np.asarray(image, dtype=np.float32)
    treat_as = denoise_target(image, treat_as)
    notes: list[str] = []
    if treat_as == "character":
        clean = prepare_character(image)                               # (28, 28)
        model, baseline_model = CHAR_MODEL, CHAR_BASELINE
    else:
        clean = fit_within(image, MAX_PHOTO_PIXELS)
        if clean.shape != image.shape:
            notes.append(f"Downscaled from {image.shape[1]}x{image.shape[0]} to "
                         f"{clean.shape[1]}x{clean.shape[0]} pixels to keep it fast.")
        model = PHOTO_MODEL
    noisy = add_noise(clean, kind=kind, amount=amount, seed=seed)
    own_name = None
    if treat_as == "character" and char_model is not None:
        own_name, model = char_model
        if not takes_characters(model):
            raise runtime.ModelError(f"{own_name} does not take 28x28 characters.")
    start = time.perf_counter()
    denoised = denoise(noisy[None], model=model)[0]
    seconds = time.perf_counter() - start
    if treat_as == "character":
        baseline = runtime.run(baseline_model, noisy[None, None])[0, 0]
        baseline_name = runtime.model_info(baseline_model)["name"]
    else:
        baseline_name, baseline = best_classical_filter(clean, noisy)
    info = runtime.model_info(model) if own_name is None else {
        "name": own_name, "summary": f"{own_name}, trained in this session (not a shipped model)."}
    metrics = [_row("Noisy input", clean, noisy), _row(baseline_name, clean, baseline),
               _row("Autoencoder", clean, denoised)]
    return DenoiseComparison(target=treat_as, model_id=model if own_name is None else "session",
                             model_name=info["name"], model_summary=info["summary"],
                             clean=clean, noisy=noisy, denoised=denoised, baseline=baseline,
                             baseline_name=baseline_name, metrics=metrics, notes=notes,
                             seconds=seconds)


def denoise_examples() -> dict[str, np.ndarray]:
    """Built-in inputs for the page, all from data held out of training: characters in fonts
    the model never saw, a handwritten digit, held-out photos and a scanned page."""
    from engine.core import datasets

    examples: dict[str, np.ndarray] = {}
    held_out = datasets.font_split(held_out=True)
    for i, (label, seed) in enumerate((("5", 3), ("A", 7), ("g", 11))):
        images, _ = datasets.render_characters(label, 1, fonts=held_out[i::3] or held_out, seed=seed)
        examples[f"Character '{label}' (font never seen in training)"] = images[0]
    digits, labels = datasets.handwritten_digits(held_out=True)
    examples[f"Handwritten digit '{labels[0]}' (scikit-learn, held out)"] = digits[0]
    examples["Photo: astronaut (colour, held out)"] = datasets.load_photo("astronaut")
    examples["Photo: camera man (grey, held out)"] = datasets.load_photo("camera")
    examples["Photo: coffee (colour, held out)"] = datasets.load_photo("coffee")
    examples["Scanned text page (held out)"] = datasets.load_photo("page")
    return examples
