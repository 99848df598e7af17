"""Anomaly detection: an autoencoder trained only on digits rebuilds digits well and anything
else badly, so its reconstruction error scores how unlike a digit a character is."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage

from engine.core import precomputed, runtime

ANOMALY_MODEL = "anomaly_char"
ANOMALY_BASELINE = "anomaly_pca"
ANOMALY_SCORINGS = {
    "tolerant": "Squared error between slightly blurred copies of the input and its reconstruction: "
                "a stroke drawn a pixel off costs little, a stroke that is missing or extra costs fully.",
    "mse": "Mean squared error over all 784 pixels.",
}


_TOLERANCE_SIGMA = 1.0  # pixels: the Gaussian blur that makes a one-pixel misalignment cheap
ANOMALY_DEFAULT_SCORING = "tolerant"


# Letters some digit shares its shape with: no reconstruction model can tell these apart,
# so evaluation reports them on their own.
DIGIT_LIKE_LETTERS = "OoIlSsZzBbgq"


def reconstruct(chars: np.ndarray, model: str = ANOMALY_MODEL) -> np.ndarray:
    """(N, 28, 28) characters -> their (N, 28, 28) reconstructions by `model`."""
    chars = np.asarray(chars, dtype=np.float32)
    if chars.ndim != 3 or chars.shape[1:] != (28, 28):
        raise ValueError(f"expected (N, 28, 28) characters, got shape {chars.shape}")
    return runtime.run(model, chars[:, None])[:, 0]


def pixel_errors(chars: np.ndarray, reconstructions: np.ndarray, scoring: str = ANOMALY_DEFAULT_SCORING) -> np.ndarray:
    """Per-pixel squared error (N, 28, 28) under `scoring` (see ANOMALY_SCORINGS)."""
    if scoring == "mse":
        return (chars - reconstructions) ** 2
    if scoring == "tolerant":
        blur = (0, _TOLERANCE_SIGMA, _TOLERANCE_SIGMA)  # within each character, never across the batch
        return (ndimage.gaussian_filter(chars, blur) - ndimage.gaussian_filter(reconstructions, blur)) ** 2
    raise ValueError(f"scoring must be one of {tuple(ANOMALY_SCORINGS)}, got {scoring!r}")


def anomaly_scores(chars: np.ndarray, model: str | None = None, scoring: str = ANOMALY_DEFAULT_SCORING) -> np.ndarray:
    """(N,) scores, higher = less like a digit, from the shipped digits-only autoencoder
    (or `model`)."""
    chars = np.asarray(chars, dtype=np.float32)
    errors = pixel_errors(chars, reconstruct(chars, model or ANOMALY_MODEL), scoring)
    return errors.mean(axis=(1, 2))


def threshold_for(normal_scores: np.ndarray, false_positive_rate: float) -> float:
    """The score above which only `false_positive_rate` of normal digits fall."""
    if not 0.0 < false_positive_rate < 1.0:
        raise ValueError("false_positive_rate must be between 0 and 1")
    return float(np.quantile(np.asarray(normal_scores, dtype=np.float64), 1.0 - false_positive_rate))


@dataclass
class AnomalyDetector:
    """A model, a scoring and a threshold calibrated on digits the model never saw. The
    shipped calibration travels in the manifest and in the ONNX file's metadata, so a page and
    a notebook reach the same verdict."""
    model: str = ANOMALY_MODEL
    scoring: str = ANOMALY_DEFAULT_SCORING
    false_positive_rate: float = 0.05
    threshold: float = 0.0
    calibration_data: str = ""
    calibration_scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)

    @classmethod
    def calibrate(cls, digits: np.ndarray, *, model: str = ANOMALY_MODEL, scoring: str = ANOMALY_DEFAULT_SCORING,
                  false_positive_rate: float = 0.05, description: str = "") -> AnomalyDetector:
        scores = anomaly_scores(digits, model, scoring)
        return cls(model, scoring, false_positive_rate, threshold_for(scores, false_positive_rate),
                   description or f"{len(digits)} digits", scores.astype(np.float32))

    @classmethod
    def shipped(cls, model: str = ANOMALY_MODEL, scoring: str = ANOMALY_DEFAULT_SCORING) -> AnomalyDetector:
        """The detector as calibrated when `model` was built."""
        calibration = runtime.model_info(model)["calibration"]
        scores = np.asarray(calibration["scores"][scoring], dtype=np.float32)
        fpr = calibration["false_positive_rate"]
        return cls(model, scoring, fpr, threshold_for(scores, fpr), calibration["data"], scores)

    def with_false_positive_rate(self, false_positive_rate: float) -> AnomalyDetector:
        """The same detector with the threshold moved to another false-positive rate."""
        return replace(self, false_positive_rate=false_positive_rate,
                       threshold=threshold_for(self.calibration_scores, false_positive_rate))

    def scores(self, chars: np.ndarray) -> np.ndarray:
        return anomaly_scores(chars, self.model, self.scoring)

    def is_anomaly(self, chars: np.ndarray) -> np.ndarray:
        return self.scores(chars) > self.threshold


@dataclass(frozen=True)
class AnomalyResult:
    """What a page shows for a batch of prepared characters."""
    chars: np.ndarray               # (N, 28, 28) the prepared inputs
    reconstructions: np.ndarray     # (N, 28, 28)
    errors: np.ndarray              # (N, 28, 28) per-pixel error under the detector's scoring
    scores: np.ndarray              # (N,) the mean of errors
    is_anomaly: np.ndarray          # (N,) bool: score above the detector's threshold


def explain_anomalies(chars: np.ndarray, detector: AnomalyDetector) -> AnomalyResult:
    """Reconstructions, error maps, scores and verdicts for (N, 28, 28) prepared characters."""
    chars = np.asarray(chars, dtype=np.float32)
    recon = reconstruct(chars, detector.model)
    errors = pixel_errors(chars, recon, detector.scoring)
    scores = errors.mean(axis=(1, 2))
    return AnomalyResult(chars, recon, errors, scores, scores > detector.threshold)


@dataclass(frozen=True)
class RocCurve:
    false_positive_rate: np.ndarray
    true_positive_rate: np.ndarray
    thresholds: np.ndarray
    auroc: float


def roc(normal_scores: np.ndarray, anomaly_scores_: np.ndarray) -> RocCurve:
    """ROC of telling anomalies (positives) from normal digits by score (scikit-learn)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    labels = np.r_[np.zeros(len(normal_scores)), np.ones(len(anomaly_scores_))]
    scores = np.r_[normal_scores, anomaly_scores_]
    fpr, tpr, thresholds = roc_curve(labels, scores)
    return RocCurve(fpr, tpr, thresholds, float(roc_auc_score(labels, scores)))


