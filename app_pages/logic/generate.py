"""What the VAE generation page decides: the models it offers, which digit a click on the map
picks, captions and stories made of the measurements, and its Vega-Lite charts. Plain numpy, pandas
and altair (no streamlit), so tests import it like any module."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

import engine
from app_pages import display
from app_pages.logic.charts import DIGIT_COLOURS, PLOT_SIZED, legend_pick, picked

MODEL_LABELS = {**engine.VAE_MODELS, **engine.FASHION_VAE_MODELS, **engine.AAE_MODELS}
UNCONDITIONAL = [name for name in engine.VAE_MODELS if name != engine.CONDITIONAL_VAE]
TWO_D = "vae_2d"  # the 2-number model: its latent space is the map itself
BETA_MODELS = {engine.DEFAULT_VAE: "β = 1", "vae_beta4": "β = 4"}  # same code size and network
TABS = ["Sample", "Interpolate", "Walk", "Map", "Choose a digit", "Your digit & beta", "Adversarial AE"]
AAE_PAIRS = {"16": ("vae", "aae"), "2": ("vae_2d", "aae_2d")}  # code size -> (VAE, adversarial autoencoder)
PRIOR_LABELS = {  # engine.PRIORS -> what the sample tab calls them
    "learned": "Learned prior (a mixture fitted to the training codes)",
    "standard": "N(0, I), the prior the VAE was trained towards",
}


@dataclass(frozen=True)
class Family:
    """What the page draws: digits, or clothing (Fashion-MNIST); its models, its judge, the names
    of the judge's classes and the words for one picture."""
    key: str
    title: str
    noun: str  # one picture: "digit" or "garment"
    kind: str  # one of the judge's classes: "digit" or "kind"
    unconditional: tuple[str, ...]  # models to sample, interpolate and map, the default first
    two_d: str
    conditional: str
    judge: str
    classes: tuple[str, ...]
    tabs: tuple[str, ...]
    ends: tuple[str, str]  # the built-in pictures an interpolation starts from and ends at

    @property
    def default(self) -> str:
        return self.unconditional[0]

    def name(self, label: int) -> str:
        """What the judge's class `label` is called: the digit, or the kind of clothing."""
        return self.classes[int(label)]


DIGITS = Family("digits", "Digits", "digit", "digit", tuple(UNCONDITIONAL), TWO_D, engine.CONDITIONAL_VAE,
                "digit_classifier", tuple(str(d) for d in range(10)), tuple(TABS), ("Built-in 3", "Built-in 7"))
CLOTHES = Family("clothes", "Clothes (Fashion-MNIST)", "garment", "kind", ("fashion_vae", "fashion_vae_2d"), "fashion_vae_2d",
                 "fashion_cvae", engine.FASHION_JUDGE, engine.FASHION_CLASSES,
                 ("Sample", "Interpolate", "Walk", "Map", "Choose a kind"), ("Built-in Sneaker", "Built-in Ankle boot"))
FAMILIES = {family.key: family for family in (DIGITS, CLOTHES)}


def widget_key(family: Family, name: str) -> str:
    """A widget's key for this family's models: the digits' as it always was, the clothes' apart,
    so that switching between them keeps each one's choices."""
    return name if family is DIGITS else f"{name}_{family.key}"


def family_of(model: str) -> Family:
    """The family whose pictures a model draws."""
    return CLOTHES if model in engine.FASHION_VAE_MODELS else DIGITS
