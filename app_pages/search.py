"""Image search: find the gallery images whose autoencoder codes lie nearest to a query."""

import functools
import logging
from collections.abc import Callable

import numpy as np
import streamlit as st

import engine
from app_pages import display
from app_pages.common import side_by_side
from app_pages.figures import PERCENT
from app_pages.logic import search as logic
from app_pages.logic.search import (
    MAP_THUMBNAILS,
    METRIC_LABELS,
    PRECISION_KS,
    PROJECTION_LABELS,
    QUERY_LABELS,
    RESULT_COLUMNS,
    SOURCE_LABELS,
    TREAT_AS_LABELS,
)
from app_pages.parts import char_sources, search_tsne
from app_pages.text import plain

log = logging.getLogger(__name__)

QUERY_WIDTH = 160   # pixels: the query beside its results, not a phone's whole width
CLOTHING_SEEN = ", as the encoder sees it: grey, light on dark, 28x28"   # a query of clothes, prepared
MAX_UPLOAD_MB = engine.MAX_UPLOAD_BYTES // 2**20  # also server.maxUploadSize in .streamlit/config.toml


@st.cache_resource(max_entries=3, show_spinner="Making the gallery…")
def builtin(name: str) -> engine.Gallery:
    return engine.fashion_gallery() if name == logic.CLOTHES else engine.builtin_gallery(name)


# Keyed on our own hash of the uploads (Streamlit skips hashing `_files`). A gallery keeps its
# codes and indexes once computed, and photos are stored at up to 160x160: keep few.
@st.cache_resource(max_entries=2, ttl=3600, show_spinner="Reading your images…")
def uploaded(digest: str, treat_as: str, _files: tuple[tuple[str, bytes], ...]) -> engine.Gallery:
    return engine.load_gallery(list(_files), treat_as=treat_as)


# The gallery itself is not hashed (`_gallery`): `key` is logic.cache_key(gallery), which covers its
# pixels, kind, names and labels, so that another visitor's gallery of the same images under other
# folder names (labels) never gets these results.
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
    return {
        int(p): display.data_uri(engine.fit_within(_gallery.images[p], logic.MAP_THUMBNAIL_PIXELS))
        for p in logic.thumbnail_positions(len(_gallery))
    }


@st.cache_data(max_entries=4, show_spinner=False)
def load_query(data: bytes) -> np.ndarray:
    """An upload's bytes decoded, no bigger than a megapixel: the encoders see far less."""
    return engine.decode_image(data, fit_pixels=logic.QUERY_MAX_PIXELS)


def shown_query(name: str, picture: bytes | np.ndarray, prepare: Callable[[np.ndarray], np.ndarray] | None = None,
                seen: str = "") -> np.ndarray | None:
    """A query that is not a character: an upload's or a photo's bytes decoded, or a drawing, then
    `prepare`d (for clothes, as Fashion-MNIST's pictures were made: the 28x28 the encoder takes),
    shown with its name and `seen`; None after a message."""
    try:
        query = load_query(picture) if isinstance(picture, bytes) else picture
        query = prepare(query) if prepare is not None else query
    except engine.ImageError as error:
        st.error(f"{plain(name)}: {error}", icon=":material/broken_image:")
        return None
    st.image(logic.for_display(query), width=QUERY_WIDTH, clamp=True, output_format="PNG")
    st.caption(plain(name) + seen)
    return query


def use_clicked_point(size: int) -> None:
    """The map's on_select callback: the clicked image becomes the query."""
    position = logic.position_from_selection(st.session_state.get("map"), size)
    if position is not None:
        st.session_state.query_mode = "gallery"
        st.session_state.query_position = position


