"""VAE generation: new digits from a variational autoencoder's latent space. Sample, interpolate,
walk and map the space, ask a conditional VAE for a chosen digit, and see what beta does."""

import base64
import functools
import logging

import numpy as np
import plotly.graph_objects as go
import streamlit as st

import engine
from app_pages.common import render_open_tab, report

log = logging.getLogger(__name__)

MAX_UPLOAD_MB = engine.MAX_UPLOAD_BYTES // 2**20  # also server.maxUploadSize in .streamlit/config.toml
MODEL_LABELS = engine.VAE_MODELS
UNCONDITIONAL = [name for name in engine.VAE_MODELS if name != engine.CONDITIONAL_VAE]
TWO_D = "vae_2d"  # the 2-number model: its latent space is the map itself
BETA_MODELS = {engine.DEFAULT_VAE: "β = 1", "vae_beta4": "β = 4"}  # same code size and network
TABS = ["Sample", "Interpolate", "Walk", "Map", "Choose a digit", "Your digit & beta"]
UPLOAD_TABS = ("Interpolate", "Walk", "Your digit & beta")  # the tabs where uploads can be picked
CONFIDENT = 0.9  # the judge's probability above which engine.judge_samples counts a sample confident
HELD_OUT = 1000  # held-out digits on the map
ELBO_DIGITS = 300  # held-out digits the beta comparison is measured on (the map's first 300)
METHOD_LABELS = {"linear": "Linear (a straight line)", "spherical": "Spherical (slerp, along the arc)"}
SLIDER_LIMIT = 4.0  # the walk's sliders span the prior's -4..4 standard deviations
DIGIT_COLOURS = [  # Tableau 10, one colour per digit on the map
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
]  # fmt: skip


# --- Cached helpers --------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def examples() -> dict[str, np.ndarray]:
    """The first example of each digit among built-in digits rendered in held-out fonts."""
    gallery = engine.builtin_gallery("digits", 200)
    found = {}
    for digit in range(10):
        where = np.flatnonzero(gallery.labels == str(digit))
        if where.size:
            found[f"Built-in {digit}"] = gallery.images[int(where[0])]
    return found


@st.cache_resource(max_entries=2, show_spinner="Rendering held-out digits…")
def held_out(count: int = HELD_OUT) -> tuple[np.ndarray, np.ndarray]:
    """Digits in fonts no model trained on, (count, 28, 28), with their labels (count,) as ints."""
    gallery = engine.builtin_gallery("digits", count)
    images, labels = np.stack(gallery.images), gallery.labels.astype(int)
    images.flags.writeable = labels.flags.writeable = False  # shared by every session
    return images, labels


@st.cache_data(max_entries=32, show_spinner=False)
def prepare(data: bytes) -> np.ndarray:
    """An upload's bytes -> the centred (28, 28) character the models see."""
    return engine.prepare_character(engine.decode_image(data))


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
    cells = engine.vae_decode(grid, TWO_D)
    picture = cells.reshape(size, size, 28, 28).transpose(0, 2, 1, 3).reshape(size * 28, size * 28)
    return picture, grid[:size, 0]  # the first row holds every z1 value, left to right


@st.cache_data(max_entries=4, show_spinner="Encoding held-out digits…")
def held_out_codes(model: str) -> np.ndarray:
    return engine.vae_encode(held_out(HELD_OUT)[0], model)[0]


@st.cache_data(max_entries=4, show_spinner=False)
def map_points(model: str) -> tuple[np.ndarray, float | None]:
    """The held-out digits' codes in 2-D: as they are for a 2-number model, else projected by
    PCA; with the share of variance the projection keeps (None when nothing is projected)."""
    codes = held_out_codes(model)
    if codes.shape[1] == 2:
        return codes, None
    from sklearn.decomposition import PCA  # imported here: only the map needs it

    pca = PCA(n_components=2, random_state=0).fit(codes)
    return pca.transform(codes), float(pca.explained_variance_ratio_.sum())


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


