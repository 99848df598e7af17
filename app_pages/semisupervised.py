"""Semi-supervised learning: an encoder pretrained without labels, then a few labels per digit,
against PCA features and against the same network trained from scratch."""

import importlib.util
import logging

import numpy as np
import plotly.graph_objects as go
import streamlit as st

import engine
from app_pages.common import read_upload

log = logging.getLogger(__name__)

MAX_UPLOAD_MB = engine.MAX_UPLOAD_BYTES // 2**20  # also server.maxUploadSize in .streamlit/config.toml
HAS_TORCH = importlib.util.find_spec("torch") is not None  # serving-only installs have no torch
METHODS = engine.SEMISUPERVISED_METHODS
LIVE = ("encoder", "pca")  # trained in the page without torch: linear heads on ONNX codes
NETWORKS = ("finetuned", "scratch")  # train the encoder itself: torch
SHORT = {"encoder": "Encoder", "finetuned": "Fine-tuned", "scratch": "Scratch", "pca": "PCA"}
COLOURS = {"encoder": "#3b6fd4", "finetuned": "#59a14f", "scratch": "#e15759", "pca": "#9c755f"}
EXAMPLES = 12  # held-out digits shown with every classifier's guess
NETWORK_RUNS = "semi_networks"  # session state: labels per digit -> LabelRun with the two networks
EXAMPLE_SET = "semi_example_set"


# --- Cached helpers --------------------------------------------------------------------------
@st.cache_resource(show_spinner="Rendering digits and encoding them…")
def data():
    """The unlabelled pool, the held-out digits and their codes (shared by every session)."""
    return engine.semisupervised_data()


@st.cache_resource(max_entries=4, show_spinner="Training the linear heads…")
def live_curve() -> list:
    """Both linear probes for every number of labels per digit over several label draws."""
    return engine.accuracy_curve(data())


@st.cache_resource(max_entries=4, show_spinner=False)
def live_run(per_class: int):
    """The linear heads of the first label draw: the example digits' predictions."""
    return engine.run_labels(data(), per_class, 0)


@st.cache_data(max_entries=32, show_spinner=False)
def prepare(upload: bytes) -> np.ndarray:
    return engine.prepare_character(engine.decode_image(upload))


# --- Plain helpers ---------------------------------------------------------------------------
def curve_points(live: list, recorded: list | None, trained_here: dict) -> dict[str, dict]:
    """Method -> {"points": [CurvePoint], "source": text}: the probes trained here, the networks
    trained here for the numbers of labels the user asked (one draw), else the recorded ones."""
    points = {m: {"points": [p for p in live if p.method == m], "source": "trained here"} for m in LIVE}
    for method in NETWORKS:
        here = [engine.CurvePoint(method, k, [run.accuracy(method, data().heldout.labels)])
                for k, run in sorted(trained_here.items())]
        if here:
            points[method] = {"points": here, "source": "trained here, first label draw"}
        elif recorded:
            points[method] = {"points": [p for p in recorded if p.method == method],
                              "source": "recorded by `python -m engine eval semisupervised`"}
    return points


def curve_figure(points: dict[str, dict], chosen: int) -> go.Figure:
    figure = go.Figure()
    for method, entry in points.items():
        shown = entry["points"]
        figure.add_trace(go.Scatter(
            x=[p.per_class for p in shown], y=[100 * p.mean for p in shown],
            error_y={"type": "data", "array": [100 * p.spread for p in shown], "visible": True},
            mode="lines+markers", name=f"{METHODS[method]} ({entry['source'].split(' by ')[0]})",
            line={"color": COLOURS[method], "dash": "solid" if entry["source"].startswith("trained") else "dash"}))
    figure.add_vline(x=chosen, line={"color": "#999", "dash": "dot"})
    figure.update_layout(xaxis={"title": "labels per digit", "type": "log",
                                "tickvals": list(engine.LABELS_PER_DIGIT)},
                         yaxis={"title": "held-out accuracy (%)"}, height=380, margin={"t": 30, "b": 10},
                         legend={"orientation": "h", "y": -0.25})
    return figure


def summary_rows(points: dict[str, dict]) -> list[dict]:
    return [{"Method": METHODS[m], "Labels per digit": p.per_class, "Accuracy (%)": round(100 * p.mean, 1),
             "± (std, %)": round(100 * p.spread, 1), "Label draws": len(p.accuracies), "Source": e["source"]}
            for m, e in points.items() for p in e["points"]]


