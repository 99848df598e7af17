"""`python -m engine eval anomaly`: digits against letters, autoencoder against PCA."""
from __future__ import annotations

from engine.core import datasets, runtime
from engine.core.report import result_table


def eval_anomaly(count: int = 1000, seed: int = 4321) -> dict:
    from engine.tasks.anomaly.serve import (
        ANOMALY_BASELINE,
        ANOMALY_MODEL,
        ANOMALY_SCORINGS,
        DIGIT_LIKE_LETTERS,
        AnomalyDetector,
        anomaly_evaluation_set,
        pixel_errors,
        reconstruct,
        roc,
    )

    sets = anomaly_evaluation_set(count, seed)
    rows = []
    for model in (ANOMALY_MODEL, ANOMALY_BASELINE):
        reconstructions = {name: reconstruct(images, model) for name, images in sets.items()}
        for scoring in ANOMALY_SCORINGS:
            detector = AnomalyDetector.shipped(model, scoring)
            scores = {name: pixel_errors(images, reconstructions[name], scoring).mean(axis=(1, 2))
                      for name, images in sets.items()}

            def auroc(other: str) -> float:
                return round(roc(scores["digits"], scores[other]).auroc, 4)

            rows.append([runtime.model_info(model)["name"], scoring, auroc("letters"),
                         auroc("digit-like letters"),
                         round(float((scores["digits"] > detector.threshold).mean()), 3),
                         round(float((scores["letters"] > detector.threshold).mean()), 3)])
    fonts = sorted({f.family for f in datasets.font_split(held_out=True)})
    return {"command": "eval anomaly", "device": runtime.device_name(), "tables": [result_table(
        f"Digits against letters, {count} each, in held-out fonts ({', '.join(fonts)}) with wider "
        f"distortions; digit-like letters ({DIGIT_LIKE_LETTERS}) apart. Threshold: 5% of calibration "
        "digits above it.",
        ["Model", "Scoring", "AUROC letters", "AUROC digit-like", "False-positive rate",
         "Detection rate"], rows)]}


EVALS = {"anomaly": eval_anomaly}
