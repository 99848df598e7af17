"""How the colorizer is trained, exported and fine-tuned on a user's photos:
`python -m engine train colorizer` and `engine.training.fine_tune_colorizer`."""
from __future__ import annotations

import dataclasses
import io
import time

import numpy as np

from engine.core import photo_corpus, runtime
from engine.nn.recipes import BuildOptions, manifest_entry, write_model
from engine.nn.train import TrainConfig
from engine.tasks.colorize.model import CHANNELS, ColorizerConfig
from engine.tasks.colorize.serve import (
    MODEL,
    MULTIPLE,
    WORK_SIDE,
    Calibration,
    ColorizeError,
    FineTuneResult,
    as_rgb,
    calibration,
    is_grey,
    mean_ab,
    to_lab,
)


class LabPatches:
    """Random square patches of colour photos in Lab, for training: each photo equally often
    (not by area), at a few scales, flipped left-right half the time (never turned: the sky
    stays up). Photos are converted once, up front."""

    def __init__(self, photos: list[np.ndarray], size: int = 128, sides: tuple[int, ...] = (WORK_SIDE, 384, 288),
                 jitter: bool = True):
        from engine.core.imaging import resize

        self.size, self.jitter = size, jitter
        self.labs: list[list[np.ndarray]] = []
        for photo in photos:
            rgb = as_rgb(photo)
            levels = []
            for side in sides:   # the sizes the served network sees: photos are scaled to WORK_SIDE at most
                factor = min(1.0, side / max(rgb.shape[:2]))
                h, w = round(rgb.shape[0] * factor), round(rgb.shape[1] * factor)
                if min(h, w) < size or any(lv.shape[:2] == (h, w) for lv in levels):
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


def sample_hints(ab: np.ndarray, rng: np.random.Generator, none_share: float = 0.15) -> np.ndarray:
    """Hint channels (n, 3, s, s) for a batch of true colours ab / 100 (n, 2, s, s), as a user
    would place them: at random pixels, each with the true colour there or the mean colour of
    a small window around it; their number as dense as 5 to 300 points on a photo of
    WORK_SIDE x WORK_SIDE (log-uniform), and none at all for `none_share` of the patches, so
    that one network serves the automatic mode too."""
    n, _, s, _ = ab.shape
    planes = np.zeros((n, 3, s, s), np.float32)
    for i in range(n):
        if rng.random() < none_share:
            continue
        density = np.exp(rng.uniform(np.log(5), np.log(300)))
        for _ in range(int(rng.poisson(density * s * s / WORK_SIDE ** 2))):
            y, x, r = int(rng.integers(s)), int(rng.integers(s)), int(rng.choice((0, 0, 0, 1, 2)))
            planes[i, :2, y, x] = ab[i, :, max(0, y - r):y + r + 1, max(0, x - r):x + r + 1].mean(axis=(1, 2))
            planes[i, 2, y, x] = 1.0
    return planes


