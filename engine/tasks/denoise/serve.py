"""Denoising: characters through a convolutional autoencoder with a 64-number code, photos and
scanned text of any size through a fully convolutional encoder-decoder. Numpy in, numpy out."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from engine.core import precomputed, runtime
from engine.core.baselines import best_classical_filter, non_local_means
from engine.core.imaging import add_noise, fit_within, prepare_character
from engine.core.metrics import psnr, ssim
from engine.core.noise import estimate_noise

CHAR_MODEL = "denoiser_char"
CHAR_BASELINE = "pca_char"
PHOTO_MODEL = "denoiser_photo"
MAX_PHOTO_PIXELS = 1_500_000      # larger uploads are downscaled first, and the page says so
MAX_SIGMA = 55 / 255              # the photo denoiser's training noise levels: 0 to this
TILE, TILE_OVERLAP = 1024, 64     # photos over TILE pixels on a side go through in overlapping tiles
CHARACTER_MAX_SIDE = 64           # "auto" treats images up to this size as one character
TREAT_AS = ("auto", "character", "photo")


# A sensible starting noise for each kind of input: the lecture's noise factor for characters;
# for photos sigma 25/255, the middle of the levels the photo denoiser learnt (0 to 55/255).
DEFAULT_NOISE_AMOUNT = {"character": 0.5, "photo": 25 / 255}


def _is_character_batch(images: np.ndarray) -> bool:
    return images.ndim == 3 and images.shape[1:] == (28, 28)


def takes_characters(model: str | bytes) -> bool:
    """Whether a model (a name, a path or ONNX bytes, such as a training-studio model) takes
    28x28 characters as (N, 1, 28, 28)."""
    shape = runtime.session(model).get_inputs()[0].shape
    return list(shape[1:]) == [1, 28, 28]


def _photo_input_channels(model: str | bytes) -> int:
    """4 for a noise-level-aware photo model (RGB and the level map), 3 for a blind one."""
    return int(runtime.session(model).get_inputs()[0].shape[1])


def _run_photo(rgb: np.ndarray, level: float, model: str | bytes, multiple: int) -> np.ndarray:
    """One (H, W, 3) tile through the model: sides padded by reflection to `multiple` and
    cropped back; the level map appended where the model takes one."""
    h, w = rgb.shape[:2]
    pad = ((0, -h % multiple), (0, -w % multiple), (0, 0))
    mode = "reflect" if min(h, w) > multiple else "edge"  # reflection needs a side longer than the pad
    x = np.pad(rgb, pad, mode=mode).transpose(2, 0, 1)[None]         # (1, 3, H', W')
    if _photo_input_channels(model) == 4:
        x = np.concatenate([x, np.full((1, 1, *x.shape[2:]), level, np.float32)], axis=1)
    return runtime.run(model, np.ascontiguousarray(x))[0].transpose(1, 2, 0)[:h, :w]


def _tiles(length: int) -> list[tuple[int, int, int, int]]:
    """(start, stop, keep_from, keep_to) of overlapping tiles along one side: each tile is at
    most TILE long and reaches TILE_OVERLAP past the part of it that is kept."""
    if length <= TILE:
        return [(0, length, 0, length)]
    step, tiles = TILE - 2 * TILE_OVERLAP, []
    for keep in range(0, length, step):
        start, stop = max(0, keep - TILE_OVERLAP), min(length, keep + step + TILE_OVERLAP)
        tiles.append((start, stop, keep - start, min(keep + step, length) - start))
    return tiles


def _denoise_photo(image: np.ndarray, level: float, model: str | bytes) -> np.ndarray:
    """One (H, W) or (H, W, 3) image: grey goes through as three equal channels; photos over
    TILE pixels on a side go through in overlapping tiles (bounded memory, same result)."""
    grey = image.ndim == 2
    rgb = np.repeat(image[..., None], 3, axis=2) if grey else image
    multiple = 8 if _photo_input_channels(model) == 4 else 4
    out = np.empty_like(rgb)
    for y0, y1, ky0, ky1 in _tiles(rgb.shape[0]):
        for x0, x1, kx0, kx1 in _tiles(rgb.shape[1]):
            tile = _run_photo(rgb[y0:y1, x0:x1], level, model, multiple)
            out[y0 + ky0:y0 + ky1, x0 + kx0:x0 + kx1] = tile[ky0:ky1, kx0:kx1]
    out = np.clip(out, 0.0, 1.0)
    return out.mean(axis=2) if grey else out


def photo_noise_level(image: np.ndarray, sigma: float | None = None) -> float:
    """The noise level the photo denoiser is told: `sigma` (0-1 scale) when given, else the
    estimate from the image; kept within the levels it was trained on (0 to MAX_SIGMA)."""
    level = estimate_noise(image) if sigma is None else float(sigma)
    if not np.isfinite(level) or level < 0:
        raise ValueError(f"sigma must be a number from 0 to 1, got {sigma}")
    return float(min(level, MAX_SIGMA))


def denoise(images: np.ndarray, model: str | None = None, sigma: float | None = None) -> np.ndarray:
    """Denoise a batch: characters (N, 28, 28) with the character autoencoder; grey (N, H, W)
    or colour (N, H, W, 3) photos of any size with the photo denoiser, told the noise level
    `sigma` (standard deviation on the 0-1 scale; None estimates it for each image with
    `estimate_noise`). `model` names another model (a pretrained name or an .onnx path) for
    the same kind of input. Characters take no noise level."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 3):
        raise ValueError(f"expected (N, H, W) or (N, H, W, 3) images, got shape {images.shape}")
    if len(images) == 0:
        return images.copy()
    if _is_character_batch(images) and (model is None or takes_characters(model)):
        return runtime.run(model or CHAR_MODEL, images[:, None])[:, 0]  # (N, 28, 28)
    model = model or PHOTO_MODEL
    blind = _photo_input_channels(model) == 3
    return np.stack([_denoise_photo(im, 0.0 if blind else photo_noise_level(im, sigma), model)
                     for im in images])


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
    baseline: np.ndarray | None       # None until add_classical_baselines (photos)
    baseline_name: str | None
    metrics: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # photos: non-local means (the free classical choice), and the noise levels (0-1 scale)
    nlm: np.ndarray | None = None
    estimated_level: float | None = None   # what estimate_noise reads from the noisy image
    told_level: float | None = None        # what the denoiser was told (the estimate unless given)