UPLOAD_TABS = ("Interpolate", "Walk", "Your digit & beta")  # the tabs where uploads can be picked
CONFIDENT = 0.9  # the judge's probability above which engine.judge_samples counts a sample confident
HELD_OUT = 1000  # held-out digits on the map
ELBO_DIGITS = 300  # held-out digits the beta comparison is measured on (the map's first 300)
METHOD_LABELS = {"linear": "Linear (a straight line)", "spherical": "Spherical (slerp, along the arc)"}
SLIDER_LIMIT = 4.0  # the walk's sliders span the prior's -4..4 standard deviations
# The page's cached model calls, as its tab renderers are handed them
Encode = Callable[[np.ndarray, str], tuple[np.ndarray, np.ndarray]]  # (characters, model) -> mean, log-variance
Decode = Callable[[np.ndarray, str], np.ndarray]  # (codes, model) -> characters
BETA_COLUMNS = {  # the beta table's column -> (report entry, number format)
    "Reconstruction (nats)": ("reconstruction", "%.1f"),
    "KL (nats)": ("kl", "%.1f"),
    "−ELBO (nats)": ("negative_elbo", "%.1f"),
    "Sharpness (rebuilt)": ("rebuilt_sharpness", "%.3f"),
    "Sharpness (samples)": ("sample_sharpness", "%.3f"),
    "Samples judged sure": ("confident", "percent"),
    "Path roughness": ("roughness", "%.2f"),
}


# --- Data ------------------------------------------------------------------------------------
def first_of_each_digit(images: list[np.ndarray] | np.ndarray, labels: np.ndarray,
                        classes: tuple[str, ...] = DIGITS.classes) -> dict[str, np.ndarray]:
    """The first image of each class found among `labels` (strings: the digits, or the kinds of
    clothing of `classes`), named "Built-in <class>"."""
    found = {}
    for name in classes:
        where = np.flatnonzero(labels == name)
        if where.size:
            found[f"Built-in {name}"] = images[int(where[0])]
    return found


def unique_names(file_names: list[str], taken: set[str]) -> list[str]:
    """The names uploads go by in the pickers: file names, made unique among themselves and
    against the `taken` names (a copy becomes "name (2)", "name (3)", ...)."""
    taken = set(taken)
    names = []
    for file_name in file_names:
        name, copy = file_name, 1
        while name in taken:
            copy += 1
            name = f"{file_name} ({copy})"
        taken.add(name)
        names.append(name)
    return names


def manifold_picture(cells: np.ndarray, size: int) -> np.ndarray:
    """The decoded cells of a size x size grid (size * size, 28, 28), row by row, as one picture."""
    return cells.reshape(size, size, 28, 28).transpose(0, 2, 1, 3).reshape(size * 28, size * 28)


def project_2d(codes: np.ndarray) -> tuple[np.ndarray, float | None]:
    """Codes in 2-D: as they are when they have two numbers, else their first two principal
    components; with the share of variance the projection keeps (None when nothing is projected).

    The same numbers as scikit-learn's PCA(n_components=2) on many more codes than numbers
    (its covariance solver, and its sign rule: each component's largest entry is positive).
    """
    if codes.shape[1] == 2:
        return codes, None
    mean = codes.mean(axis=0)
    covariance = codes.T @ codes - len(codes) * np.outer(mean, mean)
    covariance /= len(codes) - 1
    variances, vectors = np.linalg.eigh(covariance)
    variances, vectors = np.clip(variances[::-1], 0.0, None), vectors[:, ::-1]
    components = vectors[:, :2].T
    components *= np.sign(components[np.arange(2), np.abs(components).argmax(axis=1)])[:, None]
    return (codes - mean) @ components.T, float(variances[:2].sum() / variances.sum())


def members_by_digit(labels: np.ndarray, classes: int = 10) -> list[np.ndarray]:
    """For each class (digit 0-9), the indices of the pictures (int `labels`) of that class."""
    return [np.flatnonzero(labels == digit) for digit in range(classes)]


def slider_values(code: np.ndarray) -> list[float]:
    """A code as the walk's slider values: within the sliders' range, to their 0.01."""
    return [round(float(np.clip(value, -SLIDER_LIMIT, SLIDER_LIMIT)), 2) for value in code]


