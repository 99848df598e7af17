"""Filling in missing values: a masking denoising autoencoder completes characters with missing
pixels and a table with missing entries, against mean filling and PCA completion."""

import logging

import numpy as np
import streamlit as st

import engine
from app_pages import display
from app_pages.common import number_columns, read_upload, side_by_side
from app_pages.logic import impute as logic
from app_pages.text import plain

log = logging.getLogger(__name__)

MAX_UPLOAD_MB = engine.MAX_UPLOAD_BYTES // 2**20  # also server.maxUploadSize in .streamlit/config.toml
KINDS = {**engine.MASK_KINDS, "rectangle": "A rectangle (sliders)", "upload": "Your mask (an image)"}
SCALE = 5  # 28x28 characters are shown 140 pixels wide, pixels kept sharp
TABLE_ENTRIES_SHOWN = 12


# --- Cached helpers --------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def examples() -> dict[str, np.ndarray]:
    return engine.impute_examples()


@st.cache_data(max_entries=32, show_spinner=False)
def prepare(upload: bytes) -> np.ndarray:
    return engine.prepare_character(engine.decode_image(upload, fit_pixels=engine.UPLOAD_PIXELS))


@st.cache_data(max_entries=32, show_spinner=False)
def uploaded_mask(upload: bytes) -> np.ndarray:
    return engine.mask_from_image(upload)


@st.cache_data(max_entries=64, show_spinner=False)
def fill(character: np.ndarray, missing: np.ndarray) -> engine.Filling:
    return engine.compare_character_filling(character[None], missing[None])


@st.cache_data(max_entries=16, show_spinner="Completing the table…")
def table_result(name: str, fraction: float, seed: int) -> engine.TableFilling:
    return engine.compare_table_filling(name, fraction, seed)


# --- Widgets ---------------------------------------------------------------------------------
def character_mask(kind: str, shape: tuple[int, int]) -> np.ndarray | None:
    """The mask the widgets describe, or None after telling the user why there is none."""
    if kind in engine.MASK_KINDS:
        fraction_col, seed_col = st.columns(2)
        fraction = fraction_col.slider("Share missing", 0.05, 0.95, 0.5, 0.05, key="mask_fraction", bind="query-params")
        seed = seed_col.number_input("Random seed", 0, 10_000, 0, key="mask_seed", bind="query-params")
        return engine.random_mask(shape, kind, fraction, int(seed))
    if kind == "rectangle":
        rows_col, cols_col = st.columns(2)
        rows = rows_col.slider("Rows missing", 0, 28, (8, 18), key="rect_rows", bind="query-params")
        columns = cols_col.slider("Columns missing", 0, 28, (6, 22), key="rect_cols", bind="query-params")
        missing = engine.rectangle_mask(rows, columns)
        if not missing.any():
            st.warning("The rectangle is empty: widen both ranges.", icon=":material/warning:")
            return None
        return missing
    upload = st.file_uploader(
        "Drop a mask: any image, scaled to 28x28; its light pixels are the missing ones "
        f"(PNG, JPEG, GIF, BMP, WebP or TIFF, up to {MAX_UPLOAD_MB} MB)",
        type=list(engine.UPLOAD_TYPES), max_upload_size=MAX_UPLOAD_MB, key="mask_upload",
    )
    if upload is None:
        st.info("Paint the region to erase in white on a black image, in any editor, and drop it here.",
                icon=":material/brush:")
        return None
    try:
        return uploaded_mask(upload.getvalue())
    except (engine.ImageError, engine.ImputeError) as error:
        st.error(f"Could not use **{plain(upload.name)}** as a mask: {error}", icon=":material/broken_image:")
    except Exception:
        log.exception("Reading the mask %r failed", upload.name)
        st.error(f"Something went wrong while reading **{plain(upload.name)}**. Try another image.",
                 icon=":material/error:")
    return None


# --- Page ------------------------------------------------------------------------------------
st.title("Filling in missing values")
st.markdown(
    "A **masking denoising autoencoder** is trained on complete characters from which random pixels, "
    "blocks and rectangles were hidden, and learns to put them back. Hide part of a character it has "
    "never seen and compare its guess with two classics: filling each missing pixel with its mean, and "
    "PCA completion. The same idea completes a table with missing entries (matrix completion). Errors "
    "count only the hidden values: the observed ones are kept exactly as they were."
)

