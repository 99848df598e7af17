"""Generation with variational autoencoders (of digits, and of clothing) and adversarial
autoencoders: encode characters to the mean and log variance of their code (or an adversarial
autoencoder's one code), decode any point of the latent space, sample from the prior N(0, I) or
from a VAE's learned prior, interpolate, walk a grid, and judge samples with a classifier. The
encoder and the decoder are separate ONNX graphs, so inference is deterministic; sampling happens
here, in numpy, with a seed."""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from engine.core import runtime

# Shipped VAEs: name -> what it is. Each has "<name>_encoder" and "<name>_decoder" graphs.
VAE_MODELS = {
    "vae": "VAE, 16-number code, beta 1",
    "vae_beta4": "VAE, 16-number code, beta 4",
    "vae_2d": "VAE, 2-number code (the map)",
    "cvae": "Conditional VAE, 16-number code: draws the digit it is asked for",
}


# Shipped VAEs of clothing, trained on Fashion-MNIST's training set (built only where the Debian
# package is; served without it).
FASHION_VAE_MODELS = {
    "fashion_vae": "VAE of clothing, 16-number code, beta 1",
    "fashion_vae_2d": "VAE of clothing, 2-number code (the map)",
    "fashion_cvae": "Conditional VAE of clothing, 16-number code: draws the kind it is asked for",
}


# Shipped adversarial autoencoders of digits: a deterministic encoder, and a discriminator in
# training (not shipped) instead of the KL term. "<name>_encoder" gives the code, "<name>_decoder"
# is served like a VAE's.
AAE_MODELS = {
    "aae": "Adversarial autoencoder, 16-number code",
    "aae_2d": "Adversarial autoencoder, 2-number code (the map)",
}


DEFAULT_VAE = "vae"
CONDITIONAL_VAE = "cvae"
CLASSIFIER = "digit_classifier"
HELDOUT_JUDGE = "digit_judge_heldout"   # trained on the held-out fonts only: a judge no model was tuned against
FASHION_JUDGE = "fashion_judge"         # trained on Fashion-MNIST's training set: judges generated clothing
CONFIDENT = 0.9
PRIORS = ("standard", "learned")        # N(0, I), or the mixture fitted to the training codes
_EPS = 1e-6


def _graph(model: str, part: str) -> str:
    known = (*VAE_MODELS, *FASHION_VAE_MODELS, *AAE_MODELS)
    if model not in known and not model.endswith(".onnx"):
        raise ValueError(f"unknown VAE {model!r}; choose one of {known}")
    return f"{model}_{part}"


def _inputs(model: str, part: str, first: np.ndarray, labels) -> dict[str, np.ndarray]:
    """The feed for one graph: the first input, and for a conditional VAE the one-hot labels."""
    sess = runtime.session(_graph(model, part))
    names = [i.name for i in sess.get_inputs()]
    feed = {names[0]: np.ascontiguousarray(first, dtype=np.float32)}
    if len(names) > 1:
        if labels is None:
            raise ValueError(f"{model} is conditional: give the digit to draw (labels=...)")
        classes = sess.get_inputs()[1].shape[1]
        labels = np.broadcast_to(np.asarray(labels, dtype=np.int64), (len(first),))
        if labels.min(initial=0) < 0 or labels.max(initial=0) >= classes:
            raise ValueError(f"labels must be 0..{classes - 1}")
        feed[names[1]] = np.eye(classes, dtype=np.float32)[labels]
    return feed


def latent_size(model: str = DEFAULT_VAE) -> int:
    return int(runtime.session(_graph(model, "decoder")).get_inputs()[0].shape[1])


def is_conditional(model: str) -> bool:
    return len(runtime.session(_graph(model, "decoder")).get_inputs()) > 1


def _characters(chars) -> np.ndarray:
    """Characters (N, 28, 28) as float32; ValueError for any other shape."""
    chars = np.asarray(chars, dtype=np.float32)
    if chars.ndim != 3 or chars.shape[1:] != (28, 28):
        raise ValueError(f"expected characters (N, 28, 28), got shape {chars.shape}")
    return chars


