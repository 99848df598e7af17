"""Colorization: a network that has learnt what colour things usually are paints a grey photo,
and can be fine-tuned on a user's own photos in the background."""

import functools
import hashlib
import logging

import numpy as np
import streamlit as st

import engine
from app_pages.common import job_panel, png, running_text, side_by_side, start_logged_job
from app_pages.logic import colorize as logic
from app_pages.logic.colorize import MODEL
from app_pages.parts import colorize_hints as hint_part
from app_pages.text import file_stem, plain

log = logging.getLogger(__name__)

MAX_UPLOAD_MB = engine.MAX_UPLOAD_BYTES // 2**20  # also server.maxUploadSize in .streamlit/config.toml
TRAIN_PIXELS = 1_000_000  # training photos are kept no larger; the engine trains on patches of them
JOB = "ft_job"  # session-state keys of the fine-tuning run: the Job, and what it was asked
HOLDOUT = "ft_holdout"  # (name, bytes) of the photo kept out of training, for the comparison
ASKED = "ft_asked"  # steps asked for
USE_FINE_TUNED = "use_finetuned"
AUTOMATIC, HINTED = "Automatic", "From my colour points"


# --- Cached helpers --------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def examples() -> dict[str, np.ndarray]:
    return engine.colorize_examples()


# Keyed on the upload's bytes (or the example's name), the strength, the model's key (the sha256 of
# `_model`, not hashed) and the colour points. Images kept as 8-bit; an upload is scaled as decoded.
@st.cache_data(max_entries=12, show_spinner="Colouring…")
def compare(
    source: bytes | str, strength: float | None, model_key: str, _model: bytes | None,
    hints: tuple[tuple[int, int, str], ...] = (),
) -> engine.ColorizeComparison:
    image = examples()[source] if isinstance(source, str) else engine.decode_image(
        source, fit_pixels=engine.COLORIZE_MAX_PIXELS)
    points = logic.engine_hints([logic.Hint(*h) for h in hints]) or None
    return logic.noted_scaling(logic.as_uint8(engine.compare_colorization(
        image, strength=strength, model=MODEL if _model is None else _model, hints=points)), source, image.shape)


@st.cache_data(max_entries=16, show_spinner=False)
def training_photo(data: bytes) -> np.ndarray:
    """An upload decoded and scaled down to what fine-tuning needs."""
    return engine.decode_image(data, fit_pixels=TRAIN_PIXELS)


# --- Plain helpers ---------------------------------------------------------------------------
def fine_tuned_model() -> engine.FineTuneResult | None:
    """The finished (or stopped) fine-tuning run's result, if there is one."""
    return logic.finished_result(st.session_state.get(JOB))


def colour(
    source: bytes | str, name: str, strength: float, onnx: bytes | None, key: str
) -> tuple[engine.ColorizeComparison | None, bool]:
    """The comparison for one photo (by the fine-tuned model when `onnx` is given, with the
    colour points placed on photo `key` in the hint mode), or None after telling the user why
    not; and whether another photo may fare better (False when the model itself is at fault)."""
    hints = tuple((h.y, h.x, h.colour) for h in hint_part.points(key)) if hint_mode else ()
    try:
        return compare(source, strength, logic.model_key(onnx), onnx, hints), True
    except engine.ImageError as error:
        st.error(f"Could not read **{plain(name)}**: {error}", icon=":material/broken_image:")
        return None, True
    except engine.ColorizeError as error:
        st.error(f"Could not colour **{plain(name)}**: {error}", icon=":material/error:")
        return None, True
    except engine.ModelError as error:  # a missing or damaged model file: say which, and how to rebuild it
        st.error(str(error), icon=":material/error:")
    except Exception:
        log.exception("Colorizing %r failed", name)
        st.error(
            f"Something went wrong while colouring **{plain(name)}**. Try another photo.", icon=":material/error:"
        )
    return None, False


