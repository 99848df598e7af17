"""Training studio: train any autoencoder of the family (undercomplete, sparse, stacked,
convolutional, denoising, variational) in the background, watch it learn, set it beside the
other variants and PCA, compare the training methods, and see PCA and an autoencoder reduce
the same data."""

import hashlib
import logging

import numpy as np
import streamlit as st

import engine
from app_pages import session_models
from app_pages.common import render_open_tab, start_logged_job
from app_pages.logic import sources, studio as logic
from app_pages.parts.studio_common import job_progress, show_image, show_run
from app_pages.parts.studio_compare import compare_tab
from app_pages.parts.studio_methods import methods_tab
from app_pages.parts.studio_pca import pca_tab
from app_pages.text import plain

log = logging.getLogger(__name__)


# --- Data --------------------------------------------------------------------------------------
@st.cache_data(max_entries=16, show_spinner="Reading your images…")
def read_upload(data: bytes, name: str, side: int) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """An uploaded image or zip of images as studio input (N, side, side), with the zip's
    members passed over as (name, reason)."""
    return logic.read_images(data, name, side)


def uploaded_data(files, side: int) -> logic.DataChoice | None:
    """The user's uploads as training data, after reporting each file that cannot be used."""
    parts, digests, names = [], [], []
    for file in files or []:
        data = file.getvalue()
        try:
            images, skipped = read_upload(data, file.name, side)
        except (engine.ImageError, ValueError) as error:  # loaders' DatasetError is a ValueError
            st.error(f"Could not read **{plain(file.name)}**: {error}", icon=":material/broken_image:")
            continue
        if skipped:
            st.warning(logic.skipped_text(file.name, skipped))
        if len(images) == 0:
            st.error(f"**{plain(file.name)}** holds no image that could be read.", icon=":material/broken_image:")
            continue
        parts.append(images)
        digests.append(hashlib.sha256(data).hexdigest())
        names.append(file.name)
    if not parts:
        return None
    images = np.concatenate(parts)
    if len(images) > logic.COUNTS[-1]:
        st.warning(logic.too_many_text(len(images)))
        images = images[: logic.COUNTS[-1]]
    if len(images) < logic.MIN_UPLOADED:
        st.info(logic.too_few_text(len(images)), icon=":material/photo_library:")
        return None
    return logic.uploaded_choice(images, digests, names, side)


def data_choice(running: bool) -> logic.DataChoice | None:
    """The data widgets: built-in digits and how many, or the user's uploads and their side."""
    source_col, count_col = st.columns([2, 1])
    fashion = engine.fashion_available()
    source = source_col.radio("Data", logic.data_sources(fashion), format_func=logic.DATA_LABELS.get, horizontal=True,
                              key="studio_data", bind="query-params", persist_state="session", disabled=running)
    if source != "upload":
        count = count_col.select_slider(
            "Training images (at most)", logic.COUNTS, value=logic.DEFAULT_COUNT, key="studio_count",
            bind="query-params", persist_state="session",
            disabled=running, format_func=lambda n: f"{n:,}",
            help="A seeded random choice from the built-in training images (the 8x8 digits hold 1,497).")
        st.caption(f"{engine.STUDIO_DATA[source].capitalize()}; judged on held-out images never trained on."
                   + ("" if fashion else f" Fashion-MNIST: {engine.fashion_missing_note()}"))
        return logic.builtin_choice(source, count)
    side = count_col.select_slider("Resize to", logic.SIDES, value=28, key="studio_side",
                                   bind="query-params", persist_state="session",
                                   format_func=lambda s: f"{s}x{s}", disabled=running)
    files = st.file_uploader(
        f"Drop images, or zip files of images (up to {logic.MAX_UPLOAD_MB} MB each). They are made grey, "
        "cropped to a square and resized.",
        type=[*engine.UPLOAD_TYPES, "zip"],
        accept_multiple_files=True,
        max_upload_size=logic.MAX_UPLOAD_MB,
        key="studio_files",
        disabled=running,
    )
    choice = uploaded_data(files, side)
    if choice is not None:
        show_image(logic.strip(choice.train[:logic.SHOWN]), f"Some of {plain(choice.label)}, as the network sees them")
    elif not files:
        st.info("Drop a few images or a zip of them to train on your own data.", icon=":material/upload_file:")
    return choice


