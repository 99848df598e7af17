"""How the colorizer is trained, exported and fine-tuned on a user's photos:
`python -m engine train colorizer` and `engine.training.fine_tune_colorizer`."""
from __future__ import annotations

import io
import time

import numpy as np

from engine.core import datasets, runtime
from engine.core.quantize import Int8Recipe, feeds_of
from engine.nn.recipes import BuildOptions, manifest_entry, write_model
from engine.nn.train import TrainConfig
from engine.tasks.colorize.evaluate import photo_psnr
from engine.tasks.colorize.model import ColorizerConfig
from engine.tasks.colorize.serve import MODEL, MULTIPLE, ColorizeError, FineTuneResult, as_rgb, is_grey, mean_ab, to_lab


class LabPatches:
    """Random square patches of colour photos in Lab, for training: each photo equally often
    (not by area), at a few scales, flipped left-right half the time (never turned: the sky
    stays up). Photos are converted once, up front."""

    def __init__(self, photos: list[np.ndarray], size: int = 128, scales: tuple[float, ...] = (1.0, 0.7, 0.5),
                 max_side: int = 1024, jitter: bool = True):
        from engine.core.imaging import resize

        self.size, self.jitter = size, jitter
        self.labs: list[list[np.ndarray]] = []
        for photo in photos:
            rgb = as_rgb(photo)
            levels = []
            for scale in scales:
                factor = min(scale, max_side / max(rgb.shape[:2]))
                h, w = round(rgb.shape[0] * factor), round(rgb.shape[1] * factor)
                if min(h, w) < size:
                    continue
                levels.append(to_lab(resize(rgb, (h, w)) if (h, w) != rgb.shape[:2] else rgb))
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

    from engine.tasks.colorize.model import Colorizer

    model = Colorizer(config)
    with torch.no_grad():
        model.dec1[-1].bias.copy_(torch.as_tensor(np.asarray(mean, np.float32) / 100.0))
    return model


def train_colorizer(model, patches: LabPatches, config, progress=None, stop=None,
                    report_every: int = 50) -> list[float]:
    """Train (or fine-tune) a Colorizer on Lab patches with the engine's one training loop."""
    from engine.nn.train import fit

    def batch(step: int, rng: np.random.Generator):
        return patches.sample(rng, config.batch_size)

    return fit(model, batch, config, progress=progress, stop=stop,
               report_every=report_every)


def _serving_metadata(mean: np.ndarray, note: str, config) -> dict:
    return {"task": "colorize", "input": "(N, 1, H, W) float32 Lab lightness L / 100, H and W multiples of 16",
            "output": "(N, 2, H, W) Lab a and b / 100", "mean_ab": [round(float(v), 4) for v in mean],
            "training_data": note, "config": config.__dict__}


def export_colorizer(model, path, mean: np.ndarray, note: str, seed: int = 0) -> bytes:
    """The ONNX graph of a Colorizer, with dynamic height and width and its parity checked on
    two sizes; `path` None keeps it in memory."""
    import torch

    from engine.nn.export import export_onnx

    rng = np.random.default_rng(seed + 1)
    parity = [rng.random(s, dtype=np.float32) for s in ((1, 1, 48, 80), (2, 1, 128, 96))]
    return export_onnx(model, path, example=torch.from_numpy(parity[1]), output="ab",
                       spatial_multiple=MULTIPLE, metadata=_serving_metadata(mean, note, model.config),
                       parity_inputs=parity)


def fine_tune_colorizer(photos: list[np.ndarray], *, steps: int = 300, base: str = MODEL, batch_size: int = 8,
              lr: float = 3e-4, size: int = 96, seed: int = 0, progress=None, stop=None) -> FineTuneResult:
    """Fine-tune a copy of a shipped colorizer on a user's colour photos and return it as
    ONNX bytes; the shipped files are never touched. Needs PyTorch (the training set)."""
    import torch

    from engine.nn.checkpoints import from_checkpoint
    from engine.nn.train import TrainConfig

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


COLORIZER_STEPS = 2000


def build_colorizer(opts: BuildOptions) -> dict[str, dict]:
    """A fully convolutional network from Lab lightness to a and b, trained with MSE (the loss
    PSNR rewards) on patches of the built-in colour photos not held out."""

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
    return {"colorizer": write_model(model, "colorizer", onnx_bytes, manifest_entry(
        "colorizer", onnx_bytes, task="colorize", name="Fully convolutional colorizer",
        summary=("A U-Net-shaped encoder-decoder that reads a photo's lightness (Lab L) and predicts its "
                 f"colour (a and b) at any size; trained on {note}."), training_data=note), opts)}


def colorizer_calibration(seed: int = 90_210) -> list[dict[str, np.ndarray]]:
    """The int8 twin's calibration: the lightness of the colour training photos as served (no
    jitter), 256 patches of 128x128 at the build's four scales and 16 views of 384x384."""
    photos, rng, feeds = [datasets.load_photo(n) for n in datasets.colour_training_photos()], np.random.default_rng(seed), []
    for size, scales, count, batch in ((128, (1.0, 0.7, 0.5, 0.35), 256, 32), (384, (1.0, 0.7), 16, 4)):
        lightness = LabPatches(photos, size=size, scales=scales, jitter=False).sample(rng, count)[0]
        feeds += feeds_of(lightness, batch)
    return feeds


# `python -m engine quantize`: the int8 twin, shipped where the held-out PSNR of every photo holds
INT8 = {"colorizer": Int8Recipe(calibrate=colorizer_calibration, quality=photo_psnr, tolerance=0.1,
                                timing_shape=(1, 1, 1024, 1024), keep_finest=False)}

# `python -m engine train NAME`: the build steps of each target
TARGETS = {"colorizer": (build_colorizer,)}