def start_fine_tuning(photos: list[np.ndarray], holdout: tuple[str, bytes], steps: int) -> bool:
    """False (and a message saying why) when the run cannot start; the last run is then kept."""
    def work(job: engine.Job) -> engine.FineTuneResult:
        return engine.training.fine_tune_colorizer(photos, steps=steps, progress=job.report, stop=job.should_stop)

    # Photos it cannot use (engine.ColorizeError) are the user's to read, not a failure to log.
    job = start_logged_job(work, "colorize-finetune", "Fine-tuning the colorizer", log, expected=(engine.ColorizeError,))
    if job is None:
        return False
    st.session_state[HOLDOUT] = holdout
    st.session_state[ASKED] = steps
    st.session_state[JOB] = job
    log.info("Fine-tuning the colorizer on %d photos for %d steps", len(photos), steps)
    return True


def click_picture(image: np.ndarray, key: str) -> dict | None:
    """The picture to place points on; the last click on it (x, y, width, height), or None."""
    from streamlit_image_coordinates import streamlit_image_coordinates

    return streamlit_image_coordinates(image, key=key, width="content", cursor="crosshair")


def show_images(panels: list[tuple[str, np.ndarray]], key: str) -> None:
    """(caption, image) side by side, even on a phone; `key` names this row on the page."""
    for column, (caption, image) in zip(side_by_side(len(panels), key), panels, strict=True):
        column.image(png(logic.displayable(image)), caption=caption, width="stretch", output_format="PNG")


# --- Page ------------------------------------------------------------------------------------
st.title("Colorization")
st.markdown(
    "A colorization autoencoder sees only the lightness of a photo and must guess its colour: "
    "sky blue, grass green, skin warm. Drop a photo of your own, colour or grey, or pick one the "
    "network never trained on. A colour photo is made grey first, so that the guess can be "
    "measured against the real colours, next to the plainest guess of all: one mean colour everywhere. "
    "Where the guess is wrong, switch to **From my colour points** and tell it what colour a spot is."
)

fine_tuned = fine_tuned_model()
use_fine_tuned = fine_tuned is not None and st.session_state.get(USE_FINE_TUNED, False)
onnx = fine_tuned.onnx if use_fine_tuned else None

upload_col, example_col, strength_col = st.columns([2, 1, 1], gap="large")
upload = upload_col.file_uploader(
    f"Drop a photo, colour or grey (PNG, JPEG, GIF, BMP, WebP or TIFF, up to {MAX_UPLOAD_MB} MB)",
    type=list(engine.UPLOAD_TYPES),
    max_upload_size=MAX_UPLOAD_MB,
    key="upload",
)
hint_mode = st.segmented_control(
    "Colours", [AUTOMATIC, HINTED], default=AUTOMATIC, key="colour_mode", bind="query-params",
    help="Automatic: the network guesses every colour. From my colour points: click on the photo to "
    "say what colour a spot is, and the network spreads it.",
) == HINTED
calibrated = logic.shipped_strength()
strength = strength_col.slider(
    "Colour strength",
    0.0,
    1.0,
    calibrated,
    0.05,
    key="strength", bind="query-params",
    help=f"The share of the network's own guess in the automatic colours: 0 keeps the photo grey, 1 is its "
    f"full guess. It starts at {calibrated:g}, the share that did best on photos it never trained on.",
)


result, source_name, try_example, key = None, None, True, None
if upload is not None:
    data = upload.getvalue()
    key = "upload-" + hashlib.sha256(data).hexdigest()[:16]
    result, try_example = colour(data, upload.name, strength, onnx, key)
    source_name = upload.name
    if result is None and try_example:
        st.caption("Showing the built-in example instead.")
example = example_col.selectbox(
    "Or a built-in example",
    list(examples()),
    key="example", bind="query-params",
    disabled=result is not None,
    help="Remove your photo to use the examples." if result is not None else None,
)
if result is None and try_example:
    key = "example-" + example
    (result, _), source_name = colour(example, example, strength, onnx, key), example

