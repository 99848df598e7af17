"""Image search: find the gallery images whose autoencoder codes lie nearest to a query."""

import base64
import functools
import hashlib
import logging
from collections import Counter

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import streamlit as st

import engine

log = logging.getLogger(__name__)

MAX_UPLOAD_MB = engine.MAX_UPLOAD_BYTES // 2**20  # also server.maxUploadSize in .streamlit/config.toml
SOURCE_LABELS = {"builtin": "Built-in characters", "upload": "Your own images"}
TREAT_AS_LABELS = {"auto": "Decide for me", "character": "Characters", "photo": "Photos or documents"}
QUERY_LABELS = {"gallery": "A gallery image", "upload": "Upload an image"}
METRIC_LABELS = {"cosine": "Cosine", "euclidean": "Euclidean"}
PROJECTION_LABELS = {"pca": "PCA", "tsne": "t-SNE"}
PRECISION_KS = (1, 5, 10)
MAX_K = 30
RESULT_COLUMNS = 10  # thumbnails per row
MAP_THUMBNAILS = 150  # more would hide the points and slow the browser
MAP_THUMBNAIL_PIXELS = 48 * 48
DISPLAY_PIXELS = 128 * 128  # photos in the results: thumbnails
QUERY_MAX_PIXELS = 1024 * 1024
CHARACTER_DISPLAY_SCALE = 4  # 28x28 is too small to see; nearest-neighbour keeps the pixels honest
PALETTE = plotly.colors.qualitative.Dark24 + plotly.colors.qualitative.Light24  # 48 labels, then repeats
SPACE_NOTES = {
    "character": {
        "autoencoder": "the code of an encoder trained to redraw distorted characters upright",
        "pca": "the strongest linear patterns of the pixels, as many numbers as the autoencoder's code",
        "pixels": "the 784 pixels themselves: ink against ink",
    },
    "photo": {
        "autoencoder": "the photo denoiser's encoder, its features averaged over the image",
        "autoencoder-grey": "the same encoder fed the grey image, so colour plays no part",
        "pca": "the strongest linear patterns of the pixels, fit on this gallery",
        "pixels": "each photo squeezed to 16x16 colour pixels",
    },
}


@st.cache_resource(max_entries=2, show_spinner="Rendering the gallery…")
def builtin(name: str) -> engine.Gallery:
    return engine.builtin_gallery(name)


# Keyed on our own hash of the uploads (Streamlit skips hashing `_files`). A gallery keeps its
# codes and indexes once computed, and photos are stored at up to 160x160: keep few.
@st.cache_resource(max_entries=2, ttl=3600, show_spinner="Reading your images…")
def uploaded(digest: str, treat_as: str, _files: tuple[tuple[str, bytes], ...]) -> engine.Gallery:
    return engine.load_gallery(list(_files), treat_as=treat_as)


@st.cache_data(max_entries=16, show_spinner="Drawing the map…")
def projection(key: str, space: str, method: str, _gallery: engine.Gallery) -> np.ndarray:
    return engine.project(_gallery, space, method)


@st.cache_data(max_entries=8, show_spinner="Measuring every code space…")
def space_comparison(key: str, metric: str, _gallery: engine.Gallery) -> dict[str, dict[int, float]]:
    return engine.compare_spaces(_gallery, metric, PRECISION_KS)


@st.cache_data(max_entries=8, show_spinner=False)
def map_thumbnails(key: str, _gallery: engine.Gallery) -> dict[int, str]:
    """Small PNG data URIs for up to MAP_THUMBNAILS gallery images (a random sample of a bigger
    gallery), by gallery position."""
    positions = np.arange(len(_gallery))
    if len(positions) > MAP_THUMBNAILS:
        positions = np.sort(np.random.default_rng(0).choice(positions, MAP_THUMBNAILS, replace=False))
    return {int(p): data_uri(engine.fit_within(_gallery.images[p], MAP_THUMBNAIL_PIXELS)) for p in positions}


@st.cache_data(max_entries=4, show_spinner=False)
def load_query(data: bytes) -> np.ndarray:
    """An upload's bytes decoded, no bigger than a megapixel: the encoders see far less."""
    return engine.fit_within(engine.decode_image(data), QUERY_MAX_PIXELS)


