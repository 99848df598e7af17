"""What both modes of the Denoising page share: where the images come from (the built-in
examples of each mode, made once per process, and the user's upload, decoded once and kept
small), the row of pictures, the PNG download, and how a failure is told."""
import functools
import logging
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import streamlit as st

import engine
from app_pages import display
from app_pages.common import png
from app_pages.logic import denoising as logic

log = logging.getLogger(__name__)
T = TypeVar("T")


@st.cache_resource(show_spinner=False)
def examples() -> dict[str, np.ndarray]:
    return engine.denoise_examples()


@st.cache_resource(show_spinner=False)
def noisy_examples() -> dict[str, np.ndarray]:
    return engine.noisy_photo_examples()


@st.cache_data(max_entries=4, show_spinner=False)
def load(source: bytes | str) -> np.ndarray:
    """The upload's bytes decoded, or the built-in example of that name. An upload is scaled to
    the photo denoiser's working size (MAX_PHOTO_PIXELS) while it is decoded, once: a 12 MP
    phone photo never exists here at full size (see `scaled_note`)."""
    if not isinstance(source, bytes):
        return {**examples(), **noisy_examples()}[source]
    return engine.decode_image(source, fit_pixels=engine.MAX_PHOTO_PIXELS)


def scaled_note(source: bytes | str, image: np.ndarray) -> None:
    """Say so when an upload was scaled down as it was opened."""
    if isinstance(source, bytes):
        note = display.scaled_text(engine.image_dimensions(source), image.shape, engine.MAX_PHOTO_PIXELS)
        if note:
            st.caption(note)


def show_panels(panels: list[tuple[str, np.ndarray | None]], target: str, close_up: bool) -> list:
    """(caption, image) side by side: characters enlarged, photos whole (at most
    logic.DISPLAY_PIXELS: the browser shows them smaller still) or their centre at full size. A
    panel whose image is None is still being computed: its place is returned, to `fill` later."""
    places = []
    for column, (caption, shown) in zip(st.columns(len(panels)), panels, strict=True):
        place = column.empty()
        if shown is None:
            place.caption(f"{caption}: computing…")
            places.append(place)
        else:
            fill(place, caption, shown, target, close_up)
    if target == "photo" and not close_up and any(
            shown is not None and shown.shape[0] * shown.shape[1] > logic.DISPLAY_PIXELS for _, shown in panels):
        st.caption(logic.DISPLAY_NOTE)    # for_display scaled them: fit_within keeps what is no larger
    return places


def fill(place, caption: str, image: np.ndarray, target: str, close_up: bool) -> None:
    place.image(png(logic.for_display(image, target, close_up)), caption=caption, width="stretch", output_format="PNG")


def png_download(container, label: str, image: np.ndarray, file_name: str, key: str) -> None:
    container.download_button(
        label,
        functools.partial(engine.encode_png, image),  # encoded only when clicked
        file_name=file_name,
        mime="image/png",
        on_click="ignore",
        icon=":material/download:",
        key=key,
    )


def or_reported(compute: Callable[[], T], failed: str, advice: str) -> T | None:
    """compute(), or None with the reason in the page: an image the engine refuses, a missing or
    damaged model file (its message says which, and how to rebuild it), or anything else, logged
    as `failed` and told as "Something went wrong while ..." with `advice`."""
    try:
        return compute()
    except engine.ImageError as error:
        st.error(str(error), icon=":material/broken_image:")
    except engine.ModelError as error:
        st.error(str(error), icon=":material/error:")
    except Exception:
        log.exception("%s failed", failed)
        st.error(advice)
    return None
