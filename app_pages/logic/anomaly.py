"""What the Anomaly detection page decides and draws: the error heat map, verdicts, the table of
characters, the evaluation charts and counts. Plain numpy, pandas and altair (no streamlit)."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

import engine
from app_pages import display
from app_pages.logic.charts import legend_pick

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


HISTOGRAM_BINS = 50
SHOWN_AT_FIRST = ("digits", "letters")   # digit-like letters start faint: a click on the legend shows them


def histogram_rows(scores: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    """The histograms, binned here (a few hundred rows for the browser, not every score): per model
    (`scores`: model label -> group -> scores) one binning for every group, and each bin's share of
    its group in percent."""
    rows = []
    for label, groups in scores.items():
        edges = np.linspace(0.0, float(max(values.max() for values in groups.values())) * 1.001, HISTOGRAM_BINS + 1)
        for group, values in groups.items():
            share = np.histogram(values, edges)[0] / max(len(values), 1) * 100
            rows += [{"model": label, "group": group, "low": low, "high": high, "percent": percent}
                     for low, high, percent in zip(edges[:-1], edges[1:], share, strict=True)]
    return pd.DataFrame(rows)


def histogram_charts(scores: dict[str, dict[str, np.ndarray]], thresholds: dict[str, float]) -> dict[str, alt.LayerChart]:
    """A chart per model: each group's share of scores per bin, overlaid, and the model's threshold
    dashed. Vega-Lite, not plotly: the tab opens without loading plotly in the browser. Each takes
    its column's width (a phone shows them one under the other). A click on a group in the legend
    shows it alone, shift-click adds one, a double-click on the chart shows every group; digit-like
    letters start faint."""
    data = histogram_rows(scores)
    groups = [group for group in GROUP_COLOURS if group in set(data["group"])]
    charts = {}
    for label in scores:
        pick = legend_pick("group", [group for group in SHOWN_AT_FIRST if group in groups])
        bars = alt.Chart(data[data["model"] == label]).mark_rect().properties(name="bars").encode(
            x=alt.X("low:Q", title="anomaly score"), x2="high:Q",
            y=alt.Y("percent:Q", title="% of the group", stack=None),
            color=alt.Color("group:N", title=None, legend=alt.Legend(orient="bottom"),
                            scale=alt.Scale(domain=groups, range=[GROUP_COLOURS[group] for group in groups])),
            opacity=alt.condition(pick, alt.value(0.6), alt.value(0.08)),
            tooltip=[alt.Tooltip("group:N"), alt.Tooltip("low:Q", title="from", format=".3g"),
                     alt.Tooltip("high:Q", title="to", format=".3g"), alt.Tooltip("percent:Q", title="%", format=".1f")],
        ).add_params(pick)
        rule = alt.Chart(pd.DataFrame({"threshold": [thresholds[label]]})).mark_rule(strokeDash=[6, 4], color="black").encode(
            x="threshold:Q", tooltip=[alt.Tooltip("threshold:Q", format=".4g")])
        charts[label] = alt.layer(bars, rule).properties(title=f"{label}: scores of held-out characters")
    return charts


def roc_rows(scores: dict[str, dict[str, np.ndarray]], thresholds: dict[str, float],
             curves: dict[str, dict[str, engine.RocCurve]] | None = None,
             ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, tuple[float, float]]]:
    """Every model's ROC curves for letters and for digit-like letters (one row a point), each
    model's threshold as a point (the share of digits and of letters it flags), and each model's
    two AUROCs. `curves`: model label -> those of its scores, computed already
    (engine.anomaly_evaluation_rocs), else computed here."""
    lines, points, aurocs = [], [], {}
    for label, groups in scores.items():
        mine = (curves or {}).get(label) or {
            group: engine.roc(groups["digits"], groups[group]) for group in ("letters", "digit-like letters")}
        for group in ("letters", "digit-like letters"):
            curve = mine[group]
            lines += [{"model": label, "curve": group, "digits flagged": float(x), "letters flagged": float(y),
                       "AUROC": curve.auroc} for x, y in zip(curve.false_positive_rate, curve.true_positive_rate, strict=True)]
        points.append({"model": label, "digits flagged": float((groups["digits"] > thresholds[label]).mean()),
                       "letters flagged": float((groups["letters"] > thresholds[label]).mean()),
                       "threshold": thresholds[label]})
        aurocs[label] = (mine["letters"].auroc, mine["digit-like letters"].auroc)
    return pd.DataFrame(lines), pd.DataFrame(points), aurocs


def roc_chart(scores: dict[str, dict[str, np.ndarray]], thresholds: dict[str, float],
              curves: dict[str, dict[str, engine.RocCurve]] | None = None,
              ) -> tuple[alt.LayerChart, dict[str, tuple[float, float]]]:
    """Every model's ROC curve for letters (and, dotted, for digit-like letters) on one chart,
    each with its threshold marked; also returns each model's two AUROCs (see roc_rows)."""
    lines, points, aurocs = roc_rows(scores, thresholds, curves)
    models = list(scores)
    colour = alt.Color("model:N", title=None, legend=alt.Legend(orient="bottom"),
                       scale=alt.Scale(domain=models, range=[MODEL_COLOURS.get(m, "#444444") for m in models]))
    x = alt.X("digits flagged:Q", title="digits flagged (false-positive rate)", scale=alt.Scale(domain=[0, 1]))
    y = alt.Y("letters flagged:Q", title="letters flagged (true-positive rate)", scale=alt.Scale(domain=[0, 1]))
    chance = alt.Chart(pd.DataFrame({"digits flagged": [0.0, 1.0], "letters flagged": [0.0, 1.0]})).mark_line(
        color="#bbbbbb", strokeDash=[4, 4]).encode(x=x, y=y)
    curve_lines = alt.Chart(lines).mark_line().encode(
        x=x, y=y, color=colour,
        strokeDash=alt.StrokeDash("curve:N", title=None, legend=alt.Legend(orient="bottom"),
                                  scale=alt.Scale(domain=["letters", "digit-like letters"], range=[[1, 0], [2, 3]])),
        detail="curve:N", tooltip=["model:N", "curve:N", alt.Tooltip("AUROC:Q", format=".3f")])
    dots = alt.Chart(points).mark_point(size=140, filled=True, stroke="black", strokeWidth=1, opacity=1).encode(
        x=x, y=y, color=colour, tooltip=["model:N", alt.Tooltip("threshold:Q", format=".4g"),
                                         alt.Tooltip("digits flagged:Q", format=".1%"),
                                         alt.Tooltip("letters flagged:Q", format=".1%")])
    title = "ROC: " + ", ".join(f"{label} AUROC {auroc:.3f}" for label, (auroc, _) in aurocs.items())
    return alt.layer(chance, curve_lines, dots).properties(title=title), aurocs


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
