"""Colorization: a fully convolutional network reads the lightness of a photo (Lab L) and
predicts its colour (a and b); the photo's own lightness is kept exactly, so only colour is
invented. Colour conversions are scikit-image's. Numpy in, numpy out."""
from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from skimage import color

from engine.core import runtime
from engine.core.imaging import fit_within
from engine.core.metrics import colourfulness, psnr

MODEL = "colorizer"
MAX_PIXELS = 4_000_000        # larger photos are scaled down first, and the page says so
TILE = 1024                   # photos with a side above this run in overlapping tiles
OVERLAP = 64                  # pixels two neighbouring tiles share; blended linearly
MULTIPLE = 16                 # the network's sides must be multiples of this
SECOND_SCALE = 0.6            # the second, smaller view of the photo averaged in


class ColorizeError(ValueError):
    """An image the colorizer cannot take (wrong shape)."""


def as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] == 4:      # RGBA: over white, as the decoder does
        alpha = image[..., 3:]
        return image[..., :3] * alpha + (1.0 - alpha)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ColorizeError(f"expected a grey (H, W), RGB (H, W, 3) or RGBA (H, W, 4) image, got {image.shape}")


def _check_size(image: np.ndarray) -> None:
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ColorizeError(f"the image has no pixels: {image.shape}")


def to_lab(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) Lab (L in 0..100, a and b about -110..110) of a grey, RGB or RGBA image in [0, 1]."""
    rgb = as_rgb(image)
    _check_size(rgb)
    return color.rgb2lab(np.clip(rgb, 0.0, 1.0)).astype(np.float32)


def lightness(image: np.ndarray) -> np.ndarray:
    """The Lab lightness L (H, W) in 0..100: what the colorizer sees."""
    return to_lab(image)[..., 0]


def from_lab(lab: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) in [0, 1] of a Lab image; colours outside sRGB are clipped."""
    with warnings.catch_warnings():   # scikit-image warns of colours outside sRGB; they are clipped
        warnings.simplefilter("ignore", UserWarning)
        rgb = color.lab2rgb(np.asarray(lab, dtype=np.float32))
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def _ramp(length: int, overlap: int, first: bool, last: bool) -> np.ndarray:
    """Blending weights along one side of a tile: rising over the overlap unless at the edge."""
    w = np.ones(length, dtype=np.float32)
    fade = np.linspace(0.0, 1.0, overlap + 2, dtype=np.float32)[1:-1]
    if not first:
        w[:overlap] = fade
    if not last:
        w[-overlap:] = fade[::-1]
    return w


def _starts(size: int, tile: int, overlap: int) -> list[int]:
    if size <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, size - tile, step)) + [size - tile]
    return sorted(set(starts))


def _run_padded(L: np.ndarray, model) -> np.ndarray:
    """(H, W) L in 0..100 -> (H, W, 2) ab, padding the sides to the network's multiple. The
    photo and its mirror image go through as one batch and their colours are averaged."""
    h, w = L.shape
    pad = ((0, -h % MULTIPLE), (0, -w % MULTIPLE))
    mode = "reflect" if min(h, w) > MULTIPLE else "edge"   # reflection needs a side longer than the pad
    x = np.pad(L / 100.0, pad, mode=mode).astype(np.float32)
    both = runtime.run(model, np.stack([x, x[:, ::-1]])[:, None])        # (2, 2, H', W')
    ab = 0.5 * (both[0] + both[1][:, :, ::-1])
    return ab[:, :h, :w].transpose(1, 2, 0) * 100.0


def _resize_planes(planes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    size = (shape[1], shape[0])
    stack = planes[..., None] if planes.ndim == 2 else planes
    out = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(stack[..., k], dtype=np.float32))
                               .resize(size, Image.Resampling.BILINEAR)) for k in range(stack.shape[2])], axis=2)
    return out[..., 0] if planes.ndim == 2 else out


def _predict_two_scales(L: np.ndarray, model) -> np.ndarray:
    """The mean of the network's colour at full size and at SECOND_SCALE (where the photo is
    big enough), each with its mirror image: averaging views evens out guesses the network
    is unsure of, and the smaller view sees more of the scene at once."""
    full = _run_padded(L, model)
    h, w = L.shape
    small = (round(h * SECOND_SCALE), round(w * SECOND_SCALE))
    if min(small) < MULTIPLE:
        return full
    coarse = _resize_planes(_run_padded(_resize_planes(L, small), model), (h, w))
    return 0.5 * (full + coarse)


def predict_ab(L: np.ndarray, model=MODEL, *, tile: int = TILE, overlap: int = OVERLAP) -> np.ndarray:
    """The network's colour (H, W, 2) for a lightness image (H, W); a photo with a side longer
    than `tile` runs in overlapping tiles blended linearly, so memory stays bounded."""
    L = np.asarray(L, dtype=np.float32)
    h, w = L.shape
    if h <= tile and w <= tile:
        return _predict_two_scales(L, model)
    out = np.zeros((h, w, 2), dtype=np.float32)
    weight = np.zeros((h, w, 1), dtype=np.float32)
    ys, xs = _starts(h, tile, overlap), _starts(w, tile, overlap)
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            th, tw = min(tile, h - y), min(tile, w - x)
            wy = _ramp(th, overlap, i == 0, i == len(ys) - 1)
            wx = _ramp(tw, overlap, j == 0, j == len(xs) - 1)
            wt = (wy[:, None] * wx[None, :])[..., None]
            out[y:y + th, x:x + tw] += _predict_two_scales(L[y:y + th, x:x + tw], model) * wt
            weight[y:y + th, x:x + tw] += wt
    return out / weight


