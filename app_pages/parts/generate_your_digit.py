"""The VAE generation page's "Your digit & beta" tab: one digit's code and reconstruction, and
what the weight beta on the KL term does. The page hands in its cached model calls."""
from collections.abc import Callable

import numpy as np
import streamlit as st

import engine
from app_pages.display import enlarge, mosaic
from app_pages.logic import generate as logic
from app_pages.parts import char_sources
from app_pages.text import plain


def own_tab(
    choices: dict[str, np.ndarray],
    pictures: dict[str, tuple[np.ndarray, tuple[int, int, int, int]]],
    encode: logic.Encode,
    decode: logic.Decode,
    samples: Callable[[str, int, int, float], tuple[np.ndarray, np.ndarray, np.ndarray]],
    beta_report: Callable[[str], dict[str, float]],
    real_sharpness: Callable[[], float],
) -> None:
    """The tab; `pictures` holds the picture and box each of the user's digits came from (shown
    beside the 28x28 the model receives), `samples(model, count, seed, temperature)` gives samples and the judge's digit and
    confidence for each, `beta_report(model)` the beta comparison's measurements of a model, and
    `real_sharpness()` the sharpness of real held-out digits."""
    if not choices:
        st.info("There are no digits to pick from: drop your own at the top of the page.")
        return
    st.markdown(
        "Drop your own digit at the top of the page, or pick a built-in one: the encoder gives "
        "its code as a distribution, and the decoder redraws it from the mean."
    )
    names = list(choices)
    pick_col, model_col = st.columns(2)
    st.session_state.setdefault("own_digit", "Built-in 5")  # not the widget's default: callbacks change it
    name = pick_col.selectbox("Digit", names, key="own_digit", bind="query-params", persist_state="page")
    model = model_col.selectbox(
        "Model", logic.UNCONDITIONAL, format_func=logic.MODEL_LABELS.get, key="own_model",
        bind="query-params", persist_state="page"
    )
    char = choices[name]
    mean, log_var = encode(char[None], model)
    rebuilt = decode(mean, model)
    _, kl = engine.negative_elbo_terms(char[None], rebuilt, mean, log_var)
    if name in pictures:   # the user's picture, with the character framed, beside what the model sees
        picture_col, input_col, rebuilt_col, code_col = st.columns([1, 1, 1, 3], gap="medium")
        image, box = pictures[name]
        picture_col.image(char_sources.framed(image, [box], 200_000), caption=f"Your picture: {plain(name)}",
                          width="stretch", clamp=True)
        input_col.image(enlarge(char, 5), caption="What the model sees (28x28)", width=140, output_format="PNG")
    else:
        input_col, rebuilt_col, code_col = st.columns([1, 1, 3], gap="medium")
        input_col.image(enlarge(char, 5), caption=f"Input: {plain(name)}", width=140, output_format="PNG")
    rebuilt_col.image(enlarge(rebuilt[0], 5), caption="Reconstruction", width=140, output_format="PNG")
    rebuilt_col.metric(
        "KL from the prior", f"{kl[0]:.1f} nats", help="What this digit's code costs in the ELBO"
    )
    with code_col:
        st.altair_chart(logic.code_chart(mean[0], log_var[0]), key="own_code")
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
    for column, model in zip(st.columns(len(logic.BETA_MODELS), gap="large"), logic.BETA_MODELS, strict=True):
        with column:
            st.markdown(f"**{logic.MODEL_LABELS[model]}**")
            st.caption(engine.model_info(f"{model}_encoder").get("summary", ""))
            drawn, _, _ = samples(model, 16, 0, 1.0)
            again = decode(encode(char[None], model)[0], model)[0]
            samples_col, rebuilt_col = st.columns([3, 1])
            samples_col.image(enlarge(mosaic(drawn, 8), 2), caption="Samples, seed 0", output_format="PNG")
            rebuilt_col.image(
                enlarge(again, 4), caption=f"Its reconstruction of {plain(name)}", width=112, output_format="PNG"
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
                help=f"Of its reconstructions of {logic.ELBO_DIGITS} held-out digits; higher is crisper",
            )
            rough_col.metric("Path roughness", f"{figures['roughness']:.2f}", help="1 is perfectly smooth")

    chart_col, story_col = st.columns(2, gap="large")
    chart_col.altair_chart(logic.elbo_chart(reports), key="beta_elbo")
    story_col.markdown(
        "**The trade-off.** A larger $\\beta$ makes every nat of KL cost more, so the encoder "
        "keeps its codes closer to the prior and puts less about each digit into them. The "
        "textbook result: a map packed more tightly into the prior, with fewer gaps and smoother "
        "morphs, and a decoder that has less to go on, so it draws blurrier, more average digits. "
        + logic.beta_story(*(reports[model] for model in logic.BETA_MODELS))  # beta 1, then beta 4
    )
    st.dataframe(
        logic.beta_table(reports),
        hide_index=True,
        column_config={
            column: st.column_config.NumberColumn(format=number_format)
            for column, (_, number_format) in logic.BETA_COLUMNS.items()
        },
    )
    st.caption(
        f"Sharpness is the mean gradient of the pixels; {logic.ELBO_DIGITS} real held-out digits score "
        f"{real_sharpness():.3f}. Samples: 64, seed 0. The ELBO here weighs the KL by 1 for both "
        "models, so both are judged by the same bound on how likely they find real digits."
    )