def _row(name: str, clean: np.ndarray, image: np.ndarray) -> dict:
    return {"Image": name, "PSNR (dB)": round(psnr(clean, image), 2), "SSIM": round(ssim(clean, image), 3)}


NLM_NAME = "Non-local means (scikit-image)"
CHARACTER_NOISE_KINDS = ("gaussian", "salt_pepper", "mask")
PHOTO_NOISE_KINDS = ("gaussian", "camera")   # what the photo denoiser learnt; other kinds are refused


def _fit_photo(image: np.ndarray, notes: list[str]) -> np.ndarray:
    fitted = fit_within(image, MAX_PHOTO_PIXELS)
    if fitted.shape != image.shape:
        notes.append(f"Downscaled from {image.shape[1]}x{image.shape[0]} to "
                     f"{fitted.shape[1]}x{fitted.shape[0]} pixels to keep it fast.")
    return fitted


def compare_denoising(image: np.ndarray, *, kind: str = "gaussian", amount: float = 0.5,
                      seed: int | None = 0, treat_as: str = "auto",
                      char_model: tuple[str, bytes] | None = None,
                      sigma: float | None = None, baselines: bool = True) -> DenoiseComparison:
    """Add noise to `image`, then denoise it with the autoencoder and with the baselines, and
    measure each against the clean image. A character is first centred into 28x28; a photo
    larger than MAX_PHOTO_PIXELS is downscaled first. `char_model` (a name to show, ONNX
    bytes) replaces the shipped character model, e.g. one trained in the training studio. A
    photo's denoiser is told `sigma` (0-1 scale), or when None the level it estimates from the
    noisy image, as it would be for a user's own photo; photos take PHOTO_NOISE_KINDS.
    With baselines=False a photo's classical methods and its measurements (seconds on a large
    photo: `metrics` is empty) are left for `add_classical_baselines`, so that a page can show
    the autoencoder's answer first."""
    image = np.asarray(image, dtype=np.float32)
    treat_as = denoise_target(image, treat_as)
    notes: list[str] = []
    if treat_as == "character":
        clean = prepare_character(image)                               # (28, 28)
        model, baseline_model = CHAR_MODEL, CHAR_BASELINE
    else:
        if kind not in PHOTO_NOISE_KINDS:
            raise ValueError(f"the photo denoiser takes noise of the kinds {PHOTO_NOISE_KINDS}, not {kind!r}")
        clean = _fit_photo(image, notes)
        model = PHOTO_MODEL
    noisy = add_noise(clean, kind=kind, amount=amount, seed=seed)
    own_name = None
    if treat_as == "character" and char_model is not None:
        own_name, model = char_model
        if not takes_characters(model):
            raise runtime.ModelError(f"{own_name} does not take 28x28 characters.")
    estimated = told = None
    if treat_as == "photo":
        estimated = estimate_noise(noisy)
        told = photo_noise_level(noisy, estimated if sigma is None else sigma)
    start = time.perf_counter()
    denoised = denoise(noisy[None], model=model, sigma=told)[0]
    seconds = time.perf_counter() - start
    baseline, baseline_name, metrics = None, None, []
    if treat_as == "character":
        baseline = runtime.run(baseline_model, noisy[None, None])[0, 0]
        baseline_name = runtime.model_info(baseline_model)["name"]
        metrics = [_row(name, clean, shown) for name, shown in (("Noisy input", noisy), (baseline_name, baseline),
                                                                 ("Autoencoder", denoised))]
    info = runtime.model_info(model) if own_name is None else {
        "name": own_name, "summary": f"{own_name}, trained in this session (not a shipped model)."}
    result = DenoiseComparison(target=treat_as, model_id=model if own_name is None else "session",
                               model_name=info["name"], model_summary=info["summary"],
                               clean=clean, noisy=noisy, denoised=denoised, baseline=baseline,
                               baseline_name=baseline_name, metrics=metrics, notes=notes,
                               seconds=seconds, estimated_level=estimated, told_level=told)
    return add_classical_baselines(result) if baselines else result


