"""What the Anomaly detection page decides and draws: the error heat map, verdicts, the table of
characters, the evaluation charts and counts. Plain numpy and plotly (no streamlit)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

import engine
from app_pages import display

MODELS = {"anomaly_char": "Autoencoder", "anomaly_pca": "PCA"}  # side by side, in this order
# A dark-to-bright heat map (black, purple, orange, pale yellow) for the per-pixel error.
HEAT_ANCHORS = np.array([[0, 0, 4], [120, 28, 109], [237, 105, 37], [252, 255, 164]], dtype=np.float32)
GROUP_COLOURS = {"digits": "#3b6fd4", "letters": "#e4572e", "digit-like letters": "#8a8a8a"}


def heat_map(errors: np.ndarray) -> np.ndarray:
    """A per-pixel squared-error map as an 8-bit RGB image on one fixed scale for every character
    and model (the square root, so faint errors stay visible), enlarged for display."""
    # Enlarged before colouring: the colour of a pixel depends on that pixel alone, and
    # display.enlarge works on values in [0, 1].
    level = np.sqrt(display.enlarge(errors)) * (len(HEAT_ANCHORS) - 1)
    stops = np.arange(len(HEAT_ANCHORS))
    rgb = np.stack([np.interp(level, stops, HEAT_ANCHORS[:, c]) for c in range(3)], axis=-1)
    return rgb.astype(np.uint8)


def verdict(score: float, threshold: float) -> str:
    """A badge, digit or not, with the score against the threshold (markdown)."""
    if score > threshold:
        return f":red-badge[:material/close: not a digit] score {score:.3g} > threshold {threshold:.3g}"
    return f":green-badge[:material/check: digit] score {score:.3g} ≤ threshold {threshold:.3g}"


def verdict_table(names: list[str], chars: np.ndarray, results: dict[str, engine.AnomalyResult]) -> dict:
    """Column -> values: each character's thumbnail and name, and each model's score and verdict."""
    table = {"Character": [display.data_uri(char) for char in chars], "Name": names}
    for model, label in MODELS.items():
        table[f"{label} score"] = results[model].scores
        table[f"{label} verdict"] = np.where(results[model].is_anomaly, "not a digit", "digit")
    return table


def histogram_figure(scores: dict[str, np.ndarray], threshold: float, label: str) -> go.Figure:
    """Each group's scores as overlaid histograms on one binning, the threshold dashed."""
    high = float(max(values.max() for values in scores.values()))
    bins = {"start": 0.0, "end": high * 1.001, "size": high / 50}  # one binning for every group
    figure = go.Figure()
    for group, values in scores.items():
        figure.add_histogram(
            x=values,
            name=group,
            xbins=bins,
            histnorm="percent",
            opacity=0.6,
            marker_color=GROUP_COLOURS.get(group),
            visible=True if group != "digit-like letters" else "legendonly",  # a click shows them
        )
    figure.add_vline(x=threshold, line_dash="dash", annotation_text="threshold")
    figure.update_layout(
        title=f"{label}: scores of held-out characters",
        barmode="overlay",
        xaxis_title="anomaly score",
        yaxis_title="% of the group",
        legend={"orientation": "h", "y": -0.25},
        height=360,
        margin={"t": 50, "b": 10},
    )
    return figure


def roc_figure(scores: dict[str, np.ndarray], threshold: float, label: str,
               curves: dict[str, engine.RocCurve] | None = None) -> tuple[go.Figure, float, float]:
    """The ROC curve for letters (and, dotted, for digit-like letters) with the chosen threshold
    marked; also returns both AUROCs. `curves`: those of these scores, computed already
    (engine.anomaly_evaluation_rocs), else they are computed here."""
    if curves is None:
        curves = {group: engine.roc(scores["digits"], scores[group]) for group in ("letters", "digit-like letters")}
    letters, alike = curves["letters"], curves["digit-like letters"]
    point_x = float((scores["digits"] > threshold).mean())
    point_y = float((scores["letters"] > threshold).mean())
    figure = go.Figure()
    chance = {"color": "#bbbbbb", "dash": "dash"}
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=chance, name="chance")
    figure.add_scatter(
        x=alike.false_positive_rate,
        y=alike.true_positive_rate,
        mode="lines",
        line={"color": GROUP_COLOURS["digit-like letters"], "dash": "dot"},
        name=f"digit-like letters (AUROC {alike.auroc:.3f})",
    )
    figure.add_scatter(
        x=letters.false_positive_rate,
        y=letters.true_positive_rate,
        mode="lines",
        line={"color": GROUP_COLOURS["letters"]},
        name=f"letters (AUROC {letters.auroc:.3f})",
    )
    figure.add_scatter(
        x=[point_x], y=[point_y], mode="markers", marker={"size": 12, "color": "black"}, name="your threshold"
    )
    figure.update_layout(
        title=f"{label}: ROC, AUROC {letters.auroc:.3f}",
        xaxis={"title": "digits flagged (false-positive rate)", "range": [0, 1]},
        yaxis={"title": "letters flagged (true-positive rate)", "range": [0, 1.02]},
        legend={"orientation": "h", "y": -0.25},
        height=400,
        margin={"t": 50, "b": 10},
    )
    return figure, letters.auroc, alike.auroc


def flagged_note(flagged: float, allowed: float, digits: int) -> str:
    """Why the share of evaluation digits flagged is not the share the slider allows (markdown)."""
    if abs(flagged - allowed) < 0.005:
        compared = "as the slider allows"
    else:
        compared = f"{'more' if flagged > allowed else 'fewer'} than the {allowed:.1%} the slider allows"
    return (f"**{flagged:.1%} of these {digits} digits are flagged, {compared}.** The threshold is set on the "
            "calibration digits above; these are other digits, in fonts that neither the model nor the "
            "calibration saw. The gap shows how well a threshold chosen on one set of digits carries over to new ones.")


def confusion_table(counts: dict[str, int]) -> dict[str, list]:
    """engine.confusion's counts as a two-row table: digits and letters, passed and flagged."""
    return {
        "": ["Digits", "Letters"],
        "Passed as a digit": [counts["digits passed"], counts["letters passed"]],
        "Flagged: not a digit": [counts["digits flagged"], counts["letters flagged"]],
    }


def preselected(names: list[str], prefixes: tuple[str, ...]) -> list[str]:
    """The examples whose names start with one of `prefixes`, in the prefixes' order."""
    return [name for prefix in prefixes for name in names if name.startswith(prefix)]
