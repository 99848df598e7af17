"""The Denoising page's "clean my photo as it is" mode: the upload is the noisy photo. Its noise
level is estimated and shown, the user can turn it up or down, and the cleaned photo stands
beside the upload and non-local means (whole or as a close-up), ready to download."""
import hashlib

import numpy as np
import streamlit as st

import engine
from app_pages.logic import denoising as logic
from app_pages.parts.denoise_common import load, or_reported, png_download, show_panels


@st.cache_data(max_entries=8, show_spinner="Measuring the noise…")
def estimate(source: bytes | str) -> float:
    return engine.estimate_photo_noise(load(source))


# A result holds three images of up to 1.5 MP (18 MB each): keep few.
@st.cache_data(max_entries=4, show_spinner="Cleaning the photo…")
def clean(source: bytes | str, level: int) -> engine.PhotoCleaning:
    return engine.clean_photo(load(source), sigma=level / 255, estimated=estimate(source))


def _source_key(source: bytes | str) -> str:
    """A short name of the upload (or example) for the widgets that belong to it."""
    data = source if isinstance(source, bytes) else source.encode()
    return hashlib.sha1(data).hexdigest()[:12]


def show(settings_col, source: bytes | str, image: np.ndarray) -> None:
    """The settings (the noise level, starting at the estimate) and the results."""
    try:
        estimated = estimate(source)
    except engine.ImageError as error:
        st.error(str(error), icon=":material/broken_image:")
        return
    top = round(engine.MAX_SIGMA * 255)
    with settings_col:
        level = st.slider(
            "Noise level to remove (sigma, out of 255)",
            0,
            top,
            min(top, round(estimated * 255)),
            1,
            key=f"clean_level_{_source_key(source)}",
            help="It starts at the level measured in your photo. Turn it up if noise is left, down if "
            "detail is lost: the autoencoder smooths as much as it is told.",
        )
        st.markdown(logic.estimate_text(estimated))
    result = or_reported(lambda: clean(source, level), "Cleaning a photo",
                         "Something went wrong while cleaning this photo. Try another photo or another level.")
    if result is None:
        return
    close_up = st.toggle("Close-up of the centre", value=True, key="clean_close_up", bind="query-params",
                         help="Off: the whole photo, where light noise is hard to see.")
    panels = (("Your photo", result.noisy), (f"{engine.NLM_NAME}, same level", result.nlm),
              ("Autoencoder", result.cleaned))
    show_panels(list(panels), "photo", close_up)
    download_col, about_col = st.columns([1, 2])
    png_download(download_col, "Download the cleaned photo", result.cleaned, "cleaned.png", "clean_download")
    about_col.markdown(
        f"**Model:** {result.model_name} ({result.seconds:.2f} s; non-local means {result.nlm_seconds:.2f} s)  \n"
        "With no clean original there is no PSNR here: judge by eye, in the close-up."
    )
    about_col.caption(logic.heldout_summary())
    for note in result.notes:
        about_col.caption(note)
