"""What the VAE generation page decides: the models it offers, which digit a click on the map
picks, captions and stories made of the measurements, and its plotly figures. Plain numpy and
plotly (no streamlit), so tests import it like any module."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

import engine
from app_pages import display

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
DIGIT_COLOURS = [  # Tableau 10, one colour per digit on the map
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
]  # fmt: skip
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


def selected_point(selection: Any, count: int, members: list | None = None) -> int | None:
    """The held-out digit (0..count-1) a plotly selection points at: the index kept in the
    latest point's customdata, or else found from its trace and place in it (`members[trace]`
    lists the digits each trace draws). None when nothing usable is selected."""
    points = (selection or {}).get("points") or []
    if not points:
        return None
    point = points[-1]  # the latest click
    custom = point.get("customdata")
    if isinstance(custom, (list, tuple)):  # plotly express sends a list per point
        custom = custom[0] if custom else None
    if custom is not None:
        try:
            index = int(custom)
        except (TypeError, ValueError):
            return None
    else:
        trace, place = point.get("curve_number"), point.get("point_index", point.get("point_number"))
        if members is None or not isinstance(trace, int) or not isinstance(place, int):
            return None
        if not (0 <= trace < len(members) and 0 <= place < len(members[trace])):
            return None
        index = int(members[trace][place])
    return index if 0 <= index < count else None


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


# --- Figures ---------------------------------------------------------------------------------
def shares_figure(predicted: np.ndarray, family: Family = DIGITS) -> go.Figure:
    """The share of samples the judge reads as each class."""
    shares = np.bincount(predicted, minlength=len(family.classes)) / len(predicted)
    figure = go.Figure(go.Bar(x=list(family.classes), y=shares, marker_color="#3b6fd4"))
    figure.update_layout(
        title=f"Which {family.kind}s the judge sees",
        xaxis={"title": family.kind, "type": "category"},
        yaxis={"title": "share of samples", "tickformat": ".0%"},
        height=260,
        margin={"t": 40, "b": 10},
    )
    return figure


def lengths_figure(lengths: dict[str, np.ndarray], steps: int) -> go.Figure:
    """The code's length along each interpolation path (path label -> lengths at its steps)."""
    figure = go.Figure()
    for label, length in lengths.items():
        figure.add_scatter(x=np.linspace(0, 1, steps), y=length, mode="lines+markers", name=label)
    figure.update_layout(
        title="Length of the code along each path",
        xaxis_title="t",
        yaxis_title="‖z‖",
        height=300,
        margin={"t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.3},
    )
    return figure


def manifold_figure(picture: np.ndarray, values: np.ndarray) -> go.Figure:
    """The 2-number model's decoded grid with its z1 and z2 values on the axes (`values`: the
    grid's values, left to right)."""
    size = len(values)
    centres = [28 * (index + 0.5) for index in range(size)]
    every = 1 if size <= 15 else 2
    figure = go.Figure(go.Image(source=display.data_uri(picture), hoverinfo="skip"))
    figure.update_xaxes(
        title="z1",
        tickvals=centres[::every],
        ticktext=[f"{v:.1f}" for v in values[::every]],
        showgrid=False,
    )
    figure.update_yaxes(
        title="z2",
        tickvals=centres[::every],
        ticktext=[f"{v:.1f}" for v in values[::-1][::every]],  # z2 falls from top to bottom
        showgrid=False,
    )
    figure.update_layout(width=640, height=640, margin={"t": 10, "b": 10, "l": 10, "r": 10})
    return figure


def map_figure(points: np.ndarray, members: list[np.ndarray], projected: bool, family: Family = DIGITS) -> go.Figure:
    """Held-out pictures placed by their 2-D codes, one trace per class (`members[class]`: its
    pictures' indices, kept as customdata so that a click finds the picture); PCA axes when
    `projected`."""
    figure = go.Figure()
    for digit, member in enumerate(members):
        figure.add_scatter(
            x=points[member, 0],
            y=points[member, 1],
            customdata=member,
            mode="markers",
            name=family.name(digit),
            marker={"color": DIGIT_COLOURS[digit], "size": 6, "opacity": 0.75},
            hovertemplate=f"{family.name(digit) if family is not DIGITS else f'digit {digit}'}<br>#%{{customdata}}"
            "<extra></extra>",
        )
    axes = ("PCA 1", "PCA 2") if projected else ("z1", "z2")
    figure.update_layout(
        xaxis_title=axes[0],
        yaxis={"title": axes[1], "scaleanchor": "x"},
        height=560,
        margin={"t": 30, "b": 10},
        legend={"title": family.kind},
    )
    return figure


def prior_map_figure(points: np.ndarray, members: list[np.ndarray], title: str) -> go.Figure:
    """Held-out codes of a 2-number model over the prior: circles where N(0, I) holds 39% and 86% of
    its mass (radius 1 and 2), the same axes for every model."""
    figure = map_figure(points, members, projected=False)
    for radius in (1, 2):
        figure.add_shape(type="circle", x0=-radius, y0=-radius, x1=radius, y1=radius,
                         line={"color": "#555555", "dash": "dash", "width": 1})
    limit = max(3.0, float(np.abs(points).max()) * 1.05) if len(points) else 3.0
    figure.update_layout(title=title, height=420, showlegend=False, margin={"t": 40, "b": 10})
    figure.update_xaxes(range=[-limit, limit])
    figure.update_yaxes(range=[-limit, limit])
    return figure


def radius_figure(radii: dict[str, np.ndarray], size: int) -> go.Figure:
    """How far from the centre codes lie (`radii`: a name -> the length of each code), beside the
    prior's own: in `size` dimensions N(0, I) puts almost every sample near sqrt(size)."""
    figure = go.Figure()
    for name, values in radii.items():
        figure.add_histogram(x=values, name=name, histnorm="probability density", opacity=0.55, nbinsx=40)
    figure.add_vline(x=float(np.sqrt(size)), line_dash="dash", line_color="#555555",
                     annotation_text=f"√{size}", annotation_position="top")
    figure.update_layout(barmode="overlay", title=f"Length of the {size}-number codes, ‖z‖", xaxis_title="‖z‖",
                         yaxis_title="density", height=320, margin={"t": 50, "b": 10},
                         legend={"orientation": "h", "y": -0.3})
    return figure


def code_figure(mean: np.ndarray, log_var: np.ndarray) -> go.Figure:
    """One digit's code: each number's mean with one standard deviation, against the prior."""
    spread = np.exp(0.5 * log_var)
    names = [f"z{i + 1}" for i in range(len(mean))]
    figure = go.Figure()
    figure.add_hrect(
        y0=-1,
        y1=1,
        fillcolor="#dddddd",
        opacity=0.5,
        line_width=0,
        layer="below",
        annotation_text="the prior: 0 ± 1",
        annotation_position="top left",
    )
    figure.add_bar(x=names, y=mean, error_y={"type": "data", "array": spread}, marker_color="#3b6fd4")
    figure.update_layout(
        title="Its code: mean ± one standard deviation",
        yaxis_title="value",
        height=320,
        margin={"t": 50, "b": 10},
        showlegend=False,
    )
    return figure


def elbo_figure(reports: dict[str, dict[str, float]]) -> go.Figure:
    """The beta models' negative ELBO, stacked from its reconstruction and KL terms."""
    labels = list(BETA_MODELS.values())
    figure = go.Figure()
    figure.add_bar(name="reconstruction", x=labels, y=[reports[m]["reconstruction"] for m in BETA_MODELS])
    figure.add_bar(name="KL", x=labels, y=[reports[m]["kl"] for m in BETA_MODELS])
    figure.update_layout(
        barmode="stack",
        title=f"Negative ELBO on {ELBO_DIGITS} held-out digits, nats per digit",
        yaxis_title="nats",
        height=340,
        margin={"t": 50, "b": 10},
    )
    return figure