def pick_random(size: int) -> None:
    st.session_state.query_mode = "gallery"
    st.session_state.query_position = int(np.random.default_rng().integers(size))


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
# Every control keeps its value while it is not drawn (persist_state): with no gallery yet, the
# settings are hidden, and what they show when they come back is what is computed.
gallery: engine.Gallery | None = None
gallery_col, settings_col = st.columns([3, 2], gap="large")
with gallery_col:
    source = st.radio("Gallery", list(SOURCE_LABELS), format_func=SOURCE_LABELS.get, horizontal=True,
                      key="gallery_source", bind="query-params", persist_state="page")
    if source == "builtin":
        choices = logic.builtin_choices(engine.fashion_available())
        name = st.selectbox(
            "Built-in gallery",
            list(choices),
            format_func=choices.get,
            key="builtin", bind="query-params",
            persist_state="page",
            help="1,000 labelled characters rendered in fonts, and with distortions, that no model saw in "
            f"training; or {engine.FASHION_GALLERY:,} pictures of Fashion-MNIST's test set, which no model saw either.",
        )
        if logic.CLOTHES not in choices:
            st.caption(f"Clothes: {engine.fashion_missing_note()}")
        try:
            gallery = builtin(name)
        except Exception:
            log.exception("Rendering the built-in gallery %r failed", name)
            st.error("The built-in gallery could not be made. Try the other one, or your own images.")
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
            key="treat_as", bind="query-params",
            persist_state="page",
            help="Characters are centred into 28x28 and go to the character encoder; anything else "
            "goes to the photo encoder. Decide for me: characters when every image is 64 pixels or smaller.",
        )
        contents = [(upload.name, upload.getvalue()) for upload in files or []]
        if not contents:
            st.info("Drop images above (any size, grey or colour), or choose the built-in characters.")
        else:
            try:
                gallery = uploaded(logic.digest_of(contents), treat_as, tuple(contents))
            except (engine.GalleryError, engine.ImageError) as error:   # GalleryError names files
                st.error(plain(error), icon=":material/broken_image:")
            except Exception:
                log.exception("Loading a gallery of %d files failed", len(contents))
                st.error("These files could not be made into a gallery. Try other images.", icon=":material/error:")
    if gallery is not None and gallery.skipped:
        st.warning(logic.skipped_warning(len(gallery.skipped)), icon=":material/warning:")
        with st.expander("Files left out"):
            st.dataframe(logic.skipped_table(gallery.skipped), hide_index=True)
    if gallery is not None:
        st.caption(logic.gallery_caption(gallery))

if gallery is not None:
    if st.session_state.get("space") not in gallery.spaces:   # a colour-blind code asked of characters
        st.session_state.pop("space", None)
    with settings_col:
        space = st.radio(
            "Code space",
            list(gallery.spaces),
            format_func=engine.SPACE_NAMES.get,
            key="space", bind="query-params",
            persist_state="page",
            help="What is compared: the autoencoder's code, PCA with a code of the same size, or the pixels themselves.",
        )
        metric_col, k_col = st.columns([2, 3])
        metric = metric_col.radio("Distance", list(engine.METRICS), format_func=METRIC_LABELS.get, key="metric",
                                  bind="query-params",
                                  persist_state="page")
        k = k_col.slider("Neighbours to show (k)", 1, logic.MAX_K, 10, key="k", bind="query-params", persist_state="page")

# --- The query -------------------------------------------------------------------------------
# Drawn even while there is no gallery, so that an uploaded query stays in its uploader.
st.subheader("Query")
query_col, results_col = st.columns([1, 4], gap="large")
query: int | np.ndarray | None = None
with query_col:
    mode = st.radio("Search with", list(QUERY_LABELS), format_func=QUERY_LABELS.get, key="query_mode", bind="query-params",
                    persist_state="page")
    if mode == "gallery" and gallery is not None:
        query = int(
            st.number_input(
                "Gallery image number",
                0,
                len(gallery) - 1,
                key="query_position", bind="query-params",
                help="Or click a point on the map below.",
            )
        )
        st.button("Random image", on_click=pick_random, args=(len(gallery),), icon=":material/casino:")
        st.image(logic.for_display(gallery.images[query]), width=QUERY_WIDTH, clamp=True, output_format="PNG")
        st.caption(logic.query_caption(gallery, query))
    elif mode in ("draw", "camera"):   # prepared to the 28x28 the character encoder takes, and shown
        made = char_sources.drawing("search") if mode == "draw" else char_sources.photograph("search")
        name = f"your {'drawing' if mode == 'draw' else 'photo'}"
        if made is not None and gallery is not None and gallery.kind == "clothing":
            query = shown_query(name, made, engine.prepare_clothing, CLOTHING_SEEN)
        elif made is not None:
            query = char_sources.one_character(name, made)
    elif mode == "upload":
        query_file = st.file_uploader(
            f"Drop an image to search with (up to {MAX_UPLOAD_MB} MB)",
            type=list(engine.UPLOAD_TYPES),
            max_upload_size=MAX_UPLOAD_MB,
            key="query_file",
        )
        if query_file is None:
            st.info("Drop an image to search the gallery for.")
        elif gallery is not None and gallery.kind == "character":   # the 28x28 the encoder takes, shown
            query = char_sources.one_character(query_file.name, query_file.getvalue())
        elif gallery is not None and gallery.kind == "clothing":    # Fashion-MNIST's preparation, shown
            query = shown_query(query_file.name, query_file.getvalue(), engine.prepare_clothing, CLOTHING_SEEN)
        else:
            query = shown_query(query_file.name, query_file.getvalue())
