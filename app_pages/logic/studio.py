"""What the Training studio page decides, without streamlit: what a run is and how one trains in
a background job, the data it trains on, the comparison's rows, the texts made of a run's
numbers, and the page's plotly figures."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import time

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import engine
from app_pages import display
from app_pages.logic.charts import DIGIT_COLOURS
from app_pages.text import plain

MAX_UPLOAD_MB = engine.MAX_UPLOAD_BYTES // 2**20  # also server.maxUploadSize in .streamlit/config.toml
TABS = ["Train", "Compare runs", "Training methods", "PCA vs autoencoders"]
TRAIN_JOB = "studio_job"  # session-state keys: the Train tab's run and the Training methods tab's
METHODS_JOB = "methods_job"
MAX_RUNS = 12  # runs kept per session; older ones are dropped
# Bounds on what one run may ask for, so that it ends in a few minutes on a small CPU.
MAX_EPOCHS = 50   # the lecture's sparse model trains for 50
# The defaults of a run: on the 28x28 digits every family's default run ends within a minute on
# a 2-core CPU, the undercomplete and convolutional ones ahead of PCA of the same code size (fewer
# images, epochs or a lower rate left them at a blurry mean digit, five times PCA's error).
DEFAULT_COUNT, DEFAULT_EPOCHS, DEFAULT_LR = 12000, 20, 1e-2
CODE_SIZES = (2, 4, 8, 16, 32, 64, 128, 256)
BATCH_SIZES = (32, 64, 100, 128, 256)
OPTIMIZER_LABELS = {"adamw": "AdamW", "adam": "Adam", "rmsprop": "RMSProp", "adadelta": "Adadelta"}
LOSS_LABELS = {"bce": "Binary cross-entropy", "mse": "Mean squared error"}
SCHEDULE_LABELS = {"cosine": "Cosine decay", "constant": "Constant (as Keras)"}
LEARNING_RATES = (3e-4, 1e-3, 3e-3, 1e-2, 1.0)   # 1.0: Adadelta's own (Keras'); far too high for the others
CODE_LAYER_LABELS = {"dense": "A dense layer of the code size", "maps": "The feature maps themselves (as Keras builds it)"}
MAPS_CHOICES = {  # a code of feature maps: encoder widths, decoder widths
    "16-8-8, decoder 8-8": ((16, 8, 8), (8, 8)),
    "32-32, decoder 32-32": ((32, 32), (32, 32)),
}


def preset_settings(name: str) -> dict:
    """The studio's widget values (session-state keys) that a source document's network sets."""
    preset = engine.STUDIO_PRESETS[name]
    values = {"studio_family": preset.family, "studio_code": preset.code_size, "studio_epochs": preset.epochs,
              "studio_lr": preset.lr, "studio_optimizer": preset.optimizer, "studio_batch": preset.batch_size,
              "studio_schedule": "constant", "studio_loss": preset.options.get("loss", "bce"),
              "studio_data": "digits28", "studio_count": DEFAULT_COUNT, "studio_patience": None}
    if preset.family == "undercomplete":
        values["studio_activation"] = preset.options["code_activation"]
    if preset.family == "sparse":
        values |= {"studio_penalty": "l1", "studio_weight_l1": preset.options["weight"]}
    if preset.family == "stacked":
        hidden = next(k for k, v in HIDDEN_CHOICES.items() if v == tuple(preset.options["hidden"]))
        values |= {"studio_hidden": hidden, "studio_tied": False, "studio_method": "all-at-once"}
    if preset.family in ("convolutional", "denoising"):
        layers = (tuple(preset.options["channels"]), tuple(preset.options["decoder_channels"]))
        values |= {"studio_code_layer": preset.options["code_layer"],
                   "studio_maps": next(k for k, v in MAPS_CHOICES.items() if v == layers)}
    if preset.family == "denoising":
        values |= {"studio_noise": preset.options["noise"], "studio_noise_factor": preset.options["noise_factor"]}
    return values


def maps_caption(channels: tuple, side: int) -> str:
    """What a code of feature maps holds, for images of `side`."""
    q = side // 4
    return (f"The code is the encoder's last {channels[-1]} feature maps of {q}x{q}: {channels[-1] * q * q:,} numbers, "
            "set by the layers (the code size above does not apply).")
COUNTS = (250, 500, 1000, 2000, 5000, 12000)  # training images; the built-in 28x28 digits hold 11,497
MAX_SECONDS = 300  # a run that reaches this keeps what it has learnt (the methods: each of the three)
BATCH_SIZE = 128
MIN_UPLOADED = 3  # one held out, one for validation, one to train on
# The comparison's "from noisy input" column: the noise engine.training.compare_family gives PCA's
# row (its NOISY_EVAL and HELDOUT_SEED, not in engine's public API yet; the tests check they agree).
NOISY_EVAL = 0.5
NOISY_SEED = 1234
SHOWN = 10  # held-out images shown with their reconstructions
WATCHED = 300  # held-out images whose codes the live views map at every epoch
DATA_LABELS = {
    "digits28": "Built-in digits, 28x28",
    "digits8": "Built-in handwritten digits, 8x8",
    "fashion": "Fashion-MNIST clothes, 28x28",
    "upload": "Your images",
}


def data_sources(fashion: bool) -> list[str]:
    """The data offered: the built-in digits, Fashion-MNIST when the machine has it (`fashion`), the user's images."""
    return [name for name in DATA_LABELS if fashion or name != "fashion"]
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
NO_TORCH = (
    "Training needs PyTorch, which this installation (made for serving) does not have. Install it "
    f"with `{engine.training.INSTALL_COMMAND}` and restart the app."
)
STOPPING = "Stopping: exporting the model as it is after the steps done…"
FAMILY_NOTES = {  # the family's idea in words, and its formula (None: the words say it)
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
    batch_size: int = BATCH_SIZE
    optimizer: str = "adamw"
    schedule: str = "cosine"
    live: bool = True  # snapshots of held-out images while it trains (the live views and the replay)


@dataclasses.dataclass
class Run:
    """A trained model kept in the session, with what the comparison needs beside it."""

    number: int
    label: str
    data: DataChoice
    result: engine.StudioResult  # with the ONNX model in result.onnx
    noisy_mse: float  # held-out reconstruction error from gaussian-noisy input (the clean image is the target)
    pca: dict | None  # PCA's row of the comparison at this code size (None: too few images for it)
    ended: str  # "finished", "stopped", "early stopping" or "time limit"
    group: int | None = None  # the Training methods comparison it belongs to
    watched_labels: np.ndarray | None = None  # the digit labels of the watched held-out images (the replay's map)
    label_names: tuple[str, ...] | None = None  # the labels' names where they are not digits (Fashion-MNIST's kinds)


@dataclasses.dataclass
class LiveViews:
    """What a run shows while it trains, filled by its job: the held-out images watched (their
    first engine.SNAPSHOT_RECONSTRUCTIONS are reconstructed), their digit labels (None for the
    user's images) and the snapshots so far."""

    originals: np.ndarray | None = None
    labels: np.ndarray | None = None
    label_names: tuple[str, ...] | None = None   # what the labels stand for, where they are not digits
    snapshots: list = dataclasses.field(default_factory=list)
    pictures: dict = dataclasses.field(default_factory=dict)  # snapshot step -> its PNGs (the page draws each once)


@dataclasses.dataclass
class Pending:
    """A background run kept in the session: the job, its reports as they come, what was asked."""

    job: engine.Job
    reports: list  # (label, engine.StudioProgress) in the order they came
    epochs: int
    data_label: str
    live: LiveViews = dataclasses.field(default_factory=LiveViews)


# --- Data --------------------------------------------------------------------------------------
def builtin_choice(kind: str, count: int) -> DataChoice:
    """At most `count` of the built-in digits of `kind`, loaded later, inside the job."""
    return DataChoice(f"{kind}:{count}", f"{DATA_LABELS[kind].lower()}, {count:,} training images at most",
                      kind, count)


def materialize(choice: DataChoice) -> tuple[np.ndarray, np.ndarray, str]:
    """The choice's training images, held-out images and a note on where they come from."""
    if choice.builtin is not None:
        return engine.builtin_training_set(choice.builtin, choice.count)   # the engine keeps the digits rendered
    return choice.train, choice.heldout, choice.label


def read_images(data: bytes, name: str, side: int) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """An uploaded image or zip of images as studio input (N, side, side), with the zip's
    members passed over as (name, reason)."""
    if name.lower().endswith(".zip"):
        folder = engine.load_image_folder(data)
        if not folder.images:
            return np.zeros((0, side, side), np.float32), folder.skipped
        return engine.prepare_images(folder.images, side), folder.skipped
    return engine.prepare_images([engine.decode_image(data, fit_pixels=engine.UPLOAD_PIXELS)], side), []


def skipped_text(name: str, skipped: list[tuple[str, str]]) -> str:
    """The warning (markdown) for a zip's members that were passed over: the first five, and how
    many more."""
    listed = "; ".join(f"{plain(member)}: {plain(reason)}" for member, reason in skipped[:5])
    more = f" (and {len(skipped) - 5} more)" if len(skipped) > 5 else ""
    return f"In **{plain(name)}**, {len(skipped)} files were passed over: {listed}{more}"


def too_many_text(count: int) -> str:
    """The warning for uploads holding more images than a run may train on."""
    return f"Your files hold {count:,} images; the first {COUNTS[-1]:,} are used."


def too_few_text(count: int) -> str:
    """Why `count` uploaded images are not enough to train on."""
    return (f"Training on your images needs at least {MIN_UPLOADED}: one held out to judge the model, one for "
            f"validation and one to train on. There {'is' if count == 1 else 'are'} {count}.")


def uploaded_choice(images: np.ndarray, digests: list[str], names: list[str], side: int) -> DataChoice:
    """The user's images (at least MIN_UPLOADED) as training data, a share held out; `digests`
    (of the files' bytes) make its key, so the same files at the same side compare together."""
    train, heldout = engine.split_heldout(images)
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
    if config.get("code_layer") == "maps":
        what += ", feature maps " + "-".join(map(str, config["channels"]))
    return f"{what}, code {config['code_size']}"


def how_it_ended(result: engine.StudioResult, job: engine.Job) -> str:
    """"stopped" (by the user), "time limit", "early stopping" or "finished"."""
    if result.stopped:
        return "stopped" if job.should_stop() else "time limit"
    return "early stopping" if result.stopped_early else "finished"


def label_names(choice: DataChoice) -> tuple[str, ...] | None:
    """What the labels of built-in data stand for when they are not digits: Fashion-MNIST's kinds."""
    return tuple(engine.FASHION_CLASSES) if choice.builtin == "fashion" else None


def watched_labels(choice: DataChoice) -> np.ndarray | None:
    """The digit labels of the first WATCHED held-out images of built-in data (None for the user's)."""
    if choice.builtin is None:
        return None
    return engine.builtin_digits(choice.builtin, heldout_count=engine.STUDIO_HELDOUT_RENDERED).heldout_labels[:WATCHED]


def train_one(spec: RunSpec, choice: DataChoice, job: engine.Job, reports: list, runs: list,
              label: str = "", part: int = 0, parts: int = 1, group: int | None = None,
              live: LiveViews | None = None) -> Run:
    """Train one model inside a job and add it to the session's runs. Reports go to `reports`
    and to the job, counted as part `part` of `parts` equal ones (the methods train three);
    snapshots of the watched held-out images go to `live` as they are taken."""
    train, heldout, note = materialize(choice)
    labels = watched_labels(choice)
    live = live or LiveViews()
    live.originals, live.labels = heldout[:engine.SNAPSHOT_RECONSTRUCTIONS], labels
    live.label_names = label_names(choice)
    deadline = time.monotonic() + MAX_SECONDS

    def progress(p: engine.StudioProgress) -> None:
        reports.append((label, p))
        job.report(engine.JobUpdate(part * p.steps + p.step, parts * p.steps, p.loss, p.seconds, p.validation))

    result = engine.training.train_model(
        spec.family, train, code_size=spec.code_size, epochs=spec.epochs, lr=spec.lr,
        batch_size=spec.batch_size, patience=spec.patience, method=spec.method, options=spec.options,
        optimizer=spec.optimizer, schedule=spec.schedule,
        heldout=heldout, data_note=note, progress=progress,
        stop=lambda: job.should_stop() or time.monotonic() > deadline, watch=WATCHED if spec.live else 0,
        on_snapshot=live.snapshots.append, pause=job.gate,
    )  # fmt: skip
    noisy = engine.add_noise(heldout, "gaussian", NOISY_EVAL, seed=NOISY_SEED)
    noisy_mse = float(np.mean((engine.reconstruct_and_encode(result.onnx, noisy)[0] - heldout) ** 2))
    # PCA is fit once per data and code size.
    code_size = result.settings.code_size   # a code of feature maps: the size its layers gave it
    known = [r.pca for r in runs if r.data.key == choice.key and r.pca and r.pca["code_size"] == code_size]
    pca = known[0] if known else None
    if pca is None:
        try:
            pca = engine.training.compare_family(train, heldout, code_size=code_size, families=())[0]
        except ValueError:  # more components than images
            pca = None
    number = max((r.number for r in runs), default=0) + 1
    # The run keeps its data's name, not its images: the held-out ones are in the result.
    data = dataclasses.replace(choice, train=None, heldout=None)
    run = Run(number, f"#{number} {run_label(result)}", data, result, noisy_mse, pca, how_it_ended(result, job),
              group, labels, live.label_names)
    runs.append(run)
    del runs[:-MAX_RUNS]
    return run


def train_methods(choice: DataChoice, code_size: int, epochs: int, lr: float, job: engine.Job, reports: list,
                  runs: list) -> list[Run]:
    """The three ways of training a stacked autoencoder (METHOD_LABELS) one after the other,
    inside a job, as one group of the session's runs; stops between them when asked."""
    group = max((r.group or 0 for r in runs), default=0) + 1
    done = []
    for i, variant in enumerate(METHOD_LABELS):
        if job.should_stop():
            break
        family, options, method = engine.VARIANTS[variant]
        spec = RunSpec(family, dict(options), method, code_size, epochs, lr, None)
        done.append(train_one(spec, choice, job, reports, runs, METHOD_LABELS[variant], i, len(METHOD_LABELS),
                              group))
    return done


def loss_words(p: engine.StudioProgress) -> str:
    """A report's loss, labelled by what it measures: layer-wise pretraining rebuilds the layer
    below's codes, on their own scale, so its losses do not compare with the pixels' loss."""
    layer = re.match(r"pretraining layer (\d+)", p.phase)
    if layer is None:
        return f"loss {p.loss:.4f}"
    if layer.group(1) == "1":
        return f"loss of rebuilding the pixels {p.loss:.4f}"
    return (f"loss of rebuilding layer {int(layer.group(1)) - 1}'s codes {p.loss:.4f} "
            "(on the codes' own scale: not comparable with the pixels' loss)")


def progress_words(pending: Pending) -> str:
    """The progress bar's words while a run trains: its latest report (the page words the
    queued and stopping states itself)."""
    gate = pending.job.gate
    if gate.paused:
        where = f" at step {pending.live.snapshots[-1].step:,}" if gate.held and pending.live.snapshots else ""
        return (f"Paused{where}: resume, or take one step at a time, below. A paused run still counts toward the "
                f"{MAX_SECONDS // 60}-minute limit.")
    if not pending.reports:
        return "Preparing the data and training the first epoch…"
    label, p = pending.reports[-1]
    words = f"{label} · " if label else ""
    words += f"{p.phase}, epoch {p.epoch:.0f} of {pending.epochs} · {loss_words(p)}"
    words += f" · validation MSE {p.validation:.4f}" if p.validation is not None else ""
    return words + f" · {p.seconds:.0f} s"


# --- What a run shows --------------------------------------------------------------------------
def plural(count: int, noun: str) -> str:
    """`count` and the noun, in the plural unless the count is 1."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def run_status(run: Run) -> tuple[str, str, str]:
    """How the run ended, as (kind of message: "warning", "info" or "success", its text, icon)."""
    result = run.result
    epochs = result.history[-1].epoch if result.history else 0
    asked = result.settings.epochs
    if run.ended == "stopped":
        words = f"**{run.label}**: stopped after {epochs:.1f} of {asked} epochs; below is the model as it was then."
        return "warning", words, ":material/stop_circle:"
    if run.ended == "time limit":
        words = (f"**{run.label}**: reached the {MAX_SECONDS // 60}-minute limit after {epochs:.1f} of {asked} "
                 "epochs; below is the model as it was then.")
        return "warning", words, ":material/timer:"
    if run.ended == "early stopping":
        words = (f"**{run.label}**: early stopping after {epochs:.0f} of {asked} epochs (the validation error "
                 f"did not improve for {plural(result.settings.patience, 'epoch')}); the best epoch's weights "
                 "were kept.")
        return "info", words, ":material/trending_flat:"
    words = f"**{run.label}**: trained for {plural(asked, 'epoch')} in {result.seconds:.1f} s."
    return "success", words, ":material/check_circle:"


# what a family's own term costs in reconstruction (why it may stay behind PCA once trained)
TRADES = {"sparse": "the sparsity penalty", "variational": "the KL term", "denoising": "learning from corrupted input"}


def still_falling(result: engine.StudioResult, share: float = 0.005) -> bool:
    """Whether the validation error fell by more than `share` over the last epoch."""
    values = result.validation_losses
    return len(values) < 2 or values[-1] < values[-2] * (1 - share)


def pca_verdict(run: Run) -> tuple[str, str] | None:
    """The run against PCA of the same code size, in plain words, and what to change when it is
    behind: (kind of message: "success", "warning" or "info", its text). None without PCA, unless
    the code is as large as the image (a code of feature maps may be)."""
    code, pixels = run.result.settings.code_size, math.prod(run.result.heldout.shape[1:])
    if run.pca is None:
        if code < pixels:
            return None
        keeps = ("what it is trained to do (rebuild clean images from corrupted ones)" if run.result.family == "denoising"
                 else "only how little it has trained: given time, a code this large can learn to copy")
        return "info", (f"**No compression**: the code ({code:,} numbers) is as large as the image ({pixels:,} pixels) or "
                        f"larger, so it could copy its input, and PCA of that size would, exactly. What keeps this network "
                        f"from copying is {keeps}, not a narrow code.")
    ours, theirs = run.result.heldout_mse, run.pca["heldout_mse"]
    versus = f"held-out error {ours:.4f} against PCA's {theirs:.4f} with the same code size"
    if ours <= theirs:
        return "success", f"**Ahead of PCA**: {versus}. The non-linear code keeps more of the digits than the best linear one."
    if 2 * code >= pixels:
        return "info", (f"**A wide code**: {versus}. With {code:,} numbers for {pixels:,} pixels PCA keeps nearly "
                        f"everything. This network's code is as wide as its layers make it; what it shows is how few "
                        f"filters ({run.result.parameters:,} parameters) rebuild a digit, not compression.")
    falling = " The validation error was still falling at the last epoch." if still_falling(run.result) else ""
    trade = TRADES.get(run.result.family)
    if trade and ours <= 1.5 * theirs:
        return "info", (f"**Behind PCA by {ours / theirs - 1:.0%}**: {versus}. Some of that is the price of {trade}, which "
                        f"asks the code for something besides reconstruction.{falling}")
    return "warning", (f"**Under-trained: {ours / theirs:.1f} times PCA's error** ({versus}).{falling} A network like this "
                       f"can at least match PCA; this one has not learnt enough yet. Train for more epochs, on more "
                       f"images ({DEFAULT_COUNT:,}), or with a higher learning rate ({DEFAULT_LR:g}).")


def units_caption(result: engine.StudioResult) -> str:
    """How many code units an average image uses, and how many none does."""
    stats = result.code_stats
    return (f"{stats.active_units:.1f} of {result.codes.shape[1]} units are active for an average image; "
            f"{stats.dead_units} never are.")


def reproduce_script(run: Run) -> str:
    """The run's "Reproduce in Python" script: its family, settings and seed on the same data."""
    side = run.result.heldout.shape[-1] if run.result.heldout.ndim == 3 else 28
    return engine.reproduce_script(run.result.settings, builtin=run.data.builtin, count=run.data.count, side=side,
                                   title=f"the training studio's run {run.label}")


def model_file_name(run: Run) -> str:
    """The downloaded ONNX file's name."""
    return f"studio_{run.number}_{run.result.family}.onnx"


def model_about(result: engine.StudioResult) -> str:
    """The exported model's size and its inputs and outputs, beside its download."""
    return (f"One ONNX file ({len(result.onnx) / 1024:,.0f} KB): input `input` "
            f"(N, 1, {result.heldout.shape[-2]}, {result.heldout.shape[-1]}), outputs `reconstruction` and "
            "`code`. It runs with onnxruntime alone; its metadata says how it was trained.")


def onnx_metadata(onnx: bytes) -> dict:
    """The exported model's metadata_props, with JSON values read back."""
    shown = {}
    for key, value in engine.model_metadata(onnx).items():
        try:
            shown[key] = json.loads(value)
        except ValueError:
            shown[key] = value
    return shown


def strip(images: np.ndarray, tile: int = 56) -> np.ndarray:
    """Grey images (n, S, S) side by side, each enlarged by a whole factor to about `tile`
    pixels (nearest neighbour: the pixels the network sees), as 8-bit pixels."""
    factor = max(1, round(tile / images.shape[-1]))
    big = [display.enlarge(image, factor) for image in images]
    gap = np.ones((big[0].shape[0], 2), dtype=big[0].dtype)
    pieces = [piece for image in big for piece in (image, gap)][:-1]
    return display.to_uint8(np.concatenate(pieces, axis=1))


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


def snapshot_caption(snapshot: engine.StudioSnapshot) -> str:
    """Where a snapshot was taken, and the share of its code values at rest."""
    share = float(np.mean(np.abs(snapshot.codes) < engine.NEAR_ZERO))
    if snapshot.step == 0:
        when = "before the first step"
    elif float(snapshot.epoch).is_integer():
        when = f"after epoch {snapshot.epoch:g} (step {snapshot.step:,})"
    else:   # paused, or taken one step at a time
        when = f"after step {snapshot.step:,} (epoch {snapshot.epoch:.2f})"
    return f"The model {when}: {share:.0%} of the code values are near zero."


def code_map_figure(points: np.ndarray, labels: np.ndarray | None, two_numbers: bool,
                    names: tuple[str, ...] | None = None) -> go.Figure:
    """The watched held-out images' codes as points, coloured by digit when the labels are known
    (by kind, with `names` of the labels)."""
    figure = go.Figure()
    groups = [(None, np.ones(len(points), bool))] if labels is None else [(d, labels == d) for d in np.unique(labels)]
    for digit, mask in groups:
        colour = "#3b6fd4" if digit is None else DIGIT_COLOURS[int(digit) % len(DIGIT_COLOURS)]
        name = names[int(digit)] if names and digit is not None else str(digit)
        figure.add_trace(go.Scatter(x=points[mask, 0], y=points[mask, 1], mode="markers", name=name,
                                      showlegend=digit is not None, marker={"size": 5, "color": colour}))
    axes = ("code 1", "code 2") if two_numbers else ("principal component 1", "principal component 2")
    figure.update_layout(title="The codes of held-out images" + ((", by kind" if names else ", by digit")
                                                                  if labels is not None else ""),
                         xaxis_title=axes[0], yaxis_title=axes[1], height=300, margin={"t": 50, "b": 10},
                         legend={"itemsizing": "constant"})
    return figure


def code_figures(codes: np.ndarray) -> tuple[go.Figure, go.Figure]:
    """A histogram of code values with the near-zero band shaded, and each unit's mean |value|."""
    counts, edges = np.histogram(codes.ravel(), bins=60)   # binned here: 60 bars travel, not every value
    histogram = go.Figure(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=np.diff(edges), marker_color="#3b6fd4"))
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


