"""What the Anomaly detection page decides and draws: the error heat map, verdicts, the table of
characters, the evaluation charts and counts. Plain numpy and plotly (no streamlit)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

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


MODEL_COLOURS = {"Autoencoder": "#2a9d8f", "PCA": "#7b4fa0"}   # each model's curves on the shared ROC chart


def histogram_figure(scores: dict[str, dict[str, np.ndarray]], thresholds: dict[str, float]) -> go.Figure:
    """One panel per model (`scores`: model label -> group -> scores): each group's scores as
    overlaid histograms on one binning per panel, the model's threshold dashed. One legend: a
    click on a group shows or hides it in every panel."""
    figure = make_subplots(rows=1, cols=len(scores), subplot_titles=list(scores), shared_yaxes=True,
                           horizontal_spacing=0.06)
    for column, (label, groups) in enumerate(scores.items(), start=1):
        high = float(max(values.max() for values in groups.values()))
        bins = {"start": 0.0, "end": high * 1.001, "size": high / 50}  # one binning for every group
        for group, values in groups.items():
            figure.add_histogram(
                x=values, name=group, legendgroup=group, showlegend=column == 1, xbins=bins, histnorm="percent",
                opacity=0.6, marker_color=GROUP_COLOURS.get(group),
                visible=True if group != "digit-like letters" else "legendonly",  # a click shows them
                row=1, col=column,
            )
        figure.add_vline(x=thresholds[label], line_dash="dash", annotation_text="threshold", row=1, col=column)
        figure.update_xaxes(title_text="anomaly score", row=1, col=column)
    figure.update_yaxes(title_text="% of the group", row=1, col=1)
    figure.update_layout(title="Scores of held-out characters", barmode="overlay",
                         legend={"orientation": "h", "y": -0.25}, height=380, margin={"t": 70, "b": 10})
    return figure


def roc_figure(scores: dict[str, dict[str, np.ndarray]], thresholds: dict[str, float],
               curves: dict[str, dict[str, engine.RocCurve]] | None = None,
               ) -> tuple[go.Figure, dict[str, tuple[float, float]]]:
    """Every model's ROC curve for letters (and, dotted, for digit-like letters) on one chart,
    each with its threshold marked; also returns each model's two AUROCs. `curves`: model label
    -> those of its scores, computed already (engine.anomaly_evaluation_rocs), else computed here."""
    figure = go.Figure()
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"color": "#bbbbbb", "dash": "dash"}, name="chance")
    aurocs = {}
    for label, groups in scores.items():
        mine = (curves or {}).get(label) or {
            group: engine.roc(groups["digits"], groups[group]) for group in ("letters", "digit-like letters")}
        letters, alike = mine["letters"], mine["digit-like letters"]
        colour = MODEL_COLOURS.get(label)
        figure.add_scatter(x=alike.false_positive_rate, y=alike.true_positive_rate, mode="lines",
                           line={"color": colour, "dash": "dot"}, name=f"{label}, digit-like letters ({alike.auroc:.3f})")
        figure.add_scatter(x=letters.false_positive_rate, y=letters.true_positive_rate, mode="lines",
                           line={"color": colour}, name=f"{label}, letters (AUROC {letters.auroc:.3f})")
        figure.add_scatter(x=[float((groups["digits"] > thresholds[label]).mean())],
                           y=[float((groups["letters"] > thresholds[label]).mean())], mode="markers",
                           marker={"size": 12, "color": colour, "line": {"color": "black", "width": 1}},
                           name=f"{label}, your threshold")
        aurocs[label] = (letters.auroc, alike.auroc)
    figure.update_layout(
        title="ROC: " + ", ".join(f"{label} AUROC {auroc:.3f}" for label, (auroc, _) in aurocs.items()),
        xaxis={"title": "digits flagged (false-positive rate)", "range": [0, 1]},
        yaxis={"title": "letters flagged (true-positive rate)", "range": [0, 1.02]},
        legend={"orientation": "h", "y": -0.25}, height=440, margin={"t": 50, "b": 10},
    )
    return figure, aurocs


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
