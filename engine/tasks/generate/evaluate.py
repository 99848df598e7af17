"""`python -m engine eval vae` and `eval vae-fashion`: held-out negative ELBO and reconstruction,
and samples judged by a classifier."""
from __future__ import annotations

import numpy as np

from engine.core import datasets, runtime
from engine.core.report import result_table

PRIOR_TITLES = {"standard": "N(0, I)", "learned": "learned prior"}


def _priors(model: str) -> tuple[str, ...]:
    """The priors a model's samples are judged from: N(0, I), and its learned prior if it has one."""
    from engine.tasks.generate.serve import has_learned_prior

    return ("standard", "learned") if has_learned_prior(model) else ("standard",)


def eval_vae(count: int = 1000, seed: int = 31) -> dict:
    """Held-out negative ELBO of every shipped VAE; held-out reconstruction from the code of every
    VAE and adversarial autoencoder, and how their codes sit in the prior; 1,000 samples of each
    (N(0, I), and a VAE's learned prior) judged by both digit judges; the conditional VAE asked
    for each digit."""
    from engine.tasks.generate.serve import (
        AAE_MODELS,
        CLASSIFIER,
        CONFIDENT,
        HELDOUT_JUDGE,
        VAE_MODELS,
        code_of,
        heldout_elbo,
        is_conditional,
        judge_samples,
        path_roughness,
        reconstruction_error,
        sharpness,
        vae_sample,
    )

    fonts = datasets.font_split(held_out=True)
    rendered, rendered_labels = datasets.render_characters(datasets.DIGITS, count, fonts=fonts, seed=seed,
                                                           distortion=datasets.EVAL_DISTORTION)
    handwritten, hand_labels = datasets.handwritten_digits(held_out=True)
    sets = {f"{count} digits, held-out fonts": (rendered, rendered_labels.astype(int)),
            "300 held-out handwritten digits": (handwritten, hand_labels.astype(int))}
    training_fonts, training_labels = datasets.render_characters(   # what the held-out-font judge never saw
        datasets.DIGITS, count, fonts=datasets.font_split(held_out=False), seed=seed + 1, distortion=datasets.EVAL_DISTORTION)
    judges = {CLASSIFIER: "digit classifier", HELDOUT_JUDGE: "held-out-font judge"}
    elbo_rows, sample_rows, error_rows = [], [], []
    for model, title in {**VAE_MODELS, **AAE_MODELS}.items():
        conditional = is_conditional(model)
        for data_name, (chars, labels) in sets.items():
            given = labels if conditional else None
            if model in VAE_MODELS:
                report = heldout_elbo(chars, model, given, seed=seed)
                elbo_rows.append([title, data_name, round(report.reconstruction, 1), round(report.kl, 1),
                                  round(report.negative_elbo, 1)])
            nats, squared = reconstruction_error(chars, model, given)
            codes = code_of(chars, model, given)
            error_rows.append([title, data_name, round(nats, 1), round(squared, 4),
                               round(float(np.abs(codes.mean(axis=0)).mean()), 2), round(float(codes.std(axis=0).mean()), 2)])
        asked = np.arange(1000) % 10 if conditional else None
        roughness = round(path_roughness(model), 2)      # of the decoder: the same whichever prior samples
        for prior in _priors(model):
            samples = vae_sample(1000, seed=seed, model=model, labels=asked, prior=prior)
            judged = judge_samples(samples)
            other = judge_samples(samples, HELDOUT_JUDGE)
            sample_rows.append([
                title, PRIOR_TITLES[prior], round(judged.confident, 3), round(other.confident, 3),
                round(float(judged.shares.min()), 3), round(float(other.shares.min()), 3),
                " ".join(f"{d}:{100 * share:.1f}%" for d, share in enumerate(judged.shares)),
                None if asked is None else round(float((judged.predicted == asked).mean()), 3),
                round(sharpness(samples), 4), roughness])
    judge_rows = []
    judged_sets = {**sets, f"{count} digits, training fonts (wider distortions)": (training_fonts,
                                                                                   training_labels.astype(int))}
    for judge, judge_name in judges.items():
        for data_name, (chars, labels) in judged_sets.items():
            judged = judge_samples(chars, judge)
            judge_rows.append([judge_name, data_name, round(float((judged.predicted == labels).mean()), 3),
                               round(judged.confident, 3)])
    data = sorted({f.family for f in fonts})
    return {"command": "eval vae", "device": runtime.device_name(), "tables": [
        result_table(f"Held-out negative ELBO, nats per image (reconstruction -log p(x|z), Bernoulli, 8 "
               f"draws of z; KL in closed form). Fonts never seen in training: {', '.join(data)}",
               ["Model", "Data", "Reconstruction", "KL", "Negative ELBO"], elbo_rows),
        result_table("Held-out reconstruction from the code (a VAE's mean, an adversarial autoencoder's code): "
                     "-log p(x|z) in nats per digit and the mean squared error of the pixels; and how the codes sit "
                     "in the prior N(0, I): their mean's size (0 fits) and their spread (1 fits), averaged over the "
                     "code's numbers", ["Model", "Data", "Reconstruction (nats)", "Mean squared error",
                                        "Codes' mean, |average|", "Codes' spread, average"], error_rows),
        result_table(f"1,000 samples from the prior (temperature 1): N(0, I), and the learned prior (a Gaussian "
               "mixture fitted to the training codes) of the unconditional models; judged by the digit classifier and by the "
               "held-out-font judge (trained on the held-out fonts only; no model was tuned against it; the "
               "shares and the conditional VAE's hits are the classifier's); the "
               f"conditional VAE asked for each digit 100 times. Confident: probability above "
               f"{CONFIDENT}. Sharpness: mean gradient magnitude. Path roughness: largest step "
               "along a straight latent path over the mean step (1 = perfectly smooth)",
               ["Model", "Sampled from", "Confident", "Confident (held-out-font judge)", "Smallest digit share",
                "Smallest digit share (held-out-font judge)", "Share of each digit",
                "Drew the digit asked", "Sharpness", "Path roughness"], sample_rows),
        result_table("The judges on real digits (the held-out-font judge trained on the held-out fonts' digits "
               "with narrower distortions; it never saw a training font or handwriting)",
               ["Judge", "Data", "Accuracy", "Confident"], judge_rows),
    ]}


