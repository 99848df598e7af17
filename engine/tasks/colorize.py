"""Colorization: a fully convolutional network reads the lightness of a photo (Lab L) and
predicts its colour (a and b); the photo's own lightness is kept exactly, so only colour is
invented. Colour conversions are scikit-image's. Numpy in, numpy out."""
from __future__ import annotations

import io
import json
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from skimage import color

from .. import runtime
from ..imaging import fit_within
from ..metrics import colourfulness, psnr

MODEL = "colorizer"
MAX_PIXELS = 4_000_000        # larger photos are scaled down first, and the page says so
TILE = 1024                   # photos with a side above this run in overlapping tiles
OVERLAP = 64                  # pixels two neighbouring tiles share; blended linearly
MULTIPLE = 16                 # the network's sides must be multiples of this
SECOND_SCALE = 0.6            # the second, smaller view of the photo averaged in


class ColorizeError(ValueError):
    """An image the colorizer cannot take (wrong shape)."""


def _as_rgb(image: np.ndarray) -> np.ndarray:
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
    rgb = _as_rgb(image)
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


def grey_version(image: np.ndarray) -> np.ndarray:
    """The image with its colour removed (a = b = 0), as RGB: the colorizer's input, shown."""
    lab = to_lab(image)
    lab[..., 1:] = 0.0
    return from_lab(lab)


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
    rgb = _as_rgb(image)
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
    from .. import datasets

    return {label: datasets.load_photo(name) for label, name in EXAMPLES.items()}


# ------------------------------------------------------------------ training data and training

