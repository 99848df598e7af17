"""VAE generation: new digits (and clothes, where the machine has Fashion-MNIST) from a variational
autoencoder's latent space. Sample from N(0, I) or the learned prior, interpolate, walk and map the
space, ask a conditional VAE for a chosen digit or kind, see what beta does, and set an adversarial
autoencoder beside the VAE."""

import logging

import numpy as np
import streamlit as st

import engine
from app_pages.common import render_open_tab, report, side_by_side
from app_pages.display import enlarge
from app_pages.logic import generate as logic
from app_pages.logic.generate import CONFIDENT, ELBO_DIGITS, HELD_OUT, MODEL_LABELS
from app_pages.parts import char_sources
from app_pages.parts.generate_aae import aae_tab
from app_pages.parts.generate_map import map_tab
from app_pages.parts.generate_sample import conditional_tab, sample_tab
from app_pages.parts.generate_walk import walk_tab
from app_pages.parts.generate_your_digit import own_tab
from app_pages.text import plain

log = logging.getLogger(__name__)

MAX_UPLOAD_MB = engine.MAX_UPLOAD_BYTES // 2**20  # also server.maxUploadSize in .streamlit/config.toml


# --- Cached helpers --------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def examples(family: str = "digits") -> dict[str, np.ndarray]:
    """The first example of each class: built-in digits rendered in held-out fonts, or pictures of
    Fashion-MNIST's test set."""
    gallery = engine.fashion_gallery() if family == "clothes" else engine.builtin_gallery("digits")
    return logic.first_of_each_digit(gallery.images, gallery.labels, logic.FAMILIES[family].classes)


@st.cache_resource(max_entries=3, show_spinner="Reading held-out pictures…")
def held_out(count: int = HELD_OUT, family: str = "digits") -> tuple[np.ndarray, np.ndarray]:
    """Pictures no model trained on, (count, 28, 28), with their labels (count,) as ints: digits in
    held-out fonts, or the first of Fashion-MNIST's test set."""
    if family == "clothes":
        images, labels = engine.load_fashion_mnist("test", count)
    else:
        gallery = engine.builtin_gallery("digits", count)
        images, labels = np.stack(gallery.images), gallery.labels.astype(int)
    images.flags.writeable = labels.flags.writeable = False  # shared by every session
    return images, labels


@st.cache_data(max_entries=64, show_spinner=False)
def encode(chars: np.ndarray, model: str) -> tuple[np.ndarray, np.ndarray]:
    return engine.vae_encode(chars, model)


@st.cache_data(max_entries=64, show_spinner=False)
def decode(z: np.ndarray, model: str) -> np.ndarray:
    return engine.vae_decode(z, model)


