"""VAE generation: new digits from a variational autoencoder's latent space. Sample, interpolate,
walk and map the space, ask a conditional VAE for a chosen digit, and see what beta does."""

import functools
import logging

import numpy as np
import streamlit as st

import engine
from app_pages.common import render_open_tab, report, side_by_side
from app_pages.display import enlarge, mosaic
from app_pages.logic import generate as logic
from app_pages.logic.generate import CONFIDENT, ELBO_DIGITS, HELD_OUT, MODEL_LABELS, TWO_D, UNCONDITIONAL
from app_pages.parts import char_sources
from app_pages.parts.generate_map import map_tab
from app_pages.parts.generate_walk import walk_tab
from app_pages.parts.generate_your_digit import own_tab
from app_pages.text import plain

log = logging.getLogger(__name__)

MAX_UPLOAD_MB = engine.MAX_UPLOAD_BYTES // 2**20  # also server.maxUploadSize in .streamlit/config.toml


# --- Cached helpers --------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def examples() -> dict[str, np.ndarray]:
    """The first example of each digit among built-in digits rendered in held-out fonts."""
    gallery = engine.builtin_gallery("digits")
    return logic.first_of_each_digit(gallery.images, gallery.labels)


@st.cache_resource(max_entries=2, show_spinner="Rendering held-out digits…")
def held_out(count: int = HELD_OUT) -> tuple[np.ndarray, np.ndarray]:
    """Digits in fonts no model trained on, (count, 28, 28), with their labels (count,) as ints."""
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
    model: str, count: int, seed: int, temperature: float, digit: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Digits drawn from the prior, and the judge's predicted digit and confidence for each."""
    images = engine.vae_sample(count, seed=seed, model=model, temperature=temperature, labels=digit)
    judgement = engine.judge_samples(images)
    return images, judgement.predicted, judgement.confidence


@st.cache_data(max_entries=8, show_spinner=False)
def every_digit(seed: int, temperature: float) -> np.ndarray:
    """One code from the prior drawn as each of the ten digits by the conditional VAE."""
    z = engine.prior_samples(1, engine.latent_size(engine.CONDITIONAL_VAE), seed, temperature)
    return engine.vae_decode(np.repeat(z, 10, axis=0), engine.CONDITIONAL_VAE, labels=np.arange(10))


