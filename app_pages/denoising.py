"""Denoising: add noise to an image and watch a denoising autoencoder take it away."""

import functools
import logging

import numpy as np
import streamlit as st

import engine
from app_pages import session_models
from app_pages.logic import denoising as logic

log = logging.getLogger(__name__)

MAX_UPLOAD_MB = engine.MAX_UPLOAD_BYTES // 2**20  # also server.maxUploadSize in .streamlit/config.toml
NOISE_LABELS = {"gaussian": "Gaussian", "salt_pepper": "Salt and pepper", "mask": "Random masking"}
TREAT_AS_LABELS = {"auto": "Decide for me", "character": "A single character", "photo": "A photo or document"}
SHIPPED = "The shipped model"


@st.cache_resource(show_spinner=False)
def examples() -> dict[str, np.ndarray]:
    return engine.denoise_examples()


KEEP_PIXELS = 6_000_000  # a decoded upload is kept no larger (72 MB); the engine scales to 1.5 MP


@st.cache_data(max_entries=4, show_spinner=False)
def load(source: bytes | str) -> np.ndarray:
    """The upload's bytes decoded, or the built-in example of that name. A huge upload (up to
    40 MP, 480 MB as floats) is scaled down at once, so the cache never holds one."""
    if not isinstance(source, bytes):
        return examples()[source]
    return engine.fit_within(engine.decode_image(source), KEEP_PIXELS)


# Keyed on the upload's bytes (or the example's name) and the settings. A photo's result holds
# four images of up to ~1.5 MP (18 MB each), so keep few entries.
@st.cache_data(max_entries=4, show_spinner="Running the autoencoder…")
def compare(
    source: bytes | str, kind: str, amount: float, seed: int, treat_as: str,
    char_model: tuple[str, bytes] | None = None,
) -> engine.DenoiseComparison:
    return engine.compare_denoising(load(source), kind=kind, amount=amount, seed=seed, treat_as=treat_as,
                                    char_model=char_model)




st.title("Denoising")
st.markdown(
    "A denoising autoencoder was shown thousands of images with noise added and asked to give "
    "back the clean ones. Pick a character or a photo, or drop your own (it counts as the clean "
    "original: the page adds the noise itself so that it can measure what comes back), and compare "
    "the autoencoder with a classical method that knows nothing about what images look like."
)

# --- Input and settings ----------------------------------------------------------------------
input_col, settings_col = st.columns(2, gap="large")
with input_col:
    input_mode = st.radio("Image", ["Built-in example", "Upload your own"], horizontal=True, key="input_mode")
    if input_mode == "Built-in example":
        source: bytes | str | None = st.selectbox("Example", list(examples()), key="example")
    else:
        upload = st.file_uploader(
            f"Drop an image (PNG, JPEG, GIF, BMP, WebP or TIFF, up to {MAX_UPLOAD_MB} MB)",
            type=list(engine.UPLOAD_TYPES),
            max_upload_size=MAX_UPLOAD_MB,
            key="upload",
        )
        source = upload.getvalue() if upload is not None else None

with settings_col:
    kind_col, treat_col = st.columns(2)
    kind = kind_col.selectbox("Noise", engine.NOISE_KINDS, format_func=NOISE_LABELS.get, key="noise_kind")
    treat_as = treat_col.selectbox(
        "Treat the image as",
        list(TREAT_AS_LABELS),
        format_func=TREAT_AS_LABELS.get,
        key="treat_as",
        help="A character is centred into 28x28 and goes to the character model; "
        "anything else goes to the model for photos and scanned text.",
    )
    image, load_error = None, None
    if source is not None:
        try:
            image = load(source)
        except engine.ImageError as error:
            load_error = error
    # Characters start at the lecture's noise factor 0.5; photos at a level their model trained on.
    target = engine.denoise_target(image, treat_as) if image is not None else "character"
    amount_col, seed_col = st.columns([3, 1])
    amount = amount_col.slider(
        "Amount",
        0.05,
        1.0,
        engine.DEFAULT_NOISE_AMOUNT[target],
        0.05,
        key=f"noise_amount_{target}",
        help="Gaussian: the noise's standard deviation. Salt and pepper, masking: the share of pixels hit.",
    )
    seed = seed_col.number_input(
        "Seed", 0, 9_999, key="noise_seed", help="The same seed gives the same noise."
    )
    own_models = session_models.character_models() if target == "character" else {}
    char_model = None
    if own_models:
        chosen = st.selectbox(
            "Character model",
            [SHIPPED, *own_models],
            key="char_model",
            help="Models you trained on the Training studio page stay here for the rest of the session.",
        )
        char_model = None if chosen == SHIPPED else (chosen, own_models[chosen])

if source is None:
    st.info("Drop an image above, or choose a built-in example.")
    st.stop()
if load_error is not None:
    st.error(str(load_error), icon=":material/broken_image:")
    st.stop()

# --- Run -------------------------------------------------------------------------------------
try:
    result = compare(source, kind, amount, seed, treat_as, char_model)
except engine.ImageError as error:
    st.error(str(error), icon=":material/broken_image:")
    st.stop()
except engine.ModelError as error:  # a missing or damaged model file: say which, and how to rebuild it
    st.error(str(error), icon=":material/error:")
    st.stop()
except Exception:
    log.exception("Denoising failed")
    st.error("Something went wrong while denoising this image. Try another image or other settings.")
    st.stop()

# --- Results ---------------------------------------------------------------------------------
panels = [
    ("Clean", result.clean),
    ("Noisy input", result.noisy),
    (f"Baseline: {result.baseline_name}", result.baseline),
    ("Autoencoder", result.denoised),
]
close_up = result.target == "photo" and st.toggle("Close-up of the centre", key="close_up")
for column, (caption, image) in zip(st.columns(len(panels)), panels, strict=True):
    shown = logic.for_display(image, result.target, close_up)
    column.image(shown, caption=caption, width="stretch", clamp=True, output_format="PNG")

table_col, about_col = st.columns([1, 1])
table_col.dataframe(
    result.metrics,
    hide_index=True,
    column_config={
        "PSNR (dB)": st.column_config.NumberColumn(format="%.2f", help="Higher is closer to the clean image"),
        "SSIM": st.column_config.NumberColumn(format="%.3f", help="Structural similarity, 1 is identical"),
    },
)
table_col.download_button(
    "Download the denoised image",
    functools.partial(engine.encode_png, result.denoised),  # encoded only when clicked
    file_name="denoised.png",
    mime="image/png",
    on_click="ignore",
    icon=":material/download:",
)
about_col.markdown(
    f"**Model:** {result.model_name} ({result.seconds * 1000:.0f} ms)  \n{result.model_summary}"
)
for note in result.notes:
    about_col.caption(note)

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
map. For photos the baseline is the best of several Gaussian blurs and median filters for this
very image, picked by looking at the clean original: a generous opponent. Such filters smooth
noise and edges alike; the autoencoder has learnt to tell them apart. Training on masked pixels
teaches the same network to fill in what is missing, which is how autoencoders complete
missing data.
"""
)
