"""Denoising: add noise to an image and watch a denoising autoencoder take it away."""


import numpy as np
import streamlit as st

import engine
from app_pages import session_models
from app_pages.logic import denoising as logic
from app_pages.parts import char_sources, denoise_clean
from app_pages.parts.denoise_common import (
    classical_methods,
    examples,
    fill,
    load,
    noisy_examples,
    or_reported,
    png_download,
    scaled_note,
    show_panels,
    wait_for_classical,
)

MAX_UPLOAD_MB = engine.MAX_UPLOAD_BYTES // 2**20  # also server.maxUploadSize in .streamlit/config.toml
MEASURE, CLEAN = "measure", "clean"
MODES = {MEASURE: "Add noise and measure", CLEAN: "Clean my photo as it is"}
TREAT_AS_LABELS = {"auto": "Decide for me", "character": "A single character", "photo": "A photo or document"}
SHIPPED = "The shipped model"


# Keyed on the upload's bytes (or the example's name) and the settings. A photo's result holds
# five images of up to ~1.5 MP (18 MB each), so keep few entries. The autoencoder's answer comes
# first; a photo's classical methods (seconds on a large photo) run in the background
# (denoise_common.classical_methods) and follow into their places.
@st.cache_data(max_entries=4, show_spinner="Running the autoencoder…")
def compare(
    source: bytes | str, kind: str, amount: float, seed: int, treat_as: str,
    char_model: tuple[str, bytes] | None = None, told_true: bool = False,
) -> engine.DenoiseComparison:
    return engine.compare_denoising(load(source), kind=kind, amount=amount, seed=seed, treat_as=treat_as,
                                    char_model=char_model, sigma=amount if told_true else None, baselines=False)


def photo_noise_settings(target: str, kind_col, amount_col) -> tuple[str, float, bool]:
    """The noise controls: characters keep the lecture's three kinds and 0-1 amounts; photos
    take the kinds their denoiser learnt, a sigma on the 0-255 scale, and what it is told."""
    kinds = engine.PHOTO_NOISE_KINDS if target == "photo" else engine.CHARACTER_NOISE_KINDS
    kind = kind_col.selectbox("Noise", kinds, format_func=logic.NOISE_LABELS.get, key=f"noise_kind_{target}",
                              bind="query-params")
    if target != "photo":
        amount = amount_col.slider(
            "Amount",
            0.05,
            1.0,
            engine.DEFAULT_NOISE_AMOUNT[target],
            0.05,
            key=f"noise_amount_{target}", bind="query-params",
            help="Gaussian: the noise's standard deviation. Salt and pepper, masking: the share of pixels hit.",
        )
        return kind, amount, False
    level = amount_col.slider(
        "Noise level (sigma, out of 255)",
        5,
        round(engine.MAX_SIGMA * 255),
        round(engine.DEFAULT_NOISE_AMOUNT["photo"] * 255),
        5,
        key="noise_level_photo", bind="query-params",
        help="The standard deviation of the noise on the 0-255 scale of an 8-bit file (for camera-like "
        "noise, at mid-grey: brighter pixels get more). Clipped at black and white as in a real file.",
    )
    told_true = st.toggle(
        "Tell the autoencoder the true noise level",
        key="told_true", bind="query-params",
        help="Off: it is told the level it estimates from the noisy image, as it would be for your own "
        "photo. On: it is told the level you set (what BM3D gets in the evaluation).",
    )
    return kind, level / 255, told_true