def add_classical_baselines(result: DenoiseComparison) -> DenoiseComparison:
    """A photo's comparison with its classical methods added (the best Gaussian blur or median
    filter for this image, chosen on tiles of a large photo, and non-local means told the
    measured level) and every method measured: the noisy input, the two, then the autoencoder.
    A character's, or one that has them, comes back as it is. Non-local means runs in a second
    thread meanwhile (scikit-image and SciPy let go of the interpreter lock): on two cores this
    takes the slower of the two halves, not their sum."""
    if result.baseline is not None:
        return result
    clean = result.clean
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlm") as pool:
        nlm_job = pool.submit(lambda: (nlm := non_local_means(result.noisy, result.estimated_level),
                                       _row(NLM_NAME, clean, nlm)))
        baseline_name, baseline = best_classical_filter(clean, result.noisy, on_tiles=True)
        rows = [_row(name, clean, shown) for name, shown in (("Noisy input", result.noisy), (baseline_name, baseline))]
        autoencoder = _row("Autoencoder", clean, result.denoised)
        nlm, nlm_row = nlm_job.result()
    return replace(result, baseline=baseline, baseline_name=baseline_name, nlm=nlm,
                   metrics=[*rows, nlm_row, autoencoder])


@dataclass(frozen=True)
class PhotoCleaning:
    """A user's own noisy photo, cleaned: no clean original, so no PSNR; the estimate, the
    level used, and non-local means beside the autoencoder."""
    noisy: np.ndarray
    cleaned: np.ndarray
    nlm: np.ndarray
    estimated_level: float            # 0-1 scale
    told_level: float                 # what the denoiser was told (0-1 scale)
    model_name: str
    model_summary: str
    seconds: float                    # the autoencoder's time
    nlm_seconds: float
    notes: list[str] = field(default_factory=list)


