"""How the VAEs and their judge are built: `python -m engine train vae`."""
from __future__ import annotations

import dataclasses
import functools
import io
from collections.abc import Callable

import numpy as np
import torch

from engine.core import datasets, fashion, runtime
from engine.core.datasets import labelled_digits
from engine.core.runtime import atomic_write_bytes
from engine.nn.checkpoints import checkpoint
from engine.nn.export import export_onnx
from engine.nn.recipes import BuildOptions, manifest_entry, write_model
from engine.nn.train import TrainConfig, fit
from engine.tasks.generate import serve
from engine.tasks.generate.model import (
    AAE,
    VAE,
    AAEConfig,
    AAEEncoder,
    DigitClassifier,
    DigitClassifierConfig,
    VAEConfig,
    VAEDecoder,
    VAEEncoder,
)

DIGITS_NOTE = ("{n} digits: rendered from {fonts} training fonts with random distortions, and "
               "1,497 scikit-learn handwritten digits")
FASHION_NOTE = "Fashion-MNIST's first {n:,} training pictures (Debian's dataset-fashion-mnist)"


VAE_RECIPES = {
    "vae": VAEConfig(latent_size=16, beta=1.0),
    "vae_beta4": VAEConfig(latent_size=16, beta=4.0),
    "vae_2d": VAEConfig(latent_size=2, beta=1.0),
    "cvae": VAEConfig(latent_size=16, classes=10, beta=1.0),
    # clothing (Fashion-MNIST's training set): needs the Debian package to build, not to serve
    "fashion_vae": VAEConfig(latent_size=16, beta=1.0),
    "fashion_vae_2d": VAEConfig(latent_size=2, beta=1.0),
    "fashion_cvae": VAEConfig(latent_size=16, classes=10, beta=1.0),
}


AAE_RECIPES = {
    "aae": AAEConfig(latent_size=16),
    "aae_2d": AAEConfig(latent_size=2),
}


VAE_STEPS = 6000
PRIOR_COMPONENTS = 20     # the learned prior: a Gaussian mixture of this many parts over the training codes


def _training_set(name: str, opts: BuildOptions) -> tuple[np.ndarray, np.ndarray, str]:
    """The pictures (N, 28, 28), labels and a note of what a VAE (or judge) named `name` trains on:
    Fashion-MNIST's training set for the clothing models, else the digits."""
    if name.startswith("fashion_"):
        images, labels = fashion.load_fashion_mnist("train")     # FashionUnavailable says how to add it
        count = max(200, int(len(images) * min(1.0, opts.scale)))
        return images[:count], labels[:count], FASHION_NOTE.format(n=count)
    images, labels = labelled_digits(opts.scale, opts.seed)
    return images, labels, DIGITS_NOTE.format(n=len(images), fonts=len(datasets.font_split(False)))