def measure(settings_col, source: bytes | str | None, image: np.ndarray | None, load_error) -> None:
    """Add noise and measure: the clean image, the noisy one, the baselines and the autoencoder."""
    with settings_col:
        kind_col, treat_col = st.columns(2)
        treat_as = treat_col.selectbox(
            "Treat the image as",
            list(TREAT_AS_LABELS),
            format_func=TREAT_AS_LABELS.get,
            key="treat_as", bind="query-params",
            help="A character is centred into 28x28 and goes to the character model; "
            "anything else goes to the model for photos and scanned text.",
        )
        # Characters start at the lecture's noise factor 0.5; photos at a level their model trained on.
        target = engine.denoise_target(image, treat_as) if image is not None else "character"
        amount_col, seed_col = st.columns([3, 1])
        kind, amount, told_true = photo_noise_settings(target, kind_col, amount_col)
        seed = seed_col.number_input(
            "Seed", 0, 9_999, key="noise_seed", bind="query-params", help="The same seed gives the same noise."
        )
        own_models = session_models.character_models() if target == "character" else {}
        char_model = None
        if own_models:
            chosen = st.selectbox(
                "Character model",
                [SHIPPED, *own_models],
                key="char_model", bind="query-params",
                help="Models you trained on the Training studio page stay here for the rest of the session.",
            )
            char_model = None if chosen == SHIPPED else (chosen, own_models[chosen])

    if source is None:
        st.info("Drop an image above, or choose a built-in example.")
        return
    if load_error is not None:
        st.error(str(load_error), icon=":material/broken_image:")
        return
    settings = (source, kind, amount, seed, treat_as, char_model, told_true)
    advice = "Something went wrong while denoising this image. Try another image or other settings."
    result = or_reported(lambda: compare(*settings), "Denoising", advice)
    if result is None:
        return
    close_up = result.target == "photo" and st.toggle("Close-up of the centre", value=True, key="close_up", bind="query-params",
                                                      help="Off: the whole photo, where light noise is hard to see.")
    if result.baseline is None:      # a photo: the autoencoder first, the classical methods in the background
        places = show_panels([("Clean", result.clean), ("Noisy input", result.noisy), ("Best blur or median", None),
                              (engine.NLM_NAME, None), ("Autoencoder", result.denoised)], result.target, close_up)
        future = classical_methods(settings, result)
        if not future.done():
            wait_for_classical(future, result.clean.shape[0] * result.clean.shape[1])
            return
        result = or_reported(future.result, "Denoising with the classical methods", advice)
        if result is None:
            return
        fill(places[0], f"Baseline: {result.baseline_name}", result.baseline, result.target, close_up)
        fill(places[1], engine.NLM_NAME, result.nlm, result.target, close_up)
    else:
        show_panels([("Clean", result.clean), ("Noisy input", result.noisy),
                     (f"Baseline: {result.baseline_name}", result.baseline), ("Autoencoder", result.denoised)],
                    result.target, close_up)
    show_comparison(result)


def show_comparison(result: engine.DenoiseComparison) -> None:
    """The measurements of every method, the download and what the model was told."""
    table_col, about_col = st.columns([1, 1])
    if winner := logic.winner_text(result.metrics):
        table_col.markdown(winner)
    table_col.dataframe(
        logic.marked_best(result.metrics),
        hide_index=True,
        column_config={
            "PSNR (dB)": st.column_config.NumberColumn(format="%.2f", help="Higher is closer to the clean image"),
            "SSIM": st.column_config.NumberColumn(format="%.3f", help="Structural similarity, 1 is identical"),
            "Best": st.column_config.TextColumn(help="The highest PSNR"),
        },
    )
    png_download(table_col, "Download the denoised image", result.denoised, "denoised.png", "denoised_download")
    about_col.markdown(
        f"**Model:** {result.model_name} ({result.seconds * 1000:.0f} ms)  \n{result.model_summary}"
    )
    if result.told_level is not None:
        about_col.markdown(logic.level_text(result.estimated_level, result.told_level))
        about_col.caption(logic.heldout_summary())
    for note in result.notes:
        about_col.caption(note)


st.title("Denoising")
st.markdown(
    "A denoising autoencoder was shown thousands of images with noise added and asked to give "
    "back the clean ones. **Add noise and measure**: pick a character or a photo, or drop your own "
    "(it counts as the clean original: the page adds the noise itself so that it can measure what "
    "comes back). **Clean my photo as it is**: drop a photo that is already noisy and take the "
    "cleaned one home. Either way the autoencoder stands beside classical methods that know nothing "
    "about what images look like."
)
mode = st.segmented_control(
    "What to do", list(MODES), format_func=MODES.get, default=MEASURE, required=True, key="denoise_mode", bind="query-params"
)
cleaning = mode == CLEAN

