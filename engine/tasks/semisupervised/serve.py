"""Semi-supervised learning: many unlabelled digits, a few labelled ones.

An autoencoder trained without labels has already learnt what makes digits differ; a small
classifier on its code then needs few labels. Four classifiers meet on the same labels:

  encoder    the pretrained encoder, frozen, with a linear head on its code (a linear probe)
  finetuned  the same network, then trained end to end, encoder included, from the probe
  scratch    the same network (encoder architecture + linear head) from random weights
  pca        a linear head on PCA features of the same size, PCA fit on the unlabelled digits

The linear heads are scikit-learn logistic regressions on standardised codes, so the probe
needs no torch (codes come through ONNX); the two networks that train the encoder need torch.
Accuracy is measured on digits no model saw: digits in held-out fonts with wider distortions,
and the 300 held-out handwritten digits.
"""
from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from engine.core import datasets, precomputed, runtime

ENCODER = "search_char"          # a 64-number code learnt without labels (distorted -> upright glyphs)
PCA_ENCODER = "semisup_pca"      # PCA with the code's size, fit on the unlabelled digits
LABELS_PER_DIGIT = (10, 50, 100)
DRAWS = 5                        # random label draws per point of the curve
POOL_RENDERED = 3000             # digits rendered from the training fonts in the unlabelled pool
POOL_SEED = 20_250
HELDOUT_RENDERED = 1000
HELDOUT_SEED = 7_919
SEMISUPERVISED_METHODS = {
    "encoder": "Pretrained encoder (frozen) + linear head",
    "finetuned": "Pretrained encoder fine-tuned",
    "scratch": "Same network from scratch",
    "pca": "PCA features + linear head",
}


LIVE_METHODS = ("encoder", "pca")            # no torch needed
SPACES = {"encoder": ENCODER, "pca": PCA_ENCODER}   # the feature space of each linear head
TORCH_METHODS = ("finetuned", "scratch")
SCRATCH_STEPS = 500
FINETUNE_STEPS = 300
CURVE_TITLE = "Semi-supervised accuracy"     # the eval table the page reads back from the manifest


@dataclass
class DigitSet:
    images: np.ndarray           # (N, 28, 28)
    labels: np.ndarray           # (N,) int
    handwritten: np.ndarray      # (N,) bool: a scikit-learn handwritten digit, else rendered

    def __getstate__(self) -> dict:      # a stored set keeps its byte-rounded images as bytes
        return {**self.__dict__, "images": precomputed.packed_if_rounded(self.images)}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update({**state, "images": precomputed.unpacked(state["images"])})


@functools.lru_cache(maxsize=2)
def unlabelled_digits(rendered: int = POOL_RENDERED, seed: int = POOL_SEED) -> DigitSet:
    """The unlabelled pool: digits rendered from the training fonts with the training
    distortions, and the 1,497 training handwritten digits. Labels are kept only to draw the
    few labelled examples; PCA is fit on the pool without them. Shared, read-only."""
    images, labels = datasets.render_characters(datasets.DIGITS, rendered, fonts=datasets.font_split(False),
                                                seed=seed)
    hand, hand_labels = datasets.handwritten_digits(held_out=False)
    return DigitSet(np.concatenate([images, hand]), np.concatenate([labels, hand_labels]).astype(np.int64),
                    np.arange(len(images) + len(hand)) >= len(images))


@functools.lru_cache(maxsize=2)
def heldout_digits(rendered: int = HELDOUT_RENDERED, seed: int = HELDOUT_SEED) -> DigitSet:
    """Digits never seen in pretraining nor labelled: rendered from the held-out fonts with
    the evaluation's wider distortions, and the 300 held-out handwritten digits."""
    images, labels = datasets.render_characters(datasets.DIGITS, rendered, fonts=datasets.font_split(True),
                                                seed=seed, distortion=datasets.EVAL_DISTORTION)
    hand, hand_labels = datasets.handwritten_digits(held_out=True)
    return DigitSet(np.concatenate([images, hand]), np.concatenate([labels, hand_labels]).astype(np.int64),
                    np.arange(len(images) + len(hand)) >= len(images))


