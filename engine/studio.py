"""The training studio: train any autoencoder of the family (engine.family) on built-in
digits or a user's images, watch it learn, set it beside the other variants and PCA, and take
it away as one ONNX file. Also the two demonstrations of the lecture notes: PCA against an
autoencoder on a plane and on a curved surface, and the 8x8 digits in 2 or 3 dimensions.

Numpy in, numpy out. Images are float32 in [0, 1], grey (N, S, S); the models see them as
(N, 1, S, S). Plain vectors (N, D) work with the fully connected families. torch is imported
only inside the functions that train, so reading data and running an exported model
(reconstruct_and_encode) need none.

An exported studio model is one ONNX graph: input "input" (N, 1, S, S) (or (N, D)), outputs
"reconstruction" (the input's shape) and "code" (N, K) (the VAE's code is its mean), with
metadata_props naming the family, its config, the training settings and data, and the
held-out error.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from . import datasets, runtime
from .imaging import _as_float_image, _resize, add_noise, to_grey

NEAR_ZERO = 0.05             # |code| below this counts as a unit at rest (the sparsity measure)
TRAINING_METHODS = ("all-at-once", "layer-wise")
PRETRAIN_SHARE = 0.5         # layer-wise: the share of the step budget spent pretraining pairs
STUDIO_DATA = {
    "digits28": "28x28 digits rendered from the training fonts and scikit-learn's handwritten digits",
    "digits8": "scikit-learn's 8x8 handwritten digits (64 numbers each)",
}
DIGITS28_SCALE = 0.5         # builds.labelled_digits renders 20,000 * scale digits
HELDOUT_SEED = 1234
NOISY_EVAL = 0.5             # the gaussian noise of the table's "from noisy input" column


# ------------------------------------------------------------------ data

@dataclass(frozen=True)
class StudioData:
    """A built-in data set: training and held-out images (N, S, S) with their digit labels.
    Shared between callers: treat the arrays as read-only."""
    name: str
    train: np.ndarray
    train_labels: np.ndarray
    heldout: np.ndarray
    heldout_labels: np.ndarray
    note: str
    heldout_note: str


def builtin_digits(kind: str = "digits28", heldout_count: int = 1000) -> StudioData:
    """'digits28': digits rendered from the training fonts with random distortions plus the
    1,497 training handwritten digits of scikit-learn, all 28x28 (builds.labelled_digits);
    held out are `heldout_count` digits in fonts never trained on with wider distortions and
    the 300 held-out handwritten digits. 'digits8': scikit-learn's 8x8 digits as they are,
    the first 1,497 for training and the last 300 held out."""
    if kind not in STUDIO_DATA:
        raise ValueError(f"unknown built-in data {kind!r}; choose one of {', '.join(STUDIO_DATA)}")
    return _digits28(heldout_count) if kind == "digits28" else _digits8()


@functools.lru_cache(maxsize=2)
def _digits28(heldout_count: int) -> StudioData:
    from .builds import labelled_digits

    images, labels = labelled_digits(DIGITS28_SCALE, 0)
    hand = len(datasets.handwritten_digits(held_out=False)[0])
    if np.array_equal(images[-hand:], images[-2 * hand:-hand]):   # handwritten twice: once is enough here
        images, labels = images[:-hand], labels[:-hand]
    fonts = datasets.font_split(held_out=True)
    rendered, rendered_labels = datasets.render_characters(
        datasets.DIGITS, heldout_count, fonts=fonts, seed=HELDOUT_SEED, distortion=datasets.EVAL_DISTORTION)
    hand_images, hand_labels = datasets.handwritten_digits(held_out=True)
    return StudioData(
        "digits28", images, labels,
        np.concatenate([rendered, hand_images]),
        np.concatenate([rendered_labels, hand_labels]).astype(np.int64),
        note=(f"{len(images):,} 28x28 digits: {len(images) - hand:,} rendered from "
              f"{len(datasets.font_split(False))} training fonts with random distortions and "
              f"{hand:,} scikit-learn handwritten digits"),
        heldout_note=(f"{heldout_count:,} digits in {len(fonts)} held-out fonts with wider "
                      f"distortions and {len(hand_images)} held-out handwritten digits"))


@functools.lru_cache(maxsize=1)
def _digits8() -> StudioData:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)                               # (1797, 8, 8)
    labels = digits.target.astype(np.int64)
    cut = len(images) - datasets._HANDWRITTEN_HELD_OUT     # the split handwritten_digits uses
    return StudioData("digits8", images[:cut], labels[:cut], images[cut:], labels[cut:],
                      note=f"the first {cut:,} of scikit-learn's 8x8 handwritten digits",
                      heldout_note=f"the last {len(images) - cut} of them")


def prepare_images(images: Sequence[np.ndarray] | np.ndarray, side: int = 28) -> np.ndarray:
    """Users' images (any size; grey, RGB or with alpha; integer or float) as studio input
    (N, side, side) float32 in [0, 1]: grey by luminance, centre-cropped to a square and
    resized with an anti-aliasing filter."""
    if len(images) == 0:
        raise ValueError("There are no images to train on.")
    if side < 4:
        raise ValueError("side must be at least 4")
    out = np.empty((len(images), side, side), dtype=np.float32)
    for i, image in enumerate(images):
        grey = to_grey(_as_float_image(image))
        height, width = grey.shape
        crop = min(height, width)
        top, left = (height - crop) // 2, (width - crop) // 2
        out[i] = _resize(grey[top:top + crop, left:left + crop], (side, side))
    return out


def _as_batch(images: np.ndarray) -> np.ndarray:
    """(N, S, S) images -> (N, 1, S, S); (N, D) vectors and (N, C, S, S) pass through."""
    data = np.ascontiguousarray(images, dtype=np.float32)
    if data.ndim not in (2, 3, 4) or len(data) == 0:
        raise ValueError(f"expected (N, S, S) images or (N, D) vectors, got shape {data.shape}")
    return data[:, None] if data.ndim == 3 else data


# ------------------------------------------------------------------ training

@dataclass
class StudioConfig:
    """Everything that decides a studio run (saved in the exported model's metadata)."""
    family: str
    code_size: int = 32
    epochs: int = 10
    lr: float = 3e-3
    batch_size: int = 128
    validation_fraction: float = 0.1
    patience: int | None = None        # epochs without a better validation error before stopping
    method: str = "all-at-once"        # or "layer-wise": greedy pretraining, then fine-tuning (stacked)
    seed: int = 0
    options: dict = field(default_factory=dict)   # the family config's own fields (penalty, tied, noise...)


@dataclass
class StudioProgress:
    """One report: at the end of every epoch (and of every pretraining phase)."""
    phase: str                         # "training", "pretraining layer 2 of 3", "fine-tuning"
    step: int                          # steps done, counted over all phases
    steps: int
    epoch: float                       # step / steps per epoch
    loss: float                        # the family's training objective, mean since the last report
    validation: float | None           # reconstruction MSE on the validation images
    seconds: float


@dataclass
class CodeStats:
    mean_activation: float             # mean |code| over units and images
    near_zero_share: float             # share of (image, unit) values with |code| < NEAR_ZERO
    active_units: float                # units with |code| >= NEAR_ZERO per image, on average
    dead_units: int                    # units under NEAR_ZERO for every image


def code_stats(codes: np.ndarray) -> CodeStats:
    magnitude = np.abs(np.asarray(codes, dtype=np.float32))                         # (N, K)
    active = magnitude >= NEAR_ZERO
    return CodeStats(float(magnitude.mean()), float(1.0 - active.mean()),
                     float(active.sum(1).mean()), int((~active.any(0)).sum()))


@dataclass
class StudioResult:
    settings: StudioConfig
    config: dict                       # the family config, as saved with the weights
    model: Any                         # the trained torch module, on the CPU, in eval mode
    history: list[StudioProgress]
    seconds: float                     # training time
    stopped: bool                      # the stop callable ended training (the result is still whole)
    stopped_early: bool                # patience ran out; the best epoch's weights were kept
    heldout: np.ndarray                # the images it is judged on, (N, S, S) or (N, D)
    reconstructions: np.ndarray        # their reconstructions, same shape
    codes: np.ndarray                  # (N, K)
    heldout_mse: float
    code_stats: CodeStats
    parameters: int
    onnx: bytes | None                 # the exported model (None when export=False)
    data_note: str

    @property
    def family(self) -> str:
        return self.settings.family

    @property
    def train_losses(self) -> list[float]:
        return [p.loss for p in self.history]

    @property
    def validation_losses(self) -> list[float]:
        return [p.validation for p in self.history if p.validation is not None]


def train_model(family: str, images: np.ndarray, *, code_size: int = 32, epochs: int = 10,
                lr: float = 3e-3, batch_size: int = 128, validation_fraction: float = 0.1,
                patience: int | None = None, method: str = "all-at-once", seed: int = 0,
                options: dict | None = None, heldout: np.ndarray | None = None,
                data_note: str = "", threads: int | None = None, export: bool = True,
                progress: Callable[[StudioProgress], None] | None = None,
                stop: Callable[[], bool] | None = None) -> StudioResult:
    """Train a model of `family` (engine.family.FAMILIES) on `images` ((N, S, S) in [0, 1], or
    (N, D) vectors) with engine.train.fit, on CUDA when there is one. A share
    `validation_fraction` of the images is kept apart; its reconstruction MSE is reported
    after every epoch and, with `patience`, stops training once that many epochs bring no
    better value (the best epoch's weights are kept). method="layer-wise" (the stacked
    family) spends PRETRAIN_SHARE of the same step budget training each encoder layer with
    its mirror as a shallow autoencoder of the previous layer's codes, then fine-tunes the
    whole stack. `stop` is asked before every step; when it answers True the result is
    built from the steps done. The model is judged on `heldout` (default: the validation
    images, or with none the first 1,000 training images) and exported to ONNX (export=False
    skips that)."""
    from .family import make_model, parameter_count
    from .train import TrainConfig, fit

    options = dict(options or {})
    settings = StudioConfig(family, code_size, epochs, lr, batch_size, validation_fraction, patience,
                            method, seed, options)
    if method not in TRAINING_METHODS:
        raise ValueError(f"method must be one of {TRAINING_METHODS}, got {method!r}")
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch_size must be at least 1")
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError("validation_fraction must be at least 0 and below 1")
    if {"input_shape", "code_size"} & set(options):
        raise ValueError("input_shape and code_size are set by the studio, not by options")
    data = _as_batch(images)
    if len(data) < 2:
        raise ValueError("Training needs at least 2 images.")
    model = make_model(family, input_shape=data.shape[1:], code_size=code_size, **options)
    if method == "layer-wise" and not hasattr(model, "layer_pair"):
        raise ValueError("layer-wise pretraining is for the stacked family")

    order = np.random.default_rng(seed).permutation(len(data))
    n_val = 0 if validation_fraction == 0 else min(len(data) - 1, max(1, round(len(data) * validation_fraction)))
    train, val = data[order[n_val:]], data[order[:n_val]]
    if patience is not None and not n_val:
        raise ValueError("early stopping needs validation images: set validation_fraction above 0")
    judged = val if heldout is None else _as_batch(heldout)
    if len(judged) == 0:
        judged = train[:1000]
    if judged.shape[1:] != data.shape[1:]:
        raise ValueError(f"held-out images {judged.shape[1:]} differ from the training images {data.shape[1:]}")

    per_epoch = math.ceil(len(train) / batch_size)
    total = epochs * per_epoch
    history: list[StudioProgress] = []
    start = time.perf_counter()
    done = 0

    def run(module, inputs: np.ndarray, steps: int, phase: str, corrupt, **watch) -> Any:
        nonlocal done
        offset = done

        def report(p) -> None:
            entry = StudioProgress(phase, offset + p.step, total, (offset + p.step) / per_epoch, p.loss,
                                   p.validation, time.perf_counter() - start)
            history.append(entry)
            if progress:
                progress(entry)

        config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed, threads=threads)
        result = fit(module, _epoch_batches(inputs, batch_size, corrupt), config,
                     loss_fn=module.loss, progress=report,
                     report_every=min(per_epoch, steps), stop=stop, **watch)
        done += len(result)
        return result

    validate = (lambda m: _mse(m, val)) if n_val else None
    fine_steps = total
    stopped = False
    if method == "layer-wise":
        pretrain = int(total * PRETRAIN_SHARE)
        fine_steps = total - pretrain
        codes = train
        for i in range(model.depth):
            steps = pretrain // model.depth + (i < pretrain % model.depth)
            phase = f"pretraining layer {i + 1} of {model.depth}"
            if steps and run(model.layer_pair(i), codes, steps, phase, _clean).stopped:
                stopped = True
                break
            if i + 1 < model.depth:
                codes = _encode_to(model, codes, i)
    final = None if stopped else run(model, train, fine_steps,
                                     "fine-tuning" if method == "layer-wise" else "training",
                                     model.corrupt, validate=validate, patience=patience)
    seconds = time.perf_counter() - start
    stopped = stopped or bool(final is not None and final.stopped)

    model.eval()
    outputs = _predict(model, judged)
    reconstructions = outputs["reconstruction"].reshape(judged.shape)
    heldout_mse = float(np.mean((reconstructions - judged) ** 2))
    shown = judged[:, 0] if judged.ndim == 4 and judged.shape[1] == 1 else judged
    result = StudioResult(
        settings=settings, config=asdict(model.config), model=model, history=history, seconds=seconds,
        stopped=stopped, stopped_early=bool(final is not None and final.stopped_early),
        heldout=shown, reconstructions=reconstructions.reshape(shown.shape), codes=outputs["code"],
        heldout_mse=heldout_mse, code_stats=code_stats(outputs["code"]),
        parameters=parameter_count(model), onnx=None, data_note=data_note)
    if export:
        result.onnx = _export(model, result, judged)
    return result