# --- A character -----------------------------------------------------------------------------
st.subheader("A character with missing pixels")
source_col, upload_col = st.columns([1, 2])
upload = upload_col.file_uploader(
    f"Drop a picture of one character (PNG, JPEG, GIF, BMP, WebP or TIFF, up to {MAX_UPLOAD_MB} MB)",
    type=list(engine.UPLOAD_TYPES), max_upload_size=MAX_UPLOAD_MB, key="impute_upload",
)
character, name = None, None
if upload is not None:
    character = read_upload(upload, prepare, log)
    name = None if character is None else upload.name
example = source_col.selectbox(
    "Or a character never trained on", list(examples()), key="impute_example",
        bind="query-params", disabled=character is not None,
    help="Remove your picture to use the examples." if character is not None else None,
)
if character is None:
    character, name = examples()[example], example

kind = st.radio("What is missing", list(KINDS), format_func=KINDS.get, horizontal=True, key="mask_kind", bind="query-params")
missing = character_mask(kind, character.shape)
if missing is not None:
    try:
        result = fill(character, missing)
    except engine.ModelError as error:  # a missing or damaged model file: say which, and how to rebuild it
        st.error(str(error), icon=":material/error:")
        st.stop()
    panels = logic.character_panels(character, missing, result)
    for column, (caption, image) in zip(side_by_side(len(panels), "panels"), panels, strict=True):
        column.image(display.enlarge(image, SCALE), caption=caption, width="stretch")
    table_col, chart_col = st.columns([1, 1])
    table_col.dataframe(logic.error_rows(result), hide_index=True,
                    column_config=number_columns(logic.error_columns(result)))
    table_col.caption(f"**{plain(name)}**: RMSE over the {int(missing.sum())} hidden pixels only (pixels in [0, 1]).")
    chart_col.plotly_chart(logic.rmse_figure(result, "Error on the hidden pixels"), key="character_chart")

# --- A table ---------------------------------------------------------------------------------
st.subheader("A table with missing entries")
table_name = st.selectbox("Table", list(engine.TABLES), format_func=engine.TABLE_TITLES.get,
                          key="table_name", bind="query-params")
fraction_col, seed_col = st.columns(2)
table_fraction = fraction_col.slider("Share of entries hidden", 0.1, 0.9, 0.5, 0.1, key="table_fraction", bind="query-params")
table_seed = seed_col.number_input("Random seed", 0, 10_000, 0, key="table_seed", bind="query-params")
try:
    completed = table_result(table_name, round(table_fraction, 1), int(table_seed))
except engine.ModelError as error:
    st.error(str(error), icon=":material/error:")
    st.stop()
table_col, chart_col = st.columns([1, 1])
table_col.dataframe(logic.error_rows(completed), hide_index=True,
                    column_config=number_columns(logic.error_columns(completed)))
table_col.caption(logic.table_caption(completed))
chart_col.plotly_chart(logic.rmse_figure(completed, "Error on the hidden entries"), key="table_chart")
with st.expander("The first hidden entries and each method's guess"):
    st.dataframe(logic.hidden_entries(completed, TABLE_ENTRIES_SHOWN), hide_index=True)

# --- How it works ----------------------------------------------------------------------------
st.subheader("How filling in works")
st.markdown(
    r"""
The autoencoder reads two things: the values with the missing ones set to 0, and the mask $m$
(1 where a value is observed, 0 where it is missing), as a second channel, so that a missing pixel
and a black one differ. It is trained to rebuild the complete input from random masks, and its answer
keeps every observed value:
"""
)
st.latex(r"\hat{x} = m \odot x + (1 - m) \odot g\big(f(m \odot x,\ m)\big)")
st.markdown(
    r"""
**Mean filling** puts each column's mean (each pixel's mean over the training characters) in every
hole. **PCA completion** starts from the means, projects onto the first principal components,
reconstructs, puts the observed values back, and repeats: it fills holes with the nearest
*linear* combination of typical patterns. The autoencoder's decoder is not linear, so it can redraw a
stroke that curves through a hole. The error counts the hidden values only:
"""
)
st.latex(r"\mathrm{RMSE} = \sqrt{\frac{1}{|\{m = 0\}|} \sum_{m_i = 0} (\hat{x}_i - x_i)^2}")
