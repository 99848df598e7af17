"""What the Semi-supervised learning page decides and draws: which points make each method's
curve, the chart, the table of every point, the example digits and their captions. Plain
numpy and plotly (no streamlit)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

import engine

METHODS = engine.SEMISUPERVISED_METHODS
LIVE = ("encoder", "pca")  # trained in the page without torch: linear heads on ONNX codes
NETWORKS = ("finetuned", "scratch")  # train the encoder itself: torch
SHORT = {"encoder": "Encoder", "finetuned": "Fine-tuned", "scratch": "Scratch", "pca": "PCA"}
# The accuracy metrics' labels: short enough for a quarter of a laptop's page (the full name is in their help).
METRIC_LABELS = {"encoder": "Frozen encoder", "finetuned": "Fine-tuned", "scratch": "From scratch", "pca": "PCA"}
COLOURS = {"encoder": "#3b6fd4", "finetuned": "#59a14f", "scratch": "#e15759", "pca": "#9c755f"}


def curve_points(live: list, recorded: list | None, trained_here: dict, truth: np.ndarray) -> dict[str, dict]:
    """Method -> {"points": [CurvePoint], "source": text}: the probes trained here, the networks
    trained here for the numbers of labels the user asked (one draw, scored against the
    held-out labels `truth`), else the recorded ones."""
    points = {m: {"points": [p for p in live if p.method == m], "source": "trained here"} for m in LIVE}
    for method in NETWORKS:
        here = [engine.CurvePoint(method, k, [run.accuracy(method, truth)]) for k, run in sorted(trained_here.items())]
        if here:
            points[method] = {"points": here, "source": "trained here, first label draw"}
        elif recorded:
            points[method] = {"points": [p for p in recorded if p.method == method],
                              "source": "recorded by `python -m engine eval semisupervised`"}
    return points


def chosen_points(points: dict[str, dict], per_class: int) -> dict[str, object | None]:
    """Method -> its point at `per_class` labels per digit (None where it has none)."""
    return {m: next((p for p in e["points"] if p.per_class == per_class), None) for m, e in points.items()}


def curve_figure(points: dict[str, dict], chosen: int) -> go.Figure:
    """Accuracy against labels per digit (log scale), one line per method with its spread; the
    methods trained here solid, the recorded ones dashed; `chosen` marked."""
    figure = go.Figure()
    for method, entry in points.items():
        shown = entry["points"]
        figure.add_trace(go.Scatter(
            x=[p.per_class for p in shown], y=[100 * p.mean for p in shown],
            error_y={"type": "data", "array": [100 * p.spread for p in shown], "visible": True},
            mode="lines+markers", name=f"{METHODS[method]} ({entry['source'].split(' by ')[0]})",
            line={"color": COLOURS[method], "dash": "solid" if entry["source"].startswith("trained") else "dash"}))
    figure.add_vline(x=chosen, line={"color": "#999", "dash": "dot"})
    figure.update_layout(xaxis={"title": "labels per digit", "type": "log",
                                "tickvals": list(engine.LABELS_PER_DIGIT)},
                         yaxis={"title": "held-out accuracy (%)"}, height=380, margin={"t": 30, "b": 10},
                         legend={"orientation": "h", "y": -0.25})
    return figure


def summary_rows(points: dict[str, dict]) -> list[dict]:
    """One row per point of every curve."""
    return [{"Method": METHODS[m], "Labels per digit": p.per_class, "Accuracy (%)": round(100 * p.mean, 1),
             "± (std, %)": round(100 * p.spread, 1), "Label draws": len(p.accuracies), "Source": e["source"]}
            for m, e in points.items() for p in e["points"]]


def example_indices(count: int, set_number: int, handwritten: np.ndarray) -> np.ndarray:
    """Half from the held-out fonts and half handwritten, a different set for each number."""
    rng = np.random.default_rng(set_number)
    fonts, hand = np.flatnonzero(~handwritten), np.flatnonzero(handwritten)
    return np.concatenate([rng.choice(fonts, count // 2, replace=False),
                           rng.choice(hand, count - count // 2, replace=False)])


def caption(truth: int | None, predictions: dict[str, int]) -> str:
    """Each classifier's guess, marked right or wrong when the true digit is known."""
    marks = " · ".join(f"{SHORT[m]} {p}{'' if truth is None else (' ✓' if p == truth else ' ✗')}"
                       for m, p in predictions.items())
    return marks if truth is None else f"digit {truth}: {marks}"
