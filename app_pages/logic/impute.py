"""What the Filling in missing values page shows: the masked character, the error tables and
chart, the hidden entries of a table. Plain numpy and plotly (no streamlit)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

import engine
from app_pages.figures import decimals_for, duration_text

METHODS = engine.IMPUTE_METHODS
MISSING_COLOUR = np.array([0.85, 0.25, 0.2], dtype=np.float32)  # missing pixels in the masked view


def masked_view(character: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """The character in grey with its missing pixels in colour, as RGB."""
    grey = np.repeat(np.clip(character, 0, 1)[..., None], 3, axis=2)
    return np.where(missing[..., None], MISSING_COLOUR, grey)


def rmse_decimals(result: engine.Filling | engine.TableFilling) -> int:
    """The error table's decimals: four significant digits of the typical error (close methods stay apart)."""
    return decimals_for(list(result.rmse.values()), digits=4)


def error_columns(result: engine.Filling | engine.TableFilling) -> dict[str, str]:
    """The error table's printf formats: every error with the same decimals."""
    return {"RMSE on hidden values": f"%.{rmse_decimals(result)}f"}


def error_rows(result: engine.Filling | engine.TableFilling) -> list[dict]:
    """The engine's summary rows, each method's time in words and the lowest error starred."""
    best = min(result.rmse, key=result.rmse.get)
    decimals = rmse_decimals(result)
    return [{"Method": row["Method"], "RMSE on hidden values": round(row["RMSE on hidden values"], decimals),
             "Time": duration_text(row["Milliseconds"] / 1000), "Best": "★" if method == best else ""}
            for method, row in zip(result.fills, result.summary(), strict=True)]


def rmse_figure(result: engine.Filling | engine.TableFilling, title: str) -> go.Figure:
    """Each method's error on the hidden values, as bars."""
    figure = go.Figure(go.Bar(x=[METHODS[m] for m in result.rmse], y=list(result.rmse.values()),
                              marker_color=["#bab0ac", "#9c755f", "#3b6fd4"]))
    figure.update_layout(title=title, yaxis_title="RMSE on hidden values", height=300, margin={"t": 50, "b": 10})
    return figure


def hidden_entries(result: engine.TableFilling, count: int) -> list[dict]:
    """The first `count` hidden entries: where, the true value and each method's guess, every
    figure to the scale of its column."""
    rows, columns = np.nonzero(result.missing)
    table = result.table
    entries = []
    for r, c in list(zip(rows, columns))[:count]:
        decimals = decimals_for(result.truth[:, c])
        entries.append({"Row": table.training_rows + int(r), "Column": table.columns[c],
                        "True value": round(float(result.truth[r, c]), decimals),
                        **{METHODS[m]: round(float(f[r, c]), decimals) for m, f in result.fills.items()}})
    return entries


def character_panels(
    character: np.ndarray, missing: np.ndarray, result: engine.Filling
) -> list[tuple[str, np.ndarray]]:
    """(caption, image) of the original, the masked input and each method's filling."""
    panels = [("Original", character), (f"Input: {missing.mean():.0%} missing", masked_view(character, missing))]
    return panels + [(f"{METHODS[m]} (RMSE {result.rmse[m]:.3f})", result.fills[m][0]) for m in result.fills]


def table_caption(completed: engine.TableFilling) -> str:
    """What the table's figures measure: rows, hidden share, PCA's rank and rounds."""
    return (
        f"The {len(completed.truth)} held-out rows (the autoencoder trained on the other "
        f"{completed.table.training_rows}) with {completed.missing.mean():.0%} of their entries hidden. "
        f"PCA completion used rank {completed.pca_rank} and {completed.pca_iterations} rounds, chosen on a "
        "further 10% of the observed entries"
        + (f" of seed {completed.pca_settings_seed}'s draw at this share" if completed.pca_settings_seed is not None
           else "") + "; it and mean filling see the whole matrix."
    )