def fit_learned_prior(model: VAE, images: np.ndarray, seed: int) -> dict[str, list]:
    """The learned prior of an unconditional VAE (ex-post density estimation): a Gaussian
    mixture with full covariances fitted to the codes (the means of q(z | x)) of its training
    pictures. Samples drawn from it land where real codes lie, not in the holes between them that
    N(0, I) also covers. Returned as lists, for the decoder graph's metadata."""
    from sklearn.mixture import GaussianMixture

    model.eval()
    with torch.no_grad():
        codes = np.concatenate([model.encode(torch.from_numpy(np.ascontiguousarray(images[i:i + 2048, None])))[0].numpy()
                                for i in range(0, len(images), 2048)])
    components = min(PRIOR_COMPONENTS, max(1, len(codes) // 50))
    mixture = GaussianMixture(components, covariance_type="full", random_state=seed).fit(codes.astype(np.float64))
    return {"weights": np.round(mixture.weights_, 6).tolist(), "means": np.round(mixture.means_, 5).tolist(),
            "cholesky": np.round(np.linalg.cholesky(mixture.covariances_), 5).tolist()}


def _task(name: str) -> str:
    """The manifest's task of a model: the clothing models' figures come from `eval vae-fashion`."""
    return "vae-fashion" if name.startswith("fashion_") else "vae"


def _classifier(name: str, images: np.ndarray, labels: np.ndarray, note: str, title: str, summary: str,
                opts: BuildOptions) -> dict[str, dict]:
    """A small CNN trained on `images`, exported as a judge of generated pictures."""
    train_config = TrainConfig(steps=max(20, int(3000 * opts.scale)), batch_size=128, lr=2e-3,
                               seed=opts.seed)

    def batch(step: int, rng: np.random.Generator):
        picks = rng.integers(len(images), size=train_config.batch_size)
        return images[picks][:, None], labels[picks]

    model = DigitClassifier(DigitClassifierConfig())
    fit(model, batch, train_config, progress=opts.progress)
    rng = np.random.default_rng(opts.seed + 1)
    onnx_bytes = export_onnx(model, opts.out_dir / f"{name}.onnx",
                             example=torch.from_numpy(np.ascontiguousarray(images[:2, None])), output="probabilities",
                             metadata={"task": f"{_task(name)}-judge", "input": "(N, 1, 28, 28) float32 in [0, 1]",
                                       "output": "(N, 10) probabilities", "training_data": note},
                             parity_inputs=[rng.random((n, 1, 28, 28), dtype=np.float32) for n in (1, 5)])
    return {name: write_model(model, name, onnx_bytes, manifest_entry(
        name, onnx_bytes, task=f"{_task(name)}-judge", name=title, summary=summary, training_data=note), opts)}


def build_digit_classifier(opts: BuildOptions) -> dict[str, dict]:
    """A small CNN on real digits, used only to judge generated ones."""
    images, labels, note = _training_set("digit_classifier", opts)
    return _classifier("digit_classifier", images, labels, note, "Digit classifier (the judge)",
                       f"A small convolutional classifier trained on {note}; it only judges generated digits.", opts)


def build_digit_judge_heldout(opts: BuildOptions) -> dict[str, dict]:
    """The same CNN trained only on digits rendered from the held-out fonts, which no VAE saw: a
    judge of generated digits that nothing was tuned against (issue 18's)."""
    fonts = datasets.font_split(held_out=True)
    images, labels = datasets.render_characters(datasets.DIGITS, max(200, int(20_000 * opts.scale)), fonts=fonts,
                                                seed=opts.seed + 7)
    note = (f"{len(images):,} digits rendered with random distortions from the {len(fonts)} held-out fonts "
            f"({', '.join(sorted({f.family for f in fonts}))}) only: no training font, no handwriting")
    return _classifier(serve.HELDOUT_JUDGE, images, labels.astype(np.int64), note, "Digit judge of held-out fonts",
                       f"A small convolutional classifier trained on {note}; it judges generated digits, and no "
                       "model was tuned against it.", opts)


def build_fashion_judge(opts: BuildOptions) -> dict[str, dict]:
    """The same CNN trained on Fashion-MNIST's training set: the judge of generated clothing."""
    images, labels, note = _training_set("fashion_judge", opts)
    return _classifier(serve.FASHION_JUDGE, images, labels, note, "Clothing judge (Fashion-MNIST)",
                       f"A small convolutional classifier of the ten kinds of clothing trained on {note}; it judges "
                       "generated clothing, and no model was tuned against it.", opts)


def build_vae(name: str, opts: BuildOptions) -> dict[str, dict]:
    """Train one VAE of VAE_RECIPES on its pictures and export its encoder and decoder apart; an
    unconditional VAE's decoder carries its learned prior in its metadata."""
    config = VAE_RECIPES[name]
    images, labels, note = _training_set(name, opts)
    one_hot = np.eye(10, dtype=np.float32)
    train_config = TrainConfig(steps=max(20, int(VAE_STEPS * opts.scale)), batch_size=128, lr=2e-3,
                               seed=opts.seed)

    def batch(step: int, rng: np.random.Generator):
        picks = rng.integers(len(images), size=train_config.batch_size)
        x = images[picks][:, None]                                       # (B, 1, 28, 28)
        return ((x, one_hot[labels[picks]]) if config.classes else x), x

    model = VAE(config)
    fit(model, batch, train_config, progress=opts.progress)
    prior = {} if config.classes else {"learned_prior": fit_learned_prior(model, images, opts.seed)}
    rng = np.random.default_rng(opts.seed + 1)
    label_example = (torch.from_numpy(one_hot[labels[:2]]),) if config.classes else ()

    def with_labels(*arrays: np.ndarray):
        return (*arrays, one_hot[np.arange(len(arrays[0])) % 10]) if config.classes else arrays[0]

    label_note = ", one-hot label (N, 10)" if config.classes else ""
    meta = {"task": _task(name), "training_data": note, "config": dataclasses.asdict(config)}
    encoder = export_onnx(VAEEncoder(model), opts.out_dir / f"{name}_encoder.onnx",
                          example=(torch.from_numpy(images[:2, None]), *label_example),
                          input_names=("input", "label")[:1 + bool(config.classes)], output=("mean", "log_var"),
                          metadata={**meta, "input": f"(N, 1, 28, 28) float32 in [0, 1]{label_note}"},
                          parity_inputs=[with_labels(rng.random((n, 1, 28, 28), dtype=np.float32)) for n in (1, 3)])
    decoder = export_onnx(VAEDecoder(model), opts.out_dir / f"{name}_decoder.onnx",
                          example=(torch.zeros(2, config.latent_size), *label_example),
                          input_names=("z", "label")[:1 + bool(config.classes)], output="image",
                          metadata={**meta, **prior, "input": f"(N, {config.latent_size}) latent points{label_note}"},
                          parity_inputs=[with_labels(rng.standard_normal((n, config.latent_size)).astype(np.float32))
                                         for n in (1, 3)])
    kind = "conditional VAE" if config.classes else "VAE"
    summary = (f"A convolutional {kind} with a {config.latent_size}-number code and KL weight beta "
               f"{config.beta:g}, trained on {note}." + ("" if config.classes else
               f" Its decoder carries a learned prior: a {len(prior['learned_prior']['weights'])}-part Gaussian "
               "mixture fitted to the training codes."))
    return _ship_pair(name, model, encoder, decoder, kind, summary, note, opts)


def _ship_pair(name: str, model: torch.nn.Module, encoder: bytes, decoder: bytes, kind: str, summary: str, note: str,
               opts: BuildOptions) -> dict[str, dict]:
    """The checkpoint behind a model's encoder and decoder graphs, written, and the two graphs'
    manifest entries."""
    buffer = io.BytesIO()
    torch.save(checkpoint(model), buffer)
    atomic_write_bytes(opts.out_dir / f"{name}.pt", buffer.getvalue())
    shared = dict(task=_task(name), training_data=note, checkpoint=f"{name}.pt",
                  checkpoint_sha256=runtime.sha256_of(buffer.getvalue()))
    return {f"{name}_{part}": manifest_entry(f"{name}_{part}", graph, name=f"{kind} {part} ({name})", summary=summary,
                                             **shared) for part, graph in (("encoder", encoder), ("decoder", decoder))}


def build_aae(name: str, opts: BuildOptions) -> dict[str, dict]:
    """Train one adversarial autoencoder of AAE_RECIPES on the VAEs' digits, as long as they
    train, and export its encoder (x -> code) and decoder (z -> picture) apart; the
    discriminator is left behind."""
    config = AAE_RECIPES[name]
    images, _, note = _training_set(name, opts)
    train_config = TrainConfig(steps=max(20, int(VAE_STEPS * opts.scale)), batch_size=128, lr=1e-3, seed=opts.seed)

    def batch(step: int, rng: np.random.Generator):
        x = images[rng.integers(len(images), size=train_config.batch_size)][:, None]
        return x, x

    model = AAE(config)
    fit(model, batch, train_config, progress=opts.progress)
    rng = np.random.default_rng(opts.seed + 1)
    meta = {"task": _task(name), "training_data": note, "config": dataclasses.asdict(config)}
    encoder = export_onnx(AAEEncoder(model), opts.out_dir / f"{name}_encoder.onnx",
                          example=torch.from_numpy(images[:2, None]), output="code",
                          metadata={**meta, "input": "(N, 1, 28, 28) float32 in [0, 1]"},
                          parity_inputs=[rng.random((n, 1, 28, 28), dtype=np.float32) for n in (1, 3)])
    decoder = export_onnx(VAEDecoder(model), opts.out_dir / f"{name}_decoder.onnx",
                          example=torch.zeros(2, config.latent_size), input_names=("z",), output="image",
                          metadata={**meta, "input": f"(N, {config.latent_size}) latent points"},
                          parity_inputs=[rng.standard_normal((n, config.latent_size)).astype(np.float32) for n in (1, 3)])
    summary = (f"A convolutional adversarial autoencoder with a {config.latent_size}-number code, trained on {note}: "
               "a discriminator, not a KL term, makes its codes follow the prior N(0, I).")
    return _ship_pair(name, model, encoder, decoder, "adversarial autoencoder", summary, note, opts)


def _vae_step(name: str) -> Callable[[BuildOptions], dict]:
    step = functools.partial(build_aae if name in AAE_RECIPES else build_vae, name)
    step.__name__ = f"build_{name}"
    return step


# `python -m engine train NAME`: the build steps of each target
TARGETS = {
    "digit-classifier": (build_digit_classifier,),
    "digit-judge": (build_digit_judge_heldout,),
    "fashion-judge": (build_fashion_judge,),
    "vae": (build_digit_classifier, build_digit_judge_heldout,
            *(_vae_step(name) for name in (*VAE_RECIPES, *AAE_RECIPES) if not name.startswith("fashion_"))),
    "vae-fashion": (build_fashion_judge, *(_vae_step(name) for name in VAE_RECIPES if name.startswith("fashion_"))),
    **{name.replace("_", "-"): (_vae_step(name),) for name in VAE_RECIPES if name != "vae"},
    "vae-beta1": (_vae_step("vae"),),
    "aae": tuple(_vae_step(name) for name in AAE_RECIPES),
    "aae-2d": (_vae_step("aae_2d"),),
}