def sample_labels(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices of exactly `per_class` examples of every class in `labels`, drawn without
    replacement; the same seed gives the same draw. Sorted by class, then drawn order."""
    labels = np.asarray(labels)
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise ValueError(f"class {c} has {len(members)} examples, fewer than {per_class}")
        picks.append(rng.choice(members, per_class, replace=False))
    return np.concatenate(picks)


def encode(images: np.ndarray, model: str = ENCODER) -> np.ndarray:
    """Characters (N, 28, 28) -> codes (N, D) through an ONNX encoder."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"expected characters (N, 28, 28), got shape {images.shape}")
    return runtime.run(model, images[:, None])


@dataclass
class Features:
    """Codes of the pool and of the held-out digits in one feature space, and the pool's
    mean and spread (unlabelled data: every classifier may standardise with them)."""
    pool: np.ndarray
    heldout: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    def standardise(self, codes: np.ndarray) -> np.ndarray:
        return (codes - self.mean) / self.scale

    def __getstate__(self) -> dict:      # stored codes rounded to half precision are kept as half floats
        return {**self.__dict__, "pool": precomputed.halved_if_rounded(self.pool),
                "heldout": precomputed.halved_if_rounded(self.heldout)}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update({**state, "pool": precomputed.unpacked(state["pool"]),
                              "heldout": precomputed.unpacked(state["heldout"])})


def _features(pool: np.ndarray, heldout: np.ndarray, model: str) -> Features:
    codes = precomputed.as_half(encode(pool, model))
    scale = codes.std(axis=0)
    return Features(codes, precomputed.as_half(encode(heldout, model)), codes.mean(axis=0),
                    np.where(scale > 1e-6, scale, 1.0))


@dataclass
class LinearHead:
    """A multinomial logistic regression on standardised codes: logits = W z + b."""
    weight: np.ndarray           # (classes, D)
    bias: np.ndarray             # (classes,)

    def logits(self, standardised: np.ndarray) -> np.ndarray:
        return standardised @ self.weight.T + self.bias

    def predict(self, standardised: np.ndarray) -> np.ndarray:
        return self.logits(standardised).argmax(axis=1)


def fit_linear_head(standardised: np.ndarray, labels: np.ndarray, seed: int = 0) -> LinearHead:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(standardised, labels)
    if model.coef_.shape[0] != 10:
        raise ValueError("the labelled examples must cover all ten digits")
    return LinearHead(model.coef_.astype(np.float32), model.intercept_.astype(np.float32))


@dataclass
class SemiSupervisedData:
    pool: DigitSet
    heldout: DigitSet
    features: dict[str, Features]        # "encoder" and "pca"


@precomputed.stored("semisupervised_data", models=tuple(SPACES.values()), fonts=True)
def semisupervised_data(pool_rendered: int = POOL_RENDERED, heldout_rendered: int = HELDOUT_RENDERED) -> SemiSupervisedData:
    """The unlabelled pool, the held-out digits and their codes in both feature spaces: images
    rounded to bytes, codes to half floats (stored at build time for the defaults)."""
    pool, heldout = unlabelled_digits(pool_rendered), heldout_digits(heldout_rendered)
    pool = DigitSet(precomputed.as_bytes(pool.images), pool.labels, pool.handwritten)
    heldout = DigitSet(precomputed.as_bytes(heldout.images), heldout.labels, heldout.handwritten)
    return SemiSupervisedData(pool, heldout, {
        space: _features(pool.images, heldout.images, model) for space, model in SPACES.items()})


@dataclass
class LabelRun:
    """Every classifier trained on one draw of labels, judged on the held-out digits."""
    per_class: int
    seed: int
    labelled: np.ndarray                                   # indices into the pool
    predictions: dict[str, np.ndarray] = field(default_factory=dict)   # method -> (M,) held-out
    heads: dict[str, LinearHead] = field(default_factory=dict)         # the linear heads
    # method -> the trained network as a function: characters (N, 28, 28) -> digits (N,)
    networks: dict[str, Callable[[np.ndarray], np.ndarray]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def accuracy(self, method: str, truth: np.ndarray, subset: np.ndarray | None = None) -> float:
        hits = self.predictions[method] == truth
        return float(hits[subset].mean() if subset is not None else hits.mean())


def run_labels(data: SemiSupervisedData, per_class: int, seed: int, *,
               methods: tuple[str, ...] = LIVE_METHODS) -> LabelRun:
    """Draw `per_class` labels of every digit from the pool (seeded) and fit the linear head of
    each method ("encoder": the pretrained encoder's code, "pca": PCA features) on them: numpy
    and scikit-learn only. The networks that train the encoder ("finetuned", "scratch") need
    PyTorch: engine.training.run_labels trains them too."""
    needs_torch = sorted(set(methods) & set(TORCH_METHODS))
    if needs_torch:
        raise ValueError(f"{', '.join(needs_torch)} train a network: use engine.training.run_labels")
    unknown = set(methods) - set(SPACES)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; choose from {tuple(SEMISUPERVISED_METHODS)}")
    labelled = sample_labels(data.pool.labels, per_class, seed)
    labels = data.pool.labels[labelled]
    run = LabelRun(per_class, seed, labelled)
    for space in methods:
        start = time.perf_counter()
        f = data.features[space]
        run.heads[space] = fit_linear_head(f.standardise(f.pool[labelled]), labels, seed)
        run.predictions[space] = run.heads[space].predict(f.standardise(f.heldout))
        run.seconds[space] = time.perf_counter() - start
    return run


@dataclass
class CurvePoint:
    method: str
    per_class: int
    accuracies: list[float]              # one per draw

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def spread(self) -> float:
        """Standard deviation over the draws."""
        return float(np.std(self.accuracies))


def accuracy_curve(data: SemiSupervisedData, *, per_class: tuple[int, ...] = LABELS_PER_DIGIT,
                   draws: int = DRAWS, methods: tuple[str, ...] = LIVE_METHODS,
                   run: Callable[..., LabelRun] = run_labels) -> list[CurvePoint]:
    """Held-out accuracy of each method for each number of labels per digit, over `draws`
    random label draws (seeds 0..draws-1); `run` trains one draw (engine.training's trains the
    networks too)."""
    points = {(m, k): CurvePoint(m, k, []) for k in per_class for m in methods}
    for k in per_class:
        for seed in range(draws):
            trained = run(data, k, seed, methods=methods)
            for m in methods:
                points[(m, k)].accuracies.append(trained.accuracy(m, data.heldout.labels))
    return list(points.values())


@precomputed.stored("semisupervised_curve", models=tuple(SPACES.values()), fonts=True)
def live_accuracy_curve() -> list[CurvePoint]:
    """The linear heads' accuracy curve on the built-in digits (`accuracy_curve` of
    `semisupervised_data()`), stored at build time."""
    return accuracy_curve(semisupervised_data())


@precomputed.stored("semisupervised_runs", variants=lambda: [(k,) for k in LABELS_PER_DIGIT],
                    models=tuple(SPACES.values()), fonts=True)
def live_label_run(per_class: int) -> LabelRun:
    """The linear heads of the first label draw (`run_labels(semisupervised_data(), per_class,
    0)`) for the built-in numbers of labels per digit, stored at build time."""
    return run_labels(semisupervised_data(), per_class, 0)


def recorded_curve() -> list[CurvePoint] | None:
    """The curve `python -m engine eval semisupervised --record` stored in the manifest (every
    method, the torch ones included), or None when none was recorded."""
    try:
        metrics = runtime.model_info(PCA_ENCODER).get("metrics", {})
    except runtime.ModelError:
        return None
    table = next((t for title, t in metrics.items() if title.startswith(CURVE_TITLE)), None)
    if table is None:
        return None
    names = {v: k for k, v in SEMISUPERVISED_METHODS.items()}
    col = {c: i for i, c in enumerate(table["columns"])}
    return [CurvePoint(names[row[col["Method"]]], int(row[col["Labels per digit"]]),
                       [float(a) for a in row[col["Accuracy of each draw"]]]) for row in table["rows"]
            if row[col["Method"]] in names]


def predict_digits(images: np.ndarray, run: LabelRun, data: SemiSupervisedData) -> dict[str, np.ndarray]:
    """Predictions of every classifier of `run` for new characters (N, 28, 28)."""
    out = {}
    for space, head in run.heads.items():
        if space in run.predictions:
            out[space] = head.predict(data.features[space].standardise(encode(images, SPACES[space])))
    for method, predict in run.networks.items():
        out[method] = predict(np.asarray(images, dtype=np.float32))
    return out
