"""Training in the studio: any family on any data, every variant against PCA, and the PCA
demonstrations. Needs torch."""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from engine.core import precomputed
from engine.core.imaging import add_noise
from engine.core.jobs import PauseGate
from engine.tasks.studio.serve import (
    HELDOUT_SEED,
    NOISY_EVAL,
    PRETRAIN_SHARE,
    SNAPSHOT_RECONSTRUCTIONS,
    TRAINING_METHODS,
    VARIANTS,
    CodeStats,
    DigitsProjection,
    LessonFit,
    StudioConfig,
    StudioProgress,
    StudioResult,
    StudioSnapshot,
    SurfaceFit,
    as_batch,
    builtin_digits,
    code_map,
    code_stats,
    random_points,
    spring_views,
    surface_points,
)


def train_model(family: str, images: np.ndarray, *, code_size: int = 32, epochs: int = 10,
                lr: float = 3e-3, batch_size: int = 128, validation_fraction: float = 0.1,
                patience: int | None = None, method: str = "all-at-once", seed: int = 0,
                options: dict | None = None, heldout: np.ndarray | None = None,
                data_note: str = "", threads: int | None = None, export: bool = True,
                progress: Callable[[StudioProgress], None] | None = None,
                stop: Callable[[], bool] | None = None, watch: int = 0,
                on_snapshot: Callable[[StudioSnapshot], None] | None = None,
                optimizer: str = "adamw", schedule: str = "cosine", pause: PauseGate | None = None) -> StudioResult:
    """Train a model of `family` (engine.tasks.studio.model.FAMILIES) on `images` ((N, S, S) in [0, 1], or
    (N, D) vectors) with engine.nn.train.fit, on CUDA when there is one. A share
    `validation_fraction` of the images is kept apart; its reconstruction MSE is reported
    after every epoch and, with `patience`, stops training once that many epochs bring no
    better value (the best epoch's weights are kept). method="layer-wise" (the stacked
    family) spends PRETRAIN_SHARE of the same step budget training each encoder layer with
    its mirror as a shallow autoencoder of the previous layer's codes, then fine-tunes the
    whole stack. `stop` is asked before every step; when it answers True the result is
    built from the steps done. The model is judged on `heldout` (default: the validation
    images, or with none the first 1,000 training images) and exported to ONNX (export=False
    skips that). With `watch` > 0, a StudioSnapshot of the first `watch` judged images is taken
    before the first step and at every epoch's end of the whole model's training (not of
    layer-wise pretraining), given to `on_snapshot` as it comes and kept in the result.
    `optimizer` and `schedule` are engine.nn.train.TrainConfig's (the lecture's presets train
    with Adam, RMSProp or Adadelta at a constant rate, as Keras does). With a `pause` gate
    (engine.PauseGate, a background job's job.gate) training can be paused, resumed and taken one
    step at a time: each time it comes to a halt a snapshot of that step is taken (with `watch`),
    and the time spent paused is left out of the reported seconds."""
    from engine.nn.train import TrainConfig, fit
    from engine.tasks.studio.model import make_model, parameter_count

    options = dict(options or {})
    settings = StudioConfig(family, code_size, epochs, lr, batch_size, validation_fraction, patience,
                            method, seed, options, optimizer, schedule)
    if method not in TRAINING_METHODS:
        raise ValueError(f"method must be one of {TRAINING_METHODS}, got {method!r}")
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch_size must be at least 1")
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError("validation_fraction must be at least 0 and below 1")
    if {"input_shape", "code_size"} & set(options):
        raise ValueError("input_shape and code_size are set by the studio, not by options")
    data = as_batch(images)
    if len(data) < 2:
        raise ValueError("Training needs at least 2 images.")
    import torch

    torch.manual_seed(seed)   # the initial weights too: the same seed gives the same model in any process
    model = make_model(family, input_shape=data.shape[1:], code_size=code_size, **options)
    settings.code_size = model.config.code_size   # a code of feature maps has the size its layers give it
    if method == "layer-wise" and not hasattr(model, "layer_pair"):
        raise ValueError("layer-wise pretraining is for the stacked family")

    order = np.random.default_rng(seed).permutation(len(data))
    n_val = 0 if validation_fraction == 0 else min(len(data) - 1, max(1, round(len(data) * validation_fraction)))
    train, val = data[order[n_val:]], data[order[:n_val]]
    if patience is not None and not n_val:
        raise ValueError("early stopping needs validation images: set validation_fraction above 0")
    judged = val if heldout is None else as_batch(heldout)
    if len(judged) == 0:
        judged = train[:1000]
    if judged.shape[1:] != data.shape[1:]:
        raise ValueError(f"held-out images {judged.shape[1:]} differ from the training images {data.shape[1:]}")

    per_epoch = math.ceil(len(train) / batch_size)
    total = epochs * per_epoch
    history: list[StudioProgress] = []
    snapshots: list[StudioSnapshot] = []
    watched = judged[:watch]

    def snapshot(step: int, again: bool = True) -> None:
        """A StudioSnapshot of the model now (`again`=False: none when the last one is of this step)."""
        if not watch or (not again and snapshots and snapshots[-1].step == step):
            return
        was_training = model.training
        model.eval()
        shown = _predict(model, watched[:SNAPSHOT_RECONSTRUCTIONS])["reconstruction"]
        codes = _encode(model, watched)   # the encoder alone for the many watched: half the cost of a whole pass
        model.train(was_training)
        shown = shown.reshape(watched[:SNAPSHOT_RECONSTRUCTIONS].shape)
        taken = StudioSnapshot(step, step / per_epoch, shown[:, 0] if shown.ndim == 4 else shown, codes,
                               code_map(codes, snapshots[-1].map if snapshots else None))
        snapshots.append(taken)
        if on_snapshot:
            on_snapshot(taken)

    snapshot(0)
    start = time.perf_counter()
    paused_before = pause.held_seconds if pause is not None else 0.0
    done = 0

    def elapsed() -> float:
        """Training seconds so far, without the time spent paused."""
        return time.perf_counter() - start - (pause.held_seconds - paused_before if pause is not None else 0.0)

    def asked_to_stop() -> bool:
        return bool(stop is not None and stop())

    def run(module, inputs: np.ndarray, steps: int, phase: str, corrupt, **watch) -> Any:
        nonlocal done
        offset, asked = done, 0

        def gate() -> bool:
            """fit's stop: held at the pause gate first, with a snapshot of the step it halts at."""
            nonlocal asked
            step, asked = offset + asked, asked + 1
            if pause is not None:
                pause.hold(asked_to_stop, lambda: snapshot(step, again=False))
            return asked_to_stop()

        def report(p) -> None:
            entry = StudioProgress(step=offset + p.step, steps=total, loss=p.loss, seconds=elapsed(),
                                   validation=p.validation, epoch=(offset + p.step) / per_epoch, phase=phase)
            history.append(entry)
            if module is model:
                snapshot(entry.step)
            if progress:
                progress(entry)

        config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed, threads=threads,
                             optimizer=optimizer, schedule=schedule)
        result = fit(module, _epoch_batches(inputs, batch_size, corrupt), config,
                     progress=report,
                     report_every=min(per_epoch, steps), stop=gate, **watch)
        done += len(result)
        return result

    validate = (lambda m: _mse(m, val)) if n_val else None
    fine_steps = total
    stopped = False
    if method == "layer-wise":
        pretrain = int(total * PRETRAIN_SHARE)
        fine_steps = total - pretrain
        codes = train
        for i in range(model.depth):
            steps = pretrain // model.depth + (i < pretrain % model.depth)
            phase = f"pretraining layer {i + 1} of {model.depth}"
            if steps and run(model.layer_pair(i), codes, steps, phase, _clean).stopped:
                stopped = True
                break
            if i + 1 < model.depth:
                codes = _encode_to(model, codes, i)
    final = None if stopped else run(model, train, fine_steps,
                                     "fine-tuning" if method == "layer-wise" else "training",
                                     model.corrupt, validate=validate, patience=patience)
    seconds = elapsed()
    stopped = stopped or bool(final is not None and final.stopped)

    model.eval()
    outputs = _predict(model, judged)
    reconstructions = outputs["reconstruction"].reshape(judged.shape)
    heldout_mse = float(np.mean((reconstructions - judged) ** 2))
    shown = judged[:, 0] if judged.ndim == 4 and judged.shape[1] == 1 else judged
    result = StudioResult(
        settings=settings, config=asdict(model.config), model=model, history=history, seconds=seconds,
        stopped=stopped, stopped_early=bool(final is not None and final.stopped_early),
        heldout=shown, reconstructions=reconstructions.reshape(shown.shape), codes=outputs["code"],
        heldout_mse=heldout_mse, code_stats=code_stats(outputs["code"]),
        parameters=parameter_count(model), onnx=None, data_note=data_note, snapshots=snapshots)
    if export:
        result.onnx = _export(model, result, judged)
    return result


