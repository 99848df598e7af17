"""What the image search page decides: which gallery image a click on the map picks, how images
are shown, the tables and captions made of a search's numbers, and the map's Vega-Lite chart.
Plain numpy, pandas and altair (no streamlit), so tests import it like any module."""
from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import plotly.colors

import engine
from app_pages import display
from app_pages.logic.charts import legend_pick, picked
from app_pages.text import plain

SOURCE_LABELS = {"builtin": "Built-in", "upload": "Your own images"}
CLOTHES = "clothes"   # the built-in gallery of Fashion-MNIST's test pictures, when the machine has the data set
TREAT_AS_LABELS = {"auto": "Decide for me", "character": "Characters", "photo": "Photos or documents"}
QUERY_LABELS = {"gallery": "A gallery image", "upload": "Upload an image", "draw": "Draw a character",
                "camera": "Photograph a character"}
METRIC_LABELS = {"cosine": "Cosine", "euclidean": "Euclidean"}
PROJECTION_LABELS = {"pca": "PCA", "tsne": "t-SNE"}
PRECISION_KS = (1, 5, 10)
MAX_K = 30
RESULT_COLUMNS = 10  # thumbnails per row
MAP_THUMBNAILS = 150  # more would hide the points and slow the browser
MAP_THUMBNAIL_PIXELS = 48 * 48
LEGEND_BESIDE = 20   # labels: a map with more has its legend below
DISPLAY_PIXELS = 128 * 128  # photos in the results: thumbnails
QUERY_MAX_PIXELS = 1024 * 1024
CHARACTER_DISPLAY_SCALE = 4  # 28x28 is too small to see; nearest-neighbour keeps the pixels honest
PALETTE = plotly.colors.qualitative.Dark24 + plotly.colors.qualitative.Light24  # 48 labels, then repeats
MAP_PICK = "picked"   # the map's selection of a clicked point
STAR = ("M0,-1L0.22,-0.31L0.95,-0.31L0.36,0.12L0.59,0.81L0,0.38L-0.59,0.81L-0.36,0.12L-0.95,-0.31L-0.22,-0.31Z")
SPACE_NOTES = {
    "character": {
        "autoencoder": "the code of an encoder trained to redraw distorted characters upright",
        "pca": "the strongest linear patterns of the pixels, as many numbers as the autoencoder's code",
        "pixels": "the 784 pixels themselves: ink against ink",
    },
    "clothing": {
        "autoencoder": "the code of a convolutional autoencoder trained on Fashion-MNIST's 60,000 training pictures",
        "pca": "the strongest linear patterns of the training pictures, as many numbers as the autoencoder's code",
        "pixels": "the 784 pixels themselves",
    },
    "photo": {
        "autoencoder": "the photo denoiser's encoder, its features averaged over the image",
        "autoencoder-grey": "the same encoder fed the grey image, so colour plays no part",
        "pca": "the strongest linear patterns of the pixels, fit on this gallery",
        "pixels": "each photo squeezed to 16x16 colour pixels",
    },
}


# --- Data ------------------------------------------------------------------------------------
def _hash(parts) -> str:
    """A hash of a sequence of byte strings, each with its length, so that ("ab", "c") and
    ("a", "bc") differ."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()


def _text(part: str) -> bytes:
    return part.encode("utf-8", "surrogatepass")


def digest_of(files: list[tuple[str, bytes]]) -> str:
    """A hash of uploaded files' names and contents: what a cached gallery is keyed on."""
    return _hash(part for name, data in files for part in (_text(name), data))


def cache_key(gallery: engine.Gallery) -> str:
    """What the page's cached results about a gallery (its map, thumbnails and precision table)
    are keyed on: everything they may depend on. gallery.key hashes the pixels only, and two
    visitors may upload the same images under other names and folders (labels)."""
    return _hash(_text(part) for part in (
        gallery.key, gallery.kind, *gallery.names, "labels" if gallery.labelled else "no labels",
        *(str(label) for label in (gallery.labels if gallery.labelled else ()))))


CLOTHING_NOTE = (
    "The clothing encoder learnt from Fashion-MNIST's 60,000 training pictures, without their labels, "
    "to rebuild each one from a short code; the gallery is drawn from the 10,000 test pictures, which it never saw. "
    "Shirts, T-shirts, pullovers and coats share their outline, so every code space mixes them up most; "
    "trousers, bags and footwear are told apart by their shape alone. Sandals are where the codes beat the raw "
    "pixels most: two sandals' straps rarely cover the same pixels.")


def builtin_choices(clothes: bool) -> dict[str, str]:
    """The built-in galleries offered, by name: the rendered characters, and the clothes when the
    machine has Fashion-MNIST (`clothes`)."""
    choices = {name: title for name, (title, _) in engine.BUILTIN_GALLERIES.items()}
    return {**choices, CLOTHES: "Clothes (Fashion-MNIST)"} if clothes else choices