# --- The Train tab -----------------------------------------------------------------------------
def family_options(family: str) -> tuple[dict, str]:
    """The chosen family's own settings: (config options, training method)."""
    options, method = {}, "all-at-once"
    if family == "undercomplete":
        options["code_activation"] = st.radio("Code activation", ["relu", "sigmoid", "linear"], horizontal=True,
                                              key="studio_activation", bind="query-params", persist_state="session",
                                              help="Linear: the network can at best learn PCA's subspace.")
    if family == "sparse":
        left, middle, right = st.columns(3)
        penalty = left.radio("Penalty", ["l1", "kl"], format_func=str.upper, horizontal=True,
                             key="studio_penalty", bind="query-params", persist_state="session")
        options["penalty"] = penalty
        weights = (None, 1e-6, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2) if penalty == "l1" else (None, 3e-3, 1e-2, 3e-2, 0.1)
        options["weight"] = middle.select_slider(
            "Penalty weight λ", weights, format_func=lambda w: "default" if w is None else f"{w:g}",
            key=f"studio_weight_{penalty}", persist_state="session",
            help="Larger: sparser codes, at some cost in reconstruction.")
        if penalty == "kl":
            options["rho"] = right.slider("Target mean activation ρ", 0.01, 0.3, 0.05, 0.01, key="studio_rho",
                                          bind="query-params",
                                          persist_state="session")
    elif family == "stacked":
        left, middle, right = st.columns(3)
        hidden = left.selectbox("Hidden layers (encoder)", list(logic.HIDDEN_CHOICES), key="studio_hidden", bind="query-params",
                                persist_state="session", help="The decoder mirrors them.")
        options["hidden"] = logic.HIDDEN_CHOICES[hidden]
        options["tied"] = middle.checkbox("Tied weights (Wᵀ)", key="studio_tied", bind="query-params", persist_state="session")
        method = right.radio("Training", engine.TRAINING_METHODS, horizontal=True, key="studio_method", bind="query-params",
                             persist_state="session",
                             help="Layer-wise: half the steps pretrain each layer as a shallow autoencoder, "
                                  "then the whole stack is fine-tuned.")
    if family in ("convolutional", "denoising"):
        options |= code_layer_options()
    if family == "denoising":
        left, right = st.columns(2)
        noise = left.radio("Corruption", ["gaussian", "mask"], horizontal=True, key="studio_noise", bind="query-params",
                           persist_state="session",
                           format_func={"gaussian": "Gaussian noise", "mask": "Random masking"}.get)
        options["noise"] = noise
        if noise == "gaussian":
            options["noise_factor"] = right.slider("Noise standard deviation", 0.1, 1.0, 0.5, 0.05,
                                                   key="studio_noise_factor", bind="query-params", persist_state="session")
        else:
            options["mask_fraction"] = right.slider("Share of pixels masked", 0.1, 0.8, 0.3, 0.05,
                                                    key="studio_mask_fraction", bind="query-params", persist_state="session")
    elif family == "variational":
        options["beta"] = st.slider("β (weight of the KL term)", 0.25, 4.0, 1.0, 0.25, key="studio_beta", bind="query-params",
                                    persist_state="session")
    return {k: v for k, v in options.items() if v is not None}, method


