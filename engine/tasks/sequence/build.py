"""How the sequence models are trained: `python -m engine train sequence`, and on a user's CSV
through `engine.training.train_sequence_models`."""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np
import torch

from engine.core import runtime
from engine.core.progress import Progress
from engine.core.runtime import atomic_write_bytes
from engine.nn.export import with_metadata
from engine.nn.recipes import BuildOptions, manifest_entry, write_model
from engine.tasks.sequence.series import (
    LoadSeries,
    SeriesSplit,
    SeriesStats,
    default_split,
    forecast_origins,
    window_starts,
    windows,
)
from engine.tasks.sequence.serve import FORECAST_HORIZON, FORECAST_WINDOW, RECONSTRUCTION_WINDOW, TrainedSequenceModels


def forecast_training_batch(features: np.ndarray, part: slice, batch_size: int,
                            temperature_dropout: float = 0.2) -> Callable:
    """A batch maker for fit: random windows wholly inside `part`, and the next hours' load.
    Some windows lose their temperature (and its flag), so the model also serves a series
    without one."""
    origins = forecast_origins(part, FORECAST_WINDOW, FORECAST_HORIZON)

    def batch(step: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        picks = rng.choice(origins, batch_size)
        x = windows(features, picks - FORECAST_WINDOW + 1, FORECAST_WINDOW)           # (B, 6, 3)
        x[rng.random(batch_size) < temperature_dropout, :, 1:] = 0.0
        return x, windows(features[:, 0], picks + 1, FORECAST_HORIZON)              # (B, 3)
    return batch


def reconstruction_training_batch(features: np.ndarray, part: slice, batch_size: int,
                                  temperature_dropout: float = 0.2) -> Callable:
    starts = window_starts(part, RECONSTRUCTION_WINDOW)

    def batch(step: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x = windows(features, rng.choice(starts, batch_size), RECONSTRUCTION_WINDOW)       # (B, 24, 3)
        target = x[:, :, 0].copy()                                                   # (B, 24)
        x[rng.random(batch_size) < temperature_dropout, :, 1:] = 0.0
        return x, target
    return batch


def train_sequence_model(kind: str, series: LoadSeries, split: SeriesSplit, stats: SeriesStats, *,
                         steps: int, batch_size: int = 128, lr: float = 3e-3, seed: int = 0,
                         threads: int | None = None, progress=None, stop=None, report_every: int = 50,
                         config=None):
    """Train a SequenceForecaster ("forecast") or SequenceAutoencoder ("reconstruct") on the
    training part; returns (model, TrainHistory)."""

    from engine.nn.train import TrainConfig, fit
    from engine.tasks.sequence.model import (
        SequenceAutoencoder,
        SequenceAutoencoderConfig,
        SequenceForecaster,
        SequenceForecasterConfig,
    )

    features = stats.features(series)
    torch.manual_seed(seed)   # the initial weights too: a rebuild gives the same model
    if kind == "forecast":
        model = SequenceForecaster(config or SequenceForecasterConfig())
        batch = forecast_training_batch(features, split.train, batch_size)
    elif kind == "reconstruct":
        model = SequenceAutoencoder(config or SequenceAutoencoderConfig())
        batch = reconstruction_training_batch(features, split.train, batch_size)
    else:
        raise ValueError(f"kind must be 'forecast' or 'reconstruct', got {kind!r}")
    train_config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed, threads=threads)
    history = fit(model, batch, train_config, progress=progress, stop=stop,
                  report_every=report_every)
    return model, history


def export_sequence_model(model, path, stats: SeriesStats, note: str, split_note: dict,
                          extra: dict | None = None, seed: int = 0) -> bytes:
    """One ONNX file with a dynamic batch axis, the normalisation statistics in its metadata,
    checked against torch on batches of 1, 2 and 7."""

    from engine.nn.export import export_onnx

    rng = np.random.default_rng(seed + 1)
    shape = (model.config.window, model.config.features)
    parity = [rng.standard_normal((n, *shape)).astype(np.float32) for n in (1, 2, 7)]
    for x in parity:
        x[:, :, 2] = 1.0
    forecaster = model.output_name == "forecast"
    meta = {"task": "sequence",
            "input": (f"(N, {shape[0]}, 3) float32: hourly load and temperature as z-scores with the "
                      "normalisation below, and 1 where temperature is known (else temperature 0 and 0)"),
            "output": (f"(N, {model.config.output_steps}) the next hours' load as z-scores" if forecaster
                       else f"(N, {model.config.output_steps}) the window's load rebuilt, as z-scores"),
            "normalisation": dataclasses.asdict(stats), "training_data": note, "split": split_note,
            "config": dataclasses.asdict(model.config), **(extra or {})}
    return export_onnx(model, path, example=torch.from_numpy(parity[1]), output=model.output_name,
                       metadata=meta, parity_inputs=parity, tolerance=1e-4)


def train_sequence_models(series: LoadSeries, *, steps: int = 400, split: SeriesSplit | None = None,
                          seed: int = 0, progress=None, stop=None) -> TrainedSequenceModels:
    """Train the forecaster, then the autoencoder, on the training part of a user's series
    (`steps` steps each; progress counts both) and export them to ONNX bytes; the validation and
    held-out parts are never trained on. Needs PyTorch (the training set)."""
    split = split or default_split(series)
    stats = SeriesStats.of(series, split.train)
    start = time.perf_counter()
    threads = max(1, runtime.cpu_count() // 2)
    onnx: dict[str, bytes] = {}
    losses: dict[str, list[float]] = {}
    stopped = False
    for offset, kind in enumerate(("forecast", "reconstruct")):
        def report(p, offset=offset):
            if progress is not None:
                progress(Progress(p.step + offset * steps, 2 * steps, p.loss, time.perf_counter() - start))

        model, history = train_sequence_model(kind, series, split, stats, steps=steps, seed=seed,
                                              threads=threads, progress=report, stop=stop,
                                              report_every=max(1, min(50, steps // 20)))
        losses[kind] = list(history)
        if kind == "reconstruct" and not history:     # stopped before it began: nothing to serve
            stopped = True
            break
        onnx[kind] = export_sequence_model(model, None, stats, f"{series.name}, trained {len(history)} steps",
                                           split.describe(series), seed=seed)
        if history.stopped:
            stopped = True
            break
    return TrainedSequenceModels(onnx["forecast"], onnx.get("reconstruct"), losses, steps,
                                 time.perf_counter() - start, stats, stopped)


SEQUENCE_FORECAST_STEPS = 6000
SEQUENCE_AUTOENCODER_STEPS = 4000
SEQUENCE_DATA_SEED = 0      # the built-in series the page and `eval sequence` use


def build_sequence(opts: BuildOptions) -> dict[str, dict]:
    """The LSTM forecaster (6 hours in, 3 out) and the LSTM autoencoder of 24-hour windows, on
    the training part of the built-in synthetic load series (a time split: the final four
    months never train). The autoencoder's threshold is calibrated on the validation months."""
    from engine.tasks.sequence.series import SeriesStats, default_split, synthetic_load_series
    from engine.tasks.sequence.serve import (
        DEFAULT_THRESHOLD_PERCENTILE,
        RECONSTRUCTION_WINDOW,
        SEQUENCE_AUTOENCODER,
        SEQUENCE_FORECASTER,
        calibration_scores,
    )

    series = synthetic_load_series(seed=SEQUENCE_DATA_SEED)
    split = default_split(series)
    stats = SeriesStats.of(series, split.train)
    parts = split.describe(series)
    note = f"{series.name}, training part {parts['train']}"
    entries = {}
    for name, kind, steps, title in (
            (SEQUENCE_FORECASTER, "forecast", SEQUENCE_FORECAST_STEPS, "LSTM encoder-decoder forecaster"),
            (SEQUENCE_AUTOENCODER, "reconstruct", SEQUENCE_AUTOENCODER_STEPS, "LSTM sequence autoencoder")):
        # One thread: the same numbers on any machine, so the shipped model is rebuilt exactly.
        model, _ = train_sequence_model(kind, series, split, stats, steps=max(20, int(steps * opts.scale)),
                                        seed=opts.seed, threads=1, progress=opts.progress, report_every=250)
        onnx_bytes = export_sequence_model(model, None, stats, note, parts, seed=opts.seed)
        fields = {}
        if kind == "reconstruct":
            scores = calibration_scores(series, split, stats, onnx_bytes)
            calibration = {"percentile": DEFAULT_THRESHOLD_PERCENTILE,
                           "threshold": float(np.percentile(scores, DEFAULT_THRESHOLD_PERCENTILE)),
                           "windows": len(scores), "period": parts["validation"],
                           "score": "RMS reconstruction error, % of the expected level"}
            onnx_bytes = with_metadata(onnx_bytes, {"calibration": calibration})
            fields["calibration"] = calibration
        atomic_write_bytes(opts.out_dir / f"{name}.onnx", onnx_bytes)
        config = model.config
        shape = (f"reads {config.window} hours of load and temperature, squeezes them into a "
                 f"{config.code_size}-number code, repeats it and decodes "
                 + (f"the next {config.output_steps} hours of load" if kind == "forecast"
                    else f"the {RECONSTRUCTION_WINDOW} hours of load back"))
        entries[name] = write_model(model, name, onnx_bytes, manifest_entry(
            name, onnx_bytes, task="sequence", name=title,
            summary=f"An LSTM encoder-decoder that {shape}; trained on {note}.", training_data=note,
            normalisation=dataclasses.asdict(stats), **fields), opts)
    return entries


# `python -m engine train NAME`: the build steps of each target
TARGETS = {"sequence": (build_sequence,)}
