"""What both modes of the Denoising page share: where the images come from (the built-in
examples of each mode, made once per process, and the user's upload, decoded once and kept
small), the row of pictures, a photo's classical methods in the background, the PNG download,
and how a failure is told."""
import functools
import hashlib
import itertools
import logging
import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import streamlit as st

import engine
from app_pages import display
from app_pages.common import png, side_by_side
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
    for column, (caption, shown) in zip(side_by_side(len(panels), "panels"), panels, strict=True):
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


# A photo's classical methods (seconds on a large photo) run in the background while the page
# shows the autoencoder's answer: one photo at a time on the server (each takes both cores), the
# last few results kept for every visitor, and a visitor's own request that has not started yet
# dropped when they change a setting or the photo.
_CLASSICAL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="classical-methods")
_DONE: OrderedDict[str, engine.DenoiseComparison] = OrderedDict()
_DONE_LOCK = threading.Lock()
_KEPT = 4
_SECONDS_PER_PIXEL: list[float] = []   # the last run's, for the estimate of the time left
_STARTED: dict[int, float] = {}          # when each running request (by its number) started
_NUMBERS = itertools.count()
SESSION_KEY = "_denoise_classical"


def _classical(key: str, number: int, result: engine.DenoiseComparison) -> engine.DenoiseComparison:
    started = _STARTED[number] = time.monotonic()
    try:
        full = engine.add_classical_baselines(result)
    finally:
        _STARTED.pop(number, None)
    _SECONDS_PER_PIXEL[:] = [(time.monotonic() - started) / (result.clean.shape[0] * result.clean.shape[1])]
    with _DONE_LOCK:
        _DONE[key] = full
        while len(_DONE) > _KEPT:
            _DONE.popitem(last=False)
    return full


def classical_methods(settings: tuple, result: engine.DenoiseComparison) -> Future:
    """`result` with its classical methods (engine.add_classical_baselines), for the page's
    `settings`: done already when any visitor's recent run had these settings, else running or
    queued in the background for this visitor."""
    key = hashlib.sha256(pickle.dumps(settings)).hexdigest()
    with _DONE_LOCK:
        done = _DONE.get(key)
    held = st.session_state.get(SESSION_KEY)
    if done is not None:
        if held is not None and held[1].done():
            del st.session_state[SESSION_KEY]   # the shared results hold it: a session keeps no photo of its own
        future: Future = Future()
        future.set_result(done)
        return future
    if held is not None and held[0] == key and not held[1].cancelled():
        return held[1]
    if held is not None:
        held[1].cancel()   # for a photo or settings this visitor has left: if it has not started, it never will
    number = next(_NUMBERS)
    future = _CLASSICAL.submit(_classical, key, number, result)
    st.session_state[SESSION_KEY] = (key, future, number)
    return future


@st.fragment(run_every=0.5)
def wait_for_classical(future: Future, pixels: int) -> None:
    """A progress bar with the time left while `future` runs (estimated from the last photo's
    pace); once it is done, the whole page runs again to show the results."""
    if future.done():
        st.rerun(scope="app")
    held = st.session_state.get(SESSION_KEY)
    started = _STARTED.get(held[2]) if held is not None and held[1] is future else None
    if started is None:
        st.progress(0.0, text="The classical methods are queued: the server runs them for one photo at a time…")
        return
    elapsed = time.monotonic() - started
    if not _SECONDS_PER_PIXEL:
        st.progress(0.0, text=f"Running the classical methods… {elapsed:.0f} s so far")
        return
    estimate = max(_SECONDS_PER_PIXEL[0] * pixels, 1e-3)
    st.progress(min(elapsed / estimate, 0.99),
                text=f"Running the classical methods… about {max(estimate - elapsed, 0.0):.0f} s left")