def clean_photo(image: np.ndarray, sigma: float | None = None, *,
                estimated: float | None = None) -> PhotoCleaning:
    """Denoise a photo as it is (the upload is the noisy image): the noise level is estimated
    from it, or `sigma` (0-1 scale) when the user sets it; non-local means gets the same level.
    A photo over MAX_PHOTO_PIXELS is downscaled first (which also lowers its noise), and the
    estimate is taken after that; `estimated` passes one already taken of the same image by
    estimate_photo_noise (the page's slider starts at it), so it is not measured twice."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3):
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {image.shape}")
    notes: list[str] = []
    noisy = _fit_photo(image, notes)
    estimated = estimate_photo_noise(noisy) if estimated is None else float(estimated)
    requested = estimated if sigma is None else float(sigma)
    told = photo_noise_level(noisy, requested)
    if told < requested:
        notes.append(f"The denoiser learnt noise up to {MAX_SIGMA * 255:.0f}/255, and was told that "
                     f"instead of {requested * 255:.0f}/255.")
    start = time.perf_counter()
    cleaned = denoise(noisy[None], sigma=told)[0]
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    nlm = non_local_means(noisy, max(told, 1e-3))
    info = runtime.model_info(PHOTO_MODEL)
    return PhotoCleaning(noisy=noisy, cleaned=cleaned, nlm=nlm, estimated_level=estimated, told_level=told,
                         model_name=info["name"], model_summary=info["summary"], seconds=seconds,
                         nlm_seconds=time.perf_counter() - start, notes=notes)


def estimate_photo_noise(image: np.ndarray) -> float:
    """The noise level (0-1 scale) clean_photo reads from `image`: measured after the same
    downscaling to MAX_PHOTO_PIXELS, which averages some noise away."""
    return estimate_noise(fit_within(np.asarray(image, dtype=np.float32), MAX_PHOTO_PIXELS))


def noisy_photo_examples() -> dict[str, np.ndarray]:
    """Built-in noisy photos for "clean my photo as it is": held-out photos with simulated
    noise (seeded), since the packages we install ship no noisy photo."""
    from engine.core import photo_corpus

    examples = {}
    for name, kind, level in (("astronaut", "gaussian", 25), ("squirrel", "gaussian", 50), ("robin", "gaussian", 15),
                              ("coffee", "camera", 30)):
        if photo_corpus.is_available(photo_corpus.by_name(name)):
            label = "camera-like noise saved as JPEG" if kind == "camera" else "Gaussian noise"
            examples[f"{name.title()}, {label} {level}/255 (simulated, held out)"] = add_noise(
                photo_corpus.load(name), kind, level / 255, seed=level)
    return examples


def denoise_examples() -> dict[str, np.ndarray]:
    """Built-in inputs for the page, all from data held out of training: characters in fonts
    the model never saw, a handwritten digit, held-out photos and a scanned page."""
    from engine.core import datasets

    examples = dict(_character_examples())
    examples["Photo: astronaut (colour, held out)"] = datasets.load_photo("astronaut")
    examples["Photo: camera man (grey, held out)"] = datasets.load_photo("camera")
    examples["Photo: coffee (colour, held out)"] = datasets.load_photo("coffee")
    examples["Scanned text page (held out)"] = datasets.load_photo("page")
    return examples


@precomputed.stored("denoise_examples", fonts=True)
def _character_examples() -> dict[str, np.ndarray]:
    """The page's built-in characters: three in held-out fonts and a held-out handwritten digit."""
    from engine.core import datasets

    examples: dict[str, np.ndarray] = {}
    held_out = datasets.font_split(held_out=True)
    for i, (label, seed) in enumerate((("5", 3), ("A", 7), ("g", 11))):
        images, _ = datasets.render_characters(label, 1, fonts=held_out[i::3] or held_out, seed=seed)
        examples[f"Character '{label}' (font never seen in training)"] = images[0]
    digits, labels = datasets.handwritten_digits(held_out=True)
    examples[f"Handwritten digit '{labels[0]}' (scikit-learn, held out)"] = digits[0]
    return examples
