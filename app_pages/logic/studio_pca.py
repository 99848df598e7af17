"""The training studio's PCA vs autoencoders tab: its charts, in Vega-Lite through altair (a
browser draws them at once, without WebGL and without plotly's 4.7 MB script), and its tables.

The 3-D views are projected in the browser: each chart's "turn" and "tilt" sliders are Vega-Lite
parameters, and a calculate transform turns the points, so turning them never reruns the page."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

import engine
from app_pages.logic.charts import DIGIT_COLOURS, PLOT_SIZED, legend_pick

SET_COLOURS = {"original points": "#9c9c9c", "PCA's reconstruction": "#3b6fd4",
               "autoencoder's reconstruction": "#f28e2b"}
TURN, TILT = 35, 20          # the 3-D views' opening angles, in degrees
SIDE = 340                   # the 3-D views' plot, in pixels: square (PLOT_SIZED), so that turning keeps their shape
HEIGHT = 400                 # the 2-D charts' height
# Drawn on a canvas: a thousand points or more draw several times faster there than as SVG elements
# (Streamlit chooses a canvas itself only from 2,000 rows, and not for charts that transform their data).
CANVAS = {"embedOptions": {"renderer": "canvas"}}


def colour(field: str, groups: list[str], colours: list[str], title: str | None = None) -> alt.Color:
    return alt.Color(f"{field}:N", title=title, sort=groups, scale=alt.Scale(domain=groups, range=colours),
                     legend=alt.Legend(orient="bottom", symbolOpacity=1, columns=5 if len(groups) > 3 else 1,
                                       labelLimit=0))   # long names one under the other: a phone shows them whole


# --- 3-D, turned in the browser ---------------------------------------------------------------------
# The projection, as Vega expressions of a row's x, y, z (centred) and the turn and tilt parameters:
# across the screen, up it, and towards the viewer (nearer points are drawn over farther ones).
ANGLES = {"a": "turn * PI / 180", "e": "tilt * PI / 180"}


def projection(end: str = "") -> dict[str, str]:
    """The projection of a row's point (`x`, `y`, `z`), or of the other end of a box edge's
    (`x2`, `y2`, `z2` for end="2"), given the ANGLES: fields named with the same ending."""
    x, y, z, deep = (f"datum.{field}{end}" for field in ("x", "y", "z", "deep"))
    return {f"across{end}": f"{x} * cos(datum.a) - {y} * sin(datum.a)",
            f"deep{end}": f"{x} * sin(datum.a) + {y} * cos(datum.a)",
            f"up{end}": f"{deep} * sin(datum.e) + {z} * cos(datum.e)",
            f"near{end}": f"{z} * sin(datum.e) - {deep} * cos(datum.e)"}


PROJECTION = {**ANGLES, **projection()}


def turnable_rows(points: np.ndarray, groups: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Points (n, 3) centred on their mean, with their group; the 12 edges of their bounding box
    (for the eye: a box shows which way it is turned); and the box's half-diagonal, the views'
    half-width (nothing leaves the view however it is turned)."""
    centred = points - points.mean(axis=0)
    low, high = centred.min(axis=0), centred.max(axis=0)
    corners = np.array([[(low, high)[(i >> k) & 1][k] for k in range(3)] for i in range(8)])
    edges = [(i, i | 1 << k) for i in range(8) for k in range(3) if not i >> k & 1]
    box = pd.DataFrame([dict(zip(("x", "y", "z", "x2", "y2", "z2"), (*corners[i], *corners[j]), strict=True))
                        for i, j in edges])
    reach = float(np.linalg.norm(np.maximum(-low, high))) or 1.0
    return pd.DataFrame({"x": centred[:, 0], "y": centred[:, 1], "z": centred[:, 2], "group": groups}), box, reach


def turnable_chart(points: np.ndarray, groups: np.ndarray, order: list[str], colours: list[str], title: str,
                   group_title: str | None = None) -> alt.LayerChart:
    """A 3-D scatter drawn as a 2-D one in its bounding box, projected in the browser for the
    angles of its turn (about the vertical axis) and tilt sliders."""
    data, box, reach = turnable_rows(points, groups)
    turn = alt.param(name="turn", value=TURN, bind=alt.binding_range(min=-180, max=180, step=5, name="turn (°) "))
    tilt = alt.param(name="tilt", value=TILT, bind=alt.binding_range(min=-90, max=90, step=5, name="tilt (°) "))
    pick = legend_pick("group")
    view = alt.Scale(domain=[-reach, reach], nice=False)
    edges = alt.Chart(box).mark_rule(color="#bbbbbb", strokeWidth=1).transform_calculate(
        **PROJECTION, **projection("2")).encode(x=alt.X("across:Q", scale=view, axis=None),
                                                y=alt.Y("up:Q", scale=view, axis=None), x2="across2:Q", y2="up2:Q")
    dots = alt.Chart(data).mark_circle(size=14).transform_calculate(**PROJECTION).encode(
        x=alt.X("across:Q", scale=view, axis=None), y=alt.Y("up:Q", scale=view, axis=None),
        color=colour("group", order, colours, group_title), order=alt.Order("near:Q", sort="ascending"),
        opacity=alt.condition(pick, alt.value(0.75), alt.value(0.04)),
        tooltip=[alt.Tooltip("group:N", title=group_title or "points")],
    ).add_params(pick)
    return alt.layer(edges, dots, title=title).add_params(turn, tilt).properties(
        width=SIDE, height=SIDE, autosize=PLOT_SIZED, usermeta=CANVAS)


