"""`python -m engine eval semisupervised`: held-out accuracy over the number of labels."""
from __future__ import annotations

import numpy as np

from engine.core import runtime
from engine.core.report import result_table


def eval_semisupervised(count: int = 1000, draws: int | None = None) -> dict:
    """Held-out accuracy of each semi-supervised classifier for 10, 50 and 100 labels per digit,
    over random label draws. The networks that train the encoder (fine-tuned, from scratch)
    need torch; without it their rows are left out."""
    import importlib.util

    from engine.tasks.semisupervised.build import run_labels
    from engine.tasks.semisupervised.serve import (
        CURVE_TITLE,
        DRAWS,
        LABELS_PER_DIGIT,
        LIVE_METHODS,
        POOL_RENDERED,
        SEMISUPERVISED_METHODS,
        TORCH_METHODS,
        semisupervised_data,
    )

    draws = draws or DRAWS
    data = semisupervised_data(POOL_RENDERED, count)
    methods = LIVE_METHODS + (TORCH_METHODS if importlib.util.find_spec("torch") else ())
    truth, hand = data.heldout.labels, data.heldout.handwritten
    scores: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    seconds: dict[str, list[float]] = {m: [] for m in methods}
    for k in LABELS_PER_DIGIT:
        for seed in range(draws):
            run = run_labels(data, k, seed, methods=methods)
            for m in methods:
                scores.setdefault((m, k), []).append((run.accuracy(m, truth), run.accuracy(m, truth, ~hand),
                                                      run.accuracy(m, truth, hand)))
                seconds[m].append(run.seconds[m])
    rows = []
    for m in SEMISUPERVISED_METHODS:
        for k in LABELS_PER_DIGIT:
            if m in methods:
                s = np.array(scores[(m, k)])
                rows.append([SEMISUPERVISED_METHODS[m], k, round(float(s[:, 0].mean()), 4), round(float(s[:, 0].std()), 4),
                             round(float(s[:, 0].min()), 4), round(float(s[:, 0].max()), 4),
                             round(float(s[:, 1].mean()), 4), round(float(s[:, 2].mean()), 4),
                             [round(float(a), 4) for a in s[:, 0]]])
    mean = {(m, k): float(np.mean([a[0] for a in v])) for (m, k), v in scores.items()}
    gains = [[k, *(None if other not in methods else round(100 * (mean[(m, k)] - mean[(other, k)]), 1)
                   for m, other in (("encoder", "scratch"), ("finetuned", "scratch"), ("encoder", "pca")))]
             for k in LABELS_PER_DIGIT]
    pool = data.pool
    return {"command": "eval semisupervised", "device": runtime.device_name(), "tables": [
        result_table(f"{CURVE_TITLE} on {len(truth)} held-out digits ({int((~hand).sum())} in held-out fonts with wider "
               f"distortions, the 300 held-out handwritten digits), over {draws} random label draws from "
               f"{len(pool.images)} unlabelled digits",
               ["Method", "Labels per digit", "Mean accuracy", "Spread (std)", "Min", "Max", "Held-out fonts",
                "Handwritten", "Accuracy of each draw"], rows),
        result_table("Gain in accuracy points (mean over the draws)",
               ["Labels per digit", "Frozen encoder - scratch", "Fine-tuned - scratch", "Frozen encoder - PCA"],
               gains),
        result_table("Training time per label draw, median (s)", ["Method", "Seconds"],
               [[SEMISUPERVISED_METHODS[m], round(float(np.median(seconds[m])), 2)] for m in methods]),
    ]}


EVALS = {"semisupervised": eval_semisupervised}