# --- Comparing runs ----------------------------------------------------------------------------
def data_groups(runs: list[Run]) -> dict[str, str]:
    """The data the runs trained on: key -> label, in the order first used."""
    return {run.data.key: run.data.label for run in runs}


def trained_on(runs: list[Run], key: str) -> list[Run]:
    """The runs that trained on the data of `key`."""
    return [run for run in runs if run.data.key == key]


def latest_first(runs: list[Run]) -> dict[str, Run]:
    """The runs by label, the latest first."""
    return {run.label: run for run in reversed(runs)}


def comparison_rows(runs: list[Run]) -> list[dict]:
    """One row per run, then PCA at each code size the runs used, in engine.COMPARISON_COLUMNS; the
    near-zero share in percent (SHARE)."""
    rows = []
    for run in runs:
        result = run.result
        values = [run.label, result.config["code_size"], result.parameters, round(result.heldout_mse, 5),
                  round(run.noisy_mse, 5), result.code_stats.near_zero_share, round(result.seconds, 1)]
        rows.append({**dict(zip(engine.COMPARISON_COLUMNS, values, strict=True)), "Ended": run.ended})
    pcas = {run.pca["code_size"]: run.pca for run in runs if run.pca is not None}
    for size in sorted(pcas):
        rows.append({**dict(zip(engine.COMPARISON_COLUMNS, pcas[size].values(), strict=True)), "Ended": ""})
    return [{**row, SHARE: round(100 * row[SHARE], 1)} for row in rows]


