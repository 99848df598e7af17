"""Semi-supervised learning: an encoder pretrained without labels, then a few labels per digit,
against PCA features and against the same network trained from scratch."""

import logging

import streamlit as st

import engine
from app_pages import display
from app_pages.logic import semisupervised as logic
from app_pages.logic.semisupervised import METHODS
from app_pages.parts import char_sources

log = logging.getLogger(__name__)

MAX_UPLOAD_MB = engine.MAX_UPLOAD_BYTES // 2**20  # also server.maxUploadSize in .streamlit/config.toml
DIGIT_SCALE = 3  # 28x28 digits shown 84 pixels wide, pixels kept sharp
EXAMPLES = 12  # held-out digits shown with every classifier's guess
NETWORK_RUNS = "semi_networks"  # session state: labels per digit -> LabelRun with the two networks
EXAMPLE_SET = "semi_example_set"


# --- Cached helpers --------------------------------------------------------------------------
@st.cache_resource(show_spinner="Rendering digits and encoding them…")
def data():
    """The unlabelled pool, the held-out digits and their codes (shared by every session)."""
    return engine.semisupervised_data()


# The linear heads need no torch, so these two call engine.* (a serving-only install has them too);
# the networks that train the encoder go through engine.training below.
@st.cache_resource(max_entries=4, show_spinner="Training the linear heads…")
def live_curve() -> list:
    """Both linear probes for every number of labels per digit over several label draws."""
    return engine.live_accuracy_curve()


@st.cache_resource(max_entries=4, show_spinner=False)
def live_run(per_class: int):
    """The linear heads of the first label draw: the example digits' predictions."""
    return engine.live_label_run(per_class)


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
    "Labels per digit", list(engine.LABELS_PER_DIGIT), index=0, horizontal=True, key="labels_per_digit", bind="query-params",
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
points = logic.curve_points(curve, engine.recorded_curve(), trained_here, pool.heldout.labels)

# --- The accuracy curve ----------------------------------------------------------------------
chosen = logic.chosen_points(points, per_class)
for column, (method, point) in zip(st.columns(len(chosen)), chosen.items()):
    if point is not None:
        column.metric(logic.METRIC_LABELS[method], f"{100 * point.mean:.1f}%",
                      help=f"{METHODS[method]}. {points[method]['source']}")
st.caption(
    f"Accuracy on {len(pool.heldout.labels)} held-out digits with {per_class} labels per digit, the mean over "
    f"{len(chosen['encoder'].accuracies)} random label draws for the linear heads."
)
st.plotly_chart(logic.curve_figure(points, per_class), key="semi_curve")
with st.expander("Every point of the curve"):
    st.dataframe(logic.summary_rows(points), hide_index=True)

# --- The networks that train the encoder -----------------------------------------------------
if engine.training.available():
    label = f"Train the fine-tuned and the from-scratch networks here on {per_class} labels per digit"
    if st.button(label, key="train_networks", icon=":material/model_training:",
                 disabled=per_class in trained_here):
        with st.spinner("Training two small networks on the first label draw…"):
            try:
                trained_here[per_class] = engine.training.run_labels(pool, per_class, 0, methods=tuple(METHODS))
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
indices = logic.example_indices(EXAMPLES, set_number, pool.heldout.handwritten)
st.image(
    [display.enlarge(pool.heldout.images[i], DIGIT_SCALE) for i in indices],
    caption=[logic.caption(int(pool.heldout.labels[i]), {m: int(p[i]) for m, p in shown.predictions.items()})
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
character = None if upload is None else char_sources.one_character(upload.name, upload.getvalue())
if character is not None:
    guesses = engine.predict_digits(character[None], shown, pool)
    st.markdown("**Each classifier's guess:** " + logic.caption(None, {m: int(g[0]) for m, g in guesses.items()}))

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