if gallery is None:
    results_col.info("The search starts once there is a gallery to search.", icon=":material/photo_library:")
    st.stop()
gallery_key = logic.cache_key(gallery)

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
        st.markdown(logic.results_heading(result, space, metric))
        for start in range(0, len(result.indices), RESULT_COLUMNS):
            ranks = range(start, min(start + RESULT_COLUMNS, len(result.indices)))
            row = zip(side_by_side(RESULT_COLUMNS, f"results_{start}"), ranks)
            for column, rank in row:
                column.image(
                    logic.for_display(gallery.images[int(result.indices[rank])]),
                    caption=logic.result_caption(result, rank),
                    width="stretch",
                    clamp=True,
                    output_format="PNG",
                )
        if result.precision is not None:
            st.metric(
                f"Precision@{len(result.indices)} for this query",
                f"{result.precision:.2f}",
                help="The share of the neighbours that carry the query's label.",
            )
            st.caption(logic.precision_caption(result, gallery.labels))
        elif result.labels:
            st.caption(logic.vote_caption(result.labels))
        with st.expander("The neighbours as a table"):
            st.dataframe(
                logic.results_table(result),
                hide_index=True,
                column_config={"Distance": st.column_config.NumberColumn(format="%.4f")},
            )

# --- The map ---------------------------------------------------------------------------------
st.subheader("Map of the gallery")
methods = logic.projection_methods(len(gallery))
method_col, thumbs_col = st.columns([2, 3])
method = method_col.radio(
    "Projection",
    methods,
    format_func=PROJECTION_LABELS.get,
    horizontal=True,
    key="projection", bind="query-params",
    persist_state="page",
    help="PCA is a fast linear view that keeps the widest spread; t-SNE keeps neighbours together "
    f"(slower, up to {engine.TSNE_LIMIT:,} images).",
)
show_thumbnails = thumbs_col.checkbox(
    "Show thumbnails on the map",
    key="map_thumbnails", bind="query-params",
    persist_state="page",
    help=f"Up to {MAP_THUMBNAILS} images, a random sample of a bigger gallery.",
)
points = None
try:
    if method == "tsne" and not engine.projection_stored(gallery):   # seconds to a minute: in the background
        points = search_tsne.tsne_points(gallery_key, space, gallery)
    else:
        points = projection(gallery_key, space, method, gallery)
except engine.ModelError as error:
    st.error(f"The encoder is not available: {error}", icon=":material/error:")
except Exception:
    log.exception("Projecting a %s gallery in %s space with %s failed", gallery.kind, space, method)
    st.error("The map could not be drawn. Try another projection or code space.")
if points is not None:
    query_position = query if isinstance(query, int) and result is not None else None
    neighbours = result.indices if result is not None else np.array([], dtype=int)
    st.altair_chart(
        logic.map_chart(
            gallery,
            points,
            query_position,
            neighbours,
            map_thumbnails(gallery_key, gallery) if show_thumbnails else None,
            f"{engine.SPACE_NAMES[space]} in 2-D ({PROJECTION_LABELS[method]})",
        ),
        key="map",
        on_select=functools.partial(use_clicked_point, len(gallery)),
        selection_mode=logic.MAP_PICK,
    )
    st.caption(logic.map_caption(query_shown=query_position is not None, searched=result is not None))

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
        comparison = space_comparison(gallery_key, metric, gallery)
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
            logic.comparison_table(comparison),
            hide_index=True,
            column_config={
                f"Precision@{k_}": st.column_config.NumberColumn(format=PERCENT) for k_ in PRECISION_KS
            },
        )
        st.caption(logic.comparison_caption(comparison, gallery))
        if gallery.kind == "clothing":
            st.markdown(logic.CLOTHING_NOTE)
        elif gallery.kind == "character":
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