# --- Input and settings ----------------------------------------------------------------------
input_col, settings_col = st.columns(2, gap="large")
with input_col:
    own_kinds = [] if cleaning else ["Draw a character", "Photograph a character"]
    input_mode = st.radio("Image", ["Built-in example", "Upload your own", *own_kinds], horizontal=True,
                          key="input_mode", bind="query-params")
    if input_mode in own_kinds:   # through the character preparation, as on the other pages
        source = char_sources.prepared_png(
            char_sources.drawing("denoise") if input_mode == own_kinds[0] else char_sources.photograph("denoise"))
    elif input_mode == "Built-in example":
        source: bytes | str | None = st.selectbox(
            "Example",
            list(noisy_examples() if cleaning else examples()),
            key="clean_example" if cleaning else "example", bind="query-params",
        )
    else:
        upload = st.file_uploader(
            f"Drop an image (PNG, JPEG, GIF, BMP, WebP or TIFF, up to {MAX_UPLOAD_MB} MB)",
            type=list(engine.UPLOAD_TYPES),
            max_upload_size=MAX_UPLOAD_MB,
            key="upload",
        )
        source = upload.getvalue() if upload is not None else None
image, load_error = None, None
if source is not None:
    try:
        image = load(source)
    except engine.ImageError as error:
        load_error = error
    else:
        with input_col:
            scaled_note(source, image)

if cleaning:
    if source is None:
        st.info("Drop a noisy photo above, or choose a built-in example.")
    elif load_error is not None:
        st.error(str(load_error), icon=":material/broken_image:")
    else:
        denoise_clean.show(settings_col, source, image)
else:
    measure(settings_col, source, image, load_error)

# --- How it works ----------------------------------------------------------------------------
st.subheader("How a denoising autoencoder works")
st.markdown(
    """
An ordinary autoencoder learns to copy its input through a narrow code. A **denoising**
autoencoder gets a harder job: during training each clean image $x$ is corrupted with random
noise $\\varepsilon$ (Gaussian noise, salt and pepper, or pixels switched off at random), and the
network must give back the *clean* image. The encoder $f$ maps the noisy image to a code and the
decoder $g$ rebuilds an image from it; both are trained together to minimise
"""
)
st.latex(
    r"\min_{f,\,g}\;\mathbb{E}_{x,\ \varepsilon}\,\big\lVert\, x - g\big(f(x + \varepsilon)\big) \big\rVert^2"
)
st.markdown(
    """
Noise is random and differs from image to image, while strokes, edges and textures repeat
across the training set. The cheapest way to shrink that error is therefore to keep what looks
like a real image and drop what does not: the network learns what characters or photos look like.
PCA does something similar in a linear way: it keeps the strongest directions of the training
data and loses the faint ones, noise included, but a curved family of images needs a curved
map. Training on masked pixels teaches the same network to fill in what is missing, which is how
autoencoders complete missing data.

**Photos.** The photo denoiser is fully convolutional (any size) and is also *told how noisy*
the photo is: a noise level map is a fourth input channel beside red, green and blue (the idea of
FFDNet). One network then serves light and heavy noise, and you can turn it up or down. When
nobody knows the level, it is measured from the photo: noise adds the same small variance to
every direction of the photo's 7x7 patches, while the picture lives in a few directions, so the
smallest eigenvalues of the patches' covariance give the noise away (Chen, Zhu and Heng, 2015).
Three classical methods stand beside it: the best of several Gaussian blurs and median filters
for this very image (picked by looking at the clean original, on sixteen tiles spread over a large
photo: a generous opponent), scikit-image's
non-local means (which averages similar patches from anywhere nearby, told the same measured
level), and, in `python -m engine eval denoise` only, BM3D, the classical method photographers'
tools build on, which groups similar patches into stacks and filters them together.
"""
)
