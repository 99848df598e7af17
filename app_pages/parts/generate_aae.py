"""The VAE generation page's "Adversarial AE" tab: the adversarial autoencoder beside the VAE, how
each one's codes fill the prior, their samples and how well each redraws held-out digits. The page
hands in its cached data and model calls."""
from collections.abc import Callable

import numpy as np
import streamlit as st

import engine
from app_pages.logic import generate as logic
from app_pages.parts.generate_sample import Samples, show_grid


def aae_tab(
    held_out: Callable[[int], tuple[np.ndarray, np.ndarray]],
    held_out_codes: Callable[[str], np.ndarray],
    samples: Samples,
    rebuilt: Callable[[str], tuple[float, float]],
) -> None:
    """The tab; `held_out_codes(model)` gives the codes of the map's held-out digits and
    `rebuilt(model)` the model's held-out reconstruction error (nats, mean squared error)."""
    st.markdown(
        "An **adversarial autoencoder** (AAE) reaches the same goal as the VAE, codes that fill the "
        "prior $p(z) = \\mathcal{N}(0, I)$, another way. Its encoder gives one code per digit, not a "
        "distribution, and there is no KL term. Instead a third network, the **discriminator** $D$, learns to "
        "tell the codes of a batch from samples of the prior, while the encoder learns to fool it. When "
        "$D$ can no longer tell them apart, the codes of all digits together (the *aggregate posterior* "
        "$q(z)$) have the prior's shape, and a code drawn from the prior decodes to a digit."
    )
    st.latex(
        r"\min_{\text{enc},\,\text{dec}} \; \mathbb{E}_x\big[-\log p(x \mid \text{enc}(x))\big]"
        r"\quad\text{and}\quad \min_{\text{enc}} \max_{D} \; \mathbb{E}_{z \sim p(z)}\big[\log D(z)\big]"
        r" + \mathbb{E}_x\big[\log\big(1 - D(\text{enc}(x))\big)\big]"
    )
    st.markdown(
        "The VAE asks each digit's $q(z \\mid x)$ to be close to the prior; the AAE asks only that all "
        "codes together match it. So the AAE's codes can be sharp points, which helps it redraw a digit, "
        "while nothing stops holes opening between them."
    )
    images, labels = held_out(logic.HELD_OUT)
    members = logic.members_by_digit(labels)

    st.markdown(f"**How the codes fill the prior.** The {logic.HELD_OUT:,} held-out digits of the Map tab, placed "
                "by the codes of the two 2-number models; the circles hold 39% and 86% of the prior.")
    for column, model in zip(st.columns(2), logic.AAE_PAIRS["2"], strict=True):
        title = "VAE (the mean of each code)" if model in engine.VAE_MODELS else "Adversarial autoencoder"
        column.altair_chart(logic.prior_map_chart(held_out_codes(model), members, title), key=f"aae_map_{model}",
                            width="content")
    vae, aae = logic.AAE_PAIRS["16"]
    size = engine.latent_size(vae)
    prior = np.linalg.norm(engine.prior_samples(logic.HELD_OUT, size, seed=0), axis=1)
    radii = {"prior N(0, I)": prior, "VAE": np.linalg.norm(held_out_codes(vae), axis=1),
             "Adversarial autoencoder": np.linalg.norm(held_out_codes(aae), axis=1)}
    st.altair_chart(logic.radius_chart(radii, size), key="aae_radii")
    st.caption(f"In {size} dimensions the prior's samples lie near a shell of radius √{size} ≈ {np.sqrt(size):.1f}: "
               "codes that fill the prior lie there too.")

    st.markdown(f"**Samples from the prior, and how well each redraws held-out digits** ({size}-number codes, "
                "the same codes for both: N(0, I), temperature 1).")
    seed = st.number_input("Seed", 0, 9_999, 0, key="aae_seed", bind="query-params", persist_state="page")
    for column, model in zip(st.columns(2, gap="large"), (vae, aae), strict=True):
        drawn, predicted, confidence = samples(model, 16, int(seed), 1.0, None, "standard")
        nats, squared = rebuilt(model)
        with column:
            st.markdown(f"*{logic.MODEL_LABELS[model]}*")
            judged, error = st.columns(2)
            judged.metric("Judged confidently", logic.confident_share(confidence))
            error.metric("Held-out reconstruction", f"{nats:.1f} nats", help=(
                f"-log p(x | z) of {logic.ELBO_DIGITS} held-out digits redrawn from their codes (the mean, for the "
                f"VAE); mean squared error {squared:.4f}. Lower is better."))
            show_grid(drawn, logic.verdicts(predicted, confidence), 4, scale=3, key=f"aae_grid_{model}")