SHARE = "Near-zero code share"


def validation_figure(runs: list[Run]) -> go.Figure | None:
    """Each run's validation MSE against epochs, one line per run (None: no run checked any)."""
    entries = [(run.label, p) for run in runs for p in run.result.history if p.validation is not None]
    if not entries:
        return None
    figure = go.Figure()
    for i, run in enumerate(runs):
        checked = [p for label, p in entries if label == run.label]
        figure.add_trace(go.Scatter(x=[p.epoch for p in checked], y=[p.validation for p in checked],
                                    mode="lines+markers", name=run.label,
                                    line={"color": DIGIT_COLOURS[i % len(DIGIT_COLOURS)]}))
    figure.update_layout(title="Validation MSE while training", xaxis_title="epoch", yaxis_title="MSE",
                         height=330, margin={"t": 50, "b": 10})
    return figure


@dataclasses.dataclass(frozen=True)
class OnImage:
    """A model run on an uploaded image."""
    picture: np.ndarray          # the upload as decoded (up to engine.UPLOAD_PIXELS)
    box: tuple[int, int, int, int] | None   # where its character is, for a digits model
    image: np.ndarray            # what the model receives: (side, side)
    reconstruction: np.ndarray
    code: np.ndarray


def run_on_image(onnx: bytes, data: bytes, side: int, as_character: bool) -> OnImage:
    """An uploaded image as the model's input, its reconstruction and its code."""
    picture = image = engine.decode_image(data, fit_pixels=engine.UPLOAD_PIXELS)
    box = None
    if as_character:  # digits models: centred like the digits they learnt, light on dark
        chars, boxes = engine.prepare_characters(picture)
        k = engine.single_character_index(boxes)
        image, box = chars[k], boxes[k]
    prepared = engine.prepare_images([image], side)
    reconstruction, code = engine.reconstruct_and_encode(onnx, prepared)
    return OnImage(picture, box, prepared[0], reconstruction[0], code[0])