# --- The plane and the curved surface -------------------------------------------------------------
def surface_sets(fit: engine.SurfaceFit) -> tuple[tuple[str, np.ndarray], ...]:
    """The points of one surface and both methods' reconstructions: (name, (n, 3))."""
    return (("original points", fit.points), ("PCA's reconstruction", fit.pca_reconstruction),
            ("autoencoder's reconstruction", fit.autoencoder_reconstruction))


def surface_chart(fit: engine.SurfaceFit, title: str) -> alt.Chart:
    """One surface and both reconstructions in 3-D, to turn with the sliders."""
    sets = surface_sets(fit)
    groups = np.concatenate([np.full(len(points), name) for name, points in sets])
    return turnable_chart(np.concatenate([points for _, points in sets]), groups, list(SET_COLOURS),
                          list(SET_COLOURS.values()), title)


def side_view(fit: engine.SurfaceFit) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each set of surface_sets seen edge-on to PCA's plane (the plane through the points' mean
    along their two principal directions): per point, its distance from the mean along that
    plane, and its signed distance from it (positive on the side where the points far from the
    centre lie). PCA's reconstructions lie in its plane, at 0; points on a plane lie there too;
    points on a bowl rise from it as a parabola, which a code that follows the curve keeps."""
    mean = fit.points.mean(axis=0)
    directions = np.linalg.svd(fit.points - mean, full_matrices=False)[2]   # rows: principal directions
    views = {}
    for name, points in surface_sets(fit):
        coords = (points - mean) @ directions.T
        views[name] = (np.hypot(coords[:, 0], coords[:, 1]), coords[:, 2])
    along, off = views["original points"]
    if np.mean((along - along.mean()) * off) < 0:         # the normal's sign is arbitrary: bowls open upwards
        views = {name: (a, -o) for name, (a, o) in views.items()}
    return views


def surface_side_chart(fit: engine.SurfaceFit, title: str) -> alt.Chart:
    """One surface and both reconstructions edge-on to PCA's plane (`side_view`)."""
    views = side_view(fit)
    data = pd.concat([pd.DataFrame({"along": along, "off": off, "group": name}) for name, (along, off) in views.items()])
    pick = legend_pick("group")
    return alt.Chart(data, title=title).mark_circle(size=16).encode(
        x=alt.X("along:Q", title="distance from the centre, along PCA's plane"),
        y=alt.Y("off:Q", title="distance from PCA's plane"),
        color=colour("group", list(SET_COLOURS), list(SET_COLOURS.values())),
        opacity=alt.condition(pick, alt.value(0.6), alt.value(0.04)),
        tooltip=[alt.Tooltip("group:N", title="points"), alt.Tooltip("along:Q", format=".3f"),
                 alt.Tooltip("off:Q", format=".3f")],
    ).add_params(pick).properties(height=HEIGHT, usermeta=CANVAS)


def surface_rows(fits: dict[str, engine.SurfaceFit]) -> list[dict]:
    """Both methods' reconstruction error on each surface, in scientific notation."""
    return [{"Surface": {"plane": "Plane", "curve": "Curved surface"}[name], "PCA MSE": f"{fit.pca_mse:.2e}",
             "Autoencoder MSE": f"{fit.autoencoder_mse:.2e}"} for name, fit in fits.items()]


# --- The digits in 2 or 3 numbers -------------------------------------------------------------------
def projection_chart(points: np.ndarray, labels: np.ndarray, title: str) -> alt.Chart:
    """Digits reduced to 2 or 3 numbers, coloured by the digit they show; in 3-D, to turn."""
    digits = [str(d) for d in range(10)]
    if points.shape[1] == 3:
        return turnable_chart(points, labels.astype(str), digits, DIGIT_COLOURS, title, group_title="digit")
    data = pd.DataFrame({"code 1": points[:, 0], "code 2": points[:, 1], "digit": labels.astype(str)})
    pick = legend_pick("digit")
    return alt.Chart(data, title=title).mark_circle(size=18).encode(
        x=alt.X("code 1:Q"), y=alt.Y("code 2:Q"), color=colour("digit", digits, DIGIT_COLOURS, "digit"),
        opacity=alt.condition(pick, alt.value(0.7), alt.value(0.04)), tooltip=["digit:N"],
    ).add_params(pick).properties(height=HEIGHT, usermeta=CANVAS)


