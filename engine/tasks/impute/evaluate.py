"""`python -m engine eval impute`: error on hidden pixels and table entries."""
from __future__ import annotations

import time

import numpy as np

from engine.core import datasets, runtime
from engine.core.report import result_table
from engine.tasks.denoise.evaluate import heldout_characters

IMPUTE_CASES = (("pixels", 0.25), ("pixels", 0.5), ("pixels", 0.8), ("blocks", 0.25), ("blocks", 0.5),
                ("rectangle", (9, 19)))


def _impute_mask(kind: str, amount, shape: tuple[int, ...], seed: int) -> tuple[str, np.ndarray]:
    from engine.tasks.impute.serve import random_mask, rectangle_mask

    if kind == "rectangle":
        return (f"rectangle rows and columns {amount[0]}-{amount[1] - 1} (the centre)",
                np.broadcast_to(rectangle_mask(amount, amount), shape))
    return f"{kind} {100 * amount:.0f}%", random_mask(shape, kind, amount, seed)


def eval_impute(count: int = 1000, seed: int = 77) -> dict:
    """Characters never trained on with pixels missing, and the digits table's held-out rows
    with entries missing: mean filling, PCA completion and the masking autoencoder, by RMSE on
    the hidden values only."""
    import importlib
    import warnings

    importlib.import_module("sklearn.experimental.enable_iterative_imputer")  # IterativeImputer is experimental
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.impute import IterativeImputer

    from engine.tasks.impute.serve import (
        IMPUTE_METHODS,
        compare_character_filling,
        compare_table_filling,
        hidden_rmse,
        load_table,
    )

    fonts = heldout_characters(count, seed)
    hand = datasets.handwritten_digits(held_out=True)[0]
    rows = []
    for i, (kind, amount) in enumerate(IMPUTE_CASES):
        for title, chars in ((f"{count} characters, held-out fonts", fonts), ("300 held-out handwritten digits", hand)):
            name, missing = _impute_mask(kind, amount, chars.shape, seed + i)
            result = compare_character_filling(chars, missing)
            best = min(result.rmse["mean"], result.rmse["pca"])
            rows.append([name, title, round(float(missing.mean()), 3), *(round(result.rmse[m], 4) for m in IMPUTE_METHODS),
                         f"{100 * (1 - result.rmse['autoencoder'] / best):.0f}%"])
    table = load_table("digits")
    table_rows = []
    for fraction in (0.2, 0.5, 0.8):
        result = compare_table_filling("digits", fraction, seed)
        matrix = np.concatenate([table.values[:table.training_rows], result.truth])
        hidden = np.concatenate([np.zeros((table.training_rows, matrix.shape[1]), dtype=bool), result.missing])
        imputer = IterativeImputer(max_iter=10, random_state=seed, keep_empty_features=True)
        start = time.perf_counter()
        with warnings.catch_warnings():  # it stops at max_iter short of its own tolerance: said in the table
            warnings.simplefilter("ignore", ConvergenceWarning)
            iterative = imputer.fit_transform(np.where(hidden, np.nan, matrix))[table.training_rows:]
        iterative_s = time.perf_counter() - start
        table_rows.append([f"{100 * fraction:.0f}%", round(result.rmse["mean"], 3),
                           f"{result.rmse['pca']:.3f} (rank {result.pca_rank}, {result.pca_iterations} rounds)",
                           round(hidden_rmse(result.truth, iterative, result.missing), 3),
                           round(result.rmse["autoencoder"], 3),
                           f"{1000 * result.seconds['pca']:.0f} / {1000 * iterative_s:.0f} / "
                           f"{1000 * result.seconds['autoencoder']:.0f}"])
    return {"command": "eval impute", "device": runtime.device_name(), "tables": [
        result_table(f"Characters never trained on ({count} digits and letters in held-out fonts with wider distortions; "
               "the 300 held-out handwritten digits) with pixels missing: RMSE on the hidden pixels only (pixels "
               "in [0, 1]). Gain: the autoencoder's error below the better baseline",
               ["Missing", "Data", "Share missing", *IMPUTE_METHODS.values(), "Gain"], rows),
        result_table(f"The digits table ({table.title}): the {len(table.heldout)} held-out rows with entries hidden at "
               "random, RMSE on the hidden entries (0 to 16). Baselines see the whole matrix (training rows "
               "complete); PCA rank and rounds chosen on a further 10% of observed entries",
               ["Hidden", "Mean filling", "PCA completion", "IterativeImputer (BayesianRidge, 10 rounds)",
                "Masking autoencoder", "ms: PCA / IterativeImputer / autoencoder"], table_rows),
    ]}


EVALS = {"impute": eval_impute}
