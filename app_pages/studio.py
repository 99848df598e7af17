"""Training studio: train any autoencoder of the family (undercomplete, sparse, stacked,
convolutional, denoising, variational) in the background, watch it learn, set it beside the
other variants and PCA, compare the training methods, and see PCA and an autoencoder reduce
the same data."""

import dataclasses
import hashlib
import importlib.util
import json
import logging
import time

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import engine
from app_pages.common import job_panel, render_open_tab, report, running_text, start_logged_job

log = logging.getLogger(__name__)

HAS_TORCH = importlib.util.find_spec("torch") is not None  # serving-only installs have no torch
MAX_UPLOAD_MB = engine.MAX_UPLOAD_BYTES // 2**20  # also server.maxUploadSize in .streamlit/config.toml
TABS = ["Train", "Compare runs", "Training methods", "PCA vs autoencoders"]
TRAIN_JOB = "studio_job"  # session-state keys: the Train tab's run and the Training methods tab's
METHODS_JOB = "methods_job"
RUNS = "studio_runs"  # every model trained on this page in this session (a list of Run)
MAX_RUNS = 12  # runs kept per session; older ones are dropped
# Bounds on what one run may ask for, so that it ends in a few minutes on a small CPU.
MAX_EPOCHS = 30
COUNTS = (250, 500, 1000, 2000, 5000, 12000)  # training images; the built-in 28x28 digits hold 11,497
MAX_SECONDS = 300  # a run that reaches this keeps what it has learnt (the methods: each of the three)
BATCH_SIZE = 128
HELDOUT_RENDERED = 200  # built-in 28x28 digits are judged on these many in unseen fonts + 300 handwritten
HELDOUT_SHARE = 0.1  # of the user's images, held out for judging
MIN_UPLOADED = 3  # one held out, one for validation, one to train on
# The comparison's "from noisy input" column: the noise engine.studio.compare_family gives PCA's
# row (its NOISY_EVAL and HELDOUT_SEED, not in engine's public API yet; the tests check they agree).
NOISY_EVAL = 0.5
NOISY_SEED = 1234
SHOWN = 10  # held-out images shown with their reconstructions
DATA_LABELS = {
    "digits28": "Built-in digits, 28x28",
    "digits8": "Built-in handwritten digits, 8x8",
    "upload": "Your images",
}
FAMILY_LABELS = {
    "undercomplete": "Undercomplete (one hidden layer)",
    "sparse": "Sparse (L1 or KL penalty on the code)",
    "stacked": "Stacked / deep (symmetric layers)",
    "convolutional": "Convolutional",
    "denoising": "Denoising (noise or masking)",
    "variational": "Variational (VAE)",
}
METHOD_LABELS = {
    "stacked": "All layers at once",
    "stacked-layer-wise": "Layer-wise pretraining, then fine-tuning",
    "stacked-tied": "Tied weights (decoder = encoder transposed)",
}
HIDDEN_CHOICES = {"128-64": (128, 64), "256-128-64": (256, 128, 64), "64": (64,)}
SIDES = (16, 28, 32)  # the side users' images are resized to (the convolutional families need a multiple of 4)
DIGIT_COLOURS = [  # Tableau 10, one colour per digit
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
]  # fmt: skip
NO_TORCH = (
    "Training needs PyTorch, which this installation (made for serving) does not have. Install it "
    "with `pip install -r requirements-train.txt` and restart the app."
)


# --- What a run is -----------------------------------------------------------------------------
@dataclasses.dataclass
class DataChoice:
    """The images a run trains on. Runs with the same key saw the same training images and are
    judged on the same held-out ones, so the comparison puts them in one table."""

    key: str
    label: str
    builtin: str | None  # "digits28" or "digits8": loaded inside the job; None: the user's images
    count: int  # at most this many training images
    train: np.ndarray | None = None  # the user's images (N, S, S)
    heldout: np.ndarray | None = None


@dataclasses.dataclass
class RunSpec:
    """What the user asked for: a model of the family and its training settings."""

    family: str
    options: dict
    method: str
    code_size: int
    epochs: int
    lr: float
    patience: int | None


@dataclasses.dataclass
class Run:
    number: int
    label: str
    data: DataChoice
    result: engine.StudioResult  # with the ONNX model in result.onnx
    noisy_mse: float  # held-out reconstruction error from gaussian-noisy input (the clean image is the target)
    pca: dict | None  # PCA's row of the comparison at this code size (None: too few images for it)
    ended: str  # "finished", "stopped", "early stopping" or "time limit"
    group: int | None = None  # the Training methods comparison it belongs to


@dataclasses.dataclass
class Pending:
    """A background run kept in the session: the job, its reports as they come, what was asked."""

    job: engine.Job
    reports: list  # (label, engine.StudioProgress) in the order they came
    epochs: int
    data_label: str


# --- Data --------------------------------------------------------------------------------------
def builtin_data(kind: str, count: int) -> tuple[np.ndarray, np.ndarray, str]:
    """The first `count` of a seeded shuffle of the built-in training digits, and the held-out
    digits; called inside the job (the engine keeps the rendered digits for the process)."""
    data = engine.builtin_digits(kind, heldout_count=HELDOUT_RENDERED)
    chosen = np.sort(np.random.default_rng(0).permutation(len(data.train))[:count])
    picked = data.note if len(chosen) == len(data.train) else f"{len(chosen):,} chosen at random from {data.note}"
    note = f"{picked}; judged on {data.heldout_note}"
    return data.train[chosen], data.heldout, note


def builtin_choice(kind: str, count: int) -> DataChoice:
    return DataChoice(f"{kind}:{count}", f"{DATA_LABELS[kind].lower()}, {count:,} training images at most",
                      kind, count)


def materialize(choice: DataChoice) -> tuple[np.ndarray, np.ndarray, str]:
    if choice.builtin is not None:
        return builtin_data(choice.builtin, choice.count)
    return choice.train, choice.heldout, choice.label