def for_display(image: np.ndarray) -> np.ndarray:
    """A character enlarged, or a photo shrunk to a thumbnail."""
    if image.shape == (28, 28):
        return display.enlarge(image, CHARACTER_DISPLAY_SCALE)
    return engine.fit_within(image, DISPLAY_PIXELS)


def thumbnail_positions(size: int) -> np.ndarray:
    """The gallery positions shown as thumbnails on the map: all of them, or a fixed random
    sample of MAP_THUMBNAILS in order."""
    positions = np.arange(size)
    if len(positions) > MAP_THUMBNAILS:
        positions = np.sort(np.random.default_rng(0).choice(positions, MAP_THUMBNAILS, replace=False))
    return positions


def projection_methods(size: int) -> list[str]:
    """The map's projections offered for a gallery of `size` images (t-SNE only up to its limit)."""
    return ["pca", "tsne"] if size <= engine.TSNE_LIMIT else ["pca"]


def position_from_selection(selection: Any, size: int) -> int | None:
    """The gallery position of the point clicked on the map, from the chart's selection state
    (its MAP_PICK selection holds the clicked points' gallery positions); None when no point of
    this gallery is selected."""
    try:
        state = selection["selection"]
    except (KeyError, TypeError):
        return None
    return picked(state, MAP_PICK, "position", size)


def chance_precision(labels: np.ndarray) -> float:
    """Leave-one-out precision of neighbours picked at random: the chance that another image
    shares an image's label, averaged over the gallery."""
    _, counts = np.unique(labels, return_counts=True)
    return float((counts * (counts - 1)).sum() / (len(labels) * (len(labels) - 1)))


# --- Tables and words ------------------------------------------------------------------------
def skipped_warning(count: int) -> str:
    """What the page says when `count` files could not be read."""
    return (
        f"{count} file{'s' if count > 1 else ''} could not be read and {'are' if count > 1 else 'is'} "
        "left out; the rest are searched. Open *Files left out* below for the reasons."
    )


def skipped_table(skipped: list[tuple[str, str]]) -> dict[str, list[str]]:
    """The files left out, and why."""
    return {"File": [n for n, _ in skipped], "Reason": [r for _, r in skipped]}


def gallery_caption(gallery: engine.Gallery) -> str:
    """How many images the gallery holds, of which kind, and how many labels."""
    kind = {"character": "characters", "clothing": "pictures of clothes"}.get(gallery.kind, "photos")
    label_note = f", {len(set(gallery.labels.tolist()))} labels" if gallery.labelled else ", no labels"
    return f"{len(gallery):,} {kind}{label_note}."


def query_caption(gallery: engine.Gallery, position: int) -> str:
    """A gallery image's name, and its label when the gallery has labels (markdown)."""
    return plain(gallery.names[position]) + (f" (label {plain(gallery.labels[position])})" if gallery.labelled else "")


def results_heading(result: engine.SearchResult, space: str, metric: str) -> str:
    """The results' heading: how many neighbours, in which code space, by which distance."""
    return f"**The {len(result.indices)} nearest** in {engine.SPACE_NAMES[space].lower()}, {metric} distance"


def result_caption(result: engine.SearchResult, rank: int) -> str:
    """A neighbour's caption: its label (when known) and its distance (markdown)."""
    label = f"{plain(result.labels[rank])} · " if result.labels is not None else ""
    return f"{label}{result.distances[rank]:.3f}"


def precision_caption(result: engine.SearchResult, labels: np.ndarray) -> str:
    """How many neighbours share the query's label, and the best precision possible when the
    gallery (`labels`) holds fewer other images with that label than neighbours shown."""
    hits = sum(label == result.query_label for label in result.labels)
    shown = len(result.indices)
    others = int((labels == result.query_label).sum()) - 1
    return f"{hits} of {shown} neighbours are labelled {plain(result.query_label)}." + (
        f" Only {others} other image{'s' if others != 1 else ''} in the gallery carry that label, "
        f"so {others / shown:.2f} is the best possible." if others < shown else ""
    )


def vote_caption(labels: list[str]) -> str:
    """For a query from outside the gallery: its neighbours' most common label, as a guess."""
    vote, votes = Counter(labels).most_common(1)[0]
    return (
        f"The query is not in the gallery, so its label is unknown; {votes} of its "
        f"{len(labels)} neighbours are labelled **{plain(vote)}**: a nearest-neighbour classifier's guess."
    )


def results_table(result: engine.SearchResult) -> dict[str, Any]:
    """The neighbours, nearest first, as table columns."""
    return {
        "Rank": np.arange(1, len(result.indices) + 1),
        "Image number": result.indices,
        "Name": result.names,
        **({"Label": result.labels} if result.labels is not None else {}),
        "Distance": result.distances,
    }