def _clean(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return batch


def _epoch_batches(data: np.ndarray, batch_size: int,
                   corrupt: Callable[[np.ndarray, np.random.Generator], np.ndarray]):
    """fit's batch maker: every epoch a new shuffle, each image once; the input corrupted
    (the denoising family), the target clean."""
    per_epoch = math.ceil(len(data) / batch_size)
    order = np.arange(len(data))

    def batch(step: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if step % per_epoch == 0:
            order[:] = rng.permutation(len(data))
        k = step % per_epoch
        clean = data[order[k * batch_size:(k + 1) * batch_size]]
        return corrupt(clean, rng), clean
    return batch


def _predict(model, data: np.ndarray, chunk: int = 1024) -> dict[str, np.ndarray]:
    """The model's reconstruction and code for `data`, in chunks, on the model's device."""
    import torch

    device = next(model.parameters()).device
    parts: dict[str, list[np.ndarray]] = {"reconstruction": [], "code": []}
    with torch.no_grad():
        for i in range(0, len(data), chunk):
            outputs = model(torch.from_numpy(np.ascontiguousarray(data[i:i + chunk])).to(device))
            for name in parts:
                parts[name].append(outputs[name].float().cpu().numpy())
    return {name: np.concatenate(values) for name, values in parts.items()}


def _mse(model, data: np.ndarray) -> float:
    return float(np.mean((_predict(model, data)["reconstruction"].reshape(data.shape) - data) ** 2))


def _encode_to(model, inputs: np.ndarray, i: int, chunk: int = 4096) -> np.ndarray:
    """The activations after encoder layer i of a stack, for the inputs of layer i."""
    import torch

    pair = model.layer_pair(i)
    with torch.no_grad():
        return np.concatenate([pair(torch.from_numpy(np.ascontiguousarray(inputs[k:k + chunk])))["code"].numpy()
                               for k in range(0, len(inputs), chunk)])


def _export(model, result: StudioResult, judged: np.ndarray) -> bytes:
    import torch

    from .export import export_onnx

    example = np.concatenate([judged[:2], judged[:2]])[:2]          # a batch of 2 keeps the axis dynamic
    rng = np.random.default_rng(result.settings.seed + 1)
    parity = [judged[:1], judged[:7], rng.random((3, *judged.shape[1:]), dtype=np.float32)]
    metadata = {
        "task": "studio", "family": result.family, "config": result.config,
        "settings": asdict(result.settings),
        "input": f"(N, {', '.join(map(str, judged.shape[1:]))}) float32 in [0, 1]",
        "outputs": f"reconstruction: the input's shape; code: (N, {result.config['code_size']})",
        "training_data": result.data_note, "heldout_mse": round(result.heldout_mse, 6),
        "parameters": result.parameters}
    return export_onnx(model, None, example=torch.from_numpy(example), output=("reconstruction", "code"),
                       metadata=metadata, parity_inputs=parity)


def reconstruct_and_encode(model: str | bytes, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run an exported studio model (ONNX bytes or a path) with onnxruntime, no torch:
    returns (reconstructions shaped like `images`, codes (N, K))."""
    session = runtime.session(model)
    images = np.asarray(images, dtype=np.float32)
    rank = len(session.get_inputs()[0].shape)
    batch = images[:, None] if rank == 4 and images.ndim == 3 else images
    reconstructions, codes = session.run(["reconstruction", "code"],
                                         {session.get_inputs()[0].name: np.ascontiguousarray(batch)})
    return reconstructions.reshape(images.shape), codes


# ------------------------------------------------------------------ the family side by side

# name -> (family, config options, method): every variant the comparison trains.
VARIANTS: dict[str, tuple[str, dict, str]] = {
    "undercomplete": ("undercomplete", {}, "all-at-once"),
    "sparse-l1": ("sparse", {"penalty": "l1"}, "all-at-once"),
    "sparse-kl": ("sparse", {"penalty": "kl"}, "all-at-once"),
    "stacked": ("stacked", {}, "all-at-once"),
    "stacked-tied": ("stacked", {"tied": True}, "all-at-once"),
    "stacked-layer-wise": ("stacked", {}, "layer-wise"),
    "convolutional": ("convolutional", {}, "all-at-once"),
    "denoising-gaussian": ("denoising", {"noise": "gaussian"}, "all-at-once"),
    "denoising-mask": ("denoising", {"noise": "mask"}, "all-at-once"),
    "variational": ("variational", {}, "all-at-once"),
}
COMPARISON_COLUMNS = ["Variant", "Code size", "Parameters", "Held-out MSE", "MSE from noisy input",
                      "Near-zero code share", "Seconds"]


def compare_family(images: np.ndarray, heldout: np.ndarray, *, code_size: int = 32, epochs: int = 10,
                   families: Sequence[str] = tuple(VARIANTS), batch_size: int = 128, lr: float = 3e-3,
                   seed: int = 0, threads: int | None = None,
                   progress: Callable[[str, StudioProgress], None] | None = None,
                   stop: Callable[[], bool] | None = None) -> list[dict]:
    """Train each variant of `families` (names of VARIANTS) on `images` for `epochs` and judge
    it on `heldout`, beside PCA with the same code size. One row per model: its name, code
    size, parameters, reconstruction MSE of the held-out images, MSE when they come with
    gaussian noise NOISY_EVAL (the clean image is the target), the share of near-zero code
    values, and training seconds. `progress(name, report)` follows each training; when `stop`
    answers True the variant in training is the last (its row shows the steps it had)."""
    from sklearn.decomposition import PCA

    heldout = np.asarray(heldout, dtype=np.float32)
    noisy = add_noise(heldout, "gaussian", NOISY_EVAL, seed=HELDOUT_SEED)
    rows = []
    for name in families:
        family, options, method = VARIANTS[name]
        result = train_model(family, images, code_size=code_size, epochs=epochs, lr=lr,
                             batch_size=batch_size, method=method, seed=seed, options=options,
                             heldout=heldout, threads=threads, export=False, stop=stop,
                             progress=(lambda p, name=name: progress(name, p)) if progress else None)
        from_noisy = _predict(result.model, _as_batch(noisy))["reconstruction"].reshape(heldout.shape)
        rows.append(_row(name, code_size, result.parameters, result.heldout_mse,
                         float(np.mean((from_noisy - heldout) ** 2)), result.code_stats, result.seconds))
        if result.stopped:
            break
    start = time.perf_counter()
    flat = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    pca = PCA(n_components=code_size, random_state=seed).fit(flat)
    seconds = time.perf_counter() - start

    def pca_reconstruct(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        codes = pca.transform(x.reshape(len(x), -1))
        return np.clip(pca.inverse_transform(codes), 0, 1).reshape(x.shape), codes

    recon, codes = pca_reconstruct(heldout)
    rows.append(_row(f"PCA-{code_size}", code_size, pca.components_.size + pca.mean_.size,
                     float(np.mean((recon - heldout) ** 2)),
                     float(np.mean((pca_reconstruct(noisy)[0] - heldout) ** 2)), code_stats(codes), seconds))
    return rows


def _row(name: str, code_size: int, parameters: int, mse: float, noisy_mse: float, stats: CodeStats,
         seconds: float) -> dict:
    return {"variant": name, "code_size": code_size, "parameters": parameters,
            "heldout_mse": round(mse, 5), "noisy_mse": round(noisy_mse, 5),
            "near_zero_share": round(stats.near_zero_share, 3), "seconds": round(seconds, 1)}


# ------------------------------------------------------------------ PCA against an autoencoder

@dataclass
class SurfaceFit:
    """3-D points reduced to 2 numbers each and rebuilt, by PCA and by an autoencoder."""
    name: str
    points: np.ndarray                 # (n, 3)
    pca_codes: np.ndarray              # (n, 2)
    pca_reconstruction: np.ndarray     # (n, 3)
    pca_mse: float
    autoencoder_codes: np.ndarray      # (n, 2)
    autoencoder_reconstruction: np.ndarray
    autoencoder_mse: float


def surface_points(n: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """n points (n, 3) on a tilted plane (exactly: PCA with 2 components loses nothing), and
    on a curved surface, a paraboloid bowl z = x^2 + y^2 with a little noise (no plane holds it)."""
    rng = np.random.default_rng(seed)
    u, v = rng.uniform(-1, 1, (2, n))
    plane = np.stack([u, v, 0.5 * u - 0.3 * v + 0.2], axis=1)
    u, v = rng.uniform(-1, 1, (2, n))
    curve = np.stack([u, v, u ** 2 + v ** 2 - 0.7], axis=1) + rng.normal(0, 0.01, (n, 3))
    return {"plane": plane, "curve": curve}


def plane_and_curve(n: int = 1000, seed: int = 0, epochs: int = 150,
                    threads: int | None = None) -> dict[str, SurfaceFit]:
    """The lecture notes' figure: points on a plane and on a curved surface, each reduced to
    2-D and rebuilt by PCA and by a small autoencoder (3 -> 32 -> 32 -> 2 -> 32 -> 32 -> 3).
    PCA rebuilds the plane exactly (its MSE is float rounding) but must flatten the curved
    surface; the autoencoder's nonlinear code follows the curve."""
    from sklearn.decomposition import PCA

    fits = {}
    for name, points in surface_points(n, seed).items():
        pca = PCA(n_components=2).fit(points)
        pca_codes = pca.transform(points)
        pca_recon = pca.inverse_transform(pca_codes)
        result = train_model("stacked", points.astype(np.float32), code_size=2, epochs=epochs,
                             batch_size=64, validation_fraction=0.0, seed=seed, heldout=points,
                             options={"hidden": (32, 32), "code_activation": "linear", "output": "linear"},
                             threads=threads, export=False)
        fits[name] = SurfaceFit(name, points, pca_codes, pca_recon, float(np.mean((pca_recon - points) ** 2)),
                                result.codes, result.reconstructions,
                                float(np.mean((result.reconstructions - points) ** 2)))
    return fits


@dataclass
class DigitsProjection:
    """scikit-learn's 8x8 digits reduced to `dims` numbers by PCA and by an autoencoder, both
    fit on the training digits, for a scatter plot coloured by digit."""
    dims: int
    labels: np.ndarray                 # (1797,) the digit of each point
    held_out: np.ndarray               # (1797,) bool: not used in fitting
    pca: np.ndarray                    # (1797, dims)
    autoencoder: np.ndarray            # (1797, dims)
    pca_mse: float                     # held-out reconstruction MSE from `dims` numbers
    autoencoder_mse: float
    pca_neighbour_agreement: float     # share of points whose nearest neighbour shows the same digit
    autoencoder_neighbour_agreement: float


def digits_projection(dims: int = 2, epochs: int = 100, seed: int = 0,
                      threads: int | None = None) -> DigitsProjection:
    from sklearn.decomposition import PCA

    if dims not in (2, 3):
        raise ValueError("dims must be 2 or 3")
    data = builtin_digits("digits8")
    everything = np.concatenate([data.train, data.heldout])
    labels = np.concatenate([data.train_labels, data.heldout_labels])
    held_out = np.arange(len(everything)) >= len(data.train)
    pca = PCA(n_components=dims, random_state=seed).fit(data.train.reshape(len(data.train), -1))
    pca_codes = pca.transform(everything.reshape(len(everything), -1))
    pca_recon = np.clip(pca.inverse_transform(pca_codes[held_out]), 0, 1).reshape(data.heldout.shape)
    result = train_model("stacked", data.train, code_size=dims, epochs=epochs, batch_size=64,
                         validation_fraction=0.0, seed=seed, heldout=everything,
                         options={"code_activation": "linear"}, threads=threads, export=False)
    return DigitsProjection(dims, labels, held_out, pca_codes.astype(np.float32), result.codes,
                            float(np.mean((pca_recon - data.heldout) ** 2)),
                            float(np.mean((result.reconstructions[held_out] - data.heldout) ** 2)),
                            _neighbour_agreement(pca_codes, labels), _neighbour_agreement(result.codes, labels))


def _neighbour_agreement(points: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.neighbors import NearestNeighbors

    _, index = NearestNeighbors(n_neighbors=2).fit(points).kneighbors(points)
    return float(np.mean(labels[index[:, 1]] == labels))


# ------------------------------------------------------------------ `python -m engine eval family`

def eval_family(count: int = 1000, seed: int = 0, epochs: int = 10, code_size: int = 32,
                threads: int | None = None) -> dict:
    """Every variant at code size 32 on the built-in 28x28 digits with its held-out error and
    PCA's, the plane and curved-surface MSEs, and the 8x8 digits in 2-D; tables in the format
    of engine.evaluate."""
    import torch

    data = builtin_digits("digits28", heldout_count=count)
    rows = compare_family(data.train, data.heldout, code_size=code_size, epochs=epochs, seed=seed,
                          threads=threads)
    surfaces = plane_and_curve(seed=seed, threads=threads)
    projection = digits_projection(2, seed=seed, threads=threads)
    return {"command": "eval family", "device": "CUDA" if torch.cuda.is_available() else "CPU", "tables": [
        {"title": (f"The autoencoder family, code size {code_size}, {epochs} epochs on {data.note}; "
                   f"judged on {len(data.heldout):,} held-out digits ({data.heldout_note}); noisy "
                   f"input: gaussian {NOISY_EVAL}"),
         "columns": COMPARISON_COLUMNS, "rows": [list(r.values()) for r in rows]},
        {"title": "3-D points reduced to 2-D and rebuilt: PCA against an autoencoder (MSE)",
         "columns": ["Surface", "PCA MSE", "Autoencoder MSE"],
         "rows": [[f.name, f"{f.pca_mse:.2e}", f"{f.autoencoder_mse:.2e}"] for f in surfaces.values()]},
        {"title": "scikit-learn's 8x8 digits in 2-D: held-out reconstruction MSE and nearest-neighbour "
                  "digit agreement",
         "columns": ["Method", "MSE", "Neighbour agreement"],
         "rows": [["PCA", round(projection.pca_mse, 4), round(projection.pca_neighbour_agreement, 3)],
                  ["Autoencoder", round(projection.autoencoder_mse, 4),
                   round(projection.autoencoder_neighbour_agreement, 3)]]},
    ]}