# --- Results ---------------------------------------------------------------------------------
if result is not None:
    for note in result.notes:
        st.info(note, icon=":material/info:")
    if hint_mode:
        hint_part.hint_panel(key, source_name, result, click_picture)
    st.caption(f"Colours for **{plain(source_name)}**")
    show_images(logic.result_panels(result, use_fine_tuned), "panels")

    table_col, about_col = st.columns([1, 1])
    if result.metrics:
        table_col.dataframe(
            logic.metrics_table(result),
            hide_index=True,
            column_config={
                "PSNR (dB)": st.column_config.TextColumn(
                    help="Against the original colours; higher is closer (the original itself is identical)",
                ),
                "Colourfulness": st.column_config.TextColumn(
                    help="Hasler and Süsstrunk's measure: 0 is grey, above 50 is vivid"
                ),
            },
        )
    stem = file_stem(source_name or "photo", "photo")
    table_col.download_button(
        "Download the colorized photo",
        functools.partial(logic.png, result.colorized if result.hinted is None else result.hinted),
        file_name=f"{stem}_colorized.png",
        mime="image/png",
        on_click="ignore",
        icon=":material/download:",
        key="download_colorized",
    )
    try:
        model_name = engine.model_info(MODEL)["name"]
    except engine.ModelError:
        model_name = "Colorizer"
    about_col.markdown(
        f"**Model:** {logic.model_text(model_name, fine_tuned if use_fine_tuned else None)}  \n"
        f"The network took {result.seconds * 1000:.0f} ms on {engine.device_name()}."
    )
    if result.metrics:
        about_col.caption(logic.caution_text(calibrated))

# --- How it works ----------------------------------------------------------------------------
st.subheader("How colorization works")
st.markdown(
    """
The photo is converted to the **Lab** colour space: $L$ is lightness, $a$ runs from green to red
and $b$ from blue to yellow. The network reads $L$ (and any colour points you placed) and predicts
$a$ and $b$ for every pixel; the photo's own lightness is kept exactly, so only colour is invented.
It is an encoder-decoder: the encoder shrinks the photo to a coarse map of what is where, the
decoder spreads colour back out, and skip connections carry the edges across. It minimises
"""
)
st.latex(
    r"\min_{f}\;\mathbb{E}\,\big\lVert (a, b) - f(L, \text{points}) \big\rVert^2,"
    r"\qquad \text{colorized} = \big(L,\ s \cdot f(L, \varnothing)\big)"
)
st.markdown(
    """
where $s$ is the strength slider. **Colour is ambiguous:** a grey dress may have been red or blue,
and the squared error is smallest for the average of the possibilities, so an unsure network picks
muted colours, close to grey, rather than a loud wrong one. No network can know the dress's colour;
you can. **Colour points** (Zhang et al., 2017, *Real-Time User-Guided Image Colorization with
Learned Deep Priors*) tell it: each point's colour is first spread smoothly in every direction, and
the network, trained on photos with random points of their true colour, learns to keep that colour
inside the region the point is in and to stop it at the region's edges. A few points often fix a
whole photo, because a region's colour barely changes across it.
"""
)

# --- Fine-tuning -----------------------------------------------------------------------------


def training_progress() -> None:
    job = st.session_state.get(JOB)
    if job is None:
        return
    job_panel(
        job,
        "ft",
        lambda: running_text(job, "Stopping: exporting the model as it is after the steps done…"),
        lambda: logic.live_loss_figure(job.updates),
    )


def finished_run(job: engine.Job) -> None:
    """What a run that has ended shows: its error, or the held-out comparison and the model."""
    if job.state == "failed":
        st.error(f"Fine-tuning failed: {job.error}", icon=":material/error:")
        return
    result: engine.FineTuneResult | None = job.result
    if result is None:
        st.info("The run was stopped before it started.", icon=":material/stop_circle:")
        return
    if job.state == "stopped":
        st.warning(logic.stopped_text(result, st.session_state.get(ASKED, result.steps)), icon=":material/stop_circle:")
    else:
        st.success(logic.done_text(result), icon=":material/check_circle:")
    name, data = st.session_state[HOLDOUT]
    try:
        # each model at its own automatic strength: the shipped one's calibrated, the fine-tuned one's full
        shipped = compare(data, None, MODEL, None)
        tuned = compare(data, None, logic.model_key(result.onnx), result.onnx)
    except (engine.ImageError, engine.ModelError, ValueError) as error:
        st.error(f"Could not compare the models on **{plain(name)}**: {error}", icon=":material/error:")
        return
    except Exception:
        log.exception("Comparing the models on %r failed", name)
        st.error(f"Something went wrong while comparing the models on **{plain(name)}**.", icon=":material/error:")
        return
    st.markdown(f"**Before and after, on {plain(name)}** (held out: the fine-tuning never saw it; each model at its "
                "own automatic strength)")
    show_images(logic.before_after_panels(shipped, tuned), "before_after")
    before, after = logic.autoencoder_psnr(shipped), logic.autoencoder_psnr(tuned)
    if before is None or after is None:
        st.caption(f"{plain(name)} is grey, so there are no colours to measure the two models against.")
    else:
        shipped_col, tuned_col = st.columns(2)
        shipped_col.metric("PSNR, shipped model", f"{before:.2f} dB")
        tuned_col.metric("PSNR, fine-tuned model", f"{after:.2f} dB", delta=f"{after - before:+.2f} dB")
    if result.losses:
        st.plotly_chart(logic.final_loss_figure(result.losses), key="ft_final_loss")
    st.toggle(
        "Use my fine-tuned model above",
        key=USE_FINE_TUNED,
        persist_state="session",  # kept while the user visits other pages
        help="Colour the photo at the top of the page with this model for the rest of your session. "
        "The shipped model is never changed.",
    )
    st.download_button(
        "Download the fine-tuned model (ONNX)",
        result.onnx,
        file_name="colorizer_finetuned.onnx",
        mime="application/octet-stream",
        on_click="ignore",
        icon=":material/download:",
        key="ft_download",
    )