def map_caption(query_shown: bool, searched: bool) -> str:
    """The map's caption: whether the query is starred (`query_shown`) or, for an uploaded
    query that was searched, only its neighbours are circled."""
    return (
        "Each point is a gallery image, coloured by its label; hover for its name, **click one to search with it**. "
        "Scroll to zoom and drag to move; a double-click shows the whole map again. A click on a label in the "
        "legend shows that label alone (shift-click adds one). "
        + ("The query is the star and its neighbours are circled. " if query_shown else "")
        + ("An uploaded query is not part of the gallery, so only its neighbours are circled. "
           if searched and not query_shown else "")
        + "Two dimensions cannot keep every distance of a longer code: neighbours on the map are "
        "usually neighbours in code space, but not always the other way round."
    )


def comparison_table(comparison: dict[str, dict[int, float]]) -> dict[str, list]:
    """precision@k of each code space in percent (one format for the whole table: figures.PERCENT), one
    row per space."""
    return {
        "Code space": [engine.SPACE_NAMES[name] for name in comparison],
        **{f"Precision@{k}": [100 * comparison[name][k] for name in comparison] for k in PRECISION_KS},
    }



def comparison_caption(comparison: dict[str, dict[int, float]], gallery: engine.Gallery) -> str:
    """What each compared code space is, and what neighbours picked at random would score."""
    notes = [f"**{engine.SPACE_NAMES[name]}**: {SPACE_NOTES[gallery.kind][name]}" for name in comparison]
    return (
        "; ".join(notes) + f". Neighbours picked at random would score {chance_precision(gallery.labels):.0%}."
        + (f" With only {len(gallery)} images, a label with fewer than k + 1 images cannot reach 100%."
           if len(gallery) <= 100 else "")
    )


# --- The map ---------------------------------------------------------------------------------
def map_chart(
    gallery: engine.Gallery,
    points: np.ndarray,
    query: int | None,
    neighbours: np.ndarray,
    thumbnails: dict[int, str] | None,
    title: str,
) -> alt.LayerChart:
    """The gallery's codes in 2-D in Vega-Lite, coloured by label: thumbnails under the points
    (which then grow faint and small), the neighbours circled, the query a star. A click on a
    point selects its gallery position (the MAP_PICK selection); a click on a label in the legend
    shows that label alone, a double-click all; the wheel zooms and a drag pans."""
    labelled = gallery.labelled
    labels = [str(label) for label in gallery.labels] if labelled else ["gallery"] * len(gallery)
    groups = sorted(set(labels))
    rows = pd.DataFrame({"x": points[:, 0], "y": points[:, 1], "position": np.arange(len(gallery)),
                         "label": labels, "name": list(gallery.names)})
    x = alt.X("x:Q", axis=None, scale=alt.Scale(zero=False, nice=False, padding=14))   # no point cut at an edge
    y = alt.Y("y:Q", axis=None, scale=alt.Scale(zero=False, nice=False, padding=14))
    tooltip = [alt.Tooltip("name:N"), alt.Tooltip("position:Q", title="image"),
               *([alt.Tooltip("label:N")] if labelled else [])]
    beside = len(groups) <= LEGEND_BESIDE
    colour = alt.Color("label:N", title=None, sort=groups,
                       scale=alt.Scale(domain=groups, range=[PALETTE[i % len(PALETTE)] for i in range(len(groups))]),
                       legend=alt.Legend(orient="right" if beside else "bottom", columns=1 if beside else 12,
                                         symbolOpacity=1, labelLimit=0, symbolLimit=0) if labelled else None)
    pick = alt.selection_point(name=MAP_PICK, fields=["position"], on="click", clear=False)
    shown = legend_pick("label")
    zoom = alt.selection_interval(name="zoom", bind="scales")   # the wheel zooms, a drag pans, a double-click resets
    faint = bool(thumbnails)
    layers = []
    if thumbnails:
        pictures = rows.loc[list(thumbnails)].assign(url=list(thumbnails.values()))
        layers.append(alt.Chart(pictures).mark_image(width=26, height=26).encode(x=x, y=y, url="url:N"))
    layers.append(alt.Chart(rows).mark_circle(size=18 if faint else 50).encode(
        x=x, y=y, color=colour, tooltip=tooltip,
        opacity=alt.condition(shown, alt.value(0.3 if faint else 0.75), alt.value(0.04)),
    ).add_params(pick, shown, zoom))
    if len(neighbours):
        layers.append(alt.Chart(rows.iloc[neighbours]).mark_point(size=220, filled=False, color="black", strokeWidth=2,
                                                                   opacity=1).encode(x=x, y=y, tooltip=tooltip))
    if query is not None:
        layers.append(alt.Chart(rows.iloc[[query]]).mark_point(shape=STAR, size=500, filled=True, fill="gold",
                                                               stroke="black", strokeWidth=1.5, opacity=1).encode(
            x=x, y=y, tooltip=tooltip))
    return alt.layer(*layers, title=title).properties(height=560)