def code_bar_figure(image: np.ndarray, reconstruction: np.ndarray, code: np.ndarray) -> go.Figure:
    """One image's code as bars, titled with its reconstruction error."""
    figure = go.Figure(go.Bar(x=np.arange(1, len(code) + 1), y=code, marker_color="#3b6fd4"))
    figure.update_layout(title=f"Its code ({len(code)} numbers); reconstruction MSE "
                               f"{float(np.mean((reconstruction - image) ** 2)):.4f}",
                         xaxis_title="unit", yaxis_title="value", height=260, margin={"t": 50, "b": 10})
    return figure


# --- Training methods --------------------------------------------------------------------------
def method_names(runs: list[Run]) -> dict[int, str]:
    """Each run of a methods comparison (by number) -> the method it was trained with."""
    return {run.number: label for run, label in zip(runs, METHOD_LABELS.values())}


def methods_incomplete(runs: list[Run]) -> bool:
    """Whether a method is missing or was cut short, so the comparison is not like for like."""
    return len(runs) < len(METHOD_LABELS) or any(run.ended in ("stopped", "time limit") for run in runs)


def methods_rows(runs: list[Run]) -> list[dict]:
    """The methods table: one row per run."""
    names = method_names(runs)
    return [{"Method": names[run.number], "Model": run.label, "Held-out MSE": round(run.result.heldout_mse, 5),
             "Parameters": run.result.parameters, "Seconds": round(run.result.seconds, 1), "Ended": run.ended}
            for run in runs]


def methods_curves(runs: list[Run]) -> go.Figure:
    """The methods' learning curves, labelled by method."""
    names = method_names(runs)
    return curves_figure([(names[run.number], p) for run in runs for p in run.result.history],
                         "The three methods learning")