@st.cache_data(max_entries=16, show_spinner="Sampling…")
def samples(
    model: str, count: int, seed: int, temperature: float, digit: int | None = None, prior: str = "standard"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pictures drawn from the prior, and the judge's predicted class and confidence for each."""
    images = engine.vae_sample(count, seed=seed, model=model, temperature=temperature, labels=digit, prior=prior)
    judgement = engine.judge_samples(images, logic.family_of(model).judge)
    return images, judgement.predicted, judgement.confidence


@st.cache_data(max_entries=8, show_spinner=False)
def every_class(model: str, seed: int, temperature: float) -> np.ndarray:
    """One code from the prior drawn as each of the ten classes by a conditional VAE."""
    z = engine.prior_samples(1, engine.latent_size(model), seed, temperature)
    return engine.vae_decode(np.repeat(z, 10, axis=0), model, labels=np.arange(10))


@st.cache_data(max_entries=4, show_spinner="Drawing the map…")
def manifold(size: int, model: str = logic.TWO_D) -> tuple[np.ndarray, np.ndarray]:
    """A 2-number model decoded on a size x size grid, as one picture, and the grid's values."""
    grid = engine.latent_grid(size)
    picture = logic.manifold_picture(engine.vae_decode(grid, model), size)
    return picture, grid[:size, 0]  # the first row holds every z1 value, left to right


@st.cache_data(max_entries=4, show_spinner="Encoding held-out pictures…")
def held_out_codes(model: str) -> np.ndarray:
    return engine.code_of(held_out(HELD_OUT, logic.family_of(model).key)[0], model)


@st.cache_data(max_entries=4, show_spinner="Redrawing held-out digits…")
def rebuilt(model: str) -> tuple[float, float]:
    """A model's reconstruction error on the beta comparison's held-out digits: nats, mean squared error."""
    return engine.reconstruction_error(held_out(ELBO_DIGITS)[0], model)


@st.cache_data(max_entries=4, show_spinner=False)
def map_points(model: str) -> tuple[np.ndarray, float | None]:
    """The held-out digits' codes in 2-D, with the share of variance a projection keeps."""
    return logic.project_2d(held_out_codes(model))


@st.cache_data(max_entries=4, show_spinner="Measuring the model on held-out digits…")
def beta_report(model: str) -> dict[str, float]:
    """What the beta comparison shows for one model: the held-out ELBO's terms, the sharpness
    of its reconstructions and of its samples, how many samples the judge is sure of, and the
    roughness of its latent paths."""
    digits = held_out(ELBO_DIGITS)[0]
    elbo = engine.heldout_elbo(digits, model)
    drawn, _, confidence = samples(model, 64, 0, 1.0)
    return {
        "reconstruction": elbo.reconstruction,
        "kl": elbo.kl,
        "negative_elbo": elbo.negative_elbo,
        "rebuilt_sharpness": engine.sharpness(engine.vae_decode(engine.vae_encode(digits, model)[0], model)),
        "sample_sharpness": engine.sharpness(drawn),
        "confident": float((confidence > CONFIDENT).mean()),
        "roughness": engine.path_roughness(model),
    }


@st.cache_data(max_entries=1, show_spinner=False)
def real_sharpness() -> float:
    return engine.sharpness(held_out(ELBO_DIGITS)[0])


# --- Page helpers ----------------------------------------------------------------------------
def upload_names(files) -> list[str]:
    """The names uploads go by in the pickers: file names, made unique."""
    return logic.unique_names([file.name for file in files or []], set(examples()))


def pick_newest_upload() -> None:
    """On a new upload that can be used: pick it wherever uploads can be picked, and open a tab
    that shows it. (An unusable one is reported where the uploads are read.)"""
    files = st.session_state.get("uploads") or []
    names = upload_names(files)
    if not names:
        return
    try:
        if len(char_sources.find(files[-1].getvalue())[1]) != 1:
            return   # several characters: each is picked by its own name
    except Exception:
        return
    st.session_state["own_digit"] = st.session_state["interp_end"] = names[-1]
    if st.session_state.get("generate_tab") not in logic.UPLOAD_TABS:
        st.session_state["generate_tab"] = "Your digit & beta"


# --- Tabs ------------------------------------------------------------------------------------
def interpolate_tab(choices: dict[str, np.ndarray], family: logic.Family) -> None:
    if not choices:
        st.info(f"There are no {family.noun}s to pick from" + (": drop your own at the top of the page."
                                                               if family is logic.DIGITS else "."))
        return
    st.markdown(
        f"Encode two {family.noun}s (the mean of each code), walk from one code to the other and decode "
        "every step. A smooth latent space gives a smooth morph. The first and last pictures "
        "are the model's reconstructions, not the inputs themselves."
    )
    names = list(choices)
    model_col, start_col, end_col, steps_col = st.columns(4)
    model = model_col.selectbox(
        "Model", family.unconditional, format_func=MODEL_LABELS.get, key=logic.widget_key(family, "interp_model"),
        bind="query-params", persist_state="page"
    )
    # First values set through session state, not as the widgets' defaults: a new upload changes
    # them (a widget given both a default and a session-state value draws a warning).
    keys = logic.widget_key(family, "interp_start"), logic.widget_key(family, "interp_end")
    for key, first in zip(keys, family.ends, strict=True):
        st.session_state.setdefault(key, first)
    start = start_col.selectbox("From", names, key=keys[0], bind="query-params", persist_state="page")
    end = end_col.selectbox("To", names, key=keys[1], bind="query-params", persist_state="page")
    steps = steps_col.slider("Steps", 3, 15, 8, key="interp_steps", bind="query-params", persist_state="page")

    mean, _ = encode(np.stack([choices[start], choices[end]]), model)
    inputs = side_by_side(8, "interp_inputs")
    inputs[0].image(enlarge(choices[start], 3), caption=f"From: {plain(start)}", output_format="PNG")
    inputs[1].image(enlarge(choices[end], 3), caption=f"To: {plain(end)}", output_format="PNG")
    lengths = {}
    for method, label in logic.METHOD_LABELS.items():
        path = engine.interpolate(mean[0], mean[1], steps, method)
        lengths[label] = np.linalg.norm(path, axis=1)
        st.markdown(f"**{label}**")
        for column, image, t in zip(side_by_side(steps, f"path_{method}"), decode(path, model), np.linspace(0, 1, steps)):
            column.image(enlarge(image, 3), caption=f"t = {t:.2f}", width="stretch", output_format="PNG")

    chart_col, text_col = st.columns([1, 1], gap="large")
    chart_col.altair_chart(logic.lengths_chart(lengths, steps), key="interp_lengths")
    text_col.markdown(logic.why_two_paths(mean.shape[1]))
    text_col.latex(
        r"\operatorname{slerp}(a, b; t) = \frac{\sin((1-t)\,\omega)}{\sin \omega}\, a"
        r" + \frac{\sin(t\,\omega)}{\sin \omega}\, b"
    )


# --- The page --------------------------------------------------------------------------------
st.title("VAE generation")
st.markdown(
    "A **variational autoencoder** (VAE) learns to *draw* digits. Its encoder does not give one "
    "point for a digit $x$ but a distribution: the mean $\\mu$ and the spread $\\sigma$ of a "
    "Gaussian over codes, $q(z \\mid x)$. Training draws a code from it and asks the decoder to "
    "redraw $x$, while a second term, the KL divergence, pulls every $q(z \\mid x)$ towards the "
    "prior $\\mathcal{N}(0, I)$. The codes of all digits then fill the prior without gaps, so "
    "*any* code drawn from the prior decodes to something digit-like. Drawing $z$ at random would "
    "block the gradient; the **reparameterisation trick** writes it as a function of $\\mu$, "
    "$\\sigma$ and independent noise $\\varepsilon$, so that training can reach the encoder. "
    "Training maximises the ELBO, the evidence lower bound: the loss is −ELBO = reconstruction + KL."
)
st.latex(r"z = \mu(x) + \sigma(x) \odot \varepsilon, \quad \varepsilon \sim \mathcal{N}(0, I)")
st.latex(
    r"\log p(x) \ge \underbrace{\mathbb{E}_{q(z \mid x)}\big[\log p(x \mid z)\big]}_{\text{reconstruction}}"
    r" - \underbrace{\mathrm{KL}\big(q(z \mid x)\,\|\,\mathcal{N}(0, I)\big)}_{\text{KL}} = \text{ELBO}"
)
st.markdown(
    "Here the encoder and the decoder run as two separate, deterministic graphs, and every random "
    "number is drawn in numpy from a seed you choose: **the same seed always gives the same digits**."
)

if engine.fashion_available():
    family = logic.FAMILIES[st.segmented_control(
        "Draw", list(logic.FAMILIES), format_func=lambda key: logic.FAMILIES[key].title, default="digits",
        required=True, key="generate_data", bind="query-params", persist_state="page",
    )]
else:
    family = logic.DIGITS
    st.caption(f"Clothes (Fashion-MNIST) join the digits here when the data set is on this machine. "
               f"{engine.fashion_missing_note()}")

uploads = st.file_uploader(
    f"Your own digits (optional): photos or drawings of single digits, PNG, JPEG, GIF, BMP, WebP or "
    f"TIFF, up to {MAX_UPLOAD_MB} MB each. They join the built-in digits in Interpolate, Walk and "
    "Your digit.",
    type=list(engine.UPLOAD_TYPES),
    accept_multiple_files=True,
    max_upload_size=MAX_UPLOAD_MB,
    key="uploads",
    on_change=pick_newest_upload,
)
choices: dict[str, np.ndarray] = {}
pictures: dict[str, tuple[np.ndarray, tuple[int, int, int, int]]] = {}   # a user's: the picture, the box
try:
    choices.update(examples())
except Exception as error:
    report(error, "render the built-in digits", log)
own = [(name, file.getvalue()) for file, name in zip(uploads or [], upload_names(uploads), strict=True)]
own += [({"drawing": "Your drawing", "camera": "Your photo"}[name], picture)
        for name, picture in char_sources.own_pictures("generate")]
# A bad picture is reported and skipped; the others still count. Their reports and views sit in one
# container that is always on the page, so that an upload adds nothing between the uploader and
# the tabs: the tabs keep their place, and the browser shows the tab the upload opened.
with st.container(key="generate_uploads"):
    for number, (name, picture) in enumerate(own):
        if (answer := char_sources.characters_or_report(name, picture, log)) is None:
            continue
        image, found, boxes = answer
        with st.expander(f"What the models see of {plain(name)}", expanded=not isinstance(picture, bytes)):
            char_sources.show_what_was_found(image, found, boxes, name, key=f"generate_{number}")
        named = [name] if len(found) == 1 else [f"{name} ({k + 1})" for k in range(len(found))]
        choices.update(zip(named, found, strict=True))
        pictures.update({n: (image, box) for n, box in zip(named, boxes, strict=True)})

if family is not logic.DIGITS:   # the clothes' own built-in pictures; uploads stay with the digits
    choices = {}
    try:
        choices.update(examples(family.key))
    except Exception as error:
        report(error, "read the built-in clothes", log)

RENDER = {
    "Sample": (lambda: sample_tab(family, samples), "draw samples"),
    "Interpolate": (lambda: interpolate_tab(choices, family), f"interpolate between these {family.noun}s"),
    "Walk": (lambda: walk_tab(choices, manifold, encode, decode, family), "walk the latent space"),
    "Map": (lambda: map_tab(held_out, held_out_codes, map_points, decode, family), "draw the map of the latent space"),
    "Choose a digit": (lambda: conditional_tab(family, samples, every_class), "draw the chosen digit"),
    "Choose a kind": (lambda: conditional_tab(family, samples, every_class), "draw the chosen kind"),
    "Your digit & beta": (
        lambda: own_tab(choices, pictures, encode, decode, samples, beta_report, real_sharpness),
        "encode this digit",
    ),
    "Adversarial AE": (lambda: aae_tab(held_out, held_out_codes, samples, rebuilt), "compare the adversarial autoencoder"),
}
render_open_tab(list(family.tabs), RENDER, logic.widget_key(family, "generate_tab"), log)