def vae_encode(chars: np.ndarray, model: str = DEFAULT_VAE, labels=None) -> tuple[np.ndarray, np.ndarray]:
    """Characters (N, 28, 28) -> (mean (N, D), log_var (N, D)) of q(z | x). Deterministic."""
    chars = _characters(chars)
    sess = runtime.session(_graph(model, "encoder"))
    if len(sess.get_outputs()) != 2:
        raise ValueError(f"{model} gives one code for a picture, not a distribution: use code_of")
    mean, log_var = sess.run(None, _inputs(model, "encoder", chars[:, None], labels))
    return mean, log_var


def code_of(chars: np.ndarray, model: str = DEFAULT_VAE, labels=None) -> np.ndarray:
    """The code (N, D) of each character: a VAE's mean of q(z | x), an adversarial autoencoder's
    code. Deterministic."""
    chars = _characters(chars)
    return runtime.session(_graph(model, "encoder")).run(None, _inputs(model, "encoder", chars[:, None], labels))[0]


def reconstruction_error(chars: np.ndarray, model: str = DEFAULT_VAE, labels=None) -> tuple[float, float]:
    """How well a model redraws characters from their codes (the mean, for a VAE): the mean
    -log p(x | z) of its Bernoulli pixels in nats per character, and the mean squared error."""
    chars = np.asarray(chars, dtype=np.float32)
    rebuilt = vae_decode(code_of(chars, model, labels), model, labels)
    squared = float(((chars.astype(np.float64) - rebuilt) ** 2).mean())
    return float(_bernoulli_nats(chars, rebuilt).mean()), squared


def vae_decode(z: np.ndarray, model: str = DEFAULT_VAE, labels=None) -> np.ndarray:
    """Points of the latent space (N, D) -> characters (N, 28, 28), pixel probabilities."""
    z = np.atleast_2d(np.asarray(z, dtype=np.float32))
    if z.shape[1] != latent_size(model):
        raise ValueError(f"{model} has a {latent_size(model)}-number code; got points of {z.shape[1]}")
    sess = runtime.session(_graph(model, "decoder"))
    return sess.run(None, _inputs(model, "decoder", z, labels))[0][:, 0]


def prior_samples(n: int, size: int, seed: int | None = 0, temperature: float = 1.0) -> np.ndarray:
    """n points from N(0, temperature^2 I) in `size` dimensions."""
    return (np.random.default_rng(seed).standard_normal((n, size)) * temperature).astype(np.float32)


@dataclass(frozen=True)
class LearnedPrior:
    """A Gaussian mixture over a VAE's codes, fitted to its training pictures' codes at build time
    and carried in its decoder graph's metadata."""
    weights: np.ndarray       # (K,), summing to 1
    means: np.ndarray         # (K, D)
    cholesky: np.ndarray      # (K, D, D), lower triangular: each part's covariance is L L^T

    def sample(self, n: int, seed: int | None = 0, temperature: float = 1.0) -> np.ndarray:
        """n points (n, D): a part drawn by its weight, then that part's Gaussian with its spread
        scaled by `temperature` (0: the parts' centres)."""
        rng = np.random.default_rng(seed)
        parts = rng.choice(len(self.weights), size=n, p=self.weights)
        noise = rng.standard_normal((n, self.means.shape[1])) * temperature
        return (self.means[parts] + np.einsum("nij,nj->ni", self.cholesky[parts], noise)).astype(np.float32)


_learned_priors: dict[tuple, LearnedPrior] = {}     # (model, its decoder session's id) -> its prior