@st.cache_data(max_entries=16, show_spinner="Reading your images…")
def read_upload(data: bytes, name: str, side: int) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """An uploaded image or zip of images as studio input (N, side, side), with the zip's
    members passed over as (name, reason)."""
    if name.lower().endswith(".zip"):
        folder = engine.load_image_folder(data)
        if not folder.images:
            return np.zeros((0, side, side), np.float32), folder.skipped
        return engine.prepare_images(folder.images, side), folder.skipped
    return engine.prepare_images([engine.decode_image(data)], side), []


def split_heldout(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A seeded share of the user's images held out for judging, the rest to train on."""
    order = np.random.default_rng(0).permutation(len(images))
    held = max(1, round(len(images) * HELDOUT_SHARE))
    return images[np.sort(order[held:])], images[np.sort(order[:held])]


def uploaded_data(files, side: int) -> DataChoice | None:
    """The user's uploads as training data, after reporting each file that cannot be used."""
    parts, digests, names = [], [], []
    for file in files or []:
        data = file.getvalue()
        try:
            images, skipped = read_upload(data, file.name, side)
        except (engine.ImageError, ValueError) as error:  # loaders' DatasetError is a ValueError
            st.error(f"Could not read **{file.name}**: {error}", icon=":material/broken_image:")
            continue
        if skipped:
            listed = "; ".join(f"{member}: {reason}" for member, reason in skipped[:5])
            more = f" (and {len(skipped) - 5} more)" if len(skipped) > 5 else ""
            st.warning(f"In **{file.name}**, {len(skipped)} files were passed over: {listed}{more}")
        if len(images) == 0:
            st.error(f"**{file.name}** holds no image that could be read.", icon=":material/broken_image:")
            continue
        parts.append(images)
        digests.append(hashlib.sha256(data).hexdigest())
        names.append(file.name)
    if not parts:
        return None
    images = np.concatenate(parts)
    if len(images) > COUNTS[-1]:
        st.warning(f"Your files hold {len(images):,} images; the first {COUNTS[-1]:,} are used.")
        images = images[: COUNTS[-1]]
    if len(images) < MIN_UPLOADED:
        st.info(
            f"Training on your images needs at least {MIN_UPLOADED}: one held out to judge the model, one for "
            f"validation and one to train on. There {'is' if len(images) == 1 else 'are'} {len(images)}.",
            icon=":material/photo_library:",
        )
        return None
    train, heldout = split_heldout(images)
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    key = "upload:" + hashlib.sha256("".join(digests).encode()).hexdigest()[:16] + f":{side}"
    label = f"your {len(images):,} images ({shown}) at {side}x{side}, {len(heldout)} held out"
    return DataChoice(key, label, None, len(train), train, heldout)


# --- Training in the background ----------------------------------------------------------------
def run_label(result: engine.StudioResult) -> str:
    """A run's model in words, from the config it was trained with (defaults filled in)."""
    config, family = result.config, result.family
    if family == "sparse":
        what = f"sparse ({config['penalty'].upper()}, λ={config['weight']:g}"
        what += f", ρ={config['rho']:g})" if config["penalty"] == "kl" else ")"
    elif family == "stacked":
        what = "stacked " + "-".join(map(str, config["hidden"]))
        what += ", tied" if config["tied"] else ""
        what += ", layer-wise" if result.settings.method == "layer-wise" else ""
    elif family == "denoising":
        amount = config["noise_factor"] if config["noise"] == "gaussian" else config["mask_fraction"]
        what = f"denoising ({config['noise']} {amount:g})"
    elif family == "variational":
        what = f"variational (β={config['beta']:g})"
    else:
        what = family
    return f"{what}, code {config['code_size']}"


def how_it_ended(result: engine.StudioResult, job: engine.Job) -> str:
    if result.stopped:
        return "stopped" if job.should_stop() else "time limit"
    return "early stopping" if result.stopped_early else "finished"


def train_one(spec: RunSpec, choice: DataChoice, job: engine.Job, reports: list, runs: list,
              label: str = "", part: int = 0, parts: int = 1, group: int | None = None) -> Run:
    """Train one model inside a job and add it to the session's runs. Reports go to `reports`
    and to the job, counted as part `part` of `parts` equal ones (the methods train three)."""
    train, heldout, note = materialize(choice)
    deadline = time.monotonic() + MAX_SECONDS

    def progress(p: engine.StudioProgress) -> None:
        reports.append((label, p))
        job.report(engine.JobUpdate(part * p.steps + p.step, parts * p.steps, p.loss, p.seconds, p.validation))

    result = engine.train_model(
        spec.family, train, code_size=spec.code_size, epochs=spec.epochs, lr=spec.lr,
        batch_size=BATCH_SIZE, patience=spec.patience, method=spec.method, options=spec.options,
        heldout=heldout, data_note=note, progress=progress,
        stop=lambda: job.should_stop() or time.monotonic() > deadline,
    )  # fmt: skip
    noisy = engine.add_noise(heldout, "gaussian", NOISY_EVAL, seed=NOISY_SEED)
    noisy_mse = float(np.mean((engine.reconstruct_and_encode(result.onnx, noisy)[0] - heldout) ** 2))
    # PCA is fit once per data and code size.
    known = [r.pca for r in runs if r.data.key == choice.key and r.pca and r.pca["code_size"] == spec.code_size]
    pca = known[0] if known else None
    if pca is None:
        try:
            pca = engine.compare_family(train, heldout, code_size=spec.code_size, families=())[0]
        except ValueError:  # more components than images
            pca = None
    number = max((r.number for r in runs), default=0) + 1
    # The run keeps its data's name, not its images: the held-out ones are in the result.
    data = dataclasses.replace(choice, train=None, heldout=None)
    run = Run(number, f"#{number} {run_label(result)}", data, result, noisy_mse, pca, how_it_ended(result, job),
              group)
    runs.append(run)
    del runs[:-MAX_RUNS]
    return run


def start_training(spec: RunSpec, choice: DataChoice) -> None:
    runs, reports = st.session_state.setdefault(RUNS, []), []

    def work(job: engine.Job) -> Run:
        return train_one(spec, choice, job, reports, runs)

    job = start_logged_job(work, f"studio-{spec.family}", f"Training a {spec.family} autoencoder", log)
    st.session_state[TRAIN_JOB] = Pending(job, reports, spec.epochs, choice.label)
    log.info("Training a %s autoencoder on %s for %d epochs", spec.family, choice.label, spec.epochs)


def start_methods(choice: DataChoice, code_size: int, epochs: int, lr: float) -> None:
    runs, reports = st.session_state.setdefault(RUNS, []), []
    group = max((r.group or 0 for r in runs), default=0) + 1

    def work(job: engine.Job) -> list[Run]:
        done = []
        for i, (variant, label) in enumerate(METHOD_LABELS.items()):
            if job.should_stop():
                break
            family, options, method = engine.VARIANTS[variant]
            spec = RunSpec(family, dict(options), method, code_size, epochs, lr, None)
            done.append(train_one(spec, choice, job, reports, runs, label, i, len(METHOD_LABELS), group))
        return done

    job = start_logged_job(work, "studio-methods", "Comparing the training methods", log)
    st.session_state[METHODS_JOB] = Pending(job, reports, epochs, choice.label)


def job_progress(key: str) -> None:
    pending: Pending | None = st.session_state.get(key)
    if pending is None:
        return

    def text() -> str:
        if pending.job.should_stop() or pending.job.state == "queued":
            return running_text(pending.job, "Stopping: exporting the model as it is after the steps done…")
        if not pending.reports:
            return "Preparing the data and training the first epoch…"
        label, p = pending.reports[-1]
        words = f"{label} · " if label else ""
        words += f"{p.phase}, epoch {p.epoch:.0f} of {pending.epochs} · loss {p.loss:.4f}"
        words += f" · validation MSE {p.validation:.4f}" if p.validation is not None else ""
        return words + f" · {p.seconds:.0f} s"

    job_panel(pending.job, key, text,
              lambda: curves_figure(list(pending.reports), "Learning so far") if pending.reports else None)


# --- Figures and pictures ----------------------------------------------------------------------
def curves_figure(entries: list, title: str) -> go.Figure:
    """Training objective (left axis) and validation MSE (right axis) against epochs, one pair
    of lines per label. Pretraining reports (layer pairs' own losses) are left out and shaded."""
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    labels = list(dict.fromkeys(label for label, _ in entries))
    for i, label in enumerate(labels):
        colour = DIGIT_COLOURS[i % len(DIGIT_COLOURS)]
        ours = [p for name, p in entries if name == label]
        trained = [p for p in ours if not p.phase.startswith("pretraining")]
        prefix = f"{label}: " if label else ""
        figure.add_trace(go.Scatter(x=[p.epoch for p in trained], y=[p.loss for p in trained],
                                    mode="lines+markers", name=f"{prefix}training objective",
                                    line={"color": colour}), secondary_y=False)
        checked = [p for p in trained if p.validation is not None]
        figure.add_trace(go.Scatter(x=[p.epoch for p in checked], y=[p.validation for p in checked],
                                    mode="lines+markers", name=f"{prefix}validation MSE",
                                    line={"color": colour, "dash": "dot"}), secondary_y=True)
        pretraining = [p.epoch for p in ours if p.phase.startswith("pretraining")]
        if pretraining:
            figure.add_vrect(x0=0, x1=max(pretraining), fillcolor=colour, opacity=0.08, line_width=0,
                             annotation_text="layer-wise pretraining", annotation_position="top left")
    figure.update_layout(title=title, height=330, margin={"t": 50, "b": 10},
                         legend={"orientation": "h", "y": -0.25})
    figure.update_xaxes(title_text="epoch")
    figure.update_yaxes(title_text="training objective", secondary_y=False)
    figure.update_yaxes(title_text="validation MSE", secondary_y=True)
    return figure


def strip(images: np.ndarray, tile: int = 56) -> np.ndarray:
    """Grey images (n, S, S) side by side, each enlarged by a whole factor to about `tile`
    pixels (nearest neighbour: the pixels the network sees), as 8-bit pixels."""
    factor = max(1, round(tile / images.shape[-1]))
    big = np.clip(images, 0, 1).repeat(factor, axis=1).repeat(factor, axis=2)
    gap = np.ones((big.shape[1], 2), dtype=big.dtype)
    pieces = [piece for image in big for piece in (image, gap)][:-1]
    return np.round(np.concatenate(pieces, axis=1) * 255).astype(np.uint8)


def show_image(pixels: np.ndarray, caption: str, where=st) -> None:
    """At its own size (enlarged by strip): st.image would otherwise fit it to its caption."""
    where.image(pixels, caption=caption, width=int(pixels.shape[1]), output_format="PNG")


def code_figures(codes: np.ndarray) -> tuple[go.Figure, go.Figure]:
    """A histogram of code values with the near-zero band shaded, and each unit's mean |value|."""
    values = codes.ravel()
    histogram = go.Figure(go.Histogram(x=values, nbinsx=60, marker_color="#3b6fd4"))
    histogram.add_vrect(x0=-engine.NEAR_ZERO, x1=engine.NEAR_ZERO, fillcolor="#e15759", opacity=0.15,
                        line_width=0, annotation_text="near zero", annotation_position="top left")
    histogram.update_layout(title="Code values over the held-out images", xaxis_title="code value",
                            yaxis_title="count", height=300, margin={"t": 50, "b": 10})
    means = np.sort(np.abs(codes).mean(axis=0))[::-1]
    units = go.Figure(go.Bar(x=np.arange(1, len(means) + 1), y=means, marker_color="#59a14f"))
    units.add_hline(y=engine.NEAR_ZERO, line_dash="dot", line_color="#e15759")
    units.update_layout(title="Mean |value| of each code unit, largest first", xaxis_title="unit (sorted)",
                        yaxis_title="mean |code|", height=300, margin={"t": 50, "b": 10})
    return histogram, units


def onnx_metadata(onnx: bytes) -> dict:
    """The exported model's metadata_props, with JSON values read back."""
    shown = {}
    for key, value in engine.model_metadata(onnx).items():
        try:
            shown[key] = json.loads(value)
        except ValueError:
            shown[key] = value
    return shown


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def show_run(run: Run, key: str) -> None:
    """A finished run: how it ended, its numbers beside PCA's, held-out reconstructions, the
    code's statistics, its learning curves, and the ONNX model with its metadata."""
    result = run.result
    epochs = result.history[-1].epoch if result.history else 0
    asked = result.settings.epochs
    if run.ended == "stopped":
        st.warning(f"**{run.label}**: stopped after {epochs:.1f} of {asked} epochs; below is the model as it "
                   "was then.", icon=":material/stop_circle:")
    elif run.ended == "time limit":
        st.warning(f"**{run.label}**: reached the {MAX_SECONDS // 60}-minute limit after {epochs:.1f} of {asked} "
                   "epochs; below is the model as it was then.", icon=":material/timer:")
    elif run.ended == "early stopping":
        st.info(f"**{run.label}**: early stopping after {epochs:.0f} of {asked} epochs (the validation error "
                f"did not improve for {plural(result.settings.patience, 'epoch')}); the best epoch's weights "
                "were kept.", icon=":material/trending_flat:")
    else:
        st.success(f"**{run.label}**: trained for {plural(asked, 'epoch')} in {result.seconds:.1f} s.",
                   icon=":material/check_circle:")
    st.caption(f"Trained on {result.data_note}.")
    stats = result.code_stats
    columns = st.columns(6)
    columns[0].metric("Held-out MSE", f"{result.heldout_mse:.4f}", help="Mean squared error of the held-out "
                      "images' reconstructions, pixels in [0, 1]")
    if run.pca is not None:
        columns[1].metric(f"PCA, code {run.pca['code_size']}", f"{run.pca['heldout_mse']:.4f}",
                          help="PCA with the same code size, fit on the same training images")
    columns[2].metric("Near-zero share", f"{stats.near_zero_share:.0%}",
                      help=f"Share of code values with |value| < {engine.NEAR_ZERO}: units at rest")
    columns[3].metric("Mean |code|", f"{stats.mean_activation:.3f}")
    columns[4].metric("Parameters", f"{result.parameters:,}")
    columns[5].metric("Training time", f"{result.seconds:.1f} s")

    shown = min(SHOWN, len(result.heldout))
    show_image(strip(result.heldout[:shown]), "Held-out originals")
    show_image(strip(result.reconstructions[:shown]), "Reconstructions")

    histogram, units = code_figures(result.codes)
    left, right = st.columns(2)
    left.plotly_chart(histogram, key=f"{key}_histogram")
    right.plotly_chart(units, key=f"{key}_units")
    st.caption(f"{stats.active_units:.1f} of {result.codes.shape[1]} units are active for an average image; "
               f"{stats.dead_units} never are.")
    if result.history:
        st.plotly_chart(curves_figure([("", p) for p in result.history], "Learning curves"), key=f"{key}_curves")

    download, about = st.columns([1, 2])
    download.download_button(
        "Download the model (ONNX)",
        result.onnx,
        file_name=f"studio_{run.number}_{result.family}.onnx",
        mime="application/octet-stream",
        on_click="ignore",
        icon=":material/download:",
        key=f"{key}_download",
    )
    about.caption(
        f"One ONNX file ({len(result.onnx) / 1024:,.0f} KB): input `input` "
        f"(N, 1, {result.heldout.shape[-2]}, {result.heldout.shape[-1]}), outputs `reconstruction` and `code`. "
        "It runs with onnxruntime alone; its metadata says how it was trained."
    )
    with st.expander("Model metadata", icon=":material/info:"):
        st.json(onnx_metadata(result.onnx), expanded=1)


# --- Tabs --------------------------------------------------------------------------------------
FAMILY_NOTES = {
    "undercomplete": (
        "One hidden layer narrower than the input: $D$ pixels in, a code of $K < D$ numbers, $D$ pixels out. "
        "It cannot copy, so it keeps what matters most. With linear layers and squared error it would "
        "find PCA's subspace; the nonlinearity lets it do more.",
        r"z = \mathrm{ReLU}(W x + b),\qquad \hat x = \sigma(W' z + b'),\qquad "
        r"\mathcal{L} = \mathrm{BCE}(x, \hat x)",
    ),
    "sparse": (
        "The undercomplete network with a penalty on the code, so that few units fire for any one image "
        "and each comes to stand for a feature. **L1** adds the code's absolute values; **KL** pulls each "
        "unit's mean activation $\\hat\\rho_j$ over a batch towards a small target $\\rho$.",
        r"\mathcal{L}_{L1} = \mathrm{BCE}(x, \hat x) + \lambda \sum_j |z_j|,\qquad "
        r"\mathcal{L}_{KL} = \mathrm{BCE}(x, \hat x) + \lambda \sum_j \Big[\rho \log\frac{\rho}{\hat\rho_j}"
        r" + (1-\rho)\log\frac{1-\rho}{1-\hat\rho_j}\Big]",
    ),
    "stacked": (
        "Several dense layers, symmetric about the code. Deeper encoders can bend the data into a code "
        "more freely. With **tied weights** each decoder layer uses its encoder layer's matrix transposed: "
        "half the weights, and a built-in symmetry.",
        r"h_{l} = \mathrm{ReLU}(W_l h_{l-1} + b_l),\qquad \text{tied: } \hat h_{l-1} = \mathrm{ReLU}(W_l^{\top} "
        r"\hat h_l + c_l)",
    ),
    "convolutional": (
        "Convolutions instead of dense layers: two stride-2 convolutions down to feature maps a quarter "
        "of the side, a dense layer to the code, and transposed convolutions back up. Filters are shared "
        "over the image, so it needs fewer weights and keeps strokes sharp.",
        None,
    ),
    "denoising": (
        "The convolutional network trained to rebuild the **clean** image from a corrupted one (gaussian "
        "noise, or a share of pixels masked to 0). It cannot just copy its input, so it learns what the "
        "images look like; compare its *MSE from noisy input* with the others' in **Compare runs**.",
        r"\tilde x = \mathrm{corrupt}(x),\qquad \mathcal{L} = \mathrm{BCE}\big(x, g(f(\tilde x))\big)",
    ),
    "variational": (
        "The encoder gives a Gaussian over codes, not one code. Training decodes a sample drawn by the "
        "reparameterization trick and adds a KL term that keeps the codes near a standard normal, so the "
        "code space can be sampled (the **VAE generation** page). Its code here is the mean $\\mu$.",
        r"z = \mu(x) + \sigma(x) \odot \varepsilon,\ \varepsilon \sim \mathcal{N}(0, I),\qquad "
        r"\mathcal{L} = \mathrm{BCE}\big(x, g(z)\big) + \beta\, \mathrm{KL}\big(\mathcal{N}(\mu, \sigma^2) "
        r"\,\|\, \mathcal{N}(0, I)\big)",
    ),
}


def family_options(family: str) -> tuple[dict, str]:
    """The chosen family's own settings: (config options, training method)."""
    options, method = {}, "all-at-once"
    if family == "sparse":
        left, middle, right = st.columns(3)
        penalty = left.radio("Penalty", ["l1", "kl"], format_func=str.upper, horizontal=True,
                             key="studio_penalty", persist_state="session")
        options["penalty"] = penalty
        weights = (None, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2) if penalty == "l1" else (None, 3e-3, 1e-2, 3e-2, 0.1)
        options["weight"] = middle.select_slider(
            "Penalty weight λ", weights, format_func=lambda w: "default" if w is None else f"{w:g}",
            key=f"studio_weight_{penalty}", persist_state="session",
            help="Larger: sparser codes, at some cost in reconstruction.")
        if penalty == "kl":
            options["rho"] = right.slider("Target mean activation ρ", 0.01, 0.3, 0.05, 0.01, key="studio_rho",
                                          persist_state="session")
    elif family == "stacked":
        left, middle, right = st.columns(3)
        hidden = left.selectbox("Hidden layers (encoder)", list(HIDDEN_CHOICES), key="studio_hidden",
                                persist_state="session", help="The decoder mirrors them.")
        options["hidden"] = HIDDEN_CHOICES[hidden]
        options["tied"] = middle.checkbox("Tied weights (Wᵀ)", key="studio_tied", persist_state="session")
        method = right.radio("Training", engine.TRAINING_METHODS, horizontal=True, key="studio_method",
                             persist_state="session",
                             help="Layer-wise: half the steps pretrain each layer as a shallow autoencoder, "
                                  "then the whole stack is fine-tuned.")
    elif family == "denoising":
        left, right = st.columns(2)
        noise = left.radio("Corruption", ["gaussian", "mask"], horizontal=True, key="studio_noise",
                           persist_state="session",
                           format_func={"gaussian": "Gaussian noise", "mask": "Random masking"}.get)
        options["noise"] = noise
        if noise == "gaussian":
            options["noise_factor"] = right.slider("Noise standard deviation", 0.1, 1.0, 0.5, 0.05,
                                                   key="studio_noise_factor", persist_state="session")
        else:
            options["mask_fraction"] = right.slider("Share of pixels masked", 0.1, 0.8, 0.3, 0.05,
                                                    key="studio_mask_fraction", persist_state="session")
    elif family == "variational":
        options["beta"] = st.slider("β (weight of the KL term)", 0.25, 4.0, 1.0, 0.25, key="studio_beta",
                                    persist_state="session")
    return {k: v for k, v in options.items() if v is not None}, method


def data_choice(running: bool) -> DataChoice | None:
    source_col, count_col = st.columns([2, 1])
    source = source_col.radio("Data", list(DATA_LABELS), format_func=DATA_LABELS.get, horizontal=True,
                              key="studio_data", persist_state="session", disabled=running)
    if source != "upload":
        count = count_col.select_slider(
            "Training images (at most)", COUNTS, value=2000, key="studio_count", persist_state="session",
            disabled=running, format_func=lambda n: f"{n:,}",
            help="A seeded random choice from the built-in training digits (the 8x8 set holds 1,497).")
        st.caption(f"{engine.STUDIO_DATA[source].capitalize()}; judged on held-out digits never trained on.")
        return builtin_choice(source, count)
    side = count_col.select_slider("Resize to", SIDES, value=28, key="studio_side", persist_state="session",
                                   format_func=lambda s: f"{s}x{s}", disabled=running)
    files = st.file_uploader(
        f"Drop images, or zip files of images (up to {MAX_UPLOAD_MB} MB each). They are made grey, "
        "cropped to a square and resized.",
        type=[*engine.UPLOAD_TYPES, "zip"],
        accept_multiple_files=True,
        max_upload_size=MAX_UPLOAD_MB,
        key="studio_files",
        disabled=running,
    )
    choice = uploaded_data(files, side)
    if choice is not None:
        show_image(strip(choice.train[:SHOWN]), f"Some of {choice.label}, as the network sees them")
    elif not files:
        st.info("Drop a few images or a zip of them to train on your own data.", icon=":material/upload_file:")
    return choice


def train_tab() -> None:
    st.markdown(
        "Pick a member of the family, a code size and the data, and train it here, in the background: "
        "the loss curves grow as it learns, and you may stop it at any time or visit other pages. A share "
        "of the training images is kept apart for **validation**; with early stopping, training ends once "
        "the validation error stops improving. The model is then judged on held-out images it never saw, "
        "set beside PCA with the same code size, and exported to ONNX."
    )
    if not HAS_TORCH:
        st.info(NO_TORCH, icon=":material/info:")
        return
    pending: Pending | None = st.session_state.get(TRAIN_JOB)
    running = pending is not None and pending.job.running

    family_col, code_col = st.columns([2, 1])
    family = family_col.selectbox("Model", list(FAMILY_LABELS), format_func=FAMILY_LABELS.get,
                                  key="studio_family", persist_state="session", disabled=running)
    code_size = code_col.select_slider("Code size", (2, 4, 8, 16, 32, 64), value=32, key="studio_code",
                                       persist_state="session", disabled=running)
    note, formula = FAMILY_NOTES[family]
    st.markdown(note)
    if formula:
        st.latex(formula)
    options, method = family_options(family)
    choice = data_choice(running)

    epochs_col, lr_col, patience_col = st.columns(3)
    epochs = epochs_col.slider("Epochs", 1, MAX_EPOCHS, 10, key="studio_epochs", persist_state="session",
                               disabled=running)
    lr = lr_col.select_slider("Learning rate", (3e-4, 1e-3, 3e-3, 1e-2), value=3e-3, key="studio_lr",
                              format_func=lambda v: f"{v:g}", persist_state="session", disabled=running)
    patience = patience_col.selectbox(
        "Early stopping patience", (None, 1, 2, 3, 5), index=3, key="studio_patience", persist_state="session",
        format_func=lambda p: "off" if p is None else plural(p, "epoch"), disabled=running,
        help="Stop once this many epochs bring no better validation error; the best epoch's weights are kept.")
    st.caption(f"A run stops by itself after {MAX_SECONDS // 60} minutes and keeps what it has learnt.")
    if st.button("Train", key="studio_train", type="primary", icon=":material/model_training:",
                 disabled=running or choice is None):
        start_training(RunSpec(family, options, method, code_size, epochs, lr, patience), choice)
        st.rerun()  # the run is in the session now: draw its progress

    if pending is None:
        return
    st.divider()
    if running:
        st.markdown(f"**Training** on {pending.data_label}")
        job_progress(TRAIN_JOB)
    elif pending.job.state == "failed":
        st.error(f"Training failed: {pending.job.error}", icon=":material/error:")
    elif pending.job.result is None:
        st.info("The run was stopped before it started.", icon=":material/stop_circle:")
    else:
        show_run(pending.job.result, "studio_last")


def comparison_rows(runs: list[Run]) -> list[dict]:
    """One row per run, then PCA at each code size the runs used, in engine.COMPARISON_COLUMNS."""
    rows = []
    for run in runs:
        result = run.result
        values = [run.label, result.config["code_size"], result.parameters, round(result.heldout_mse, 5),
                  round(run.noisy_mse, 5), round(result.code_stats.near_zero_share, 3), round(result.seconds, 1)]
        rows.append({**dict(zip(engine.COMPARISON_COLUMNS, values, strict=True)), "Ended": run.ended})
    pcas = {run.pca["code_size"]: run.pca for run in runs if run.pca is not None}
    for size in sorted(pcas):
        rows.append({**dict(zip(engine.COMPARISON_COLUMNS, pcas[size].values(), strict=True)), "Ended": ""})
    return rows


@st.cache_data(max_entries=32, show_spinner=False)
def run_on_image(
    onnx: bytes, data: bytes, side: int, as_character: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An uploaded image as the model's input, its reconstruction and its code."""
    image = engine.decode_image(data)
    if as_character:  # digits models: centred like the digits they learnt, light on dark
        image = engine.prepare_character(image)
    prepared = engine.prepare_images([image], side)
    reconstruction, code = engine.reconstruct_and_encode(onnx, prepared)
    return prepared[0], reconstruction[0], code[0]


def try_a_model(runs: list[Run]) -> None:
    st.subheader("Run a model on your image")
    pick_col, upload_col = st.columns([1, 2])
    labels = {run.label: run for run in reversed(runs)}
    run = labels[pick_col.selectbox("Model", list(labels), key="studio_try_model")]
    upload = upload_col.file_uploader(
        f"Drop an image (up to {MAX_UPLOAD_MB} MB)", type=list(engine.UPLOAD_TYPES),
        max_upload_size=MAX_UPLOAD_MB, key="studio_try_upload")
    side = run.result.heldout.shape[-1]
    if upload is None:
        st.caption("Without an image, the first held-out image is shown.")
        image, name = run.result.heldout[0], "the first held-out image"
        reconstruction, code = engine.reconstruct_and_encode(run.result.onnx, image[None])
        reconstruction, code = reconstruction[0], code[0]
    else:
        name = upload.name
        try:
            image, reconstruction, code = run_on_image(run.result.onnx, upload.getvalue(), side,
                                                       run.data.builtin is not None)
        except engine.ImageError as error:
            st.error(f"Could not read **{name}**: {error}", icon=":material/broken_image:")
            return
    columns = st.columns([1, 1, 3])
    show_image(strip(image[None], 112), f"Input: {name}", columns[0])
    show_image(strip(reconstruction[None], 112), "Reconstruction", columns[1])
    figure = go.Figure(go.Bar(x=np.arange(1, len(code) + 1), y=code, marker_color="#3b6fd4"))
    figure.update_layout(title=f"Its code ({len(code)} numbers); reconstruction MSE "
                               f"{float(np.mean((reconstruction - image) ** 2)):.4f}",
                         xaxis_title="unit", yaxis_title="value", height=260, margin={"t": 50, "b": 10})
    columns[2].plotly_chart(figure, key="studio_try_code")
    st.download_button("Download this model (ONNX)", run.result.onnx,
                       file_name=f"studio_{run.number}_{run.result.family}.onnx",
                       mime="application/octet-stream", on_click="ignore", icon=":material/download:",
                       key="studio_try_download")


def compare_tab() -> None:
    st.markdown(
        "Every model trained on this page in your session, side by side with PCA of the same code size "
        "on the same images. PCA is the best *linear* autoencoder: it keeps the $K$ directions of "
        "largest variance, and rebuilds"
    )
    st.latex(r"\hat x = \mu + W W^{\top} (x - \mu),\qquad W \in \mathbb{R}^{D \times K},\ W^{\top} W = I")
    st.markdown(
        "An autoencoder can beat it only by bending: nonlinear layers, convolutions. The table shows what "
        "each costs (parameters, seconds) and what the code looks like: the **near-zero share** counts code "
        f"values with $|z| < {engine.NEAR_ZERO}$, units at rest, which the sparsity penalty raises. The "
        f"**MSE from noisy input** feeds the held-out images with gaussian noise (σ = {NOISY_EVAL}) and "
        "judges against the clean ones: what the denoising autoencoder was trained for."
    )
    runs: list[Run] = list(st.session_state.get(RUNS, []))
    if not runs:
        st.info("No model trained yet: train one in the **Train** tab (or **Training methods**).",
                icon=":material/model_training:")
        return
    groups = {run.data.key: run.data.label for run in runs}
    key = st.selectbox("Data", list(groups), index=len(groups) - 1, format_func=groups.get,
                       key="studio_compare_data")
    chosen = [run for run in runs if run.data.key == key]
    rows = comparison_rows(chosen)
    st.dataframe(
        rows,
        hide_index=True,
        key="studio_comparison",
        column_config={
            "Held-out MSE": st.column_config.NumberColumn(format="%.4f"),
            "MSE from noisy input": st.column_config.NumberColumn(format="%.4f"),
            "Near-zero code share": st.column_config.NumberColumn(format="percent"),
            "Parameters": st.column_config.NumberColumn(format="localized"),
        },
    )
    if any(run.pca is None for run in chosen):
        st.caption("PCA needs at least as many training images as code numbers: it is missing where there are "
                   "fewer.")
    st.caption(f"The session keeps the last {MAX_RUNS} runs.")
    entries = [(run.label, p) for run in chosen for p in run.result.history if p.validation is not None]
    if entries:
        figure = go.Figure()
        for i, run in enumerate(chosen):
            checked = [p for label, p in entries if label == run.label]
            figure.add_trace(go.Scatter(x=[p.epoch for p in checked], y=[p.validation for p in checked],
                                        mode="lines+markers", name=run.label,
                                        line={"color": DIGIT_COLOURS[i % len(DIGIT_COLOURS)]}))
        figure.update_layout(title="Validation MSE while training", xaxis_title="epoch", yaxis_title="MSE",
                             height=330, margin={"t": 50, "b": 10})
        st.plotly_chart(figure, key="studio_compare_curves")
    try_a_model(runs)
    with st.expander("Look at a run in detail", icon=":material/zoom_in:"):
        labels = {run.label: run for run in reversed(runs)}
        show_run(labels[st.selectbox("Run", list(labels), key="studio_detail_run")], "studio_detail")


def methods_tab() -> None:
    st.markdown(
        "A deep autoencoder can be trained in three ways the lecture notes set side by side. **All at "
        "once**: every layer from a random start, by backpropagation through the whole stack. **Greedy "
        "layer-wise pretraining**: first each encoder layer with its mirror, as a shallow autoencoder of "
        "the codes below it, then the whole stack fine-tuned (before ReLUs and good initialisations, the "
        "way deep autoencoders could be trained at all). **Tied weights**: the decoder reuses the encoder's "
        "matrices transposed, halving the weights:"
    )
    st.latex(r"h = \mathrm{ReLU}(W x + b),\qquad \hat x = \sigma(W^{\top} h + c)")
    st.markdown("The three train here on the same images with the same budget of steps (layer-wise spends "
                "half of it pretraining), and are judged on the same held-out images.")
    if not HAS_TORCH:
        st.info(NO_TORCH, icon=":material/info:")
        return
    pending: Pending | None = st.session_state.get(METHODS_JOB)
    running = pending is not None and pending.job.running
    data_col, count_col, code_col, epochs_col = st.columns([3, 2, 2, 2])
    source = data_col.selectbox("Data", ["digits28", "digits8"], format_func=DATA_LABELS.get, key="methods_data",
                                persist_state="session", disabled=running)
    count = count_col.select_slider("Training images (at most)", COUNTS, value=2000, key="methods_count",
                                    format_func=lambda n: f"{n:,}", persist_state="session", disabled=running)
    code_size = code_col.select_slider("Code size", (2, 4, 8, 16, 32), value=16, key="methods_code",
                                       persist_state="session", disabled=running)
    epochs = epochs_col.slider("Epochs", 1, MAX_EPOCHS, 10, key="methods_epochs", persist_state="session",
                               disabled=running)
    if st.button("Train the three", key="methods_train", type="primary", icon=":material/model_training:",
                 disabled=running):
        start_methods(builtin_choice(source, count), code_size, epochs, 3e-3)
        st.rerun()
    if pending is None:
        return
    if running:
        job_progress(METHODS_JOB)
        return
    if pending.job.state == "failed":
        st.error(f"Training failed: {pending.job.error}", icon=":material/error:")
        return
    runs: list[Run] = pending.job.result or []
    if not runs:
        st.info("The comparison was stopped before a model was trained.", icon=":material/stop_circle:")
        return
    if len(runs) < len(METHOD_LABELS) or any(run.ended in ("stopped", "time limit") for run in runs):
        st.warning("Not every method ran its full budget: compare with care.", icon=":material/stop_circle:")
    labels = {run.number: label for run, label in zip(runs, METHOD_LABELS.values())}
    st.dataframe(
        [{"Method": labels[run.number], "Model": run.label, "Held-out MSE": round(run.result.heldout_mse, 5),
          "Parameters": run.result.parameters, "Seconds": round(run.result.seconds, 1), "Ended": run.ended}
         for run in runs],
        hide_index=True,
        key="methods_table",
        column_config={"Held-out MSE": st.column_config.NumberColumn(format="%.4f"),
                       "Parameters": st.column_config.NumberColumn(format="localized")},
    )
    if runs[0].pca is not None:
        st.caption("PCA with the same code size on the same images: held-out MSE "
                   f"{runs[0].pca['heldout_mse']:.4f}.")
    entries = [(labels[run.number], p) for run in runs for p in run.result.history]
    st.plotly_chart(curves_figure(entries, "The three methods learning"), key="methods_curves")
    pictures = st.columns(len(runs))
    for column, run in zip(pictures, runs, strict=True):
        show_image(strip(run.result.reconstructions[:5]), labels[run.number], column)
    st.caption("The models are in **Compare runs** too, with their downloads.")


@st.cache_data(max_entries=8, show_spinner="Fitting PCA and an autoencoder to the points…")
def surfaces(points: int, epochs: int) -> dict:
    return engine.plane_and_curve(n=points, epochs=epochs)


@st.cache_data(max_entries=8, show_spinner="Reducing the 8x8 digits with PCA and an autoencoder…")
def projection(dims: int, epochs: int):
    return engine.digits_projection(dims=dims, epochs=epochs)


def surface_figure(fit, title: str) -> go.Figure:
    figure = go.Figure()
    for name, points, colour in (("original points", fit.points, "#9c9c9c"),
                                 ("PCA's reconstruction", fit.pca_reconstruction, "#3b6fd4"),
                                 ("autoencoder's reconstruction", fit.autoencoder_reconstruction, "#f28e2b")):
        figure.add_trace(go.Scatter3d(x=points[:, 0], y=points[:, 1], z=points[:, 2], mode="markers", name=name,
                                      marker={"size": 2, "color": colour, "opacity": 0.7}))
    figure.update_layout(title=title, height=420, margin={"t": 40, "b": 0, "l": 0, "r": 0},
                         legend={"orientation": "h", "itemsizing": "constant"})
    return figure


def projection_figure(points: np.ndarray, labels: np.ndarray, title: str) -> go.Figure:
    digits = labels.astype(str)
    order = [str(d) for d in range(10)]
    options = {"color": digits, "category_orders": {"color": order}, "color_discrete_sequence": DIGIT_COLOURS,
               "title": title, "labels": {"color": "digit"}, "opacity": 0.7}
    if points.shape[1] == 3:
        figure = px.scatter_3d(x=points[:, 0], y=points[:, 1], z=points[:, 2], **options)
        figure.update_traces(marker={"size": 2})
    else:
        figure = px.scatter(x=points[:, 0], y=points[:, 1], **options)
        figure.update_traces(marker={"size": 4})
    figure.update_layout(height=420, margin={"t": 40, "b": 0})
    return figure


def pca_tab() -> None:
    st.markdown(
        "PCA finds the flat subspace (here a plane) that keeps the most variance; an autoencoder with "
        "nonlinear layers can learn a curved one. On points that lie on a plane both should rebuild them "
        "from 2 numbers, PCA exactly; on points on a curved bowl PCA must flatten them, while the "
        "autoencoder ($3 \\to 32 \\to 32 \\to 2 \\to 32 \\to 32 \\to 3$) can follow the curve."
    )
    st.latex(r"\text{PCA: } \min_{W^{\top} W = I} \sum_i \big\lVert x_i - \mu - W W^{\top}(x_i - \mu)\big\rVert^2"
             r"\qquad \text{autoencoder: } \min_{f, g} \sum_i \big\lVert x_i - g(f(x_i))\big\rVert^2")
    if not HAS_TORCH:
        st.info(NO_TORCH, icon=":material/info:")
        return
    # Set before the widgets (not as their value): what the user or a test put in the session wins.
    for key, default in (("pc_points", 500), ("pc_epochs", 100), ("proj_dims", 2), ("proj_epochs", 50)):
        st.session_state.setdefault(key, default)
    points_col, epochs_col = st.columns(2)
    points = points_col.slider("Points per surface", 200, 2000, step=100, key="pc_points", persist_state="session")
    epochs = epochs_col.slider("Autoencoder epochs", 10, 300, step=10, key="pc_epochs", persist_state="session")
    try:
        fits = surfaces(points, epochs)
    except Exception as error:
        report(error, "fit the surfaces", log)
    else:
        left, right = st.columns(2)
        left.plotly_chart(surface_figure(fits["plane"], "Points on a plane"), key="pc_plane")
        right.plotly_chart(surface_figure(fits["curve"], "Points on a curved surface"), key="pc_curve")
        st.dataframe(
            [{"Surface": {"plane": "Plane", "curve": "Curved surface"}[name], "PCA MSE": f"{fit.pca_mse:.2e}",
              "Autoencoder MSE": f"{fit.autoencoder_mse:.2e}"} for name, fit in fits.items()],
            hide_index=True, key="pc_table",
        )
        st.caption("Reconstruction mean squared error from 2 numbers per point. PCA's error on the plane is "
                   "floating-point rounding: the plane *is* its subspace.")

    st.subheader("Handwritten digits in 2 or 3 numbers")
    st.markdown("scikit-learn's 8x8 digits (64 numbers each), reduced by PCA and by a stacked autoencoder "
                "($64 \\to 128 \\to 64 \\to$ code) fit on the training digits, coloured by the digit they show. "
                "Neighbour agreement is the share of digits whose nearest neighbour in the code shows the "
                "same digit.")
    dims_col, epochs_col = st.columns(2)
    dims = dims_col.radio("Dimensions", (2, 3), horizontal=True, key="proj_dims", persist_state="session")
    proj_epochs = epochs_col.slider("Autoencoder epochs", 5, 200, step=5, key="proj_epochs",
                                    persist_state="session")
    try:
        result = projection(dims, proj_epochs)
    except Exception as error:
        report(error, "reduce the digits", log)
        return
    left, right = st.columns(2)
    left.plotly_chart(projection_figure(result.pca, result.labels, "PCA"), key="proj_pca")
    right.plotly_chart(projection_figure(result.autoencoder, result.labels, "Autoencoder"), key="proj_ae")
    st.dataframe(
        [{"Method": "PCA", "Held-out MSE": round(result.pca_mse, 4),
          "Neighbour agreement": round(result.pca_neighbour_agreement, 3)},
         {"Method": "Autoencoder", "Held-out MSE": round(result.autoencoder_mse, 4),
          "Neighbour agreement": round(result.autoencoder_neighbour_agreement, 3)}],
        hide_index=True, key="proj_table",
    )


# --- Page --------------------------------------------------------------------------------------
st.title("Training studio")
st.markdown(
    "Train your own autoencoder in the browser. The lecture notes walk through a family of them, "
    "each a different answer to the same problem: a network made to rebuild its input from a short "
    "code must not simply copy it. Train each here on digits or on your own images, and see the "
    "differences: in the reconstructions, in the code, against PCA and against each other."
)
RENDER = {"Train": (train_tab, "train"), "Compare runs": (compare_tab, "compare the runs"),
          "Training methods": (methods_tab, "compare the training methods"),
          "PCA vs autoencoders": (pca_tab, "compare PCA and autoencoders")}
render_open_tab(TABS, RENDER, "studio_tab", log)