def beta_story(low: dict[str, float], high: dict[str, float]) -> str:
    """What the measurements of the beta-1 (`low`) and beta-4 (`high`) models say, in words
    that follow the numbers whichever way they go."""

    def word(value: float, than: float, bigger: str, smaller: str) -> str:
        return bigger if value > than else smaller

    better = "1" if low["negative_elbo"] < high["negative_elbo"] else "4"
    return (
        f"Here $\\beta = 4$ {word(high['kl'], low['kl'], 'raises', 'lowers')} the KL from "
        f"{low['kl']:.1f} to {high['kl']:.1f} nats and "
        f"{word(high['reconstruction'], low['reconstruction'], 'raises', 'lowers')} the reconstruction "
        f"term from {low['reconstruction']:.1f} to {high['reconstruction']:.1f}; its reconstructions "
        f"are {word(high['rebuilt_sharpness'], low['rebuilt_sharpness'], 'sharper', 'blurrier')} "
        f"(sharpness {high['rebuilt_sharpness']:.3f} against {low['rebuilt_sharpness']:.3f}). Its "
        f"latent paths measure {word(high['roughness'], low['roughness'], 'rougher', 'smoother')} "
        f"({high['roughness']:.2f} against {low['roughness']:.2f}, 1 being perfectly smooth): the "
        "roughness takes the largest single jump along a path, relative to the change from end to "
        "end, so it rewards even morphs, not a tidy map. By the ELBO, which weighs the KL by 1 for "
        f"both, $\\beta = {better}$ explains held-out digits better "
        f"({min(low['negative_elbo'], high['negative_elbo']):.1f} against "
        f"{max(low['negative_elbo'], high['negative_elbo']):.1f} nats)."
    )


# --- Plain helpers ---------------------------------------------------------------------------
def selected_point(selection, count: int, members: list | None = None) -> int | None:
    """The held-out digit (0..count-1) a plotly selection points at: the index kept in the
    latest point's customdata, or else found from its trace and place in it (`members[trace]`
    lists the digits each trace draws). None when nothing usable is selected."""
    points = (selection or {}).get("points") or []
    if not points:
        return None
    point = points[-1]  # the latest click
    custom = point.get("customdata")
    if isinstance(custom, (list, tuple)):  # plotly express sends a list per point
        custom = custom[0] if custom else None
    if custom is not None:
        try:
            index = int(custom)
        except (TypeError, ValueError):
            return None
    else:
        trace, place = point.get("curve_number"), point.get("point_index", point.get("point_number"))
        if members is None or not isinstance(trace, int) or not isinstance(place, int):
            return None
        if not (0 <= trace < len(members) and 0 <= place < len(members[trace])):
            return None
        index = int(members[trace][place])
    return index if 0 <= index < count else None