def code_layer_options() -> dict:
    """The convolutional families' code: a dense layer, or the feature maps themselves (the lecture's D, E)."""
    left, right = st.columns(2)
    layer = left.radio("Code", list(logic.CODE_LAYER_LABELS), format_func=logic.CODE_LAYER_LABELS.get,
                       key="studio_code_layer", bind="query-params", persist_state="session")
    if layer == "dense":
        return {}
    maps = right.selectbox("Filters (encoder, decoder)", list(logic.MAPS_CHOICES), key="studio_maps",
                           bind="query-params", persist_state="session")
    channels, decoder = logic.MAPS_CHOICES[maps]
    data = st.session_state.get("studio_data")   # the data widgets come later on the page; their last values
    side = {"digits8": 8, "upload": st.session_state.get("studio_side", 28)}.get(data, 28)
    st.caption(logic.maps_caption(channels, side))
    return {"code_layer": "maps", "channels": channels, "decoder_channels": decoder}


def start_training(spec: logic.RunSpec, choice: logic.DataChoice) -> bool:
    """One run in a background job, recorded in the session's runs when it ends; False (and a
    message saying why) when it cannot start."""
    runs, reports, live = session_models.run_log(), [], logic.LiveViews()

    def work(job: engine.Job) -> logic.Run:
        return logic.train_one(spec, choice, job, reports, runs, live=live)

    job = start_logged_job(work, f"studio-{spec.family}", f"Training a {spec.family} autoencoder", log)
    if job is None:
        return False
    st.session_state[logic.TRAIN_JOB] = logic.Pending(job, reports, spec.epochs, choice.label, live)
    log.info("Training a %s autoencoder on %s for %d epochs", spec.family, choice.label, spec.epochs)
    return True


def apply_preset() -> None:
    """A preset chosen: set the widgets to its network and training (they stay the user's to change)."""
    name = st.session_state.get("studio_preset")
    if name is not None:
        st.session_state.update(logic.preset_settings(name))


