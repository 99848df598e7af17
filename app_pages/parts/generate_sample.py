"""The VAE generation page's Sample and Choose tabs: codes drawn from a prior (N(0, I) or the
learned one) and decoded, judged by a classifier; the conditional VAE asked for a class. The page
hands in its cached model calls."""
import functools
from collections.abc import Callable

import numpy as np
import streamlit as st

import engine
from app_pages.common import side_by_side
from app_pages.display import enlarge, mosaic
from app_pages.logic import generate as logic

# (model, count, seed, temperature, class asked or None, prior) -> pictures, judged class, confidence
Samples = Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]


def show_grid(images: np.ndarray, captions: list[str], columns: int, scale: int = 4, key: str = "grid") -> None:
    for start in range(0, len(images), columns):
        row = side_by_side(columns, f"{key}_{start}")
        for column, index in zip(row, range(start, min(start + columns, len(images)))):
            column.image(enlarge(images[index], scale), caption=captions[index], output_format="PNG")


def _prior_story(family: logic.Family) -> str:
    return (
        f"**Which prior?** The KL term pulls each {family.noun}'s code towards $\\mathcal{{N}}(0, I)$, but the "
        f"codes of all the training {family.noun}s together do not fill it evenly: there are thinner places "
        f"between their clusters, and a code drawn there decodes to a blend of two {family.noun}s. The **learned "
        "prior** is a mixture of Gaussians fitted to the training codes once training is over (ex-post density "
        "estimation): its codes land where real codes lie. Switch between the two and watch the judge's share."
    )


def sample_tab(family: logic.Family, samples: Samples) -> None:
    st.markdown(
        f"Draw codes from a prior and decode them: {family.noun}s no one drew. The temperature $T$ scales "
        "the spread: below 1 the codes stay near the centre, where the decoder draws typical, "
        f"average-looking {family.noun}s; above 1 they reach where few training codes lay, and the "
        f"pictures get stranger. A classifier, the *judge*, says which {family.kind} "
        "each sample looks like."
    )
    model_col, prior_col, seed_col, temperature_col, grid_col = st.columns([3, 3, 2, 2, 2])
    model = model_col.selectbox(
        "Model", family.unconditional, format_func=logic.MODEL_LABELS.get, key=logic.widget_key(family, "sample_model"),
        bind="query-params", persist_state="page",
    )
    learned = engine.has_learned_prior(model)
    if learned:
        prior = prior_col.selectbox(
            "Sample from", list(logic.PRIOR_LABELS), format_func=logic.PRIOR_LABELS.get,
            key=logic.widget_key(family, "sample_prior"), bind="query-params", persist_state="page",
        )
    else:
        prior = "standard"
        prior_col.caption("This model has no learned prior: its codes come from N(0, I).")
    seed = seed_col.number_input(
        "Seed", 0, 9_999, 0, key="sample_seed",
        bind="query-params", persist_state="page", help="The same seed gives the same samples"
    )
    temperature = temperature_col.slider(
        "Temperature", 0.0, 2.0, 1.0, 0.1, key="sample_temperature", bind="query-params", persist_state="page"
    )
    side = grid_col.slider("Grid", 2, 8, 4, key="sample_grid", bind="query-params", persist_state="page", help="Samples per side")
    images, predicted, confidence = samples(model, side * side, int(seed), float(temperature), None, prior)

    grid_area, summary = st.columns([3, 2], gap="large")
    with grid_area:
        show_grid(images, logic.verdicts(predicted, confidence, family), side)
    with summary:
        st.metric(
            "Judged confidently",
            logic.confident_share(confidence),
            help=f"Samples the judge gives one class a probability above {logic.CONFIDENT:.0%}: a rough "
            f"measure of how many look like a real {family.noun}. '?' marks the others in the captions.",
        )
        st.altair_chart(logic.shares_chart(predicted, family), key="sample_shares")
        pick = st.selectbox("Sample #", range(1, len(images) + 1), key="sample_pick")
        st.download_button(
            f"Download sample #{pick}",
            functools.partial(engine.encode_png, images[pick - 1]),  # encoded only when clicked
            file_name=logic.sample_file_name(model, seed, temperature, f"sample{pick}", prior),
            mime="image/png", on_click="ignore", icon=":material/download:", key="download_sample",
        )
        st.download_button(
            "Download the whole grid",
            functools.partial(engine.encode_png, mosaic(images, side)),
            file_name=logic.sample_file_name(model, seed, temperature, "grid", prior),
            mime="image/png", on_click="ignore", icon=":material/download:", key="download_grid",
        )
        st.caption("Samples are 28x28 pixels, light on black, as the models drew them.")
    if learned:
        st.markdown(_prior_story(family))


def conditional_tab(family: logic.Family, samples: Samples,
                    every_class: Callable[[str, int, float], np.ndarray]) -> None:
    """The tab; `every_class(model, seed, temperature)` draws one code as each class."""
    thing = "digit" if family is logic.DIGITS else "kind of clothing"
    st.markdown(
        f"A **conditional VAE** is given the {thing}'s label alongside the picture while it trains, "
        "in the encoder and in the decoder. The label then carries *what* it is, and the code "
        "is left to carry *how* it is drawn: slant, thickness, width. Ask for one and it "
        "draws it, in styles sampled from the prior."
    )
    asked = st.segmented_control(
        f"{family.kind.capitalize()} to draw", list(range(len(family.classes))),
        format_func=family.name, default=7, required=True, key=logic.widget_key(family, "cvae_digit"),
        bind="query-params", persist_state="page",
    )
    seed_col, temperature_col, count_col = st.columns(3)
    seed = seed_col.number_input("Seed", 0, 9_999, 0, key="cvae_seed", bind="query-params", persist_state="page")
    temperature = temperature_col.slider(
        "Temperature", 0.0, 2.0, 1.0, 0.1, key="cvae_temperature", bind="query-params", persist_state="page"
    )
    count = count_col.slider("Samples", 4, 32, 12, 4, key="cvae_count", bind="query-params", persist_state="page")
    images, predicted, confidence = samples(family.conditional, count, int(seed), float(temperature), int(asked))

    as_asked_col, confident_col = st.columns(2)
    as_asked_col.metric(
        f"Judged {family.name(asked) if family is not logic.DIGITS else f'a {asked}'}",
        f"{(predicted == asked).mean():.0%}",
        help="Samples whose most likely class, to the judge, is the one asked for.",
    )
    confident_col.metric("Judged confidently", logic.confident_share(confidence))
    show_grid(images, logic.verdicts(predicted, confidence, family), 8)

    st.markdown(
        f"**Same code, every {family.kind}.** One code from the prior (this seed "
        f"and temperature), drawn as each of the ten: the style stays, the {thing} changes."
    )
    row = every_class(family.conditional, int(seed), float(temperature))
    for column, (number, image) in zip(side_by_side(10, "every_digit"), enumerate(row)):
        column.image(enlarge(image, 3), caption=family.name(number), width="stretch", output_format="PNG")