# --- Words -----------------------------------------------------------------------------------
def verdict(index: int, predicted: int, confidence: float, family: Family = DIGITS) -> str:
    """A sample's caption: its number, the judge's class and confidence ('?' when unsure)."""
    unsure = "" if confidence > CONFIDENT else "?"
    return f"#{index + 1}: {family.name(predicted)}{unsure} · {confidence:.0%}"


def verdicts(predicted: np.ndarray, confidence: np.ndarray, family: Family = DIGITS) -> list[str]:
    """Every sample's caption, in order."""
    return [verdict(i, p, c, family) for i, (p, c) in enumerate(zip(predicted, confidence))]


def confident_share(confidence: np.ndarray) -> str:
    """The share of samples the judge is sure of, as a percentage."""
    return f"{(confidence > CONFIDENT).mean():.0%}"


def sample_file_name(model: str, seed: int, temperature: float, what: str, prior: str = "standard") -> str:
    """A download's file name: the settings that drew it, then what it holds."""
    learned = "_learned" if prior == "learned" else ""
    return f"{model}{learned}_seed{seed}_t{temperature:.1f}_{what}.png"


def why_two_paths(size: int) -> str:
    """Why the interpolation shows a straight and a spherical path, for a code of `size` numbers."""
    return (
        f"Why two paths? In {size} dimensions almost all of the prior's samples lie near a "
        f"sphere of radius about $\\sqrt{{{size}}} \\approx {np.sqrt(size):.1f}$, and the codes the "
        "decoder knows lie on a shell too. A straight line between two codes cuts inside it, "
        "through shorter codes the decoder saw less of. Spherical interpolation follows the arc "
        "between the two directions, $\\omega$ being the angle between the codes $a$ and $b$, "
        "and keeps the length between the two ends' lengths:"
    )


def beta_story(low: dict[str, float], high: dict[str, float]) -> str:
    """What the measurements of the beta-1 (`low`) and beta-4 (`high`) models say, in words
    that follow the numbers whichever way they go."""

    def word(value: float, than: float, bigger: str, smaller: str) -> str:
        return bigger if value > than else smaller

    better = "1" if low["negative_elbo"] < high["negative_elbo"] else "4"
    return (
        f"Here $\\beta = 4$ {word(high['kl'], low['kl'], 'raises', 'lowers')} the KL from "
        f"{low['kl']:.1f} to {high['kl']:.1f} nats and "
        f"{word(high['reconstruction'], low['reconstruction'], 'raises', 'lowers')} the reconstruction "
        f"term from {low['reconstruction']:.1f} to {high['reconstruction']:.1f}; its reconstructions "
        f"are {word(high['rebuilt_sharpness'], low['rebuilt_sharpness'], 'sharper', 'blurrier')} "
        f"(sharpness {high['rebuilt_sharpness']:.3f} against {low['rebuilt_sharpness']:.3f}). Its "
        f"latent paths measure {word(high['roughness'], low['roughness'], 'rougher', 'smoother')} "
        f"({high['roughness']:.2f} against {low['roughness']:.2f}, 1 being perfectly smooth): the "
        "roughness takes the largest single jump along a path, relative to the change from end to "
        "end, so it rewards even morphs, not a tidy map. By the ELBO, which weighs the KL by 1 for "
        f"both, $\\beta = {better}$ explains held-out digits better "
        f"({min(low['negative_elbo'], high['negative_elbo']):.1f} against "
        f"{max(low['negative_elbo'], high['negative_elbo']):.1f} nats)."
    )


def beta_table(reports: dict[str, dict[str, float]]) -> dict[str, list]:
    """The beta comparison as table columns, one row per model of BETA_MODELS."""
    return {"Model": list(BETA_MODELS.values())} | {
        column: [reports[model][entry] for model in BETA_MODELS] for column, (entry, _) in BETA_COLUMNS.items()
    }


# --- Charts (Vega-Lite, through altair: the page loads no plotly) ----------------------------
MAP_PICK = "picked"  # the map's selection of a clicked point: its pictures' indices
SQUARE = 280  # px: the plot of a chart whose axes keep one scale (circles drawn round); with its axes 340 px, for a phone


