"""Colorization: a fully convolutional network reads the lightness of a photo (Lab L) and
predicts its colour (a and b); the photo's own lightness is kept exactly, so only colour is
invented. Colour conversions are scikit-image's. Numpy in, numpy out."""
from __future__ import annotations

import dataclasses
import json
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from skimage import color

from engine.core import runtime
from engine.core.imaging import fit_within, resize
from engine.core.metrics import colourfulness, psnr

MODEL = "colorizer"
MAX_PIXELS = 1_500_000        # larger photos are scaled down first (colour conversions of 4 MP took 5 s)
COLORIZE_MAX_PIXELS = MAX_PIXELS   # the name the pages know it by
WORK_SIDE = 512               # the network sees photos scaled to this longer side at most
MULTIPLE = 16                 # the network's sides must be multiples of this


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


def _resize_planes(planes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of (H, W) or (H, W, C) float planes (colour is smooth: no ringing wanted)."""
    from PIL import Image

    size = (shape[1], shape[0])
    stack = planes[..., None] if planes.ndim == 2 else planes
    out = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(stack[..., k], dtype=np.float32))
                               .resize(size, Image.Resampling.BILINEAR)) for k in range(stack.shape[2])], axis=2)
    return out[..., 0] if planes.ndim == 2 else out


def check_hints(hints, shape: tuple[int, int]) -> np.ndarray:
    """The hints of one image as a (K, 5) array of y, x, r, g, b, checked: each a point
    `(y, x, (r, g, b))` in pixel coordinates inside an image of `shape` (H, W), with a finite
    RGB colour in [0, 1]. None or an empty sequence is no hints. Raises ColorizeError naming
    the first bad point."""
    if hints is None:
        return np.zeros((0, 5), np.float32)
    if isinstance(hints, np.ndarray) and hints.ndim == 2 and hints.shape[1] == 5:
        rows = [(h[0], h[1], tuple(h[2:])) for h in hints.tolist()]
    else:
        try:
            rows = list(hints)
        except TypeError:
            raise ColorizeError(f"hints must be a sequence of (y, x, (r, g, b)) points, got {type(hints).__name__}") from None
    out = np.zeros((len(rows), 5), np.float32)
    h, w = shape
    for i, point in enumerate(rows):
        try:
            y, x, rgb = point
            values = np.array([y, x, *rgb], dtype=np.float64)
        except (TypeError, ValueError):
            raise ColorizeError(f"hint {i + 1} is not (y, x, (r, g, b)): {point!r}") from None
        if values.shape != (5,) or not np.isfinite(values).all():
            raise ColorizeError(f"hint {i + 1} is not (y, x, (r, g, b)) with finite numbers: {point!r}")
        if not (0 <= values[0] < h and 0 <= values[1] < w):
            raise ColorizeError(f"hint {i + 1} at (y={values[0]:g}, x={values[1]:g}) is outside the "
                                f"{w}x{h} image")
        if values[2:].min() < 0 or values[2:].max() > 1:
            raise ColorizeError(f"hint {i + 1}'s colour {tuple(values[2:])} is outside [0, 1]")
        out[i] = values
    return out


def hint_ab(hints: np.ndarray) -> np.ndarray:
    """The Lab a and b (K, 2) of checked hints' colours: only their colour is used, not their
    lightness (the photo's own lightness stays)."""
    if not len(hints):
        return np.zeros((0, 2), np.float32)
    return color.rgb2lab(hints[None, :, 2:5].astype(np.float32))[0, :, 1:].astype(np.float32)


def hint_planes(points: np.ndarray, ab: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The network's hint channels (3, H, W): a / 100 and b / 100 at each point (integer
    pixel positions), and a mask of 1 there. A later point at the same pixel wins."""
    planes = np.zeros((3, *shape), np.float32)
    if len(points):
        ys, xs = points[:, 0], points[:, 1]
        planes[0, ys, xs], planes[1, ys, xs] = ab[:, 0] / 100.0, ab[:, 1] / 100.0
        planes[2, ys, xs] = 1.0
    return planes


def _run_padded(x: np.ndarray, model) -> tuple[np.ndarray, np.ndarray]:
    """(4, H, W) network input -> the network's colour and its hints' plain spread, each
    (H, W, 2) ab, padding the sides to the network's multiple (the lightness by reflection,
    the hint channels with zeros). The photo and its mirror image go through as one batch and
    their colours are averaged."""
    _, h, w = x.shape
    pad = ((0, -h % MULTIPLE), (0, -w % MULTIPLE))
    mode = "reflect" if min(h, w) > MULTIPLE else "edge"   # reflection needs a side longer than the pad
    padded = np.concatenate([np.pad(x[:1], ((0, 0), *pad), mode=mode), np.pad(x[1:], ((0, 0), *pad))])
    session = runtime.session(model)
    batch = np.ascontiguousarray(np.stack([padded, padded[:, :, ::-1]]))
    outputs = session.run(None, {session.get_inputs()[0].name: batch})          # each (2, 2, H', W')
    colour, spread = (0.5 * (both[0] + both[1][:, :, ::-1]) for both in outputs)
    return tuple(v[:, :h, :w].transpose(1, 2, 0) * 100.0 for v in (colour, spread))


def working_shape(shape: tuple[int, int], side: int = WORK_SIDE) -> tuple[int, int]:
    """The size the network sees: the photo scaled so that its longer side is at most `side`."""
    h, w = shape
    factor = min(1.0, side / max(h, w))
    return max(1, round(h * factor)), max(1, round(w * factor))


def nearest_hint_ab(points: np.ndarray, ab: np.ndarray, shape: tuple[int, int], lightness: np.ndarray | None = None
                    ) -> np.ndarray:
    """(H, W, 2): every pixel takes the a and b of its nearest hint among those at integer pixel
    positions `points` (zeros without hints). Without `lightness` the nearest by distance (a
    Voronoi map, blind to edges); with it (H, W, L in 0..100) the hint whose region it is in: the
    watershed of the lightness's gradient flooded from the hints, so regions part at edges."""
    out = np.zeros((*shape, 2), np.float32)
    if not len(points):
        return out
    if lightness is None:
        from scipy.ndimage import distance_transform_edt

        seeds = np.ones(shape, bool)
        seeds[points[:, 0], points[:, 1]] = False
        out[points[:, 0], points[:, 1]] = ab
        _, (iy, ix) = distance_transform_edt(seeds, return_indices=True)
        return out[iy, ix]
    from skimage.filters import sobel
    from skimage.segmentation import watershed

    markers = np.zeros(shape, np.int32)
    markers[points[:, 0], points[:, 1]] = np.arange(1, len(points) + 1)
    regions = watershed(sobel(np.asarray(lightness, np.float32) / 100.0), markers)
    return np.asarray(ab, np.float32)[regions - 1]


def colour_parts(L: np.ndarray, points: np.ndarray, model=MODEL, side: int = WORK_SIDE
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a lightness image (H, W) and checked hints `points`: the network's colour, the
    plain spread of the hints it starts from, and the colour of the hint whose region each
    pixel is in (`nearest_hint_ab`), each (H, W, 2).
    The network sees the photo scaled to `side` pixels at most on its longer side (colour
    varies slowly, and the whole scene fits its view), and its colour is scaled back up
    smoothly: any size costs about the same."""
    L = np.asarray(L, dtype=np.float32)
    shape = L.shape
    small = working_shape(shape, side)
    scale = np.array([small[0] / shape[0], small[1] / shape[1]])
    at = np.minimum(np.floor(points[:, :2] * scale), np.array(small) - 1).astype(np.int64)
    L_small = 100.0 * resize(L / 100.0, small) if small != shape else L
    ab = hint_ab(points)
    x = np.concatenate([L_small[None] / 100.0, hint_planes(at, ab, small)])
    parts = (*_run_padded(x.astype(np.float32), model), nearest_hint_ab(at, ab, small, L_small))
    return tuple(_resize_planes(p, shape) for p in parts) if small != shape else parts


@dataclass(frozen=True)
class Calibration:
    """How the served colour is made of the parts (`colour_parts`), chosen when the model was
    built, on photos it did not train on (1, 1 and 0 for graphs that do not say): a network
    that learnt from a few dozen photos is surer of its colours than it should be."""

    strength: float = 1.0   # without hints: the network's colour times this
    trust: float = 1.0      # with hints: their plain spread plus this times the network's correction of it,
    nearest: float = 0.0    # mixed with this share of the colour of the hint whose region a pixel is in

    def blend(self, colour: np.ndarray, spread: np.ndarray, nearest: np.ndarray, hinted: bool) -> np.ndarray:
        if not hinted:
            return self.strength * colour
        return self.nearest * nearest + (1.0 - self.nearest) * (spread + self.trust * (colour - spread))


def calibration(model=MODEL) -> Calibration:
    """The model's own Calibration, from its metadata."""
    meta = runtime.metadata(model)
    return Calibration(*(float(json.loads(meta.get(key, default))) for key, default in
                         (("auto_strength", "1.0"), ("hint_trust", "1.0"), ("hint_nearest", "0.0"))))


def automatic_strength(model=MODEL) -> float:
    """The share of the network's own guess the automatic mode serves (its calibration)."""
    return calibration(model).strength


def predict_ab(L: np.ndarray, hints=None, model=MODEL, *, side: int = WORK_SIDE, strength: float | None = None
               ) -> np.ndarray:
    """The colour (H, W, 2) served for a lightness image (H, W) and optional hints
    (`check_hints`), blended as the model's calibration says; `strength`, when given, replaces
    the calibrated automatic strength (the share of the network's own guess, 0 to 1)."""
    points = check_hints(hints, np.shape(L))
    chosen = calibration(model)
    if strength is not None:
        chosen = dataclasses.replace(chosen, strength=float(strength))
    return chosen.blend(*colour_parts(L, points, model, side), bool(len(points)))


def mean_ab(model=MODEL) -> np.ndarray:
    """The mean colour (a, b) of the model's training photos: the constant-colour baseline."""
    meta = runtime.metadata(model)
    return np.asarray(json.loads(meta["mean_ab"]), dtype=np.float32)


def colorize_one(image: np.ndarray, model=MODEL, strength: float | None = None, hints=None) -> np.ndarray:
    """One grey, RGB or RGBA image (H, W[, C]) -> RGB (H, W, 3): its lightness with the
    predicted colour; `hints` are colour points `(y, x, (r, g, b))` the colour spreads from
    (`check_hints`); without hints, `strength` is the share of the network's own guess, from
    grey (0) to its full guess (1), by default the model's calibrated strength."""
    lab = to_lab(image)
    lab[..., 1:] = predict_ab(lab[..., 0], hints, model, strength=strength)
    return from_lab(lab)


def _hints_per_image(hints, count: int) -> list:
    if hints is None:
        return [None] * count
    try:
        per_image = list(hints)
    except TypeError:
        raise ColorizeError(f"hints must be one sequence of points per image, got {type(hints).__name__}") from None
    if len(per_image) != count:
        raise ColorizeError(f"hints must be one sequence of points per image: {len(per_image)} for {count} images")
    return per_image


def colorize(images, hints=None, model=MODEL, strength: float | None = None) -> np.ndarray:
    """Colorize a batch: (N, H, W) grey or (N, H, W, 3) colour images in [0, 1], of any size
    (a colour image is made grey first). `hints`: None (the automatic mode) or one sequence
    per image of points `(y, x, (r, g, b))`, pixel coordinates and an RGB colour in [0, 1]
    whose a and b are used; `strength`: see colorize_one. Returns (N, H, W, 3) RGB. A list of
    images of different sizes gives a list."""
    if isinstance(images, list):
        return [colorize_one(im, model, strength, h) for im, h in zip(images, _hints_per_image(hints, len(images)))]
    images = np.asarray(images, dtype=np.float32)
    if images.ndim not in (3, 4):
        raise ColorizeError(f"expected (N, H, W) or (N, H, W, 3) images, got shape {images.shape}")
    per_image = _hints_per_image(hints, len(images))
    return np.stack([colorize_one(im, model, strength, h) for im, h in zip(images, per_image)]) if len(images) else \
        np.zeros((0, *images.shape[1:3], 3), np.float32)


@dataclass(frozen=True)
class ColorizeComparison:
    original: np.ndarray | None     # RGB, None when the input was grey
    grey: np.ndarray                # the network's input, shown as RGB
    colorized: np.ndarray           # automatic, at the chosen (or calibrated) strength
    mean_colour: np.ndarray         # the constant-colour baseline
    metrics: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    hinted: np.ndarray | None = None   # coloured from the hints, None without hints
    hints: np.ndarray | None = None    # the checked hints (K, 5) in the pixels of the images above
    shape: tuple[int, int] = (0, 0)    # (H, W) of the image as given, before any scaling down


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


def hinted_label(count: int) -> str:
    return f"Autoencoder + your {count} hint{'s' * (count != 1)}"


def compare_colorization(image: np.ndarray, *, strength: float | None = None, model=MODEL, hints=None
                         ) -> ColorizeComparison:
    """Turn `image` grey (if it has colour), colorize it automatically and, given `hints`
    (points in `image`'s pixels, `check_hints`), from the hints too; measure the results and
    the two baselines (the grey image and a constant mean colour) against the original."""
    rgb = as_rgb(image)
    _check_size(rgb)
    points = check_hints(hints, rgb.shape[:2])
    notes = []
    small = fit_within(rgb, MAX_PIXELS)
    if small.shape != rgb.shape:
        notes.append(f"Scaled down from {rgb.shape[1]}x{rgb.shape[0]} to {small.shape[1]}x{small.shape[0]} "
                     f"pixels (the limit is {MAX_PIXELS / 1e6:g} megapixels).")
        scale = np.array([small.shape[0] / rgb.shape[0], small.shape[1] / rgb.shape[1]], np.float32)
        points[:, :2] = np.minimum(points[:, :2] * scale, np.array(small.shape[:2], np.float32) - 1)
    lab = to_lab(small)
    strength = calibration(model).strength if strength is None else float(strength)
    start = time.perf_counter()
    ab = predict_ab(lab[..., 0], None, model, strength=strength)
    hinted_ab = predict_ab(lab[..., 0], points, model) if len(points) else None
    seconds = time.perf_counter() - start

    def with_ab(values) -> np.ndarray:
        out = lab.copy()
        out[..., 1:] = values
        return from_lab(out)

    grey = with_ab(0.0)
    colorized = with_ab(ab)
    mean_colour = with_ab(mean_ab(model))
    hinted = None if hinted_ab is None else with_ab(hinted_ab)
    original = None if is_grey(small) else small
    metrics = []
    if original is not None:
        metrics = [_metric_row("Original", original, original), _metric_row("Grey input", original, grey),
                   _metric_row("Mean colour (baseline)", original, mean_colour),
                   _metric_row(f"Autoencoder (strength {strength:g})", original, colorized)]
        if hinted is not None:
            metrics.append(_metric_row(hinted_label(len(points)), original, hinted))
    else:
        notes.append("The photo is grey, so there is no original colour to measure against.")
    return ColorizeComparison(original=original, grey=grey, colorized=colorized, mean_colour=mean_colour,
                              hinted=hinted, hints=points if len(points) else None, shape=rgb.shape[:2],
                              metrics=metrics, notes=notes, seconds=seconds)


EXAMPLES = {"Astronaut (colour, held out)": "astronaut", "Coffee (colour, held out)": "coffee",
            "Motorcycle (colour, held out)": "motorcycle", "Camera man (grey photo)": "camera"}


def colorize_examples() -> dict[str, np.ndarray]:
    """Built-in photos the colorizer never trained on: held-out photos of the corpus that
    ship with scikit-image, and a grey photo."""
    from engine.core import datasets, photo_corpus

    return {label: photo_corpus.load(name) if name in photo_corpus.available(held_out=True) else datasets.load_photo(name)
            for label, name in EXAMPLES.items()}


@dataclass
class FineTuneResult:
    onnx: bytes                     # the fine-tuned graph, ready for colorize(model=...)
    losses: list[float]             # training loss of every step
    steps: int                      # steps run (fewer than asked when stopped)
    photos: int
    seconds: float