def learned_prior(model: str = DEFAULT_VAE) -> LearnedPrior:
    """The learned prior of an unconditional VAE, read from its decoder graph (whose checksum the
    manifest vouches for). Raises ValueError for a model without one (a conditional VAE)."""
    sess = runtime.session(_graph(model, "decoder"))
    key = (model, id(sess))
    if key not in _learned_priors:
        stored = sess.get_modelmeta().custom_metadata_map.get("learned_prior")
        if stored is None:
            raise ValueError(f"{model} has no learned prior (rebuild it with `python -m engine train "
                             f"{model.replace('_', '-')}`)")
        values = json.loads(stored)
        weights = np.asarray(values["weights"], np.float64)
        _learned_priors[key] = LearnedPrior(weights / weights.sum(), np.asarray(values["means"], np.float64),
                                            np.asarray(values["cholesky"], np.float64))
    return _learned_priors[key]


def has_learned_prior(model: str) -> bool:
    """Whether a model's decoder graph carries a learned prior (every unconditional VAE built since it had one)."""
    return "learned_prior" in runtime.session(_graph(model, "decoder")).get_modelmeta().custom_metadata_map


def vae_sample(n: int, seed: int | None = 0, model: str = DEFAULT_VAE, temperature: float = 1.0,
               labels=None, prior: str = "standard") -> np.ndarray:
    """n new characters (n, 28, 28) decoded from the prior, scaled by `temperature`; the same
    seed gives the same characters. `prior`: "standard", N(0, I), the prior the VAE was trained
    towards; or "learned", the mixture fitted to its training codes (unconditional VAEs)."""
    if prior not in PRIORS:
        raise ValueError(f"unknown prior {prior!r}; choose one of {PRIORS}")
    if prior == "learned":
        return vae_decode(learned_prior(model).sample(n, seed, temperature), model, labels)
    return vae_decode(prior_samples(n, latent_size(model), seed, temperature), model, labels)


def interpolate(start: np.ndarray, end: np.ndarray, steps: int, method: str = "linear") -> np.ndarray:
    """Points from `start` to `end` (both (D,)), ends included: (steps, D). "spherical" (slerp)
    follows the great circle, keeping the points' length typical of the prior, where a straight
    line passes closer to the origin than any sample would."""
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    if method == "linear":
        return ((1 - t) * start + t * end).astype(np.float32)
    if method != "spherical":
        raise ValueError(f"unknown interpolation {method!r}; choose 'linear' or 'spherical'")
    unit_a, unit_b = start / max(np.linalg.norm(start), _EPS), end / max(np.linalg.norm(end), _EPS)
    omega = np.arccos(np.clip(unit_a @ unit_b, -1.0, 1.0))
    if omega < 1e-4:                              # (nearly) the same direction: a line is the same
        return interpolate(start, end, steps, "linear")
    path = (np.sin((1 - t) * omega) * start + np.sin(t * omega) * end) / np.sin(omega)
    return path.astype(np.float32)


def latent_grid(size: int = 15, extent: float = 0.95) -> np.ndarray:
    """A size x size grid over the 2-D prior, evenly spaced in probability (normal quantiles
    from 1 - extent to extent), so each cell holds the same prior mass: (size * size, 2), rows
    top to bottom with z2 falling, as the classic manifold picture."""
    from scipy.stats import norm

    values = norm.ppf(np.linspace(1 - extent, extent, size))
    z1, z2 = np.meshgrid(values, values[::-1])
    return np.stack([z1.ravel(), z2.ravel()], axis=1).astype(np.float32)