def confusion(normal_scores: np.ndarray, anomaly_scores_: np.ndarray, threshold: float) -> dict[str, int]:
    """Counts at a threshold: digits kept and flagged, letters caught and missed."""
    normal_flagged = int((np.asarray(normal_scores) > threshold).sum())
    caught = int((np.asarray(anomaly_scores_) > threshold).sum())
    return {"digits passed": len(normal_scores) - normal_flagged, "digits flagged": normal_flagged,
            "letters flagged": caught, "letters passed": len(anomaly_scores_) - caught}


@precomputed.stored("anomaly_examples", fonts=True)
def anomaly_examples() -> dict[str, np.ndarray]:
    """Built-in characters for the page, in fonts held out of training: digits, letters no
    digit shares a shape with, and a few digit-like letters (the "A looks like an 8" lesson)."""
    from engine.core import datasets

    fonts = datasets.font_split(held_out=True)
    examples: dict[str, np.ndarray] = {}
    for i, ch in enumerate("3 7 0 A K x 8 B S".split()):
        kind = "digit" if ch.isdigit() else ("digit-like letter" if ch in DIGIT_LIKE_LETTERS else "letter")
        images, _ = datasets.render_characters(ch, 1, fonts=fonts[i % len(fonts):] or fonts, seed=100 + i)
        examples[f"'{ch}' ({kind})"] = images[0]
    return examples


def anomaly_evaluation_set(count: int = 300, seed: int = 4321) -> dict[str, np.ndarray]:
    """Held-out fonts and wider distortions: digits, letters no digit shares a shape with,
    and digit-like letters (reported apart). Used by `eval anomaly` and the page."""
    from engine.core import datasets

    fonts = datasets.font_split(held_out=True)
    unlike = "".join(c for c in datasets.LETTERS if c not in DIGIT_LIKE_LETTERS)

    def render(chars: str, n: int, offset: int) -> np.ndarray:
        return datasets.render_characters(chars, n, fonts=fonts, seed=seed + offset,
                                          distortion=datasets.EVAL_DISTORTION)[0]

    return {"digits": render(datasets.DIGITS, count, 0), "letters": render(unlike, count, 1),
            "digit-like letters": render(DIGIT_LIKE_LETTERS, count // 2, 2)}


@precomputed.stored("anomaly_evaluation_scores", models=(ANOMALY_MODEL, ANOMALY_BASELINE), fonts=True,
                    variants=lambda: [(m, s) for m in (ANOMALY_MODEL, ANOMALY_BASELINE) for s in ANOMALY_SCORINGS])
def anomaly_evaluation_scores(model: str, scoring: str) -> dict[str, np.ndarray]:
    """The scores of `anomaly_evaluation_set()` under a shipped model and scoring, by group
    (stored at build time for both shipped models and every scoring)."""
    return {group: anomaly_scores(chars, model, scoring) for group, chars in anomaly_evaluation_set().items()}


@precomputed.stored("anomaly_evaluation_rocs", models=(ANOMALY_MODEL, ANOMALY_BASELINE), fonts=True,
                    variants=lambda: [(m, s) for m in (ANOMALY_MODEL, ANOMALY_BASELINE) for s in ANOMALY_SCORINGS])
def anomaly_evaluation_rocs(model: str, scoring: str) -> dict[str, RocCurve]:
    """The ROC curves of `anomaly_evaluation_scores` (stored at build time like them, so that a
    page draws them without loading scikit-learn): "letters" and "digit-like letters", each
    against the held-out digits."""
    scores = anomaly_evaluation_scores(model, scoring)
    return {group: roc(scores["digits"], scores[group]) for group in ("letters", "digit-like letters")}
