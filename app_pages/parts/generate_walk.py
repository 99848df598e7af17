"""The VAE generation page's Walk tab: the 2-number model's whole map, and a slider for each
number of the 16-number code. The page hands in its cached model calls."""
import logging
from collections.abc import Callable

import numpy as np
import streamlit as st

import engine
from app_pages.common import report
from app_pages.display import enlarge
from app_pages.logic import generate as logic

log = logging.getLogger(__name__)

def reset_walk(choices: dict[str, np.ndarray], encode: logic.Encode, family: logic.Family = logic.DIGITS) -> None:
    """Set the walk's sliders to the code (the mean) of the picture picked to start from."""
    name = st.session_state.get(logic.widget_key(family, "walk_start"))
    if name not in choices:
        return
    try:
        code = encode(choices[name][None], family.default)[0][0]
    except Exception:  # the fragment below reports what is wrong with the model
        log.exception("Encoding %r for the walk failed", name)
        return
    for index, value in enumerate(logic.slider_values(code)):
        st.session_state[logic.widget_key(family, f"walk_z{index}")] = value


@st.fragment
def latent_sliders(choices: dict[str, np.ndarray], encode: logic.Encode, decode: logic.Decode,
                   family: logic.Family = logic.DIGITS) -> None:
    """One slider per number of the 16-number code; moving one reruns only this fragment."""
    if not choices:
        st.info("There are no digits to start from: drop your own at the top of the page.")
        return
    try:
        size = engine.latent_size(family.default)
        names = list(choices)
        pick_col, button_col = st.columns([2, 1], vertical_alignment="bottom")
        start_key = logic.widget_key(family, "walk_start")
        st.session_state.setdefault(start_key, family.ends[0])  # not the widget's default: callbacks change it
        pick_col.selectbox(
            "Start from the code of",
            names,
            key=start_key,
            on_change=reset_walk,
            args=(choices, encode, family),
            persist_state="page",
        )
        button_col.button(
            f"Reset the sliders to this {family.noun}",
            on_click=reset_walk,
            args=(choices, encode, family),
            icon=":material/restart_alt:",
            key="walk_reset",
        )
        keys = [logic.widget_key(family, f"walk_z{index}") for index in range(size)]
        if any(key not in st.session_state for key in keys):
            reset_walk(choices, encode, family)
        slider_area, picture_area = st.columns([3, 1], gap="large")
        slider_cols = slider_area.columns(4)
        z = np.array(
            [
                slider_cols[index % 4].slider(
                    f"z{index + 1}", -logic.SLIDER_LIMIT, logic.SLIDER_LIMIT, step=0.05, key=key,
                    persist_state="page",
                )
                for index, key in enumerate(keys)
            ],
            dtype=np.float32,
        )
        image = decode(z[None], family.default)
        judgement = engine.judge_samples(image, family.judge)
        picture_area.image(
            enlarge(image[0], 7),
            width=196,
            caption=f"The judge reads a {family.name(judgement.predicted[0])} ({judgement.confidence[0]:.0%})",
            output_format="PNG",
        )
    except Exception as error:
        report(error, "decode the sliders' code", log)


def walk_tab(
    choices: dict[str, np.ndarray],
    manifold: Callable[[int, str], tuple[np.ndarray, np.ndarray]],
    encode: logic.Encode,
    decode: logic.Decode,
    family: logic.Family = logic.DIGITS,
) -> None:
    """The tab; `manifold(size, model)` gives a 2-number model's decoded grid and its values."""
    st.markdown(
        "**The whole map of the 2-number model.** Each cell decodes one point of a grid over its "
        f"latent space, spaced so that every cell holds the same share of the prior. The {family.noun}s flow "
        "into one another: there are no gaps, because the KL term packs the codes into the prior."
    )
    try:
        size = st.slider("Grid size", 8, 25, 15, key="walk_grid", bind="query-params", persist_state="page")
        picture, values = manifold(size, family.two_d)
        st.altair_chart(logic.manifold_chart(picture, values), width="content", key="walk_manifold")
    except Exception as error:  # the sliders below need another model: they still run
        report(error, "draw the map of the 2-number model", log)

    st.markdown(
        f"**Walk the 16-number model by hand.** Each slider sets one number of the code "
        f"({logic.MODEL_LABELS[family.default]}); the picture is decoded as you let go. Most "
        "numbers change several things at once: the model was never asked to give each its own "
        f"meaning. Pick a {family.noun} to start from its code, or reset to it after wandering off."
    )
    latent_sliders(choices, encode, decode, family)