def fine_tuning() -> None:
    job = st.session_state.get(JOB)
    running = job is not None and job.running
    files = st.file_uploader(
        f"Colour photos to train on (up to {MAX_UPLOAD_MB} MB each)",
        type=list(engine.UPLOAD_TYPES),
        accept_multiple_files=True,
        max_upload_size=MAX_UPLOAD_MB,
        key="ft_photos",
        disabled=running,
    )
    photos: dict[str, tuple[np.ndarray, bytes]] = {}
    grey: list[str] = []
    for file, name in zip(files or [], logic.unique_names([file.name for file in files or []]), strict=True):
        data = file.getvalue()
        try:
            photo = training_photo(data)
        except engine.ImageError as error:
            st.error(f"Could not read **{plain(name)}**: {error}", icon=":material/broken_image:")
            continue
        if engine.is_grey(photo):
            grey.append(name)
        else:
            photos[name] = (photo, data)
    if grey:
        st.warning(f"Left out, being grey: {plain(', '.join(grey))}. A grey photo has no colour to learn from.")

    pick_col, steps_col, button_col = st.columns([2, 2, 1], vertical_alignment="bottom")
    steps = steps_col.slider(
        "Training steps",
        50,
        1000,
        300,
        50,
        key="ft_steps", bind="query-params",
        disabled=running,
        help="Each step shows the network 8 random patches of your photos.",
    )
    training, holdout = [], None
    if len(photos) < 2:
        st.info(logic.photos_needed_text(len(photos)), icon=":material/photo_library:")
    else:
        names = list(photos)
        holdout = pick_col.selectbox(
            "Hold out (not trained on, compared before and after)",
            names,
            index=len(names) - 1,
            key="ft_holdout_pick",
            disabled=running,
        )
        training = [photo for name, (photo, _) in photos.items() if name != holdout]
    if button_col.button(
        "Fine-tune",
        key="ft_start",
        type="primary",
        disabled=running or not training,
        icon=":material/model_training:",
    ):
        if start_fine_tuning(training, (holdout, photos[holdout][1]), steps):
            st.rerun()  # the run is in the session now: draw its progress

    if job is None:
        return
    if running:
        training_progress()
    else:
        finished_run(job)


with st.expander(
    "Train on your own photos", expanded=JOB in st.session_state, icon=":material/model_training:"
):
    st.markdown(
        "Fine-tuning goes on training a copy of the network on your colour photos, a minute or so, in the "
        "background: you may visit other pages meanwhile. One photo is held out, so that the shipped and "
        "the fine-tuned network can be compared fairly on a photo neither trained on. The shipped model "
        "is never changed; the fine-tuned one lives in your session and can be downloaded."
    )
    if not engine.training.available():
        st.info(
            "Fine-tuning needs PyTorch, which this installation (made for serving) does not have. "
            "Install it with `pip install -r requirements-train.txt` and restart the app.",
            icon=":material/info:",
        )
    else:
        fine_tuning()