def enlarge(image: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour: 28x28 is too small to see, and this keeps the pixels honest."""
    return image.repeat(scale, axis=0).repeat(scale, axis=1)


def mosaic(images: np.ndarray, columns: int, gap: int = 2) -> np.ndarray:
    """Characters (N, 28, 28) tiled row by row with grey gaps, as one image."""
    rows = -(-len(images) // columns)
    side = images.shape[1]
    canvas = np.full((rows * (side + gap) - gap, columns * (side + gap) - gap), 0.5, dtype=np.float32)
    for index, image in enumerate(images):
        top, left = (index // columns) * (side + gap), (index % columns) * (side + gap)
        canvas[top : top + side, left : left + side] = image
    return canvas


def data_uri(image: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(engine.encode_png(image)).decode("ascii")


def verdict(index: int, predicted: int, confidence: float) -> str:
    """A sample's caption: its number, the judge's digit and confidence ('?' when unsure)."""
    unsure = "" if confidence > CONFIDENT else "?"
    return f"#{index + 1}: {predicted}{unsure} · {confidence:.0%}"


def show_grid(images: np.ndarray, captions: list[str], columns: int, scale: int = 4) -> None:
    for start in range(0, len(images), columns):
        row = st.columns(columns)
        for column, index in zip(row, range(start, min(start + columns, len(images)))):
            column.image(enlarge(images[index], scale), caption=captions[index], output_format="PNG")


def default(key: str, value) -> None:
    """A widget's first value, set through session state so that callbacks can change it later
    (a widget given both a default and a session-state value draws a warning)."""
    if key not in st.session_state:
        st.session_state[key] = value


def upload_names(files) -> list[str]:
    """The names uploads go by in the pickers: file names, made unique."""
    taken = set(examples())
    names = []
    for file in files or []:
        name, copy = file.name, 1
        while name in taken:
            copy += 1
            name = f"{file.name} ({copy})"
        taken.add(name)
        names.append(name)
    return names


def pick_newest_upload() -> None:
    """On a new upload that can be used: pick it wherever uploads can be picked, and open a tab
    that shows it. (An unusable one is reported where the uploads are read.)"""
    files = st.session_state.get("uploads") or []
    names = upload_names(files)
    if not names:
        return
    try:
        prepare(files[-1].getvalue())
    except Exception:
        return
    st.session_state["own_digit"] = st.session_state["interp_end"] = names[-1]
    if st.session_state.get("generate_tab") not in UPLOAD_TABS:
        st.session_state["generate_tab"] = "Your digit & beta"


def code_figure(mean: np.ndarray, log_var: np.ndarray) -> go.Figure:
    spread = np.exp(0.5 * log_var)
    names = [f"z{i + 1}" for i in range(len(mean))]
    figure = go.Figure()
    figure.add_hrect(
        y0=-1,
        y1=1,
        fillcolor="#dddddd",
        opacity=0.5,
        line_width=0,
        layer="below",
        annotation_text="the prior: 0 ± 1",
        annotation_position="top left",
    )
    figure.add_bar(x=names, y=mean, error_y={"type": "data", "array": spread}, marker_color="#3b6fd4")
    figure.update_layout(
        title="Its code: mean ± one standard deviation",
        yaxis_title="value",
        height=320,
        margin={"t": 50, "b": 10},
        showlegend=False,
    )
    return figure


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
        "Model", UNCONDITIONAL, format_func=MODEL_LABELS.get, key="sample_model", persist_state="page"
    )
    seed = seed_col.number_input(
        "Seed", 0, 9_999, 0, key="sample_seed", persist_state="page", help="The same seed gives the same digits"
    )
    temperature = temperature_col.slider(
        "Temperature", 0.0, 2.0, 1.0, 0.1, key="sample_temperature", persist_state="page"
    )
    side = grid_col.slider("Grid", 2, 8, 4, key="sample_grid", persist_state="page", help="Samples per side")
    images, predicted, confidence = samples(model, side * side, int(seed), float(temperature))

    grid_area, summary = st.columns([3, 2], gap="large")
    with grid_area:
        show_grid(images, [verdict(i, p, c) for i, (p, c) in enumerate(zip(predicted, confidence))], side)
    with summary:
        st.metric(
            "Judged confidently",
            f"{(confidence > CONFIDENT).mean():.0%}",
            help=f"Samples the judge gives one digit a probability above {CONFIDENT:.0%}: a rough "
            "measure of how many look like a real digit. '?' marks the others in the captions.",
        )
        shares = np.bincount(predicted, minlength=10) / len(predicted)
        figure = go.Figure(go.Bar(x=[str(d) for d in range(10)], y=shares, marker_color="#3b6fd4"))
        figure.update_layout(
            title="Which digits the judge sees",
            xaxis={"title": "digit", "type": "category"},
            yaxis={"title": "share of samples", "tickformat": ".0%"},
            height=260,
            margin={"t": 40, "b": 10},
        )
        st.plotly_chart(figure, key="sample_shares")
        pick = st.selectbox("Sample #", range(1, len(images) + 1), key="sample_pick")
        st.download_button(
            f"Download sample #{pick}",
            functools.partial(engine.encode_png, images[pick - 1]),  # encoded only when clicked
            file_name=f"{model}_seed{seed}_t{temperature:.1f}_sample{pick}.png",
            mime="image/png",
            on_click="ignore",
            icon=":material/download:",
            key="download_sample",
        )
        st.download_button(
            "Download the whole grid",
            functools.partial(engine.encode_png, mosaic(images, side)),
            file_name=f"{model}_seed{seed}_t{temperature:.1f}_grid.png",
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
        "Model", UNCONDITIONAL, format_func=MODEL_LABELS.get, key="interp_model", persist_state="page"
    )
    default("interp_start", "Built-in 3")
    default("interp_end", "Built-in 7")
    start = start_col.selectbox("From", names, key="interp_start", persist_state="page")
    end = end_col.selectbox("To", names, key="interp_end", persist_state="page")
    steps = steps_col.slider("Steps", 3, 15, 8, key="interp_steps", persist_state="page")

    mean, _ = encode(np.stack([choices[start], choices[end]]), model)
    inputs = st.columns(8)
    inputs[0].image(enlarge(choices[start], 3), caption=f"From: {start}", output_format="PNG")
    inputs[1].image(enlarge(choices[end], 3), caption=f"To: {end}", output_format="PNG")
    lengths = {}
    for method, label in METHOD_LABELS.items():
        path = engine.interpolate(mean[0], mean[1], steps, method)
        lengths[label] = np.linalg.norm(path, axis=1)
        st.markdown(f"**{label}**")
        for column, image, t in zip(st.columns(steps), decode(path, model), np.linspace(0, 1, steps)):
            column.image(enlarge(image, 3), caption=f"t = {t:.2f}", width="stretch", output_format="PNG")

    chart_col, text_col = st.columns([1, 1], gap="large")
    figure = go.Figure()
    for label, length in lengths.items():
        figure.add_scatter(x=np.linspace(0, 1, steps), y=length, mode="lines+markers", name=label)
    figure.update_layout(
        title="Length of the code along each path",
        xaxis_title="t",
        yaxis_title="‖z‖",
        height=300,
        margin={"t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.3},
    )
    chart_col.plotly_chart(figure, key="interp_lengths")
    size = mean.shape[1]
    text_col.markdown(
        f"Why two paths? In {size} dimensions almost all of the prior's samples lie near a "
        f"sphere of radius about $\\sqrt{{{size}}} \\approx {np.sqrt(size):.1f}$, and the codes the "
        "decoder knows lie on a shell too. A straight line between two codes cuts inside it, "
        "through shorter codes the decoder saw less of. Spherical interpolation follows the arc "
        "between the two directions, $\\omega$ being the angle between the codes $a$ and $b$, "
        "and keeps the length between the two ends' lengths:"
    )
    text_col.latex(
        r"\operatorname{slerp}(a, b; t) = \frac{\sin((1-t)\,\omega)}{\sin \omega}\, a"
        r" + \frac{\sin(t\,\omega)}{\sin \omega}\, b"
    )


def reset_walk(choices: dict[str, np.ndarray]) -> None:
    """Set the walk's sliders to the code (the mean) of the digit picked to start from."""
    name = st.session_state.get("walk_start")
    if name not in choices:
        return
    try:
        code = encode(choices[name][None], engine.DEFAULT_VAE)[0][0]
    except Exception:  # the fragment below reports what is wrong with the model
        log.exception("Encoding %r for the walk failed", name)
        return
    for index, value in enumerate(code):
        st.session_state[f"walk_z{index}"] = round(float(np.clip(value, -SLIDER_LIMIT, SLIDER_LIMIT)), 2)


@st.fragment
def latent_sliders(choices: dict[str, np.ndarray]) -> None:
    """One slider per number of the 16-number code; moving one reruns only this fragment."""
    if not choices:
        st.info("There are no digits to start from: drop your own at the top of the page.")
        return
    try:
        size = engine.latent_size(engine.DEFAULT_VAE)
        names = list(choices)
        pick_col, button_col = st.columns([2, 1], vertical_alignment="bottom")
        default("walk_start", "Built-in 3")
        pick_col.selectbox(
            "Start from the code of",
            names,
            key="walk_start",
            on_change=reset_walk,
            args=(choices,),
            persist_state="page",
        )
        button_col.button(
            "Reset the sliders to this digit",
            on_click=reset_walk,
            args=(choices,),
            icon=":material/restart_alt:",
            key="walk_reset",
        )
        keys = [f"walk_z{index}" for index in range(size)]
        if any(key not in st.session_state for key in keys):
            reset_walk(choices)
        slider_area, picture_area = st.columns([3, 1], gap="large")
        slider_cols = slider_area.columns(4)
        z = np.array(
            [
                slider_cols[index % 4].slider(
                    f"z{index + 1}", -SLIDER_LIMIT, SLIDER_LIMIT, step=0.05, key=key, persist_state="page"
                )
                for index, key in enumerate(keys)
            ],
            dtype=np.float32,
        )
        image = decode(z[None], engine.DEFAULT_VAE)
        judgement = engine.judge_samples(image)
        picture_area.image(
            enlarge(image[0], 7),
            width=196,
            caption=f"The judge reads a {judgement.predicted[0]} ({judgement.confidence[0]:.0%})",
            output_format="PNG",
        )
    except Exception as error:
        report(error, "decode the sliders' code", log)


def walk_tab(choices: dict[str, np.ndarray]) -> None:
    st.markdown(
        "**The whole map of the 2-number model.** Each cell decodes one point of a grid over its "
        "latent space, spaced so that every cell holds the same share of the prior. Digits flow "
        "into one another: there are no gaps, because the KL term packs the codes into the prior."
    )
    try:
        size = st.slider("Grid size", 8, 25, 15, key="walk_grid", persist_state="page")
        picture, values = manifold(size)
        centres = [28 * (index + 0.5) for index in range(size)]
        every = 1 if size <= 15 else 2
        figure = go.Figure(go.Image(source=data_uri(picture), hoverinfo="skip"))
        figure.update_xaxes(
            title="z1",
            tickvals=centres[::every],
            ticktext=[f"{v:.1f}" for v in values[::every]],
            showgrid=False,
        )
        figure.update_yaxes(
            title="z2",
            tickvals=centres[::every],
            ticktext=[f"{v:.1f}" for v in values[::-1][::every]],  # z2 falls from top to bottom
            showgrid=False,
        )
        figure.update_layout(width=640, height=640, margin={"t": 10, "b": 10, "l": 10, "r": 10})
        st.plotly_chart(figure, width="content", key="walk_manifold")
    except Exception as error:  # the sliders below need another model: they still run
        report(error, "draw the map of the 2-number model", log)

    st.markdown(
        f"**Walk the 16-number model by hand.** Each slider sets one number of the code "
        f"({MODEL_LABELS[engine.DEFAULT_VAE]}); the picture is decoded as you let go. Most "
        "numbers change several things at once: the model was never asked to give each its own "
        "meaning. Pick a digit to start from its code, or reset to it after wandering off."
    )
    latent_sliders(choices)


def map_tab() -> None:
    st.markdown(
        f"{HELD_OUT:,} held-out digits, in fonts no model trained on, placed by their codes and "
        "coloured by the digit they are. The 2-number model's codes are the map itself; a "
        "16-number model's codes are flattened to 2-D by PCA, which keeps only part of their "
        "spread. **Click a point** to decode its code."
    )
    model = st.selectbox(
        "Model",
        UNCONDITIONAL,
        index=UNCONDITIONAL.index(TWO_D),
        format_func=MODEL_LABELS.get,
        key="map_model",
        persist_state="page",
    )
    images, labels = held_out(HELD_OUT)
    points, kept = map_points(model)
    members = [np.flatnonzero(labels == digit) for digit in range(10)]
    figure = go.Figure()
    for digit, member in enumerate(members):
        figure.add_scatter(
            x=points[member, 0],
            y=points[member, 1],
            customdata=member,
            mode="markers",
            name=str(digit),
            marker={"color": DIGIT_COLOURS[digit], "size": 6, "opacity": 0.75},
            hovertemplate=f"digit {digit}<br>#%{{customdata}}<extra></extra>",
        )
    axes = ("z1", "z2") if kept is None else ("PCA 1", "PCA 2")
    figure.update_layout(
        xaxis_title=axes[0],
        yaxis={"title": axes[1], "scaleanchor": "x"},
        height=560,
        margin={"t": 30, "b": 10},
        legend={"title": "digit"},
    )
    chart_col, detail_col = st.columns([3, 1], gap="large")
    with chart_col:
        event = st.plotly_chart(figure, on_select="rerun", selection_mode="points", key=f"map_chart_{model}")
        if kept is not None:
            size = held_out_codes(model).shape[1]
            st.caption(f"PCA keeps {kept:.0%} of the spread of the {size}-number codes.")
    with detail_col:
        index = selected_point(event.selection, len(images), members)
        if index is None:
            st.info("Click a point on the map to see the digit and what its code decodes to.")
            return
        decoded = decode(held_out_codes(model)[index][None], model)[0]
        original = f"Held-out digit #{index}: a {labels[index]}"
        st.image(enlarge(images[index], 5), caption=original, width=140, output_format="PNG")
        st.image(enlarge(decoded, 5), caption="Decoded from its code (the mean)", width=140, output_format="PNG")
        if kept is not None:
            st.caption("The full 16-number code is decoded, not its 2-D shadow on the map.")


def conditional_tab() -> None:
    st.markdown(
        "A **conditional VAE** is given the digit's label alongside the image while it trains, "
        "in the encoder and in the decoder. The label then carries *which* digit, and the code "
        "is left to carry *how* it is drawn: slant, thickness, width. Ask for a digit and it "
        "draws that digit, in styles sampled from the prior."
    )
    digit = st.segmented_control(
        "Digit to draw", list(range(10)), default=7, required=True, key="cvae_digit", persist_state="page"
    )
    seed_col, temperature_col, count_col = st.columns(3)
    seed = seed_col.number_input("Seed", 0, 9_999, 0, key="cvae_seed", persist_state="page")
    temperature = temperature_col.slider(
        "Temperature", 0.0, 2.0, 1.0, 0.1, key="cvae_temperature", persist_state="page"
    )
    count = count_col.slider("Samples", 4, 32, 12, 4, key="cvae_count", persist_state="page")
    images, predicted, confidence = samples(
        engine.CONDITIONAL_VAE, count, int(seed), float(temperature), int(digit)
    )

    as_asked_col, confident_col = st.columns(2)
    as_asked_col.metric(
        f"Judged a {digit}",
        f"{(predicted == digit).mean():.0%}",
        help="Samples whose most likely digit, to the judge, is the one asked for.",
    )
    confident_col.metric("Judged confidently", f"{(confidence > CONFIDENT).mean():.0%}")
    show_grid(images, [verdict(i, p, c) for i, (p, c) in enumerate(zip(predicted, confidence))], 8)

    st.markdown(
        "**Same code, every digit.** One code from the prior (this seed and temperature), "
        "drawn as each of the ten digits: the style stays, the digit changes."
    )
    row = every_digit(int(seed), float(temperature))
    for column, (number, image) in zip(st.columns(10), enumerate(row)):
        column.image(enlarge(image, 3), caption=str(number), width="stretch", output_format="PNG")


def own_tab(choices: dict[str, np.ndarray]) -> None:
    if not choices:
        st.info("There are no digits to pick from: drop your own at the top of the page.")
        return
    st.markdown(
        "Drop your own digit at the top of the page, or pick a built-in one: the encoder gives "
        "its code as a distribution, and the decoder redraws it from the mean."
    )
    names = list(choices)
    pick_col, model_col = st.columns(2)
    default("own_digit", "Built-in 5")
    name = pick_col.selectbox("Digit", names, key="own_digit", persist_state="page")
    model = model_col.selectbox(
        "Model", UNCONDITIONAL, format_func=MODEL_LABELS.get, key="own_model", persist_state="page"
    )
    char = choices[name]
    mean, log_var = encode(char[None], model)
    rebuilt = decode(mean, model)
    _, kl = engine.negative_elbo_terms(char[None], rebuilt, mean, log_var)
    input_col, rebuilt_col, code_col = st.columns([1, 1, 3], gap="medium")
    input_col.image(enlarge(char, 5), caption=f"Input: {name}", width=140, output_format="PNG")
    rebuilt_col.image(enlarge(rebuilt[0], 5), caption="Reconstruction", width=140, output_format="PNG")
    rebuilt_col.metric(
        "KL from the prior", f"{kl[0]:.1f} nats", help="What this digit's code costs in the ELBO"
    )
    with code_col:
        st.plotly_chart(code_figure(mean[0], log_var[0]), key="own_code")
        st.caption(
            "A number whose bar sits at 0 with an error bar of about ±1 says nothing about this "
            "digit: the encoder gives back the prior there, and the decoder ignores it."
        )

    # --- What beta does ---
    st.subheader("What beta does")
    st.markdown(
        "Both models have a 16-number code and the same network; they differ only in the weight "
        "$\\beta$ on the KL term while training, 1 or 4:"
    )
    st.latex(
        r"\mathcal{L}_\beta(x) = "
        r"\underbrace{-\mathbb{E}_{q(z \mid x)}\big[\log p(x \mid z)\big]}_{\text{reconstruction}}"
        r" + \beta\,\underbrace{\mathrm{KL}\big(q(z \mid x)\,\|\,\mathcal{N}(0, I)\big)}_{\text{KL}}"
    )
    reports = {}
    for column, model in zip(st.columns(len(BETA_MODELS), gap="large"), BETA_MODELS, strict=True):
        with column:
            st.markdown(f"**{MODEL_LABELS[model]}**")
            st.caption(engine.model_info(f"{model}_encoder").get("summary", ""))
            drawn, _, _ = samples(model, 16, 0, 1.0)
            again = decode(encode(char[None], model)[0], model)[0]
            samples_col, rebuilt_col = st.columns([3, 1])
            samples_col.image(enlarge(mosaic(drawn, 8), 2), caption="Samples, seed 0", output_format="PNG")
            rebuilt_col.image(
                enlarge(again, 4), caption=f"Its reconstruction of {name}", width=112, output_format="PNG"
            )
            reports[model] = beta_report(model)
            figures = reports[model]
            elbo_col, sharp_col, rough_col = st.columns(3)
            elbo_col.metric(
                "−ELBO", f"{figures['negative_elbo']:.1f}", help="Nats per held-out digit; lower is better"
            )
            sharp_col.metric(
                "Sharpness",
                f"{figures['rebuilt_sharpness']:.3f}",
                help=f"Of its reconstructions of {ELBO_DIGITS} held-out digits; higher is crisper",
            )
            rough_col.metric("Path roughness", f"{figures['roughness']:.2f}", help="1 is perfectly smooth")

    labels = list(BETA_MODELS.values())
    figure = go.Figure()
    figure.add_bar(name="reconstruction", x=labels, y=[reports[m]["reconstruction"] for m in BETA_MODELS])
    figure.add_bar(name="KL", x=labels, y=[reports[m]["kl"] for m in BETA_MODELS])
    figure.update_layout(
        barmode="stack",
        title=f"Negative ELBO on {ELBO_DIGITS} held-out digits, nats per digit",
        yaxis_title="nats",
        height=340,
        margin={"t": 50, "b": 10},
    )
    chart_col, story_col = st.columns(2, gap="large")
    chart_col.plotly_chart(figure, key="beta_elbo")
    story_col.markdown(
        "**The trade-off.** A larger $\\beta$ makes every nat of KL cost more, so the encoder "
        "keeps its codes closer to the prior and puts less about each digit into them. The "
        "textbook result: a map packed more tightly into the prior, with fewer gaps and smoother "
        "morphs, and a decoder that has less to go on, so it draws blurrier, more average digits. "
        + beta_story(*(reports[model] for model in BETA_MODELS))  # beta 1, then beta 4
    )
    columns = {  # table column -> (report entry, number format)
        "Reconstruction (nats)": ("reconstruction", "%.1f"),
        "KL (nats)": ("kl", "%.1f"),
        "−ELBO (nats)": ("negative_elbo", "%.1f"),
        "Sharpness (rebuilt)": ("rebuilt_sharpness", "%.3f"),
        "Sharpness (samples)": ("sample_sharpness", "%.3f"),
        "Samples judged sure": ("confident", "percent"),
        "Path roughness": ("roughness", "%.2f"),
    }
    st.dataframe(
        {"Model": labels}
        | {column: [reports[model][entry] for model in BETA_MODELS] for column, (entry, _) in columns.items()},
        hide_index=True,
        column_config={
            column: st.column_config.NumberColumn(format=number_format) for column, (_, number_format) in columns.items()
        },
    )
    st.caption(
        f"Sharpness is the mean gradient of the pixels; {ELBO_DIGITS} real held-out digits score "
        f"{real_sharpness():.3f}. Samples: 64, seed 0. The ELBO here weighs the KL by 1 for both "
        "models, so both are judged by the same bound on how likely they find real digits."
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
try:
    choices.update(examples())
except Exception as error:
    report(error, "render the built-in digits", log)
# A bad file is reported and skipped; the others still count.
for file, name in zip(uploads or [], upload_names(uploads), strict=True):
    try:
        choices[name] = prepare(file.getvalue())
    except Exception as error:
        if isinstance(error, engine.ImageError):
            st.error(f"{file.name}: {error}", icon=":material/broken_image:")
        else:
            log.exception("Preparing the upload %r failed", file.name)
            st.error(f"{file.name}: this file could not be used. Try another image.", icon=":material/error:")

RENDER = {
    "Sample": (sample_tab, "draw samples"),
    "Interpolate": (lambda: interpolate_tab(choices), "interpolate between these digits"),
    "Walk": (lambda: walk_tab(choices), "walk the latent space"),
    "Map": (map_tab, "draw the map of the latent space"),
    "Choose a digit": (conditional_tab, "draw the chosen digit"),
    "Your digit & beta": (lambda: own_tab(choices), "encode this digit"),
}
render_open_tab(TABS, RENDER, "generate_tab", log)
