"""The training studio: train any autoencoder of the family (engine.tasks.studio.model) on built-in
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.core import datasets, fashion, runtime
from engine.core.imaging import as_float_image, resize, to_grey
from engine.core.progress import Progress

NEAR_ZERO = 0.05             # |code| below this counts as a unit at rest (the sparsity measure)
TRAINING_METHODS = ("all-at-once", "layer-wise")
PRETRAIN_SHARE = 0.5         # layer-wise: the share of the step budget spent pretraining pairs
STUDIO_DATA = {
    "digits28": "28x28 digits rendered from the training fonts and scikit-learn's handwritten digits",
    "digits8": "scikit-learn's 8x8 handwritten digits (64 numbers each)",
    "fashion": "Fashion-MNIST's 28x28 pictures of ten kinds of clothing (when the machine has the data set)",
}
FASHION_HELDOUT = 2000       # Fashion-MNIST runs are judged on the first pictures of its official test set
FASHION_TRAIN = 12_000       # and train on (at most) the first pictures of its training set: the most the studio takes


DIGITS28_SCALE = 0.5         # datasets.labelled_digits renders 20,000 * scale digits
HELDOUT_SEED = 1234
NOISY_EVAL = 0.5             # the gaussian noise of the table's "from noisy input" column


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
    1,497 training handwritten digits of scikit-learn, all 28x28 (datasets.labelled_digits);
    held out are `heldout_count` digits in fonts never trained on with wider distortions and
    the 300 held-out handwritten digits. 'digits8': scikit-learn's 8x8 digits as they are,
    the first 1,497 for training and the last 300 held out. 'fashion': the first FASHION_TRAIN of
    Fashion-MNIST's training pictures, judged on the first FASHION_HELDOUT of its test set (labels: the kinds
    of engine.FASHION_CLASSES); raises FashionUnavailable on a machine without it."""
    if kind not in STUDIO_DATA:
        raise ValueError(f"unknown built-in data {kind!r}; choose one of {', '.join(STUDIO_DATA)}")
    if kind == "fashion":
        return _fashion()
    return _digits28(heldout_count) if kind == "digits28" else _digits8()


@functools.lru_cache(maxsize=2)
def _digits28(heldout_count: int) -> StudioData:
    from engine.core.datasets import labelled_digits

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
    cut = len(images) - datasets.HANDWRITTEN_HELD_OUT     # the split handwritten_digits uses
    return StudioData("digits8", images[:cut], labels[:cut], images[cut:], labels[cut:],
                      note=f"the first {cut:,} of scikit-learn's 8x8 handwritten digits",
                      heldout_note=f"the last {len(images) - cut} of them")


@functools.lru_cache(maxsize=1)
def _fashion() -> StudioData:
    train, train_labels = fashion.load_fashion_mnist("train", FASHION_TRAIN)   # 38 MB kept, not 188
    test, test_labels = fashion.load_fashion_mnist("test", FASHION_HELDOUT)
    return StudioData("fashion", train, train_labels, test, test_labels,
                      note=f"the first {len(train):,} of Fashion-MNIST's training pictures of clothing",
                      heldout_note=f"the first {len(test):,} pictures of its official test set")


STUDIO_HELDOUT_RENDERED = 200   # built-in 28x28 digits are judged on these many in unseen fonts + 300 handwritten
UPLOAD_HELDOUT_SHARE = 0.1      # of a user's images, held out for judging


def builtin_training_set(kind: str, count: int,
                         heldout_count: int = STUDIO_HELDOUT_RENDERED) -> tuple[np.ndarray, np.ndarray, str]:
    """The studio's built-in data: the first `count` of a seeded shuffle of the built-in
    training digits of `kind` (in their order), the held-out digits, and a note on both."""
    data = builtin_digits(kind, heldout_count=heldout_count)
    chosen = np.sort(np.random.default_rng(0).permutation(len(data.train))[:count])
    picked = data.note if len(chosen) == len(data.train) else f"{len(chosen):,} chosen at random from {data.note}"
    return data.train[chosen], data.heldout, f"{picked}; judged on {data.heldout_note}"


