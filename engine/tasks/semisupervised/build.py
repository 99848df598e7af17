"""Training for semi-supervised learning: the two networks on a few labels
(`engine.training.run_labels`, `accuracy_curve`) and the PCA baseline
(`python -m engine train semisupervised`)."""
from __future__ import annotations

import functools
import io
import time

import numpy as np

from engine.core import datasets, runtime
from engine.nn.recipes import BuildOptions, pca_baseline
from engine.tasks.semisupervised import serve
from engine.tasks.semisupervised.serve import (
    DRAWS,
    ENCODER,
    FINETUNE_STEPS,
    LABELS_PER_DIGIT,
    LIVE_METHODS,
    SCRATCH_STEPS,
    SEMISUPERVISED_METHODS,
    SPACES,
    TORCH_METHODS,
    CurvePoint,
    Features,
    LabelRun,
    LinearHead,
    SemiSupervisedData,
)


def _classifier(pretrained: bool, features: Features | None, head: LinearHead | None):
    import torch

    from engine.nn.checkpoints import from_checkpoint
    from engine.nn.layers import CharAutoencoder
    from engine.tasks.semisupervised.model import CodeClassifier, CodeClassifierConfig

    model = CodeClassifier(CodeClassifierConfig())
    if pretrained:
        autoencoder = from_checkpoint(torch.load(io.BytesIO(runtime.checkpoint_bytes(ENCODER)),
                                                 weights_only=False))
        if not isinstance(autoencoder, CharAutoencoder):
            raise runtime.ModelError(f"{ENCODER}'s checkpoint is not a character autoencoder")
        model.encoder.load_state_dict(autoencoder.encoder.state_dict())
        with torch.no_grad():     # start from the linear probe: fine-tuning only improves on it
            model.code_mean.copy_(torch.from_numpy(features.mean))
            model.code_scale.copy_(torch.from_numpy(features.scale))
            model.head.weight.copy_(torch.from_numpy(head.weight))
            model.head.bias.copy_(torch.from_numpy(head.bias))
    return model


def train_classifier(images: np.ndarray, labels: np.ndarray, *, pretrained: bool, seed: int = 0,
                     features: Features | None = None, head: LinearHead | None = None,
                     steps: int | None = None, threads: int | None = 1, stop=None):
    """Train the CodeClassifier on a few labelled digits: from the pretrained encoder and its
    linear probe (`features` and `head` from the encoder's codes) with a small learning rate,
    or from random weights. Returns the model (torch, eval mode). Needs PyTorch."""

    from engine.nn.train import TrainConfig, fit

    if pretrained and (features is None or head is None):
        raise ValueError("fine-tuning starts from the probe: give the encoder's features and head")
    model = _classifier(pretrained, features, head)
    config = TrainConfig(steps=steps or (FINETUNE_STEPS if pretrained else SCRATCH_STEPS), batch_size=64,
                         lr=1e-4 if pretrained else 2e-3, weight_decay=1e-2, seed=seed, threads=threads)
    x = np.ascontiguousarray(images[:, None], dtype=np.float32)                # (n, 1, 28, 28)
    y = np.asarray(labels, dtype=np.int64)

    def batch(step: int, rng: np.random.Generator):
        picks = rng.integers(len(x), size=config.batch_size)
        return x[picks], y[picks]

    fit(model, batch, config, stop=stop)
    return model


def predict_torch(model, images: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(images[:, None], dtype=np.float32)))["logits"].argmax(1).numpy()


def run_labels(data: SemiSupervisedData, per_class: int, seed: int, *,
               methods: tuple[str, ...] = LIVE_METHODS, threads: int | None = 1) -> LabelRun:
    """engine.run_labels, with the networks that train the encoder too ("finetuned", from the
    encoder's linear probe, and "scratch")."""
    unknown = set(methods) - set(SEMISUPERVISED_METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; choose from {tuple(SEMISUPERVISED_METHODS)}")
    probes = tuple(s for s in SPACES if s in methods or (s == "encoder" and "finetuned" in methods))
    run = serve.run_labels(data, per_class, seed, methods=probes)
    labels = data.pool.labels[run.labelled]
    for method in TORCH_METHODS:
        if method in methods:
            start = time.perf_counter()
            pretrained = method == "finetuned"
            model = train_classifier(data.pool.images[run.labelled], labels, pretrained=pretrained, seed=seed,
                                     features=data.features["encoder"] if pretrained else None,
                                     head=run.heads.get("encoder"), threads=threads)
            run.networks[method] = functools.partial(predict_torch, model)
            run.predictions[method] = predict_torch(model, data.heldout.images)
            run.seconds[method] = time.perf_counter() - start
    if "encoder" not in methods:
        run.predictions.pop("encoder", None)
    return run


def accuracy_curve(data: SemiSupervisedData, *, per_class: tuple[int, ...] = LABELS_PER_DIGIT,
                   draws: int = DRAWS, methods: tuple[str, ...] = LIVE_METHODS,
                   threads: int | None = 1) -> list[CurvePoint]:
    """engine.accuracy_curve, with the networks that train the encoder among the methods."""
    return serve.accuracy_curve(data, per_class=per_class, draws=draws, methods=methods,
                       run=functools.partial(run_labels, threads=threads))


def build_semisupervised(opts: BuildOptions) -> dict[str, dict]:
    """The PCA baseline of the semi-supervised comparison: PCA with the pretrained encoder's
    code size, fit on the unlabelled digit pool (no labels). The pretrained encoder is the
    shipped search_char, which never saw a label nor a held-out font or handwritten digit."""
    from engine.tasks.semisupervised.serve import ENCODER, PCA_ENCODER, POOL_RENDERED, POOL_SEED, unlabelled_digits

    pool = unlabelled_digits(max(200, int(POOL_RENDERED * opts.scale)), POOL_SEED + opts.seed)
    code_size = int(runtime.session(ENCODER).get_outputs()[0].shape[1])
    note = (f"{len(pool.images)} unlabelled digits: {int((~pool.handwritten).sum())} rendered from "
            f"{len(datasets.font_split(False))} training fonts with random distortions, and 1,497 "
            "scikit-learn handwritten digits")
    data, entry = pca_baseline(PCA_ENCODER, pool.images, code_size, "semisupervised", note, opts,
                                code_only=True)
    entry.update(name=f"PCA features, {code_size} components",
                 summary=(f"PCA with {code_size} components (the pretrained encoder's code size), fit "
                          f"without labels on {note}: the features of the semi-supervised baseline."))
    return {PCA_ENCODER: entry}


# `python -m engine train NAME`: the build steps of each target
TARGETS = {"semisupervised": (build_semisupervised,)}
