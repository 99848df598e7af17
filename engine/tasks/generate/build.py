"""How the VAEs and their judge are built: `python -m engine train vae`."""
from __future__ import annotations

import dataclasses
import functools
import io
from collections.abc import Callable

import numpy as np
import torch

from engine.core import datasets, runtime
from engine.core.datasets import labelled_digits
from engine.core.runtime import atomic_write_bytes
from engine.nn.checkpoints import checkpoint
from engine.nn.export import export_onnx
from engine.nn.recipes import BuildOptions, manifest_entry, write_model
from engine.nn.train import TrainConfig, fit
from engine.tasks.generate import serve
from engine.tasks.generate.model import VAE, DigitClassifier, DigitClassifierConfig, VAEConfig, VAEDecoder, VAEEncoder

DIGITS_NOTE = ("{n} digits: rendered from {fonts} training fonts with random distortions, and "
               "1,497 scikit-learn handwritten digits")


VAE_RECIPES = {
    "vae": VAEConfig(latent_size=16, beta=1.0),
    "vae_beta4": VAEConfig(latent_size=16, beta=4.0),
    "vae_2d": VAEConfig(latent_size=2, beta=1.0),
    "cvae": VAEConfig(latent_size=16, classes=10, beta=1.0),
}


VAE_STEPS = 6000


def _classifier(name: str, images: np.ndarray, labels: np.ndarray, note: str, title: str, summary: str,
                opts: BuildOptions) -> dict[str, dict]:
    """A small CNN trained on `images`, exported as a judge of generated digits."""
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
                             metadata={"task": "vae-judge", "input": "(N, 1, 28, 28) float32 in [0, 1]",
                                       "output": "(N, 10) probabilities", "training_data": note},
                             parity_inputs=[rng.random((n, 1, 28, 28), dtype=np.float32) for n in (1, 5)])
    return {name: write_model(model, name, onnx_bytes, manifest_entry(
        name, onnx_bytes, task="vae-judge", name=title, summary=summary, training_data=note), opts)}


def build_digit_classifier(opts: BuildOptions) -> dict[str, dict]:
    """A small CNN on real digits, used only to judge generated ones."""
    images, labels = labelled_digits(opts.scale, opts.seed)
    note = DIGITS_NOTE.format(n=len(images), fonts=len(datasets.font_split(False)))
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


def build_vae(name: str, opts: BuildOptions) -> dict[str, dict]:
    """Train one VAE of VAE_RECIPES on digits and export its encoder and decoder apart."""
    config = VAE_RECIPES[name]
    images, labels = labelled_digits(opts.scale, opts.seed)
    one_hot = np.eye(10, dtype=np.float32)
    train_config = TrainConfig(steps=max(20, int(VAE_STEPS * opts.scale)), batch_size=128, lr=2e-3,
                               seed=opts.seed)

    def batch(step: int, rng: np.random.Generator):
        picks = rng.integers(len(images), size=train_config.batch_size)
        x = images[picks][:, None]                                       # (B, 1, 28, 28)
        return ((x, one_hot[labels[picks]]) if config.classes else x), x

    model = VAE(config)
    fit(model, batch, train_config, progress=opts.progress)
    note = DIGITS_NOTE.format(n=len(images), fonts=len(datasets.font_split(False)))
    rng = np.random.default_rng(opts.seed + 1)
    label_example = (torch.from_numpy(one_hot[labels[:2]]),) if config.classes else ()

    def with_labels(*arrays: np.ndarray):
        return (*arrays, one_hot[np.arange(len(arrays[0])) % 10]) if config.classes else arrays[0]

    label_note = ", one-hot label (N, 10)" if config.classes else ""
    meta = {"task": "vae", "training_data": note, "config": dataclasses.asdict(config)}
    encoder = export_onnx(VAEEncoder(model), opts.out_dir / f"{name}_encoder.onnx",
                          example=(torch.from_numpy(images[:2, None]), *label_example),
                          input_names=("input", "label")[:1 + bool(config.classes)], output=("mean", "log_var"),
                          metadata={**meta, "input": f"(N, 1, 28, 28) float32 in [0, 1]{label_note}"},
                          parity_inputs=[with_labels(rng.random((n, 1, 28, 28), dtype=np.float32)) for n in (1, 3)])
    decoder = export_onnx(VAEDecoder(model), opts.out_dir / f"{name}_decoder.onnx",
                          example=(torch.zeros(2, config.latent_size), *label_example),
                          input_names=("z", "label")[:1 + bool(config.classes)], output="image",
                          metadata={**meta, "input": f"(N, {config.latent_size}) latent points{label_note}"},
                          parity_inputs=[with_labels(rng.standard_normal((n, config.latent_size)).astype(np.float32))
                                         for n in (1, 3)])
    buffer = io.BytesIO()
    torch.save(checkpoint(model), buffer)
    atomic_write_bytes(opts.out_dir / f"{name}.pt", buffer.getvalue())
    kind = "conditional VAE" if config.classes else "VAE"
    summary = (f"A convolutional {kind} with a {config.latent_size}-number code and KL weight beta "
               f"{config.beta:g}, trained on {note}.")
    shared = dict(task="vae", training_data=note, checkpoint=f"{name}.pt",
                  checkpoint_sha256=runtime.sha256_of(buffer.getvalue()))
    return {f"{name}_encoder": manifest_entry(f"{name}_encoder", encoder, name=f"{kind} encoder ({name})",
                                      summary=summary, **shared),
            f"{name}_decoder": manifest_entry(f"{name}_decoder", decoder, name=f"{kind} decoder ({name})",
                                      summary=summary, **shared)}


def _vae_step(name: str) -> Callable[[BuildOptions], dict]:
    step = functools.partial(build_vae, name)
    step.__name__ = f"build_{name}"
    return step


# `python -m engine train NAME`: the build steps of each target
TARGETS = {
    "digit-classifier": (build_digit_classifier,),
    "digit-judge": (build_digit_judge_heldout,),
    "vae": (build_digit_classifier, build_digit_judge_heldout, *(_vae_step(name) for name in VAE_RECIPES)),
    **{name.replace("_", "-"): (_vae_step(name),) for name in VAE_RECIPES if name != "vae"},
    "vae-beta1": (_vae_step("vae"),),
}