class LabPatches:
    """Random square patches of colour photos in Lab, for training: each photo equally often
    (not by area), at a few scales, flipped left-right half the time (never turned: the sky
    stays up). Photos are converted once, up front."""

    def __init__(self, photos: list[np.ndarray], size: int = 128, scales: tuple[float, ...] = (1.0, 0.7, 0.5),
                 max_side: int = 1024, jitter: bool = True):
        from ..imaging import _resize

        self.size, self.jitter = size, jitter
        self.labs: list[list[np.ndarray]] = []
        for photo in photos:
            rgb = _as_rgb(photo)
            levels = []
            for scale in scales:
                factor = min(scale, max_side / max(rgb.shape[:2]))
                h, w = round(rgb.shape[0] * factor), round(rgb.shape[1] * factor)
                if min(h, w) < size:
                    continue
                levels.append(to_lab(_resize(rgb, (h, w)) if (h, w) != rgb.shape[:2] else rgb))
            if not levels:   # a photo smaller than a patch: padded by reflection up to it
                pad = ((0, max(0, size - rgb.shape[0])), (0, max(0, size - rgb.shape[1])), (0, 0))
                levels.append(to_lab(np.pad(rgb, pad, mode="symmetric")))
            self.labs.append(levels)
        if not self.labs:
            raise ColorizeError("no photos to train on")

    def mean_ab(self) -> np.ndarray:
        """Mean (a, b) over the photos, each photo weighted equally."""
        return np.mean([lab[0][..., 1:].reshape(-1, 2).mean(axis=0) for lab in self.labs], axis=0)

    def sample(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        """(L / 100 (count, 1, s, s), ab / 100 (count, 2, s, s)) float32."""
        s = self.size
        out = np.empty((count, s, s, 3), dtype=np.float32)
        for i in range(count):
            levels = self.labs[int(rng.integers(len(self.labs)))]
            lab = levels[int(rng.integers(len(levels)))]
            y = int(rng.integers(0, lab.shape[0] - s + 1))
            x = int(rng.integers(0, lab.shape[1] - s + 1))
            patch = lab[y:y + s, x:x + s]
            out[i] = patch[:, ::-1] if rng.random() < 0.5 else patch
        out = out.transpose(0, 3, 1, 2) / 100.0
        if self.jitter:
            # Other exposures, a little sensor noise and, most of the time, blur: with a handful of
            # photos to learn from, colour must hang on shapes and context, not on exact greys
            # and fine texture (without the blur, held-out photos got blotches of colour
            # borrowed from a training photo's texture).
            from scipy.ndimage import gaussian_filter

            gamma = rng.uniform(0.7, 1.4, size=(count, 1, 1, 1)).astype(np.float32)
            noise = rng.normal(0, 1, size=out[:, :1].shape).astype(np.float32) * rng.uniform(0, 0.02, (count, 1, 1, 1))
            out[:, :1] = np.clip(np.clip(out[:, :1], 0, 1) ** gamma + noise, 0, 1)
            for i in range(count):
                sigma = rng.uniform(0, 2.5)
                if sigma > 0.3:
                    out[i, 0] = gaussian_filter(out[i, 0], sigma)
        return np.ascontiguousarray(out[:, :1]), np.ascontiguousarray(out[:, 1:])


def new_colorizer(config, mean: np.ndarray):
    """A fresh Colorizer whose output starts at the training photos' mean colour."""
    import torch

    from ..models import Colorizer

    model = Colorizer(config)
    with torch.no_grad():
        model.dec1[-1].bias.copy_(torch.as_tensor(np.asarray(mean, np.float32) / 100.0))
    return model


def colour_loss(outputs: dict, target):
    """Mean squared error of a and b (in hundreds): the loss that PSNR rewards."""
    import torch

    return torch.nn.functional.mse_loss(outputs["ab"], target)


def train_colorizer(model, patches: LabPatches, config, progress=None, stop=None,
                    report_every: int = 50) -> list[float]:
    """Train (or fine-tune) a Colorizer on Lab patches with the engine's one training loop."""
    from ..train import fit

    def batch(step: int, rng: np.random.Generator):
        return patches.sample(rng, config.batch_size)

    return fit(model, batch, config, loss_fn=colour_loss, progress=progress, stop=stop,
               report_every=report_every)


def _serving_metadata(mean: np.ndarray, note: str, config) -> dict:
    return {"task": "colorize", "input": "(N, 1, H, W) float32 Lab lightness L / 100, H and W multiples of 16",
            "output": "(N, 2, H, W) Lab a and b / 100", "mean_ab": [round(float(v), 4) for v in mean],
            "training_data": note, "config": config.__dict__}


def export_colorizer(model, path, mean: np.ndarray, note: str, seed: int = 0) -> bytes:
    """The ONNX graph of a Colorizer, with dynamic height and width and its parity checked on
    two sizes; `path` None keeps it in memory."""
    import torch

    from ..export import export_onnx

    rng = np.random.default_rng(seed + 1)
    parity = [rng.random(s, dtype=np.float32) for s in ((1, 1, 48, 80), (2, 1, 128, 96))]
    return export_onnx(model, path, example=torch.from_numpy(parity[1]), output="ab",
                       spatial_multiple=MULTIPLE, metadata=_serving_metadata(mean, note, model.config),
                       parity_inputs=parity)


@dataclass
class FineTuneResult:
    onnx: bytes                     # the fine-tuned graph, ready for colorize(model=...)
    losses: list[float]             # training loss of every step
    steps: int                      # steps run (fewer than asked when stopped)
    photos: int
    seconds: float


def fine_tune_colorizer(photos: list[np.ndarray], *, steps: int = 300, base: str = MODEL, batch_size: int = 8,
              lr: float = 3e-4, size: int = 96, seed: int = 0, progress=None, stop=None) -> FineTuneResult:
    """Fine-tune a copy of a shipped colorizer on a user's colour photos and return it as
    ONNX bytes; the shipped files are never touched. Needs PyTorch (the training set)."""
    import torch

    from ..models import from_checkpoint
    from ..train import TrainConfig

    colour = [p for p in photos if not is_grey(p)]
    if not colour:
        raise ColorizeError("fine-tuning needs colour photos: every photo given is grey")
    entry = runtime.model_info(base)
    model = from_checkpoint(torch.load(io.BytesIO(runtime.checkpoint_bytes(base)), weights_only=False))
    patches = LabPatches(colour, size=size, scales=(1.0, 0.5))
    start = time.perf_counter()
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed, threads=max(1, runtime.cpu_count() // 2))
    losses = train_colorizer(model, patches, config, progress=progress, stop=stop,
                             report_every=max(1, min(50, steps // 30)))   # a live curve of ~30 points
    note = f"{entry['name']} fine-tuned for {len(losses)} steps on {len(colour)} user photos"
    onnx_bytes = export_colorizer(model, None, mean_ab(base), note, seed)
    return FineTuneResult(onnx=onnx_bytes, losses=losses, steps=len(losses), photos=len(colour),
                          seconds=time.perf_counter() - start)


fine_tune = fine_tune_colorizer