def train_tab() -> None:
    """The Train tab: a model of the family, its data and settings, its run and its result."""
    st.markdown(
        "Pick a member of the family, a code size and the data, and train it here, in the background: "
        "the loss curves grow as it learns, and you may stop it at any time or visit other pages. A share "
        "of the training images is kept apart for **validation**; with early stopping, training ends once "
        "the validation error stops improving. The model is then judged on held-out images it never saw, "
        "set beside PCA with the same code size, and exported to ONNX."
    )
    if not engine.training.available():
        st.info(logic.NO_TORCH, icon=":material/info:")
        return
    pending: logic.Pending | None = st.session_state.get(logic.TRAIN_JOB)
    running = pending is not None and pending.job.running

    preset = st.selectbox("Start from a network of the source documents", [None, *engine.STUDIO_PRESETS],
                          format_func=lambda n: "none: the settings below" if n is None else engine.STUDIO_PRESETS[n].label,
                          key="studio_preset", bind="query-params", persist_state="session", on_change=apply_preset,
                          disabled=running)
    if preset is not None:
        chosen = engine.STUDIO_PRESETS[preset]
        st.caption(f"{sources.link('Source ' + chosen.source.split(':')[0])}: {chosen.network}. The settings below are "
                   "set to it (on the built-in digits instead of MNIST); change any of them.")
    family_col, code_col = st.columns([2, 1])
    family = family_col.selectbox("Model", list(logic.FAMILY_LABELS), format_func=logic.FAMILY_LABELS.get,
                                  key="studio_family", bind="query-params", persist_state="session", disabled=running)
    code_size = code_col.select_slider("Code size", logic.CODE_SIZES, value=32, key="studio_code", bind="query-params",
                                       persist_state="session", disabled=running)
    note, formula = logic.FAMILY_NOTES[family]
    st.markdown(note)
    if formula:
        st.latex(formula)
    options, method = family_options(family)
    choice = data_choice(running)

    epochs_col, lr_col, patience_col = st.columns(3)
    epochs = epochs_col.slider("Epochs", 1, logic.MAX_EPOCHS, logic.DEFAULT_EPOCHS, key="studio_epochs",
                               bind="query-params", persist_state="session",
                               disabled=running)
    lr = lr_col.select_slider("Learning rate", logic.LEARNING_RATES, value=logic.DEFAULT_LR, key="studio_lr",
                              bind="query-params", help="1.0 is Adadelta's own rate (Keras' default); far too high for "
                                                         "the other optimisers.",
                              format_func=lambda v: f"{v:g}", persist_state="session", disabled=running)
    patience = patience_col.selectbox(
        "Early stopping patience", (None, 1, 2, 3, 5), index=3, key="studio_patience",
        bind="query-params", persist_state="session",
        format_func=lambda p: "off" if p is None else logic.plural(p, "epoch"), disabled=running,
        help="Stop once this many epochs bring no better validation error; the best epoch's weights are kept.")
    optimizer_col, loss_col, batch_col, schedule_col = st.columns(4)
    optimizer = optimizer_col.selectbox("Optimiser", list(logic.OPTIMIZER_LABELS), format_func=logic.OPTIMIZER_LABELS.get,
                                        key="studio_optimizer", bind="query-params", persist_state="session",
                                        disabled=running)
    if family != "variational":   # the VAE's loss is its ELBO
        options["loss"] = loss_col.selectbox("Loss", list(logic.LOSS_LABELS), format_func=logic.LOSS_LABELS.get,
                                             key="studio_loss", bind="query-params", persist_state="session",
                                             disabled=running)
    batch_size = batch_col.selectbox("Batch size", logic.BATCH_SIZES, index=logic.BATCH_SIZES.index(logic.BATCH_SIZE),
                                     key="studio_batch", bind="query-params", persist_state="session", disabled=running)
    schedule = schedule_col.selectbox("Learning-rate schedule", list(logic.SCHEDULE_LABELS),
                                      format_func=logic.SCHEDULE_LABELS.get, key="studio_schedule", bind="query-params",
                                      persist_state="session", disabled=running)
    live = st.checkbox("Live views while it trains", value=True, key="studio_live", bind="query-params",
                       persist_state="session", disabled=running,
                       help="Held-out reconstructions, the code's histogram and its map at every epoch, and a replay "
                            "after the run. Pause and one step at a time work either way.")
    st.caption(f"A run stops by itself after {logic.MAX_SECONDS // 60} minutes and keeps what it has learnt.")
    if st.button("Train", key="studio_train", type="primary", icon=":material/model_training:",
                 disabled=running or choice is None):
        spec = logic.RunSpec(family, options, method, code_size, epochs, lr, patience, batch_size, optimizer, schedule,
                             live)
        if start_training(spec, choice):
            st.rerun()  # the run is in the session now: draw its progress

    if pending is None:
        return
    st.divider()
    if running:
        st.markdown(f"**Training** on {plain(pending.data_label)}")   # it names the user's files
        job_progress(logic.TRAIN_JOB)
    elif pending.job.state == "failed":
        st.error(f"Training failed: {pending.job.error}", icon=":material/error:")
    elif pending.job.result is None:
        st.info("The run was stopped before it started.", icon=":material/stop_circle:")
    else:
        show_run(pending.job.result, "studio_last")


# --- Page --------------------------------------------------------------------------------------
st.title("Training studio")
st.markdown(
    f"Train your own autoencoder in the browser. {sources.link('The lecture notes')} walk through a family of them, "
    "each a different answer to the same problem: a network made to rebuild its input from a short "
    "code must not simply copy it. Train each here on digits or on your own images, and see the "
    "differences: in the reconstructions, in the code, against PCA and against each other."
)
RENDER = {"Train": (train_tab, "train"), "Compare runs": (compare_tab, "compare the runs"),
          "Training methods": (methods_tab, "compare the training methods"),
          "PCA vs autoencoders": (pca_tab, "compare PCA and autoencoders")}
render_open_tab(logic.TABS, RENDER, "studio_tab", log)