def eval_vae_fashion(count: int = 1000, seed: int = 31) -> dict:
    """The clothing VAEs on Fashion-MNIST's official test set (never trained on): held-out
    negative ELBO of `count` test pictures; 1,000 samples of each model judged by the clothing
    judge, beside the judge on real test pictures; the conditional VAE asked for each kind."""
    from engine.core.fashion import FASHION_CLASSES, load_fashion_mnist
    from engine.tasks.generate.serve import (
        CONFIDENT,
        FASHION_JUDGE,
        FASHION_VAE_MODELS,
        heldout_elbo,
        is_conditional,
        judge_samples,
        sharpness,
        vae_sample,
    )

    test, labels = load_fashion_mnist("test")
    real = judge_samples(test, FASHION_JUDGE)
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(len(test), size=min(count, len(test)), replace=False))
    elbo_rows = []
    sample_rows = [["Real test pictures (reference)", "", round(real.confident, 3), round(float(real.shares.min()), 3),
                    None, round(float((real.predicted == labels).mean()), 3), round(sharpness(test[:1000]), 4)]]
    for model, title in FASHION_VAE_MODELS.items():
        conditional = is_conditional(model)
        report = heldout_elbo(test[picks], model, labels[picks] if conditional else None, seed=seed)
        elbo_rows.append([title, round(report.reconstruction, 1), round(report.kl, 1), round(report.negative_elbo, 1)])
        asked = np.arange(1000) % len(FASHION_CLASSES) if conditional else None
        for prior in _priors(model):
            samples = vae_sample(1000, seed=seed, model=model, labels=asked, prior=prior)
            judged = judge_samples(samples, FASHION_JUDGE)
            sample_rows.append([title, PRIOR_TITLES[prior], round(judged.confident, 3),
                                round(float(judged.shares.min()), 3),
                                None if asked is None else round(float((judged.predicted == asked).mean()), 3),
                                None, round(sharpness(samples), 4)])
    return {"command": "eval vae-fashion", "device": runtime.device_name(), "tables": [
        result_table(f"Held-out negative ELBO, nats per picture, on {len(picks):,} pictures of Fashion-MNIST's official "
                     "test set (reconstruction -log p(x|z), Bernoulli, 8 draws of z; KL in closed form)",
                     ["Model", "Reconstruction", "KL", "Negative ELBO"], elbo_rows),
        result_table(f"1,000 samples (temperature 1) judged by the clothing judge (trained on the training set), beside "
                     f"the {len(test):,} real test pictures. Confident: probability above {CONFIDENT}. The conditional VAE "
                     "asked for each kind 100 times",
                     ["Pictures", "Sampled from", "Confident", "Smallest kind share", "Drew the kind asked",
                      "Judge's accuracy", "Sharpness"], sample_rows),
    ]}


EVALS = {"vae": eval_vae, "vae-fashion": eval_vae_fashion}