def split_heldout(images: np.ndarray, share: float = UPLOAD_HELDOUT_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """A seeded share of a user's images held out for judging (at least one), the rest to train on."""
    order = np.random.default_rng(0).permutation(len(images))
    held = max(1, round(len(images) * share))
    return images[np.sort(order[held:])], images[np.sort(order[:held])]


def reproduce_script(settings: StudioConfig, *, builtin: str | None = None, count: int | None = None,
                     side: int = 28, title: str = "a training studio run") -> str:
    """A short Python script that trains the same model as a studio run from the command line,
    through the engine's public API: on the same built-in digits (`builtin` and `count`), or on
    a folder of the user's own images (resized to `side`, held out as the studio does)."""
    call = ", ".join(f"{name}={value!r}" for name, value in (
        ("code_size", settings.code_size), ("epochs", settings.epochs), ("lr", settings.lr),
        ("batch_size", settings.batch_size), ("validation_fraction", settings.validation_fraction),
        ("patience", settings.patience), ("method", settings.method), ("seed", settings.seed),
        ("options", dict(settings.options)), ("optimizer", settings.optimizer), ("schedule", settings.schedule)))
    if builtin is not None:
        data = (f"train, heldout, note = engine.builtin_training_set({builtin!r}, {count!r})\n")
        where = "Run it in the playground's folder (or with the playground installed)"
    else:
        data = ('folder = Path(sys.argv[1] if len(sys.argv) > 1 else "my_images")   # your images, as uploaded\n'
                "pictures = [engine.decode_image(p.read_bytes()) for p in sorted(folder.iterdir()) if p.is_file()]\n"
                f"train, heldout = engine.split_heldout(engine.prepare_images(pictures, {side}))\n"
                'note = f"{len(train)} images of {folder}"\n')
        where = "Give it the folder of your images: python this_script.py FOLDER"
    return (f'"""Reproduce {title}: the same family, settings, seed and data. {where}.\n'
            'It needs PyTorch (pip install -r requirements-train.txt) and writes the model as ONNX."""\n'
            "import sys\nfrom pathlib import Path\n\nimport engine\nfrom engine import training\n\n"
            f"{data}"
            f"result = training.train_model({settings.family!r}, train, heldout=heldout, data_note=note, {call})\n"
            'print(f"held-out MSE {result.heldout_mse:.6f} after {result.seconds:.1f} s of training")\n'
            f'Path("{settings.family}_autoencoder.onnx").write_bytes(result.onnx)\n')


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
        grey = to_grey(as_float_image(image))
        height, width = grey.shape
        crop = min(height, width)
        top, left = (height - crop) // 2, (width - crop) // 2
        out[i] = resize(grey[top:top + crop, left:left + crop], (side, side))
    return out


def as_batch(images: np.ndarray) -> np.ndarray:
    """(N, S, S) images -> (N, 1, S, S); (N, D) vectors and (N, C, S, S) pass through."""
    data = np.ascontiguousarray(images, dtype=np.float32)
    if data.ndim not in (2, 3, 4) or len(data) == 0:
        raise ValueError(f"expected (N, S, S) images or (N, D) vectors, got shape {data.shape}")
    return data[:, None] if data.ndim == 3 else data


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
    optimizer: str = "adamw"           # engine.nn.train.OPTIMIZERS
    schedule: str = "cosine"           # or "constant"


StudioProgress = Progress   # one report at the end of every epoch (and pretraining phase)

@dataclass(frozen=True)
class StudioPreset:
    """A network of the source documents, as they build and train it (on MNIST there; on the
    built-in 28x28 digits here): the family, its config fields, the optimiser, its rate, the
    batch size and the epochs. Trained at a constant rate, as Keras and TensorFlow do."""
    label: str
    source: str                        # the document (shared/sources) and the model's name there
    family: str
    code_size: int
    options: dict
    optimizer: str
    lr: float
    batch_size: int
    epochs: int
    network: str                       # the network in the document's words


STUDIO_PRESETS = {
    "tutorial": StudioPreset(
        "One hidden layer of 256 (the TensorFlow tutorial)", "002: the TensorFlow autoencoder tutorial",
        "undercomplete", 256, {"code_activation": "sigmoid", "loss": "mse"}, "rmsprop", 0.01, 100, 20,
        "784 → 256 (sigmoid) → 784 (sigmoid); mean squared error; RMSProp at 0.01; batches of 100; 20 epochs"),
    "undercomplete": StudioPreset(
        "Undercomplete (the lecture's model A)", "003: the lecture chapter, autoencoder_A",
        "undercomplete", 32, {"code_activation": "relu", "loss": "bce"}, "adam", 1e-3, 256, 20,
        "784 → 32 (ReLU) → 784 (sigmoid); binary cross-entropy; Adam; batches of 256; 20 epochs"),
    "sparse": StudioPreset(
        "Sparse, L1 on the code (the lecture's model B)", "003: the lecture chapter, autoencoder_B",
        "sparse", 32, {"penalty": "l1", "weight": 1e-6, "code_activation": "relu", "loss": "bce"}, "adam", 1e-3, 256, 50,
        "784 → 32 (ReLU, activity regulariser L1 of 10e-7) → 784 (sigmoid); binary cross-entropy; Adam; "
        "batches of 256; 50 epochs"),
    "stacked": StudioPreset(
        "Stacked 128-64-32 (the lecture's model C)", "003: the lecture chapter, autoencoder_C",
        "stacked", 32, {"hidden": (128, 64), "code_activation": "relu", "loss": "bce"}, "adam", 1e-3, 256, 20,
        "784 → 128 → 64 → 32 → 64 → 128 (all ReLU) → 784 (sigmoid); binary cross-entropy; Adam; batches of 256; "
        "20 epochs"),
    # The lecture shows D's and E's compile and fit only as pictures. Source 000 trains E's very network
    # with Adadelta and binary cross-entropy in batches of 128 (Keras' Adadelta: rate 1.0), as the Keras
    # blog the lecture follows does for both (50 epochs for D, 100 for E: the studio's limit is 50).
    "conv_maps": StudioPreset(
        "Convolutional 16-8-8 (the lecture's model D)", "003: the lecture chapter, autoencoder_D",
        "convolutional", 392, {"code_layer": "maps", "channels": (16, 8, 8), "decoder_channels": (8, 8), "loss": "bce"},
        "adadelta", 1.0, 128, 50,
        "28x28 → conv 16, pool → conv 8, pool → conv 8: a code of 7x7x8 = 392 feature-map values → conv 8, upsample "
        "→ conv 8, upsample → conv 1 (sigmoid); 3x3 filters, ReLU; 3,145 parameters; binary cross-entropy, Adadelta "
        "(rate 1.0), batches of 128 (as source 000 trains the same kind of network); 50 epochs"),
    "conv_denoising": StudioPreset(
        "Denoising, 32 filters, noise 0.5 (the lecture's model E)", "003: the lecture chapter, autoencoder_E",
        "denoising", 1568, {"code_layer": "maps", "channels": (32, 32), "decoder_channels": (32, 32), "noise": "gaussian",
                            "noise_factor": 0.5, "loss": "bce"},
        "adadelta", 1.0, 128, 30,
        "noisy 28x28 (noise factor 0.5, clipped) → conv 32, pool → conv 32, pool: a code of 7x7x32 = 1,568 values → "
        "conv 32, upsample → conv 32, upsample → conv 1 (sigmoid); 3x3 filters, ReLU; binary cross-entropy, Adadelta "
        "(rate 1.0), batches of 128, as source 000 trains it; 30 epochs (the source: 100; 30 end within the studio's "
        "5-minute limit on a small CPU)"),
}


SNAPSHOT_RECONSTRUCTIONS = 8    # held-out images whose reconstructions each snapshot keeps


@dataclass(frozen=True)
class StudioSnapshot:
    """What the model makes of a fixed set of held-out images at one point of training (live views
    while it trains, a replay after): taken before the first step and at every epoch's end."""
    step: int
    epoch: float
    reconstructions: np.ndarray    # of the run's first SNAPSHOT_RECONSTRUCTIONS held-out images
    codes: np.ndarray              # (M, K): the codes of the first M held-out images (the watch)
    map: np.ndarray                # (M, 2): the codes themselves when K is 2, else their two principal components


def code_map(codes: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
    """Codes (M, K) as 2-D points: themselves when K is 2 (or the one number and zeros when K is
    1), else their projection on their two principal components, each axis's sign chosen to
    agree with `previous` (the last snapshot's map), so that a replay does not flip."""
    codes = np.asarray(codes, dtype=np.float64)
    if codes.shape[1] <= 2:
        return np.pad(codes, ((0, 0), (0, 2 - codes.shape[1]))).astype(np.float32)
    centred = codes - codes.mean(0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    points = centred @ axes[:2].T
    points = np.pad(points, ((0, 0), (0, 2 - points.shape[1])))   # fewer images than two: a point or a line
    if previous is not None and len(previous) == len(points):
        points *= np.where((points * previous).sum(0) < 0, -1.0, 1.0)
    return points.astype(np.float32)


def snapshot_picture(codes: np.ndarray, points: np.ndarray, labels: np.ndarray | None, colours: Sequence[str],
                     width: int = 420, height: int = 280, names: Sequence[str] | None = None) -> np.ndarray:
    """The live views' histogram of code values (the near-zero band shaded) and map of the codes
    (coloured by digit, `colours[digit]`; with `names`, by kind, names[label] in the legend) as one
    still picture, uint8 (height, 2 * width, 3). Drawn once a snapshot:
    a picture that has not changed is left alone by the browser, where charts were drawn again at
    every refresh of the views, on the CPU the training needs."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=13)
    image = Image.new("RGB", (2 * width, height), "white")
    draw = ImageDraw.Draw(image)
    left, top, bottom = 14, 30, height - 26
    # the histogram
    counts, edges = np.histogram(codes.ravel(), bins=60)
    span = max(float(edges[-1] - edges[0]), 1e-9)

    def x_of(value: float) -> float:
        return left + (value - edges[0]) / span * (width - 2 * left)

    draw.text((left, 6), "Code values (near zero shaded)", fill="black", font=font)
    band = max(left, x_of(-NEAR_ZERO)), min(width - left, x_of(NEAR_ZERO))
    if band[0] < band[1]:   # the near-zero band is within the values' range
        draw.rectangle([band[0], top, band[1], bottom], fill="#e6e6e6")
    peak = max(int(counts.max()), 1)
    for count, low, high in zip(counts, edges[:-1], edges[1:]):
        if count:
            draw.rectangle([x_of(low), bottom - (bottom - top) * count / peak, max(x_of(low), x_of(high) - 1), bottom],
                           fill="#3b6fd4")
    draw.line([left, bottom, width - left, bottom], fill="black")
    draw.text((left, bottom + 6), f"{edges[0]:.2g}", fill="black", font=font)
    draw.text((width - left, bottom + 6), f"{edges[-1]:.2g}", fill="black", font=font, anchor="ra")
    # the map
    x0 = width + left
    two = codes.shape[1] <= 2
    draw.text((x0, 6), "Held-out codes" + (" (code 1, code 2)" if two else " (principal components)")
              + ((", by kind" if names else ", by digit") if labels is not None else ""), fill="black", font=font)
    watched = labels[:len(points)] if labels is not None else np.zeros(len(points), int)
    legend = [names[int(d)] if names else str(int(d)) for d in np.unique(watched)] if labels is not None else []
    legend_width = int(max((font.getlength(text) for text in legend), default=0)) + 22 if legend else 0
    if len(points):
        low, high = points.min(0), points.max(0)
        scale = np.maximum(high - low, 1e-9)
        xy = (points - low) / scale * [width - 2 * left - max(40, legend_width), bottom - top - 8] + [x0 + 4, top + 4]
        xy[:, 1] = bottom + top - xy[:, 1]   # up is up
        for (x, y), digit in zip(xy, watched):
            colour = colours[int(digit) % len(colours)] if labels is not None else "#3b6fd4"
            draw.ellipse([x - 2.5, y - 2.5, x + 2.5, y + 2.5], fill=colour)
        for i, (digit, text) in enumerate(zip(np.unique(watched), legend)):   # the legend, down the right edge
            x, y = 2 * width - legend_width, top + 16 * i
            draw.rectangle([x, y + 2, x + 8, y + 10], fill=colours[int(digit) % len(colours)])
            draw.text((x + 12, y), text, fill="black", font=font)
    return np.asarray(image)


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
    snapshots: list[StudioSnapshot] = field(default_factory=list)   # with watch > 0: the live views, in order

    @property
    def family(self) -> str:
        return self.settings.family

    @property
    def train_losses(self) -> list[float]:
        return [p.loss for p in self.history]

    @property
    def validation_losses(self) -> list[float]:
        return [p.validation for p in self.history if p.validation is not None]


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


@dataclass
class LessonFit:
    """One of the lecture's two compression lessons, held-out points reduced to `code_size`
    numbers and rebuilt by PCA and by an autoencoder: random data, where neither can compress,
    or the spring filmed by ten cameras, where one number is the whole story."""
    name: str                          # "random" or "spring"
    code_size: int
    explained: np.ndarray              # PCA's share of the variance on each principal component, largest first
    variance: float                    # the held-out data's total variance per point (the error of knowing nothing)
    pca_mse: float                     # mean squared reconstruction error per point, summed over features
    autoencoder_mse: float
    truth: np.ndarray | None           # the spring: its true displacement in each held-out frame
    pca_code: np.ndarray               # (n, code_size)
    autoencoder_code: np.ndarray       # (n, code_size)


SPRING_CAMERAS = 10                     # each films the moving point and records 2 numbers per frame


def random_points(n: int = 1000, dims: int = 10, seed: int = 0) -> np.ndarray:
    """n points (n, dims) of independent standard normal numbers: no direction holds more than another."""
    return np.random.default_rng(seed).normal(size=(n, dims)).astype(np.float32)


def spring_views(n: int = 1000, cameras: int = SPRING_CAMERAS, noise: float = 0.05,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A mass on a spring filmed by `cameras` cameras: the mass moves along one line in space
    (its displacement a damped-free cosine of time), and each camera, looking from its own
    random direction, records the mass's 2-D position in its picture with a little noise.
    Returns (the views (n, 2 * cameras), the true displacement (n,)): 20 numbers a frame, one
    number of motion."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 20, n))
    displacement = np.cos(2 * np.pi * t / 3.0)
    direction = rng.normal(size=3)
    position = np.outer(displacement, direction / np.linalg.norm(direction)) + rng.normal(size=3)
    projections = rng.normal(size=(cameras, 2, 3))           # each camera's 2x3 view of space
    views = np.einsum("cij,nj->nci", projections, position).reshape(n, 2 * cameras)
    return (views + rng.normal(0, noise, views.shape)).astype(np.float32), displacement.astype(np.float32)


def truth_agreement(code: np.ndarray, truth: np.ndarray) -> float:
    """How well a one-number code follows the true displacement: |correlation| (1 is exact up to scale)."""
    return float(abs(np.corrcoef(code[:, 0], truth)[0, 1]))


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
