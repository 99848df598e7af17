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
from app_pages.logic import denoising as logic

log = logging.getLogger(__name__)
T = TypeVar("T")


@st.cache_resource(show_spinner=False)
def examples() -> dict[str, np.ndarray]:
    return engine.denoise_examples()


@st.cache_resource(show_spinner=False)
def noisy_examples() -> dict[str, np.ndarray]:
    return engine.noisy_photo_examples()


KEEP_PIXELS = 6_000_000  # a decoded upload is kept no larger (72 MB); the engine scales to 1.5 MP


@st.cache_data(max_entries=4, show_spinner=False)
def load(source: bytes | str) -> np.ndarray:
    """The upload's bytes decoded, or the built-in example of that name. A huge upload (up to
    40 MP, 480 MB as floats) is scaled down at once, so the cache never holds one."""
    if not isinstance(source, bytes):
        return {**examples(), **noisy_examples()}[source]
    return engine.decode_image(source, fit_pixels=KEEP_PIXELS)


def show_panels(panels: list[tuple[str, np.ndarray]], target: str, close_up: bool) -> None:
    """(caption, image) side by side: characters enlarged, photos whole or their centre."""
    for column, (caption, shown) in zip(st.columns(len(panels)), panels, strict=True):
        column.image(logic.for_display(shown, target, close_up), caption=caption, width="stretch",
                     clamp=True, output_format="PNG")


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