def _clean(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return batch


def _epoch_batches(data: np.ndarray, batch_size: int,
                   corrupt: Callable[[np.ndarray, np.random.Generator], np.ndarray]):
    """fit's batch maker: every epoch a new shuffle, each image once; the input corrupted
    (the denoising family), the target clean."""
    per_epoch = math.ceil(len(data) / batch_size)
    order = np.arange(len(data))

    def batch(step: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if step % per_epoch == 0:
            order[:] = rng.permutation(len(data))
        k = step % per_epoch
        clean = data[order[k * batch_size:(k + 1) * batch_size]]
        return corrupt(clean, rng), clean
    return batch


def _predict(model, data: np.ndarray, chunk: int = 1024) -> dict[str, np.ndarray]:
    """The model's reconstruction and code for `data`, in chunks, on the model's device."""
    import torch

    device = next(model.parameters()).device
    parts: dict[str, list[np.ndarray]] = {"reconstruction": [], "code": []}
    with torch.no_grad():
        for i in range(0, len(data), chunk):
            outputs = model(torch.from_numpy(np.ascontiguousarray(data[i:i + chunk])).to(device))
            for name in parts:
                parts[name].append(outputs[name].float().cpu().numpy())
    return {name: np.concatenate(values) for name, values in parts.items()}


def _encode(model, data: np.ndarray) -> np.ndarray:
    """The model's code for `data` (its forward's "code"), on the model's device."""
    import torch

    device = next(model.parameters()).device
    with torch.no_grad():
        return model.encode(torch.from_numpy(np.ascontiguousarray(data)).to(device)).float().cpu().numpy()


def _mse(model, data: np.ndarray) -> float:
    return float(np.mean((_predict(model, data)["reconstruction"].reshape(data.shape) - data) ** 2))


def _encode_to(model, inputs: np.ndarray, i: int, chunk: int = 4096) -> np.ndarray:
    """The activations after encoder layer i of a stack, for the inputs of layer i."""
    import torch

    pair = model.layer_pair(i)
    with torch.no_grad():
        return np.concatenate([pair(torch.from_numpy(np.ascontiguousarray(inputs[k:k + chunk])))["code"].numpy()
                               for k in range(0, len(inputs), chunk)])


def _export(model, result: StudioResult, judged: np.ndarray) -> bytes:
    import torch

    from engine.nn.export import export_onnx

    example = np.concatenate([judged[:2], judged[:2]])[:2]          # a batch of 2 keeps the axis dynamic
    rng = np.random.default_rng(result.settings.seed + 1)
    parity = [judged[:1], judged[:7], rng.random((3, *judged.shape[1:]), dtype=np.float32)]
    metadata = {
        "task": "studio", "family": result.family, "config": result.config,
        "settings": asdict(result.settings),
        "input": f"(N, {', '.join(map(str, judged.shape[1:]))}) float32 in [0, 1]",
        "outputs": f"reconstruction: the input's shape; code: (N, {result.config['code_size']})",
        "training_data": result.data_note, "heldout_mse": round(result.heldout_mse, 6),
        "parameters": result.parameters}
    return export_onnx(model, None, example=torch.from_numpy(example), output=("reconstruction", "code"),
                       metadata=metadata, parity_inputs=parity)


def compare_family(images: np.ndarray, heldout: np.ndarray, *, code_size: int = 32, epochs: int = 10,
                   families: Sequence[str] = tuple(VARIANTS), batch_size: int = 128, lr: float = 3e-3,
                   seed: int = 0, threads: int | None = None,
                   progress: Callable[[str, StudioProgress], None] | None = None,
                   stop: Callable[[], bool] | None = None) -> list[dict]:
    """Train each variant of `families` (names of VARIANTS) on `images` for `epochs` and judge
    it on `heldout`, beside PCA with the same code size. One row per model: its name, code
    size, parameters, reconstruction MSE of the held-out images, MSE when they come with
    gaussian noise NOISY_EVAL (the clean image is the target), the share of near-zero code
    values, and training seconds. `progress(name, report)` follows each training; when `stop`
    answers True the variant in training is the last (its row shows the steps it had)."""
    from sklearn.decomposition import PCA

    heldout = np.asarray(heldout, dtype=np.float32)
    noisy = add_noise(heldout, "gaussian", NOISY_EVAL, seed=HELDOUT_SEED)
    rows = []
    for name in families:
        family, options, method = VARIANTS[name]
        result = train_model(family, images, code_size=code_size, epochs=epochs, lr=lr,
                             batch_size=batch_size, method=method, seed=seed, options=options,
                             heldout=heldout, threads=threads, export=False, stop=stop,
                             progress=(lambda p, name=name: progress(name, p)) if progress else None)
        from_noisy = _predict(result.model, as_batch(noisy))["reconstruction"].reshape(heldout.shape)
        rows.append(_row(name, code_size, result.parameters, result.heldout_mse,
                         float(np.mean((from_noisy - heldout) ** 2)), result.code_stats, result.seconds))
        if result.stopped:
            break
    start = time.perf_counter()
    flat = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    pca = PCA(n_components=code_size, random_state=seed).fit(flat)
    seconds = time.perf_counter() - start

    def pca_reconstruct(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        codes = pca.transform(x.reshape(len(x), -1))
        return np.clip(pca.inverse_transform(codes), 0, 1).reshape(x.shape), codes

    recon, codes = pca_reconstruct(heldout)
    rows.append(_row(f"PCA-{code_size}", code_size, pca.components_.size + pca.mean_.size,
                     float(np.mean((recon - heldout) ** 2)),
                     float(np.mean((pca_reconstruct(noisy)[0] - heldout) ** 2)), code_stats(codes), seconds))
    return rows


def _row(name: str, code_size: int, parameters: int, mse: float, noisy_mse: float, stats: CodeStats,
         seconds: float) -> dict:
    return {"variant": name, "code_size": code_size, "parameters": parameters,
            "heldout_mse": round(mse, 5), "noisy_mse": round(noisy_mse, 5),
            "near_zero_share": round(stats.near_zero_share, 3), "seconds": round(seconds, 1)}


# The Training studio's "PCA vs autoencoders" tab opens on these settings: stored, not trained on opening.
STUDIO_SURFACES = (500, 100)            # points per surface, epochs
STUDIO_PROJECTION_EPOCHS = 50


# version 2: train_model seeds the initial weights (the same seed gives the same fit in any process)
@precomputed.stored("studio_surfaces", variants=lambda: [(STUDIO_SURFACES[0], 0, STUDIO_SURFACES[1])], torch=True, version=2)
def plane_and_curve(n: int = 1000, seed: int = 0, epochs: int = 150,
                    threads: int | None = None) -> dict[str, SurfaceFit]:
    """The lecture notes' figure: points on a plane and on a curved surface, each reduced to
    2-D and rebuilt by PCA and by a small autoencoder (3 -> 32 -> 32 -> 2 -> 32 -> 32 -> 3).
    PCA rebuilds the plane exactly (its MSE is float rounding) but must flatten the curved
    surface; the autoencoder's nonlinear code follows the curve."""
    from sklearn.decomposition import PCA

    fits = {}
    for name, points in surface_points(n, seed).items():
        pca = PCA(n_components=2).fit(points)
        pca_codes = pca.transform(points)
        pca_recon = pca.inverse_transform(pca_codes)
        result = train_model("stacked", points.astype(np.float32), code_size=2, epochs=epochs,
                             batch_size=64, validation_fraction=0.0, seed=seed, heldout=points,
                             options={"hidden": (32, 32), "code_activation": "linear", "output": "linear"},
                             threads=threads, export=False)
        fits[name] = SurfaceFit(name, points, pca_codes, pca_recon, float(np.mean((pca_recon - points) ** 2)),
                                result.codes, result.reconstructions,
                                float(np.mean((result.reconstructions - points) ** 2)))
    return fits


@precomputed.stored("studio_lessons", torch=True)
def compression_lessons(n: int = 1000, seed: int = 0, epochs: int = 60,
                        threads: int | None = None) -> dict[str, LessonFit]:
    """The lecture's two remaining PCA lessons, each fit on one half of its points and judged on
    the other: 10 independent random numbers squeezed into 2 (neither PCA nor an autoencoder
    can keep more than about 2/10 of their variance: there is nothing to compress), and 20
    numbers a frame from ten cameras filming a spring squeezed into 1 (the one number is the
    spring's displacement, found by both)."""
    from sklearn.decomposition import PCA

    fits = {}
    for name, (points, truth, code_size) in {"random": (random_points(n, seed=seed), None, 2),
                                             "spring": (*spring_views(n, seed=seed), 1)}.items():
        train, heldout = points[::2], points[1::2]
        mean = train.mean(0)
        pca = PCA(n_components=points.shape[1]).fit(train)
        codes = (heldout - mean) @ pca.components_[:code_size].T
        pca_recon = codes @ pca.components_[:code_size] + mean
        result = train_model("stacked", train, code_size=code_size, epochs=epochs, batch_size=32,
                             validation_fraction=0.0, seed=seed, heldout=heldout, lr=3e-3,
                             options={"hidden": (32,), "code_activation": "linear", "output": "linear"},
                             threads=threads, export=False)
        fits[name] = LessonFit(
            name, code_size, pca.explained_variance_ratio_.astype(np.float32),
            float(((heldout - heldout.mean(0)) ** 2).sum(1).mean()),
            float(((pca_recon - heldout) ** 2).sum(1).mean()),
            float(((result.reconstructions - heldout) ** 2).sum(1).mean()),
            None if truth is None else truth[1::2], codes.astype(np.float32), result.codes)
    return fits


@precomputed.stored("studio_projections", variants=lambda: [(d, STUDIO_PROJECTION_EPOCHS) for d in (2, 3)], torch=True,
                   version=2)   # version 2: seeded initial weights
def digits_projection(dims: int = 2, epochs: int = 100, seed: int = 0,
                      threads: int | None = None) -> DigitsProjection:
    from sklearn.decomposition import PCA

    if dims not in (2, 3):
        raise ValueError("dims must be 2 or 3")
    data = builtin_digits("digits8")
    everything = np.concatenate([data.train, data.heldout])
    labels = np.concatenate([data.train_labels, data.heldout_labels])
    held_out = np.arange(len(everything)) >= len(data.train)
    pca = PCA(n_components=dims, random_state=seed).fit(data.train.reshape(len(data.train), -1))
    pca_codes = pca.transform(everything.reshape(len(everything), -1))
    pca_recon = np.clip(pca.inverse_transform(pca_codes[held_out]), 0, 1).reshape(data.heldout.shape)
    result = train_model("stacked", data.train, code_size=dims, epochs=epochs, batch_size=64,
                         validation_fraction=0.0, seed=seed, heldout=everything,
                         options={"code_activation": "linear"}, threads=threads, export=False)
    return DigitsProjection(dims, labels, held_out, pca_codes.astype(np.float32), result.codes,
                            float(np.mean((pca_recon - data.heldout) ** 2)),
                            float(np.mean((result.reconstructions[held_out] - data.heldout) ** 2)),
                            _neighbour_agreement(pca_codes, labels), _neighbour_agreement(result.codes, labels))


def _neighbour_agreement(points: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.neighbors import NearestNeighbors

    _, index = NearestNeighbors(n_neighbors=2).fit(points).kneighbors(points)
    return float(np.mean(labels[index[:, 1]] == labels))