def example_indices(count: int, set_number: int, handwritten: np.ndarray) -> np.ndarray:
    """Half from the held-out fonts and half handwritten, a different set for each number."""
    rng = np.random.default_rng(set_number)
    fonts, hand = np.flatnonzero(~handwritten), np.flatnonzero(handwritten)
    return np.concatenate([rng.choice(fonts, count // 2, replace=False),
                           rng.choice(hand, count - count // 2, replace=False)])


def caption(truth: int | None, predictions: dict[str, int]) -> str:
    marks = " · ".join(f"{SHORT[m]} {p}{'' if truth is None else (' ✓' if p == truth else ' ✗')}"
                       for m, p in predictions.items())
    return marks if truth is None else f"digit {truth}: {marks}"


def enlarged(image: np.ndarray, factor: int = 3) -> np.ndarray:
    return np.kron(np.clip(image, 0, 1), np.ones((factor, factor), dtype=np.float32))


# --- Page ------------------------------------------------------------------------------------
st.title("Semi-supervised learning")
st.markdown(
    "Labels are expensive, unlabelled images are cheap. An autoencoder pretrained on many digits "
    "**without labels** has already learnt what makes a 3 differ from an 8; a small classifier on its "
    "code then needs only a few labels. Choose how many labelled examples of each digit it gets, and "
    "compare it with PCA features of the same size and with the same network trained from scratch on "
    "those labels only. Accuracy is measured on digits no model has seen: digits in held-out fonts "
    "with wider distortions, and held-out handwritten digits."
)

per_class = st.radio(
    "Labels per digit", list(engine.LABELS_PER_DIGIT), index=0, horizontal=True, key="labels_per_digit",
    help="Each classifier learns from this many labelled examples of every digit, drawn at random.",
)
try:
    pool = data()
    curve = live_curve()
    run = live_run(per_class)
except engine.ModelError as error:  # a missing or damaged model file: say which, and how to rebuild it
    st.error(str(error), icon=":material/error:")
    st.stop()

trained_here: dict = st.session_state.setdefault(NETWORK_RUNS, {})
points = curve_points(curve, engine.recorded_curve(), trained_here)

# --- The accuracy curve ----------------------------------------------------------------------
chosen = {m: next((p for p in e["points"] if p.per_class == per_class), None) for m, e in points.items()}
for column, (method, point) in zip(st.columns(len(chosen)), chosen.items()):
    if point is not None:
        column.metric(METHODS[method], f"{100 * point.mean:.1f}%", help=points[method]["source"])
st.caption(
    f"Accuracy on {len(pool.heldout.labels)} held-out digits with {per_class} labels per digit, the mean over "
    f"{len(chosen['encoder'].accuracies)} random label draws for the linear heads."
)
st.plotly_chart(curve_figure(points, per_class), key="semi_curve")
with st.expander("Every point of the curve"):
    st.dataframe(summary_rows(points), hide_index=True)

# --- The networks that train the encoder -----------------------------------------------------
if HAS_TORCH:
    label = f"Train the fine-tuned and the from-scratch networks here on {per_class} labels per digit"
    if st.button(label, key="train_networks", icon=":material/model_training:",
                 disabled=per_class in trained_here):
        with st.spinner("Training two small networks on the first label draw…"):
            try:
                trained_here[per_class] = engine.run_labels(pool, per_class, 0, methods=tuple(METHODS))
            except engine.ModelError as error:
                st.error(str(error), icon=":material/error:")
            else:
                st.rerun()
    if per_class in trained_here:
        seconds = trained_here[per_class].seconds
        st.caption(f"Trained here: fine-tuning took {seconds['finetuned']:.1f} s, from scratch "
                   f"{seconds['scratch']:.1f} s (one label draw; the recorded curve averages several).")
else:
    st.info(
        "PyTorch is not installed, so the fine-tuned and from-scratch networks are not trained here: "
        "their points are the figures `python -m engine eval semisupervised` recorded. Install it with "
        "`pip install -r requirements-train.txt` to train them in the page.",
        icon=":material/info:",
    )

# --- Held-out digits and each classifier's guess ---------------------------------------------
st.subheader("Held-out digits and each classifier's guess")
shown = trained_here.get(per_class, run)
set_number = st.session_state.setdefault(EXAMPLE_SET, 0)
indices = example_indices(EXAMPLES, set_number, pool.heldout.handwritten)
st.image(
    [enlarged(pool.heldout.images[i]) for i in indices],
    caption=[caption(int(pool.heldout.labels[i]), {m: int(p[i]) for m, p in shown.predictions.items()})
             for i in indices],
    width=140,
)
st.caption(f"Classifiers trained on the first draw of {per_class} labels per digit. Left half: held-out "
           "fonts; right half: held-out handwritten digits.")
if st.button("Other digits", key="other_digits", icon=":material/shuffle:"):
    st.session_state[EXAMPLE_SET] = set_number + 1
    st.rerun()

# --- Your digit ------------------------------------------------------------------------------
st.subheader("Your digit")
upload = st.file_uploader(
    f"Drop a picture of one digit (PNG, JPEG, GIF, BMP, WebP or TIFF, up to {MAX_UPLOAD_MB} MB)",
    type=list(engine.UPLOAD_TYPES), max_upload_size=MAX_UPLOAD_MB, key="semi_upload",
)
character = None if upload is None else read_upload(upload, prepare, log)
if character is not None:
    guesses = engine.predict_digits(character[None], shown, pool)
    st.image(enlarged(character), caption=caption(None, {m: int(g[0]) for m, g in guesses.items()}), width=140)

# --- How it works ----------------------------------------------------------------------------
st.subheader("How semi-supervised learning works")
st.markdown(
    r"""
There are many unlabelled images $\{x^{(i)}\}_{i=1}^{m}$ and only a few labelled ones
$\{(x^{(i)}, y^{(i)})\}_{i=1}^{m_\text{label}}$, with $m_\text{label} \ll m$. First an autoencoder
learns from the unlabelled images alone: here the search page's encoder, trained to redraw each
distorted character upright from a 64-number code, never shown a label. Its encoder $f$ is kept and a
linear head is put on top of the code:
"""
)
st.latex(r"p(y \mid x) = \operatorname{softmax}\big(W\, \tfrac{f(x) - \mu}{\sigma} + b\big)")
st.markdown(
    f"""
where $\\mu$ and $\\sigma$ standardise the code over the unlabelled digits. With the encoder frozen only
$W$ and $b$ learn from the {per_class * 10} labels (a *linear probe*, a logistic regression: no torch
needed). *Fine-tuning* then trains the encoder too, with a small learning rate, starting from the probe.
The *from scratch* network has exactly the same layers but random weights, so it must learn what digits
look like from the labels alone, and with few of them it learns the training examples rather than digits.
*PCA* is the linear answer to the same question: its first 64 directions, fit on the same unlabelled
digits, with the same kind of head. The gap shrinks as labels grow: with enough labels, pretraining
matters less.
"""
)