def hinted_batch(patches: LabPatches, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(network input (count, 4, s, s), true ab / 100 (count, 2, s, s)): patches with hints."""
    L, ab = patches.sample(rng, count)
    return np.concatenate([L, sample_hints(ab, rng)], axis=1), ab


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
        return hinted_batch(patches, rng, config.batch_size)

    return fit(model, batch, config, progress=progress, stop=stop,
               report_every=report_every)


CALIBRATION_HINTS = (10, 50)   # colour points per calibration photo when the hint blend is chosen


def calibrate(onnx_bytes: bytes, photos: list[np.ndarray], seed: int = 10_000):
    """The serve.Calibration with the best mean PSNR on `photos`, which the network did not
    train on: the automatic strength (0 to 1 in steps of 0.05) without hints; the hint trust
    and the nearest hint's share (each 0 to 1 in steps of 0.1) with CALIBRATION_HINTS random
    true-colour points, two placements each."""
    from engine.core.metrics import psnr
    from engine.tasks.colorize.evaluate import random_hints
    from engine.tasks.colorize.serve import check_hints, colour_parts, from_lab

    cases = []   # (photo, its lab, hints or not, the colour parts)
    for i, photo in enumerate(photos):
        lab = to_lab(photo)
        placements = [np.zeros((0, 5), np.float32)] + [
            check_hints(random_hints(photo, count, seed + 100 * i + draw), photo.shape[:2])
            for count in CALIBRATION_HINTS for draw in range(2)]
        cases += [(photo, lab, bool(len(p)), colour_parts(lab[..., 0], p, onnx_bytes)) for p in placements]

    def mean_psnr(chosen: Calibration, hinted: bool) -> float:
        return float(np.mean([psnr(photo, from_lab(np.concatenate([lab[..., :1], chosen.blend(*parts, h)], axis=2)))
                              for photo, lab, h, parts in cases if h == hinted]))

    strength = max(np.round(np.arange(0, 1.0001, 0.05), 2).tolist(), key=lambda g: mean_psnr(Calibration(g), False))
    tenths = np.round(np.arange(0, 1.0001, 0.1), 1).tolist()
    trust, nearest = max(((t, n) for t in tenths for n in tenths),
                         key=lambda tn: mean_psnr(Calibration(strength, *tn), True))
    return Calibration(strength, trust, nearest)


def _serving_metadata(mean: np.ndarray, note: str, config, chosen: Calibration) -> dict:
    return {"task": "colorize", "input": ("(N, 4, H, W) float32: Lab lightness L / 100, hinted a / 100 and b / 100 "
                                          "(0 where no hint), hint mask; H and W multiples of 16"),
            "output": "ab: (N, 2, H, W) Lab a and b / 100; base: the hints' plain spread, the same shape",
            "mean_ab": [round(float(v), 4) for v in mean], "auto_strength": chosen.strength,
            "hint_trust": chosen.trust, "hint_nearest": chosen.nearest, "training_data": note,
            "config": config.__dict__}


def export_colorizer(model, path, mean: np.ndarray, note: str, seed: int = 0, chosen: Calibration | None = None
                     ) -> bytes:
    """The ONNX graph of a Colorizer, with dynamic height and width and its parity checked on
    two sizes; `path` None keeps it in memory. `chosen` (a serve.Calibration; None: served
    as trained) goes into its metadata."""
    import torch

    from engine.nn.export import export_onnx

    rng = np.random.default_rng(seed + 1)
    parity = [rng.random(s, dtype=np.float32) for s in ((1, CHANNELS, 48, 80), (2, CHANNELS, 128, 96))]
    metadata = _serving_metadata(mean, note, model.config, chosen or Calibration())
    return export_onnx(model, path, example=torch.from_numpy(parity[1]), output=("ab", "base"),
                       spatial_multiple=MULTIPLE, metadata=metadata, parity_inputs=parity)


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
    patches = LabPatches(colour, size=size)
    start = time.perf_counter()
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed, threads=max(1, runtime.cpu_count() // 2))
    losses = train_colorizer(model, patches, config, progress=progress, stop=stop,
                             report_every=max(1, min(50, steps // 30)))   # a live curve of ~30 points
    note = f"{entry['name']} fine-tuned for {len(losses)} steps on {len(colour)} user photos"
    # The automatic mode at full strength: the base's strength tempers what it learnt from the corpus,
    # not what it learns now from the user's photos (the held-out photo on the page judges that). The
    # hints keep the base's blend: how far a network's corrections beat the plain spread of points.
    onnx_bytes = export_colorizer(model, None, mean_ab(base), note, seed,
                                  dataclasses.replace(calibration(base), strength=1.0))
    return FineTuneResult(onnx=onnx_bytes, losses=losses, steps=len(losses), photos=len(colour),
                          seconds=time.perf_counter() - start)


COLORIZER_STEPS = 5000
PATCH = 256


def build_colorizer(opts: BuildOptions) -> dict[str, dict]:
    """A fully convolutional network from Lab lightness and colour hints to a and b, trained
    with MSE (the loss PSNR rewards) on patches of the photo corpus's training photos (the
    held-out photos are never seen), with random hints, none on some patches."""
    names = tuple(n for n in photo_corpus.available(held_out=False) if n not in photo_corpus.CALIBRATION)
    if photo_corpus.missing():
        raise FileNotFoundError(f"the colorizer trains on the whole photo corpus; {len(photo_corpus.missing())} photos "
                                f"are missing: `{photo_corpus.INSTALL_HINT}`")
    patches = LabPatches([photo_corpus.load(n) for n in names], size=PATCH)
    model = new_colorizer(ColorizerConfig(), patches.mean_ab())
    # One thread: the same numbers on any machine, so the shipped model is rebuilt exactly.
    train_config = TrainConfig(steps=max(20, int(COLORIZER_STEPS * opts.scale)), batch_size=8, lr=1e-3,
                               weight_decay=0.05, seed=opts.seed, threads=1)
    train_colorizer(model, patches, train_config, progress=opts.progress)
    note = (f"{PATCH}x{PATCH} patches of the {len(names)} training photos of the photo corpus "
            f"({', '.join(names)}) scaled to {WORK_SIDE}, 384 and 288 pixels, flipped, with exposure, noise and "
            "blur jitter, and 5 to 300 random colour hints per photo-sized area (none on 15% of patches)")
    unscaled = export_colorizer(model, None, patches.mean_ab(), note, opts.seed)
    chosen = calibrate(unscaled, [photo_corpus.load(n) for n in photo_corpus.CALIBRATION])
    note += (f"; automatic strength {chosen.strength:g}, hint trust {chosen.trust:g} and nearest-hint "
             f"share {chosen.nearest:g}, the best on {', '.join(photo_corpus.CALIBRATION)} (not trained on)")
    onnx_bytes = export_colorizer(model, opts.out_dir / "colorizer.onnx", patches.mean_ab(), note, opts.seed,
                                  chosen)
    return {"colorizer": write_model(model, "colorizer", onnx_bytes, manifest_entry(
        "colorizer", onnx_bytes, task="colorize", name="User-guided colorizer",
        summary=("A U-Net-shaped encoder-decoder that reads a photo's lightness (Lab L) and any colour points "
                 "the user placed, and predicts its colour (a and b) at any size; trained on " + note + "."),
        training_data=note), opts)}


# `python -m engine train NAME`: the build steps of each target
TARGETS = {"colorizer": (build_colorizer,)}
