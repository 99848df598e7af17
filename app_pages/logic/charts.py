"""What the pages' Vega-Lite charts (through altair) share: the digits' colours, the legend that
picks groups, the sizing of a plot that must stay square, and the picture a click on a point picks.
Plain numpy and altair (no streamlit)."""
from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np

DIGIT_COLOURS = [  # Tableau 10, one colour per digit
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
]  # fmt: skip
# Streamlit's theme fits a chart, axes, title and legend included, into its width and height
# (autosize "fit"). A chart whose plot must keep one scale on both axes (circles drawn round, a 3-D
# view turned without stretching) sizes its plot area alone instead: the rest adds to it.
PLOT_SIZED = alt.AutoSizeParams(type="pad")


def legend_pick(field: str, shown_at_first: list[str] | None = None) -> alt.Parameter:
    """A selection bound to the legend (named "shown"): a click shows one group, shift-click adds
    one, a double-click shows all; `shown_at_first` the groups shown before any click (all when None)."""
    value = [{field: group} for group in shown_at_first] if shown_at_first is not None else alt.Undefined
    return alt.selection_point(name="shown", fields=[field], bind="legend", value=value)


def picked(state: Any, name: str, field: str, count: int, latest_first: bool = False) -> int | None:
    """The index a click selected: from a chart's selection state (`{name: [{field: value}, ...]}`),
    the first point (the last one with `latest_first`) whose `field` is a whole number in
    0..count-1; None when there is none."""
    try:
        points = list(state[name] or [])
    except (KeyError, TypeError):
        return None
    for point in reversed(points) if latest_first else points:
        value = point.get(field) if isinstance(point, dict) else None
        if isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and float(value).is_integer():
            if 0 <= value < count:
                return int(value)
    return None