def projection_rows(result: engine.DigitsProjection) -> list[dict]:
    """PCA's and the autoencoder's held-out error and neighbour agreement on the digits."""
    return [{"Method": "PCA", "Held-out MSE": round(result.pca_mse, 4),
             "Neighbour agreement": round(result.pca_neighbour_agreement, 3)},
            {"Method": "Autoencoder", "Held-out MSE": round(result.autoencoder_mse, 4),
             "Neighbour agreement": round(result.autoencoder_neighbour_agreement, 3)}]


# --- The compression lessons ------------------------------------------------------------------------
LESSON_NAMES = {"random": "10 random numbers", "spring": f"the spring, {2 * engine.SPRING_CAMERAS} numbers a frame"}


def explained_chart(fits: dict[str, engine.LessonFit]) -> alt.Chart:
    """PCA's share of the variance on each principal component, for both lessons side by side."""
    names = [LESSON_NAMES.get(name, name) for name in fits]
    data = pd.concat([pd.DataFrame({"component": np.arange(1, len(fit.explained[:10]) + 1), "share": fit.explained[:10],
                                    "data": LESSON_NAMES.get(name, name)}) for name, fit in fits.items()])
    return alt.Chart(data, title="Share of variance per principal component").mark_bar().encode(
        x=alt.X("component:O", title="principal component", axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("data:N", sort=names),
        y=alt.Y("share:Q", title="share of the variance", axis=alt.Axis(format=".0%")),
        color=colour("data", names, ["#9c9c9c", "#3b6fd4"][:len(names)]),
        tooltip=["data:N", "component:O", alt.Tooltip("share:Q", format=".1%")],
    ).properties(height=HEIGHT - 40)


def spring_rows(fit: engine.LessonFit, frames: int = 120) -> pd.DataFrame:
    """The spring's true displacement beside the one number each method found, each scaled to
    unit spread and given the truth's sign, over the first held-out frames."""
    def scaled(values: np.ndarray) -> np.ndarray:
        values = (values - values.mean()) / (values.std() or 1.0)
        return values * np.sign(np.corrcoef(values, fit.truth)[0, 1] or 1.0)

    return pd.concat([pd.DataFrame({"frame": np.arange(min(frames, len(values))), "displacement": scaled(values)[:frames],
                                    "line": name})
                      for name, values in (("true displacement", fit.truth), ("PCA's one number", fit.pca_code[:, 0]),
                                           ("autoencoder's one number", fit.autoencoder_code[:, 0]))])


def spring_chart(fit: engine.LessonFit, frames: int = 120) -> alt.Chart:
    """`spring_rows` as three lines: the truth solid, PCA's dotted, the autoencoder's dashed."""
    lines = ["true displacement", "PCA's one number", "autoencoder's one number"]
    return alt.Chart(spring_rows(fit, frames), title="The spring, found from ten cameras' pictures").mark_line().encode(
        x=alt.X("frame:Q", title="held-out frame"), y=alt.Y("displacement:Q", title="displacement (scaled)"),
        color=colour("line", lines, ["#9c9c9c", "#3b6fd4", "#f28e2b"]),
        strokeDash=alt.StrokeDash("line:N", sort=lines, legend=None,
                                  scale=alt.Scale(domain=lines, range=[[1, 0], [2, 2], [6, 3]])),
        tooltip=["line:N", "frame:Q", alt.Tooltip("displacement:Q", format=".2f")],
    ).properties(height=HEIGHT - 40)


def lesson_rows(fits: dict[str, engine.LessonFit]) -> list[dict]:
    """Each lesson: its code size, the share of the held-out variance each method loses (in
    percent), and for the spring how closely the one number follows the true displacement (as
    text: the random data has none)."""
    names = {"random": "10 random numbers", "spring": f"The spring ({engine.SPRING_CAMERAS} cameras, 2 numbers each)"}
    rows = []
    for name, fit in fits.items():
        follows = {"PCA follows the spring": "—", "Autoencoder follows the spring": "—"} if fit.truth is None else {
            "PCA follows the spring": f"{engine.truth_agreement(fit.pca_code, fit.truth):.4f}",
            "Autoencoder follows the spring": f"{engine.truth_agreement(fit.autoencoder_code, fit.truth):.4f}"}
        rows.append({"Data": names.get(name, name), "Code size": fit.code_size,
                     "PCA loses": 100 * fit.pca_mse / fit.variance,
                     "Autoencoder loses": 100 * fit.autoencoder_mse / fit.variance,
                     **follows})
    return rows