def shares_chart(predicted: np.ndarray, family: Family = DIGITS) -> alt.Chart:
    """The share of samples the judge reads as each class."""
    classes = list(family.classes)
    shares = np.bincount(predicted, minlength=len(classes)) / len(predicted)
    rows = pd.DataFrame({family.kind: classes, "share": shares})
    return alt.Chart(rows, title=f"Which {family.kind}s the judge sees").mark_bar(color="#3b6fd4").encode(
        x=alt.X(f"{family.kind}:N", sort=classes, axis=alt.Axis(labelAngle=0 if family is DIGITS else -40)),
        y=alt.Y("share:Q", title="share of samples", axis=alt.Axis(format=".0%")),
        tooltip=[f"{family.kind}:N", alt.Tooltip("share:Q", format=".0%")],
    ).properties(height=240)


def lengths_chart(lengths: dict[str, np.ndarray], steps: int) -> alt.Chart:
    """The code's length along each interpolation path (path label -> lengths at its steps)."""
    rows = pd.DataFrame([{"t": t, "‖z‖": float(value), "path": label}
                         for label, length in lengths.items() for t, value in zip(np.linspace(0, 1, steps), length)])
    return alt.Chart(rows, title="Length of the code along each path").mark_line(point=True).encode(
        x=alt.X("t:Q", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("‖z‖:Q", scale=alt.Scale(zero=False)),
        color=alt.Color("path:N", title=None, sort=list(lengths), legend=alt.Legend(orient="bottom", columns=1, labelLimit=0)),
        tooltip=["path:N", alt.Tooltip("t:Q", format=".2f"), alt.Tooltip("‖z‖:Q", format=".2f")],
    ).properties(height=280)


def manifold_chart(picture: np.ndarray, values: np.ndarray, side: int = 480) -> alt.Chart:
    """The 2-number model's decoded grid, `side` px square, on axes of z1 and z2 (`values`: the grid's
    values, left to right and bottom to top, spaced by the prior's quantiles, not evenly): each cell's
    tick at its centre, labelled with its value."""
    size = len(values)
    every = 1 if size <= 15 else 2
    labels = json.dumps([f"{value:.1f}" for value in values])
    rows = pd.DataFrame({"z1": [size / 2], "z2": [size / 2], "url": [display.data_uri(picture)]})

    def axis(name: str) -> alt.X | alt.Y:
        channel = alt.X if name == "z1" else alt.Y
        return channel(f"{name}:Q", scale=alt.Scale(domain=[0, size], nice=False, zero=False),
                       axis=alt.Axis(grid=False, values=[index + 0.5 for index in range(0, size, every)],
                                     labelExpr=f"{labels}[floor(datum.value)]"))

    return alt.Chart(rows).mark_image(width=side, height=side, aspect=False, align="center", baseline="middle").encode(
        x=axis("z1"), y=axis("z2"), url="url:N").properties(width=side, height=side, autosize=PLOT_SIZED)


def _code_rows(points: np.ndarray, members: list[np.ndarray], family: Family) -> pd.DataFrame:
    """One row per picture: its place on the map, its index and its class's name."""
    labels = np.empty(len(points), dtype=object)
    for digit, member in enumerate(members):
        labels[member] = family.name(digit)
    return pd.DataFrame({"x": points[:, 0], "y": points[:, 1], "index": np.arange(len(points)), family.kind: labels})


def _code_points(rows: pd.DataFrame, family: Family, axes: tuple[str, str], domain: list[float] | None,
                 legend: alt.Legend | None) -> alt.Chart:
    """The codes as points coloured by class; a click on a class in the legend shows it alone."""
    classes = [family.name(digit) for digit in range(len(family.classes))]
    scale = alt.Scale(domain=domain, nice=False, zero=False) if domain else alt.Scale(zero=False)
    shown = legend_pick(family.kind)
    return alt.Chart(rows).mark_circle(size=36).encode(
        x=alt.X("x:Q", title=axes[0], scale=scale),
        y=alt.Y("y:Q", title=axes[1], scale=scale),
        color=alt.Color(f"{family.kind}:N", sort=classes, legend=legend,
                        scale=alt.Scale(domain=classes, range=DIGIT_COLOURS[:len(classes)])),
        opacity=alt.condition(shown, alt.value(0.75), alt.value(0.05)),
        tooltip=[f"{family.kind}:N", alt.Tooltip("index:Q", title="#")],
    ).add_params(shown)


def map_chart(points: np.ndarray, members: list[np.ndarray], projected: bool, family: Family = DIGITS) -> alt.Chart:
    """Held-out pictures placed by their 2-D codes, coloured by class (`members[class]`: its pictures'
    indices). A click on a point selects its index (the MAP_PICK selection) and rings it; the wheel
    zooms, a drag pans and a double-click shows the whole map; PCA axes when `projected`."""
    rows = _code_rows(points, members, family)
    pick = alt.selection_point(name=MAP_PICK, fields=["index"], on="click", clear=False)
    zoom = alt.selection_interval(name="zoom", bind="scales")
    axes = ("PCA 1", "PCA 2") if projected else ("z1", "z2")
    legend = alt.Legend(orient="right", title=family.kind, symbolOpacity=1, labelLimit=0)
    picked = alt.param(MAP_PICK, empty=False)   # the clicked point, ringed (none before a click)
    return _code_points(rows, family, axes, None, legend).encode(
        size=alt.condition(picked, alt.value(160), alt.value(36)),
        stroke=alt.condition(picked, alt.value("black"), alt.value(None)),
        strokeWidth=alt.value(2),
    ).add_params(pick, zoom).properties(height=520)


def selected_point(selection: Any, count: int) -> int | None:
    """The held-out picture (0..count-1) a click on the map picked, from the chart's selection
    state (`{MAP_PICK: [{"index": i}, ...]}`); None when nothing usable is selected."""
    return picked(selection, MAP_PICK, "index", count, latest_first=True)


def prior_map_chart(points: np.ndarray, members: list[np.ndarray], title: str) -> alt.LayerChart:
    """Held-out codes of a 2-number model over the prior, square: dashed circles where N(0, I)
    holds 39% and 86% of its mass (radius 1 and 2), the same axes for every model."""
    limit = max(3.0, float(np.abs(points).max()) * 1.05) if len(points) else 3.0
    angles = np.linspace(0, 2 * np.pi, 73)
    circles = pd.DataFrame([{"x": radius * np.cos(a), "y": radius * np.sin(a), "radius": radius, "order": i}
                            for radius in (1, 2) for i, a in enumerate(angles)])
    scale = alt.Scale(domain=[-limit, limit], nice=False, zero=False)
    rings = alt.Chart(circles).mark_line(color="#555555", strokeDash=[5, 4], strokeWidth=1).encode(
        x=alt.X("x:Q", scale=scale), y=alt.Y("y:Q", scale=scale), detail="radius:N", order="order:Q")
    dots = _code_points(_code_rows(points, members, DIGITS), DIGITS, ("z1", "z2"), [-limit, limit],
                        alt.Legend(orient="bottom", columns=5, title=None, symbolOpacity=1))
    return alt.layer(dots, rings, title=title).properties(width=SQUARE, height=SQUARE, autosize=PLOT_SIZED)


def radius_chart(radii: dict[str, np.ndarray], size: int, bins: int = 40) -> alt.LayerChart:
    """How far from the centre codes lie (`radii`: a name -> the length of each code), as densities
    on shared bins, beside the prior's own: in `size` dimensions N(0, I) puts almost every sample
    near sqrt(size), the dashed line."""
    edges = np.histogram_bin_edges(np.concatenate(list(radii.values())), bins=bins)
    rows = pd.DataFrame([{"codes": name, "low": low, "high": high, "density": density}
                         for name, values in radii.items()
                         for low, high, density in zip(edges[:-1], edges[1:], np.histogram(values, edges, density=True)[0])])
    bars = alt.Chart(rows).mark_rect(opacity=0.55).encode(
        x=alt.X("low:Q", title="‖z‖"), x2="high:Q", y=alt.Y("density:Q", stack=None),
        color=alt.Color("codes:N", title=None, sort=list(radii), legend=alt.Legend(orient="bottom", labelLimit=0)),
        tooltip=["codes:N", alt.Tooltip("low:Q", title="from", format=".2f"), alt.Tooltip("high:Q", title="to", format=".2f"),
                 alt.Tooltip("density:Q", format=".3f")])
    shell = pd.DataFrame({"x": [float(np.sqrt(size))], "label": [f"√{size}"]})
    rule = alt.Chart(shell).mark_rule(strokeDash=[6, 4], color="#555555").encode(x="x:Q")
    label = alt.Chart(shell).mark_text(dy=-6, baseline="bottom", color="#555555").encode(x="x:Q", y=alt.value(0), text="label:N")
    return alt.layer(bars, rule, label, title=f"Length of the {size}-number codes, ‖z‖").properties(height=300)


def code_chart(mean: np.ndarray, log_var: np.ndarray) -> alt.LayerChart:
    """One digit's code: each number's mean with one standard deviation, against the prior's band."""
    spread = np.exp(0.5 * log_var)
    names = [f"z{i + 1}" for i in range(len(mean))]
    rows = pd.DataFrame({"number": names, "mean": mean, "low": mean - spread, "high": mean + spread, "sd": spread})
    x = alt.X("number:N", title=None, sort=names, axis=alt.Axis(labelAngle=0))
    band = alt.Chart(pd.DataFrame({"low": [-1.0], "high": [1.0], "text": ["the prior: 0 ± 1"]}))
    prior = band.mark_rect(color="#dddddd", opacity=0.5).encode(y=alt.Y("low:Q", title="value"), y2="high:Q")
    prior_label = band.mark_text(align="left", baseline="bottom", dx=4, dy=-2, color="#666666").encode(
        x=alt.value(0), y="high:Q", text="text:N")
    tooltip = ["number:N", alt.Tooltip("mean:Q", format=".2f"), alt.Tooltip("sd:Q", title="standard deviation", format=".2f")]
    bars = alt.Chart(rows).mark_bar(color="#3b6fd4").encode(x=x, y="mean:Q", tooltip=tooltip)
    errors = alt.Chart(rows).mark_rule(color="black").encode(x=x, y="low:Q", y2="high:Q", tooltip=tooltip)
    return alt.layer(prior, prior_label, bars, errors, title="Its code: mean ± one standard deviation").properties(height=300)


def elbo_chart(reports: dict[str, dict[str, float]]) -> alt.Chart:
    """The beta models' negative ELBO, stacked from its reconstruction and KL terms."""
    rows = pd.DataFrame([{"model": label, "term": term, "nats": reports[model][term]}
                         for model, label in BETA_MODELS.items() for term in ("reconstruction", "kl")])
    rows["term"] = rows["term"].replace({"kl": "KL"})
    return alt.Chart(rows, title=f"Negative ELBO on {ELBO_DIGITS} held-out digits, nats per digit").mark_bar().encode(
        x=alt.X("model:N", title=None, sort=list(BETA_MODELS.values()), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("nats:Q"),
        color=alt.Color("term:N", title=None, sort=["reconstruction", "KL"], legend=alt.Legend(orient="bottom")),
        order=alt.Order("term:N", sort="descending"),
        tooltip=["model:N", "term:N", alt.Tooltip("nats:Q", format=".1f")],
    ).properties(height=320)
