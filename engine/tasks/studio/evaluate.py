"""`python -m engine eval family`: every variant of the family against PCA."""
from __future__ import annotations

from engine.tasks.studio.build import compare_family, digits_projection, plane_and_curve
from engine.tasks.studio.serve import COMPARISON_COLUMNS, NOISY_EVAL, builtin_digits


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


EVALS = {"family": eval_family}