def negative_elbo_terms(chars: np.ndarray, probabilities: np.ndarray, mean: np.ndarray,
                        log_var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per image, in nats: the reconstruction term -log p(x | z) of a Bernoulli decoder
    (cross-entropy summed over pixels) and KL(q(z | x) || N(0, I)) in closed form."""
    return _bernoulli_nats(chars, probabilities), _kl(mean, log_var)


def _bernoulli_nats(chars: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """-log p(x | z) per image, in nats: the cross-entropy of the pixels summed."""
    x = chars.reshape(len(chars), -1).astype(np.float64)
    p = np.clip(probabilities.reshape(len(chars), -1).astype(np.float64), _EPS, 1 - _EPS)
    return -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=1)


def _kl(mean: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    """KL(N(mean, exp(log_var)) || N(0, I)) per row, in nats."""
    return -0.5 * (1 + log_var - mean ** 2 - np.exp(log_var)).sum(axis=1)


@dataclass
class ElboReport:
    reconstruction: float      # mean -log p(x | z) over images, nats
    kl: float                  # mean KL(q(z | x) || p(z)), nats

    @property
    def negative_elbo(self) -> float:
        return self.reconstruction + self.kl


def heldout_elbo(chars: np.ndarray, model: str = DEFAULT_VAE, labels=None, samples: int = 8,
                 seed: int = 0) -> ElboReport:
    """The negative ELBO of characters, reconstruction term estimated with `samples` draws of z
    from q(z | x) per image (seeded), KL in closed form."""
    mean, log_var = vae_encode(chars, model, labels)
    rng = np.random.default_rng(seed)
    recon = np.zeros(len(chars))
    for _ in range(samples):
        z = mean + rng.standard_normal(mean.shape).astype(np.float32) * np.exp(0.5 * log_var)
        recon += negative_elbo_terms(chars, vae_decode(z, model, labels), mean, log_var)[0]
    kl = _kl(mean, log_var)
    return ElboReport(float(recon.mean() / samples), float(kl.mean()))


def classify_digits(chars: np.ndarray, judge: str = CLASSIFIER) -> np.ndarray:
    """The judge's probabilities (N, 10) for characters (N, 28, 28): the digit classifier, or
    HELDOUT_JUDGE."""
    chars = np.asarray(chars, dtype=np.float32)
    return runtime.run(judge, chars[:, None])


@dataclass
class SampleJudgement:
    confident: float            # share classified with probability above CONFIDENT
    shares: np.ndarray          # (10,) share of each predicted digit
    predicted: np.ndarray       # (N,)
    confidence: np.ndarray      # (N,)


def judge_samples(chars: np.ndarray, judge: str = CLASSIFIER) -> SampleJudgement:
    """What a judge (CLASSIFIER, HELDOUT_JUDGE or FASHION_JUDGE) makes of pictures (N, 28, 28)."""
    probabilities = classify_digits(chars, judge)
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    return SampleJudgement(float((confidence > CONFIDENT).mean()),
                           np.bincount(predicted, minlength=probabilities.shape[1]) / max(1, len(chars)), predicted,
                           confidence)


def sharpness(chars: np.ndarray) -> float:
    """How crisp characters are: the mean gradient magnitude of their pixels (blurry samples,
    which a VAE with a heavy KL term draws, score lower)."""
    chars = np.asarray(chars, dtype=np.float64)
    gy, gx = np.gradient(chars, axis=(1, 2))
    return float(np.hypot(gx, gy).mean())


def path_roughness(model: str = DEFAULT_VAE, pairs: int = 50, steps: int = 16, seed: int = 0) -> float:
    """How smooth the latent space is: along straight paths between prior samples, the mean
    pixel change between neighbouring decoded steps relative to the change from end to end.
    1 means every step changes the image equally (perfectly smooth); higher means jumps."""
    size = latent_size(model)
    ends = prior_samples(2 * pairs, size, seed)
    paths = np.concatenate([interpolate(a, b, steps) for a, b in zip(ends[:pairs], ends[pairs:])])
    labels = 0 if is_conditional(model) else None
    images = vae_decode(paths, model, labels).reshape(pairs, steps, 28, 28)   # one call for all
    step_changes = np.abs(np.diff(images, axis=1)).mean(axis=(2, 3))        # (pairs, steps - 1)
    totals = np.abs(images[:, -1] - images[:, 0]).mean(axis=(1, 2))          # (pairs,)
    moving = totals > 1e-3
    return float(np.mean(step_changes[moving].max(axis=1) / (totals[moving] / (steps - 1))))