def digest_of(files: list[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    for name, data in files:
        digest.update(name.encode() + b"\0" + len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def data_uri(image: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(engine.encode_png(image)).decode("ascii")


def for_display(image: np.ndarray) -> np.ndarray:
    if image.shape == (28, 28):
        return image.repeat(CHARACTER_DISPLAY_SCALE, axis=0).repeat(CHARACTER_DISPLAY_SCALE, axis=1)
    return engine.fit_within(image, DISPLAY_PIXELS)


def position_from_selection(selection, size: int) -> int | None:
    """The gallery position of the point clicked on the map, from the chart's selection state
    (each point carries its gallery position as customdata); None when no point of this
    gallery is selected."""
    try:
        points = selection["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for point in points or []:
        data = point.get("customdata") if isinstance(point, dict) else None
        if isinstance(data, (list, tuple)):
            data = data[0] if data else None
        if isinstance(data, (int, float, np.number)) and not isinstance(data, bool) and float(data).is_integer():
            if 0 <= int(data) < size:
                return int(data)
    return None


def use_clicked_point(size: int) -> None:
    """The map's on_select callback: the clicked image becomes the query."""
    position = position_from_selection(st.session_state.get("map"), size)
    if position is not None:
        st.session_state.query_mode = "gallery"
        st.session_state.query_position = position


def pick_random(size: int) -> None:
    st.session_state.query_mode = "gallery"
    st.session_state.query_position = int(np.random.default_rng().integers(size))


def chance_precision(labels: np.ndarray) -> float:
    """Leave-one-out precision of neighbours picked at random: the chance that another image
    shares an image's label, averaged over the gallery."""
    _, counts = np.unique(labels, return_counts=True)
    return float((counts * (counts - 1)).sum() / (len(labels) * (len(labels) - 1)))


def map_figure(
    gallery: engine.Gallery,
    points: np.ndarray,
    query: int | None,
    neighbours: np.ndarray,
    thumbnails: dict[int, str] | None,
    title: str,
) -> go.Figure:
    """The gallery's codes in 2-D, one trace per label; every point carries its gallery position
    as customdata so that a click can make it the query."""
    figure = go.Figure()
    names = np.array(gallery.names, dtype=object)
    labels = gallery.labels if gallery.labelled else np.full(len(gallery), "", dtype=object)
    hover = np.array(
        [f"{name}<br>image {i}" + (f", label {label}" if gallery.labelled else "") for i, (name, label) in
         enumerate(zip(names, labels, strict=True))],
        dtype=object,
    )
    groups = sorted(set(labels.tolist())) if gallery.labelled else [""]
    for number, group in enumerate(groups):
        members = np.flatnonzero(labels == group)
        figure.add_scatter(
            x=points[members, 0],
            y=points[members, 1],
            mode="markers",
            name=str(group) if gallery.labelled else "gallery",
            marker={"size": 7, "opacity": 0.75, "color": PALETTE[number % len(PALETTE)]},
            customdata=members,
            hovertext=hover[members],
            hovertemplate="%{hovertext}<extra></extra>",
        )
    if len(neighbours):
        figure.add_scatter(
            x=points[neighbours, 0],
            y=points[neighbours, 1],
            mode="markers",
            name="neighbours",
            marker={"size": 14, "color": "rgba(0,0,0,0)", "line": {"width": 2, "color": "black"}},
            customdata=neighbours,
            hovertext=hover[neighbours],
            hovertemplate="neighbour %{hovertext}<extra></extra>",
        )
    if query is not None:
        figure.add_scatter(
            x=points[[query], 0],
            y=points[[query], 1],
            mode="markers",
            name="query",
            marker={"size": 20, "symbol": "star", "color": "gold", "line": {"width": 1.5, "color": "black"}},
            customdata=[query],
            hovertext=hover[[query]],
            hovertemplate="query %{hovertext}<extra></extra>",
        )
    if thumbnails:
        span_x = float(np.ptp(points[:, 0])) or 1.0
        span_y = float(np.ptp(points[:, 1])) or 1.0
        for position, uri in thumbnails.items():
            figure.add_layout_image(
                source=uri,
                x=float(points[position, 0]),
                y=float(points[position, 1]),
                xref="x",
                yref="y",
                sizex=span_x * 0.05,
                sizey=span_y * 0.05,
                xanchor="center",
                yanchor="middle",
                sizing="contain",
                layer="below",
            )
    figure.update_layout(
        title=title,
        height=560,
        margin={"t": 50, "b": 10},
        legend={"itemsizing": "constant"},
        xaxis={"showticklabels": False, "title": None},
        yaxis={"showticklabels": False, "title": None},
    )
    return figure


st.title("Image search")
st.markdown(
    "Search a gallery of images for the ones most like a query. The encoder of an autoencoder turns "
    "every gallery image into a short **code** once; the query is encoded the same way, and the "
    "answer is the gallery images whose codes lie **nearest** to the query's. A good code keeps what "
    "an image shows and drops how it happens to be drawn, so near codes mean similar images. Raw "
    "pixels and PCA are the baselines. Near is measured by one of two distances between codes "
    "$a$ and $b$: cosine distance compares only their directions, euclidean distance also their lengths."
)
st.latex(
    r"d_{\cos}(a, b) = 1 - \frac{a \cdot b}{\lVert a \rVert\,\lVert b \rVert}"
    r"\qquad\qquad "
    r"d_{\text{euclid}}(a, b) = \lVert a - b \rVert = \sqrt{\textstyle\sum_i (a_i - b_i)^2}"
)

# --- The gallery -----------------------------------------------------------------------------
gallery_col, settings_col = st.columns([3, 2], gap="large")
with gallery_col:
    source = st.radio(
        "Gallery", list(SOURCE_LABELS), format_func=SOURCE_LABELS.get, horizontal=True, key="gallery_source"
    )
    if source == "builtin":
        name = st.selectbox(
            "Built-in gallery",
            list(engine.BUILTIN_GALLERIES),
            format_func=lambda gallery_name: engine.BUILTIN_GALLERIES[gallery_name][0],
            key="builtin",
            help="1,000 labelled characters rendered in fonts, and with distortions, that no model saw in training.",
        )
        try:
            gallery = builtin(name)
        except Exception:
            log.exception("Rendering the built-in gallery %r failed", name)
            st.error("The built-in gallery could not be made. Try the other one, or your own images.")
            st.stop()
    else:
        files = st.file_uploader(
            f"Drop images, or zip files of images (up to {MAX_UPLOAD_MB} MB each). In a zip, folders "
            "name the images' labels.",
            type=[*engine.UPLOAD_TYPES, "zip"],
            accept_multiple_files=True,
            max_upload_size=MAX_UPLOAD_MB,
            key="gallery_files",
        )
        treat_as = st.selectbox(
            "Treat the images as",
            list(TREAT_AS_LABELS),
            format_func=TREAT_AS_LABELS.get,
            key="treat_as",
            help="Characters are centred into 28x28 and go to the character encoder; anything else "
            "goes to the photo encoder. Decide for me: characters when every image is 64 pixels or smaller.",
        )
        if not files:
            st.info("Drop images above (any size, grey or colour), or choose the built-in characters.")
            st.stop()
        contents = [(upload.name, upload.getvalue()) for upload in files]
        try:
            gallery = uploaded(digest_of(contents), treat_as, tuple(contents))
        except (engine.GalleryError, engine.ImageError) as error:
            st.error(str(error), icon=":material/broken_image:")
            st.stop()
        except Exception:
            log.exception("Loading a gallery of %d files failed", len(contents))
            st.error("These files could not be made into a gallery. Try other images.", icon=":material/error:")
            st.stop()
    if gallery.skipped:
        count = len(gallery.skipped)
        st.warning(
            f"{count} file{'s' if count > 1 else ''} could not be read and {'are' if count > 1 else 'is'} "
            "left out; the rest are searched. Open *Files left out* below for the reasons.",
            icon=":material/warning:",
        )
        with st.expander("Files left out"):
            st.dataframe(
                {"File": [n for n, _ in gallery.skipped], "Reason": [r for _, r in gallery.skipped]},
                hide_index=True,
            )
    kind = "characters" if gallery.kind == "character" else "photos"
    label_note = f", {len(set(gallery.labels.tolist()))} labels" if gallery.labelled else ", no labels"
    st.caption(f"{len(gallery):,} {kind}{label_note}.")

with settings_col:
    space = st.radio(
        "Code space",
        list(gallery.spaces),
        format_func=engine.SPACE_NAMES.get,
        key="space",
        help="What is compared: the autoencoder's code, PCA with a code of the same size, or the pixels themselves.",
    )
    metric_col, k_col = st.columns([2, 3])
    metric = metric_col.radio("Distance", list(engine.METRICS), format_func=METRIC_LABELS.get, key="metric")
    k = k_col.slider("Neighbours to show (k)", 1, MAX_K, 10, key="k")

# --- The query -------------------------------------------------------------------------------
st.subheader("Query")
query_col, results_col = st.columns([1, 4], gap="large")
query: int | np.ndarray | None = None
with query_col:
    mode = st.radio("Search with", list(QUERY_LABELS), format_func=QUERY_LABELS.get, key="query_mode")
    if mode == "gallery":
        query = int(
            st.number_input(
                "Gallery image number",
                0,
                len(gallery) - 1,
                key="query_position",
                help="Or click a point on the map below.",
            )
        )
        st.button("Random image", on_click=pick_random, args=(len(gallery),), icon=":material/casino:")
        st.image(for_display(gallery.images[query]), width="stretch", clamp=True, output_format="PNG")
        st.caption(gallery.names[query] + (f" (label {gallery.labels[query]})" if gallery.labelled else ""))
    else:
        query_file = st.file_uploader(
            f"Drop an image to search with (up to {MAX_UPLOAD_MB} MB)",
            type=list(engine.UPLOAD_TYPES),
            max_upload_size=MAX_UPLOAD_MB,
            key="query_file",
        )
        if query_file is None:
            st.info("Drop an image to search the gallery for.")
        else:
            try:
                query = load_query(query_file.getvalue())
            except engine.ImageError as error:
                st.error(f"{query_file.name}: {error}", icon=":material/broken_image:")
            else:
                st.image(for_display(query), width="stretch", clamp=True, output_format="PNG")
                st.caption(query_file.name)

result = None
with results_col:
    if query is not None:
        try:
            with st.spinner("Encoding and searching…"):
                result = engine.search(gallery, query, space=space, metric=metric, k=k)
        except engine.ImageError as error:
            st.error(str(error), icon=":material/broken_image:")
        except engine.ModelError as error:
            st.error(f"The encoder is not available: {error}", icon=":material/error:")
        except Exception:
            log.exception("Searching a %s gallery in %s space failed", gallery.kind, space)
            st.error("Something went wrong while searching. Try another query or other settings.")
    if result is not None and not len(result.indices):
        st.info("The gallery holds no other image to find: add more images to it.")
    elif result is not None:
        st.markdown(f"**The {len(result.indices)} nearest** in {engine.SPACE_NAMES[space].lower()}, {metric} distance")
        for start in range(0, len(result.indices), RESULT_COLUMNS):
            row = zip(st.columns(RESULT_COLUMNS), range(start, min(start + RESULT_COLUMNS, len(result.indices))))
            for column, rank in row:
                position = int(result.indices[rank])
                label = f"{result.labels[rank]} · " if result.labels is not None else ""
                column.image(
                    for_display(gallery.images[position]),
                    caption=f"{label}{result.distances[rank]:.3f}",
                    width="stretch",
                    clamp=True,
                    output_format="PNG",
                )
        if result.precision is not None:
            hits = sum(label == result.query_label for label in result.labels)
            st.metric(
                f"Precision@{len(result.indices)} for this query",
                f"{result.precision:.2f}",
                help="The share of the neighbours that carry the query's label.",
            )
            shown = len(result.indices)
            others = int((gallery.labels == result.query_label).sum()) - 1
            st.caption(
                f"{hits} of {shown} neighbours are labelled {result.query_label}."
                + (f" Only {others} other image{'s' if others != 1 else ''} in the gallery carry that label, "
                   f"so {others / shown:.2f} is the best possible." if others < shown else "")
            )
        elif result.labels:
            vote, votes = Counter(result.labels).most_common(1)[0]
            st.caption(
                f"The query is not in the gallery, so its label is unknown; {votes} of its "
                f"{len(result.labels)} neighbours are labelled **{vote}**: a nearest-neighbour classifier's guess."
            )
        with st.expander("The neighbours as a table"):
            st.dataframe(
                {
                    "Rank": np.arange(1, len(result.indices) + 1),
                    "Image number": result.indices,
                    "Name": result.names,
                    **({"Label": result.labels} if result.labels is not None else {}),
                    "Distance": result.distances,
                },
                hide_index=True,
                column_config={"Distance": st.column_config.NumberColumn(format="%.4f")},
            )

# --- The map ---------------------------------------------------------------------------------
st.subheader("Map of the gallery")
methods = ["pca", "tsne"] if len(gallery) <= engine.TSNE_LIMIT else ["pca"]
method_col, thumbs_col = st.columns([2, 3])
method = method_col.radio(
    "Projection",
    methods,
    format_func=PROJECTION_LABELS.get,
    horizontal=True,
    key="projection",
    help="PCA is a fast linear view that keeps the widest spread; t-SNE keeps neighbours together "
    f"(slower, up to {engine.TSNE_LIMIT:,} images).",
)
show_thumbnails = thumbs_col.checkbox(
    "Show thumbnails on the map",
    key="map_thumbnails",
    help=f"Up to {MAP_THUMBNAILS} images, a random sample of a bigger gallery.",
)
try:
    points = projection(gallery.key, space, method, gallery)
except engine.ModelError as error:
    st.error(f"The encoder is not available: {error}", icon=":material/error:")
except Exception:
    log.exception("Projecting a %s gallery in %s space with %s failed", gallery.kind, space, method)
    st.error("The map could not be drawn. Try another projection or code space.")
else:
    query_position = query if isinstance(query, int) and result is not None else None
    neighbours = result.indices if result is not None else np.array([], dtype=int)
    st.plotly_chart(
        map_figure(
            gallery,
            points,
            query_position,
            neighbours,
            map_thumbnails(gallery.key, gallery) if show_thumbnails else None,
            f"{engine.SPACE_NAMES[space]} in 2-D ({PROJECTION_LABELS[method]})",
        ),
        key="map",
        on_select=functools.partial(use_clicked_point, len(gallery)),
        selection_mode="points",
    )
    st.caption(
        "Each point is a gallery image, coloured by its label; hover for its name, **click one to search with it**. "
        + ("The query is the star and its neighbours are circled. " if query_position is not None else "")
        + ("An uploaded query is not part of the gallery, so only its neighbours are circled. "
           if result is not None and query_position is None else "")
        + "Two dimensions cannot keep every distance of a longer code: neighbours on the map are "
        "usually neighbours in code space, but not always the other way round."
    )

# --- Comparing code spaces -------------------------------------------------------------------
st.subheader("Which code finds the right images?")
if not gallery.labelled:
    st.info(
        "This gallery has no labels, so the search cannot be scored. To score it, upload one zip "
        "file in which every image sits in a folder named after its label, with at least two "
        "folders (cats/1.jpg, dogs/2.jpg, …). Loose images, or images at the top of the zip, leave "
        "the whole gallery without labels.",
        icon=":material/label_off:",
    )
else:
    try:
        comparison = space_comparison(gallery.key, metric, gallery)
    except engine.ModelError as error:
        st.error(f"The encoder is not available: {error}", icon=":material/error:")
    except Exception:
        log.exception("Comparing the code spaces of a %s gallery failed", gallery.kind)
        st.error("The code spaces could not be compared. Try the other distance.")
    else:
        st.markdown(
            f"Every image of the gallery searches all the others in turn ({metric} distance); "
            "**precision@k** is the share of its k nearest that carry its label, averaged over the gallery."
        )
        st.dataframe(
            {
                "Code space": [engine.SPACE_NAMES[name] for name in comparison],
                **{f"Precision@{k_}": [comparison[name][k_] for name in comparison] for k_ in PRECISION_KS},
            },
            hide_index=True,
            column_config={
                f"Precision@{k_}": st.column_config.NumberColumn(format="percent") for k_ in PRECISION_KS
            },
        )
        notes = [f"**{engine.SPACE_NAMES[name]}**: {SPACE_NOTES[gallery.kind][name]}" for name in comparison]
        st.caption(
            "; ".join(notes) + f". Neighbours picked at random would score {chance_precision(gallery.labels):.0%}."
            + (f" With only {len(gallery)} images, a label with fewer than k + 1 images cannot reach 100%."
               if len(gallery) <= 100 else "")
        )
        if gallery.kind == "character":
            st.markdown(
                "Pixels and PCA compare ink: a '7' drawn slanted or bold shares little ink with an upright, "
                "thin one. The autoencoder was trained to redraw distorted characters upright, so its code "
                "has to hold which character it is and can drop the slant, thickness and shift: "
                "characters that differ only in how they were drawn land close together."
            )
        else:
            st.markdown(
                "For photos the code is the photo denoiser's encoder, its features averaged over the "
                "whole image: they describe textures, edges and colours wherever they appear, so the "
                "position of things matters less than in the pixels. The colour-blind variant encodes the "
                "grey image, so two photos that differ only in colour get the same code."
            )
