"""The Training studio's PCA vs autoencoders tab, in three parts (tabs of their own): a plane and a
curved surface rebuilt from 2 numbers; random data beside a spring filmed by ten cameras; the 8x8
digits reduced to 2 or 3 numbers. Each by PCA and by an autoencoder."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

import engine
from app_pages.common import render_open_tab, report
from app_pages.figures import PERCENT_STYLE
from app_pages.logic import studio_pca as logic
from app_pages.logic.studio import NO_TORCH

log = logging.getLogger(__name__)


@st.cache_data(max_entries=8, show_spinner="Fitting PCA and an autoencoder to the points…")
def surfaces(points: int, epochs: int) -> dict[str, engine.SurfaceFit]:
    """PCA and an autoencoder fit to points on a plane and on a curved surface."""
    return engine.training.plane_and_curve(n=points, epochs=epochs)


@st.cache_data(max_entries=2, show_spinner="Fitting PCA and an autoencoder to random data and to the spring…")
def lessons() -> dict[str, engine.LessonFit]:
    """The two compression lessons (precomputed: opening the tab trains nothing)."""
    return engine.training.compression_lessons()


@st.cache_data(max_entries=8, show_spinner="Reducing the 8x8 digits with PCA and an autoencoder…")
def projection(dims: int, epochs: int) -> engine.DigitsProjection:
    """The 8x8 digits reduced to `dims` numbers by PCA and by an autoencoder."""
    return engine.training.digits_projection(dims=dims, epochs=epochs)


# The settings the tab opens on: their results are precomputed (python -m engine train precomputed),
# so opening the tab trains nothing. Other settings train here, on a button.
OPENING = {"pc_points": 500, "pc_epochs": 100, "proj_dims": 2, "proj_epochs": 50}
PRECOMPUTED = {("surfaces", 500, 100), ("projection", 2, 50), ("projection", 3, 50)}
FITTED = "pc_fitted"   # session state: the settings fitted in this session


def fitted_or_asked(kind: str, settings: tuple, label: str) -> bool:
    """Whether results for these settings are at hand (precomputed, or fitted before in this
    session), or the user asks for them now with a button."""
    fitted: set = st.session_state.setdefault(FITTED, set(PRECOMPUTED))
    if (kind, *settings) in fitted:
        return True
    if st.button(label, key=f"{kind}_fit", icon=":material/model_training:"):
        fitted.add((kind, *settings))
        return True
    st.info("These settings train an autoencoder here, for several seconds: press the button to fit it.",
            icon=":material/info:")
    return False


def show_fit(compute: Callable[[], Any], what: str, charts: Callable[[Any], dict], table: Callable[[Any], object]) -> bool:
    """A fit's two charts side by side (`charts`: key -> altair chart) and its table; False after
    saying why not."""
    try:
        result = compute()
    except Exception as error:
        report(error, what, log)
        return False
    figures = charts(result)
    for column, (key, chart) in zip(st.columns(2), figures.items(), strict=True):
        column.altair_chart(chart, key=key, width="content" if chart.width != alt.Undefined else "stretch")
    st.table(table(result), hide_index=True)
    return True


def show_surfaces(points: int, epochs: int, rotate: bool) -> None:
    figure = logic.surface_chart if rotate else logic.surface_side_chart
    if show_fit(lambda: surfaces(points, epochs), "fit the surfaces",
                lambda fits: {"pc_plane": figure(fits["plane"], "Points on a plane"),
                              "pc_curve": figure(fits["curve"], "Points on a curved surface")},
                logic.surface_rows):
        if rotate:
            st.caption("Turn the points with each chart's sliders: about the vertical axis, and towards you or "
                       "away. Nearer points are drawn over farther ones. A click on the legend shows one set "
                       "alone; shift-click adds one, a double-click shows all.")
        else:
            st.caption("Seen edge-on to PCA's plane: across, how far a point is from the centre along the plane; "
                       "up, how far it is from the plane. PCA can only answer with points on its plane (at 0); the "
                       "bowl rises from it as a curve, which the autoencoder's reconstruction follows.")
        st.caption("Reconstruction mean squared error from 2 numbers per point. PCA's error on the plane is "
                   "floating-point rounding: the plane *is* its subspace.")


# The tab's three parts, each a tab of its own of which only the open one runs: opening the tab
# draws the two surfaces, not six charts.
PARTS = ["Plane and curved surface", "Nothing to compress, or one number", "Digits in 2 or 3 numbers"]


def pca_tab() -> None:
    """The PCA vs autoencoders tab."""
    st.markdown(
        "PCA finds the flat subspace that keeps the most variance; an autoencoder with nonlinear layers can "
        "learn a curved one. Three experiments, each in its own tab: points on a plane and on a curved "
        "surface, data with nothing to compress beside data whose story is one number, and handwritten "
        "digits squeezed into 2 or 3 numbers."
    )
    st.latex(r"\text{PCA: } \min_{W^{\top} W = I} \sum_i \big\lVert x_i - \mu - W W^{\top}(x_i - \mu)\big\rVert^2"
             r"\qquad \text{autoencoder: } \min_{f, g} \sum_i \big\lVert x_i - g(f(x_i))\big\rVert^2")
    if not engine.training.available():
        st.info(NO_TORCH, icon=":material/info:")
        return
    # Set before the widgets (not as their value): what the user or a test put in the session wins.
    for key, default in OPENING.items():
        st.session_state.setdefault(key, default)
    render_open_tab(PARTS, {PARTS[0]: (surfaces_part, "fit the surfaces"),
                            PARTS[1]: (lessons_part, "fit the two lessons"),
                            PARTS[2]: (digits_part, "reduce the digits")}, key="pca_part", log=log)


def surfaces_part() -> None:
    """A plane and a curved bowl, each rebuilt from 2 numbers by PCA and by an autoencoder."""
    st.markdown(
        "On points that lie on a plane both methods should rebuild them from 2 numbers, PCA exactly; on points "
        "on a curved bowl PCA must flatten them, while the autoencoder "
        "($3 \\to 32 \\to 32 \\to 2 \\to 32 \\to 32 \\to 3$) can follow the curve."
    )
    points_col, epochs_col, view_col = st.columns([2, 2, 1])
    points = points_col.slider("Points per surface", 200, 2000, step=100, key="pc_points",
                               bind="query-params", persist_state="session")
    epochs = epochs_col.slider("Autoencoder epochs", 10, 300, step=10, key="pc_epochs",
                               bind="query-params", persist_state="session")
    rotate = view_col.toggle("Rotate in 3-D", key="pc_rotate", bind="query-params", persist_state="session",
                             help="The points in 3-D, to turn with sliders under each chart.")
    if fitted_or_asked("surfaces", (points, epochs), "Fit the surfaces"):
        show_surfaces(points, epochs, rotate)


def lessons_part() -> None:
    """Random data, where neither method can compress, and the spring filmed by ten cameras,
    where one number is the whole story."""
    st.markdown(
        "Compression needs structure. **Random data**: 10 independent random numbers per point, squeezed into 2. "
        "No direction holds more variance than another, so PCA keeps about 2/10 of it, and an autoencoder can do "
        "no better. **The spring filmed by ten cameras**: a mass bounces on a spring, and ten cameras, each from its "
        "own angle, record where it is in their picture: 20 numbers a frame, with a little noise. The motion is one "
        "number (how far the spring is stretched), and a code of one number finds it.")
    fits = lessons()   # an error: render_open_tab reports it in this part's tab
    left, right = st.columns(2)
    left.altair_chart(logic.explained_chart(fits), key="lessons_explained")
    right.altair_chart(logic.spring_chart(fits["spring"]), key="lessons_spring")
    st.table(pd.DataFrame(logic.lesson_rows(fits)).style.format(
        {"PCA loses": PERCENT_STYLE, "Autoencoder loses": PERCENT_STYLE}), hide_index=True)
    st.caption("Loses: the share of the held-out points' variance missing from their reconstructions. Follows: "
               "the correlation (its size) between the one-number code and the spring's true displacement; 1 is exact.")


@st.fragment
def digits_part() -> None:
    """The 8x8 digits in 2 or 3 numbers: a fragment, so that its settings redraw only its charts."""
    st.markdown("scikit-learn's 8x8 digits (64 numbers each), reduced by PCA and by a stacked autoencoder "
                "($64 \\to 128 \\to 64 \\to$ code) fit on the training digits, coloured by the digit they show. "
                "Neighbour agreement is the share of digits whose nearest neighbour in the code shows the "
                "same digit.")
    dims_col, epochs_col = st.columns(2)
    dims = dims_col.radio("Dimensions", (2, 3), horizontal=True, key="proj_dims", bind="query-params", persist_state="session")
    proj_epochs = epochs_col.slider("Autoencoder epochs", 5, 200, step=5, key="proj_epochs", bind="query-params",
                                    persist_state="session")
    if not fitted_or_asked("projection", (dims, proj_epochs), "Reduce the digits"):
        return
    show_fit(lambda: projection(dims, proj_epochs), "reduce the digits",
             lambda result: {"proj_pca": logic.projection_chart(result.pca, result.labels, "PCA"),
                             "proj_ae": logic.projection_chart(result.autoencoder, result.labels, "Autoencoder")},
             logic.projection_rows)