def mean_ab(model=MODEL) -> np.ndarray:
    """The mean colour (a, b) of the model's training photos: the constant-colour baseline."""
    meta = runtime.metadata(model)
    return np.asarray(json.loads(meta["mean_ab"]), dtype=np.float32)


def colorize_one(image: np.ndarray, model=MODEL, strength: float = 1.0) -> np.ndarray:
    """One grey, RGB or RGBA image (H, W[, C]) -> RGB (H, W, 3): its lightness with the
    predicted colour; `strength` blends between grey (0) and the prediction (1)."""
    lab = to_lab(image)
    lab[..., 1:] = float(strength) * predict_ab(lab[..., 0], model)
    return from_lab(lab)


def colorize(images, model=MODEL, strength: float = 1.0) -> np.ndarray:
    """Colorize a batch: (N, H, W) grey or (N, H, W, 3) colour images in [0, 1], of any size
    (a colour image is made grey first). Returns (N, H, W, 3) RGB. A list of images of
    different sizes gives a list."""
    if isinstance(images, list):
        return [colorize_one(im, model, strength) for im in images]
    images = np.asarray(images, dtype=np.float32)
    if images.ndim not in (3, 4):
        raise ColorizeError(f"expected (N, H, W) or (N, H, W, 3) images, got shape {images.shape}")
    return np.stack([colorize_one(im, model, strength) for im in images]) if len(images) else \
        np.zeros((0, *images.shape[1:3], 3), np.float32)


@dataclass(frozen=True)
class ColorizeComparison:
    original: np.ndarray | None     # RGB, None when the input was grey
    grey: np.ndarray                # the network's input, shown as RGB
    colorized: np.ndarray           # at the chosen strength
    mean_colour: np.ndarray         # the constant-colour baseline
    metrics: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def is_grey(image: np.ndarray, tolerance: float = 2 / 255) -> bool:
    """True for (H, W) images and colour images whose channels (nearly) agree everywhere."""
    image = np.asarray(image)
    if image.ndim == 2:
        return True
    rgb = image[..., :3]
    return bool(np.abs(rgb - rgb.mean(axis=2, keepdims=True)).max() <= tolerance)


def _metric_row(name: str, original: np.ndarray, image: np.ndarray) -> dict:
    return {"Image": name, "PSNR (dB)": round(psnr(original, image), 2),
            "Colourfulness": round(colourfulness(image), 1)}


def compare_colorization(image: np.ndarray, *, strength: float = 1.0, model=MODEL) -> ColorizeComparison:
    """Turn `image` grey (if it has colour), colorize it, and measure the result and the two
    baselines (the grey image and a constant mean colour) against the original."""
    rgb = as_rgb(image)
    _check_size(rgb)
    notes = []
    small = fit_within(rgb, MAX_PIXELS)
    if small.shape != rgb.shape:
        notes.append(f"Scaled down from {rgb.shape[1]}x{rgb.shape[0]} to {small.shape[1]}x{small.shape[0]} "
                     f"pixels (the limit is {MAX_PIXELS / 1e6:g} megapixels).")
    lab = to_lab(small)
    start = time.perf_counter()
    ab = predict_ab(lab[..., 0], model)
    seconds = time.perf_counter() - start

    def with_ab(values) -> np.ndarray:
        out = lab.copy()
        out[..., 1:] = values
        return from_lab(out)

    grey = with_ab(0.0)
    colorized = with_ab(float(strength) * ab)
    mean_colour = with_ab(mean_ab(model))
    original = None if is_grey(small) else small
    metrics = []
    if original is not None:
        metrics = [_metric_row("Original", original, original), _metric_row("Grey input", original, grey),
                   _metric_row("Mean colour (baseline)", original, mean_colour),
                   _metric_row(f"Autoencoder (strength {strength:g})", original, colorized)]
    else:
        notes.append("The photo is grey, so there is no original colour to measure against.")
    return ColorizeComparison(original=original, grey=grey, colorized=colorized, mean_colour=mean_colour,
                              metrics=metrics, notes=notes, seconds=seconds)


EXAMPLES = {"Astronaut (colour, held out)": "astronaut", "Coffee (colour, held out)": "coffee",
            "Motorcycle (colour, held out)": "motorcycle", "Camera man (grey photo)": "camera"}


def colorize_examples() -> dict[str, np.ndarray]:
    """Built-in photos the colorizer never trained on."""
    from engine.core import datasets

    return {label: datasets.load_photo(name) for label, name in EXAMPLES.items()}


@dataclass
class FineTuneResult:
    onnx: bytes                     # the fine-tuned graph, ready for colorize(model=...)
    losses: list[float]             # training loss of every step
    steps: int                      # steps run (fewer than asked when stopped)
    photos: int
    seconds: float
