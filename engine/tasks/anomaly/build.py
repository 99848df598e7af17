"""How the digits-only anomaly detector, its PCA baseline and their calibration are built:
`python -m engine train anomaly`."""
from __future__ import annotations

import numpy as np

from engine.core import datasets, runtime
from engine.core.datasets import labelled_digits
from engine.core.runtime import atomic_write_bytes
from engine.nn.export import with_metadata
from engine.nn.layers import CharAutoencoderConfig
from engine.nn.recipes import (
    BuildOptions,
    export_char_model,
    manifest_entry,
    noise_sample,
    pca_baseline,
    train_char_model,
    write_model,
)

ANOMALY_CODE_SIZE = 16
ANOMALY_NOISE = 0.2      # the strongest Gaussian noise in training: a little keeps the code general
CALIBRATION_FPR = 0.05


def digit_training_set(scale: float, seed: int) -> np.ndarray:
    return labelled_digits(scale, seed)[0]


def calibration_digits(seed: int, count: int = 1000) -> np.ndarray:
    """Digits the detector never trained on, whose scores set the threshold for a chosen
    false-positive rate: new renders of the training fonts with the wider distortions, and the
    300 held-out handwritten digits. Calibrating on the training distortions alone set the
    threshold so low that 45% of digits in unseen fonts were flagged at a nominal 5%."""
    rendered, _ = datasets.render_characters(datasets.DIGITS, count, fonts=datasets.font_split(False),
                                             seed=seed + 10_007, distortion=datasets.EVAL_DISTORTION)
    return np.concatenate([rendered, datasets.handwritten_digits(held_out=True)[0]])


def _calibrate(name: str, onnx_bytes: bytes, digits: np.ndarray, note: str,
               opts: BuildOptions) -> tuple[bytes, dict]:
    """Scores of the calibration digits under every scoring; the ONNX file carries the default
    threshold so that a notebook reaches the page's verdict without the manifest."""
    from engine.tasks.anomaly.serve import ANOMALY_DEFAULT_SCORING, ANOMALY_SCORINGS, pixel_errors, threshold_for

    recon = runtime.run(onnx_bytes, digits[:, None])[:, 0]
    scores = {s: pixel_errors(digits, recon, s).mean(axis=(1, 2)).round(7).tolist() for s in ANOMALY_SCORINGS}
    threshold = threshold_for(scores[ANOMALY_DEFAULT_SCORING], CALIBRATION_FPR)
    data = with_metadata(onnx_bytes, {"scoring": ANOMALY_DEFAULT_SCORING, "threshold": threshold,
                                      "false_positive_rate": CALIBRATION_FPR, "calibration_data": note})
    atomic_write_bytes(opts.out_dir / f"{name}.onnx", data)
    return data, {"data": note, "false_positive_rate": CALIBRATION_FPR, "scores": scores}


def build_anomaly_char(opts: BuildOptions) -> dict[str, dict]:
    clean = digit_training_set(opts.scale, opts.seed)
    config = CharAutoencoderConfig(code_size=ANOMALY_CODE_SIZE)
    # A little noise keeps the code from memorising pixels; letters are never shown.
    model = train_char_model(clean, config, 8_000, lambda t, rng: noise_sample(t, rng, ANOMALY_NOISE),
                              opts)
    data_note = (f"{len(clean)} digits only: rendered from {len(datasets.font_split(False))} training "
                 "fonts with random distortions, and 1,497 scikit-learn handwritten digits")
    digits = calibration_digits(opts.seed)
    note = (f"{len(digits)} digits never trained on: new renders of the training fonts with wider "
            "distortions, and the 300 held-out scikit-learn handwritten digits")
    onnx_bytes = export_char_model(model, "anomaly_char", clean, "anomaly", data_note, opts)
    onnx_bytes, calibration = _calibrate("anomaly_char", onnx_bytes, digits, note, opts)
    entries = {"anomaly_char": write_model(model, "anomaly_char", onnx_bytes, manifest_entry(
        "anomaly_char", onnx_bytes, task="anomaly", name="Digits-only convolutional autoencoder",
        summary=(f"A convolutional autoencoder with a {config.code_size}-number code, trained on "
                 f"{data_note}: it has never seen a letter."), training_data=data_note,
        calibration=calibration), opts)}
    pca_bytes, entry = pca_baseline("anomaly_pca", clean, config.code_size, "anomaly-baseline",
                                     data_note, opts)
    pca_bytes, calibration = _calibrate("anomaly_pca", pca_bytes, digits, note, opts)
    entries["anomaly_pca"] = {**entry, "sha256": runtime.sha256_of(pca_bytes), "calibration": calibration}
    return entries


# `python -m engine train NAME`: the build steps of each target
TARGETS = {"anomaly": (build_anomaly_char,)}