@st.cache_data(max_entries=4, show_spinner="Drawing the map…")
def manifold(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The 2-number model decoded on a size x size grid, as one picture, and the grid's values."""
    grid = engine.latent_grid(size)
    picture = logic.manifold_picture(engine.vae_decode(grid, TWO_D), size)
    return picture, grid[:size, 0]  # the first row holds every z1 value, left to right


@st.cache_data(max_entries=4, show_spinner="Encoding held-out digits…")
def held_out_codes(model: str) -> np.ndarray:
    return engine.vae_encode(held_out(HELD_OUT)[0], model)[0]


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
def show_grid(images: np.ndarray, captions: list[str], columns: int, scale: int = 4) -> None:
    for start in range(0, len(images), columns):
        row = side_by_side(columns, f"grid_{start}")
        for column, index in zip(row, range(start, min(start + columns, len(images)))):
            column.image(enlarge(images[index], scale), caption=captions[index], output_format="PNG")


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
def sample_tab() -> None:
    st.markdown(
        "Draw codes from the prior $z \\sim \\mathcal{N}(0, T^2 I)$ and decode them: digits no one "
        "drew. The temperature $T$ scales the spread: below 1 the codes stay near the centre, "
        "where the decoder draws typical, average-looking digits (at 0 every sample is the same "
        "one); above 1 they reach where few training codes lay, and the digits get stranger. A "
        "digit classifier, the *judge*, says which digit each sample looks like."
    )
    model_col, seed_col, temperature_col, grid_col = st.columns(4)
    model = model_col.selectbox(
        "Model", UNCONDITIONAL, format_func=MODEL_LABELS.get, key="sample_model", bind="query-params", persist_state="page"
    )
    seed = seed_col.number_input(
        "Seed", 0, 9_999, 0, key="sample_seed",
        bind="query-params", persist_state="page", help="The same seed gives the same digits"
    )
    temperature = temperature_col.slider(
        "Temperature", 0.0, 2.0, 1.0, 0.1, key="sample_temperature", bind="query-params", persist_state="page"
    )
    side = grid_col.slider("Grid", 2, 8, 4, key="sample_grid", bind="query-params", persist_state="page", help="Samples per side")
    images, predicted, confidence = samples(model, side * side, int(seed), float(temperature))

    grid_area, summary = st.columns([3, 2], gap="large")
    with grid_area:
        show_grid(images, logic.verdicts(predicted, confidence), side)
    with summary:
        st.metric(
            "Judged confidently",
            logic.confident_share(confidence),
            help=f"Samples the judge gives one digit a probability above {CONFIDENT:.0%}: a rough "
            "measure of how many look like a real digit. '?' marks the others in the captions.",
        )
        st.plotly_chart(logic.shares_figure(predicted), key="sample_shares")
        pick = st.selectbox("Sample #", range(1, len(images) + 1), key="sample_pick")
        st.download_button(
            f"Download sample #{pick}",
            functools.partial(engine.encode_png, images[pick - 1]),  # encoded only when clicked
            file_name=logic.sample_file_name(model, seed, temperature, f"sample{pick}"),
            mime="image/png",
            on_click="ignore",
            icon=":material/download:",
            key="download_sample",
        )
        st.download_button(
            "Download the whole grid",
            functools.partial(engine.encode_png, mosaic(images, side)),
            file_name=logic.sample_file_name(model, seed, temperature, "grid"),
            mime="image/png",
            on_click="ignore",
            icon=":material/download:",
            key="download_grid",
        )
        st.caption("Samples are 28x28 pixels, light strokes on black, as the models drew them.")


def interpolate_tab(choices: dict[str, np.ndarray]) -> None:
    if not choices:
        st.info("There are no digits to pick from: drop your own at the top of the page.")
        return
    st.markdown(
        "Encode two digits (the mean of each code), walk from one code to the other and decode "
        "every step. A smooth latent space gives a smooth morph. The first and last pictures "
        "are the model's reconstructions, not the inputs themselves."
    )
    names = list(choices)
    model_col, start_col, end_col, steps_col = st.columns(4)
    model = model_col.selectbox(
        "Model", UNCONDITIONAL, format_func=MODEL_LABELS.get, key="interp_model", bind="query-params", persist_state="page"
    )
    # First values set through session state, not as the widgets' defaults: a new upload changes
    # them (a widget given both a default and a session-state value draws a warning).
    st.session_state.setdefault("interp_start", "Built-in 3")
    st.session_state.setdefault("interp_end", "Built-in 7")
    start = start_col.selectbox("From", names, key="interp_start", bind="query-params", persist_state="page")
    end = end_col.selectbox("To", names, key="interp_end", bind="query-params", persist_state="page")
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
    chart_col.plotly_chart(logic.lengths_figure(lengths, steps), key="interp_lengths")
    text_col.markdown(logic.why_two_paths(mean.shape[1]))
    text_col.latex(
        r"\operatorname{slerp}(a, b; t) = \frac{\sin((1-t)\,\omega)}{\sin \omega}\, a"
        r" + \frac{\sin(t\,\omega)}{\sin \omega}\, b"
    )


def conditional_tab() -> None:
    st.markdown(
        "A **conditional VAE** is given the digit's label alongside the image while it trains, "
        "in the encoder and in the decoder. The label then carries *which* digit, and the code "
        "is left to carry *how* it is drawn: slant, thickness, width. Ask for a digit and it "
        "draws that digit, in styles sampled from the prior."
    )
    digit = st.segmented_control(
        "Digit to draw", list(range(10)), default=7, required=True, key="cvae_digit", bind="query-params", persist_state="page"
    )
    seed_col, temperature_col, count_col = st.columns(3)
    seed = seed_col.number_input("Seed", 0, 9_999, 0, key="cvae_seed", bind="query-params", persist_state="page")
    temperature = temperature_col.slider(
        "Temperature", 0.0, 2.0, 1.0, 0.1, key="cvae_temperature", bind="query-params", persist_state="page"
    )
    count = count_col.slider("Samples", 4, 32, 12, 4, key="cvae_count", bind="query-params", persist_state="page")
    images, predicted, confidence = samples(
        engine.CONDITIONAL_VAE, count, int(seed), float(temperature), int(digit)
    )

    as_asked_col, confident_col = st.columns(2)
    as_asked_col.metric(
        f"Judged a {digit}",
        f"{(predicted == digit).mean():.0%}",
        help="Samples whose most likely digit, to the judge, is the one asked for.",
    )
    confident_col.metric("Judged confidently", logic.confident_share(confidence))
    show_grid(images, logic.verdicts(predicted, confidence), 8)

    st.markdown(
        "**Same code, every digit.** One code from the prior (this seed and temperature), "
        "drawn as each of the ten digits: the style stays, the digit changes."
    )
    row = every_digit(int(seed), float(temperature))
    for column, (number, image) in zip(side_by_side(10, "every_digit"), enumerate(row)):
        column.image(enlarge(image, 3), caption=str(number), width="stretch", output_format="PNG")


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
# A bad picture is reported and skipped; the others still count.
for number, (name, picture) in enumerate(own):
    if (answer := char_sources.characters_or_report(name, picture, log)) is None:
        continue
    image, found, boxes = answer
    with st.expander(f"What the models see of {plain(name)}", expanded=not isinstance(picture, bytes)):
        char_sources.show_what_was_found(image, found, boxes, name, key=f"generate_{number}")
    named = [name] if len(found) == 1 else [f"{name} ({k + 1})" for k in range(len(found))]
    choices.update(zip(named, found, strict=True))
    pictures.update({n: (image, box) for n, box in zip(named, boxes, strict=True)})

RENDER = {
    "Sample": (sample_tab, "draw samples"),
    "Interpolate": (lambda: interpolate_tab(choices), "interpolate between these digits"),
    "Walk": (lambda: walk_tab(choices, manifold, encode, decode), "walk the latent space"),
    "Map": (lambda: map_tab(held_out, held_out_codes, map_points, decode), "draw the map of the latent space"),
    "Choose a digit": (conditional_tab, "draw the chosen digit"),
    "Your digit & beta": (
        lambda: own_tab(choices, pictures, encode, decode, samples, beta_report, real_sharpness),
        "encode this digit",
    ),
}
render_open_tab(logic.TABS, RENDER, "generate_tab", log)
