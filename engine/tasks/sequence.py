"""Sequence autoencoders on an hourly load series: an LSTM encoder-decoder forecasts the next
three hours from the past six (load and temperature), and another rebuilds 24-hour windows so
that its error flags windows unlike the normal ones.

Serving is numpy and onnxruntime; the training helpers at the end import torch when called."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import runtime
from ..series import (InjectedAnomaly, LoadSeries, SeriesError, SeriesSplit, SeriesStats,
                      default_split, forecast_origins, inject_anomalies, window_starts, windows)

SEQUENCE_FORECASTER = "sequence_forecaster"
SEQUENCE_AUTOENCODER = "sequence_autoencoder"
FORECAST_WINDOW = 6                    # hours in (the lecture's T)
FORECAST_HORIZON = 3                   # hours out (the lecture's HORIZON)
RECONSTRUCTION_WINDOW = 24             # hours per window the autoencoder rebuilds
DEFAULT_THRESHOLD_PERCENTILE = 99.0    # of the validation windows' scores: the threshold
NAIVE_LAGS = {"Seasonal naive, 24 h (same hour yesterday)": 24,
              "Seasonal naive, 168 h (same hour last week)": 168}
PERSISTENCE = "Persistence (the last hour seen)"
SEQUENCE_LSTM_LABEL = "LSTM encoder-decoder"


def _windows_of(model, values: np.ndarray, batch: int = 4096) -> np.ndarray:
    """runtime.run in batches (a year of hourly windows at once would hold a lot of memory)."""
    if len(values) == 0:
        return np.zeros((0,), np.float32)
    return np.concatenate([runtime.run(model, values[i:i + batch]) for i in range(0, len(values), batch)])


# ------------------------------------------------------------------ forecasting

def forecast_next_hours(features: np.ndarray, model=SEQUENCE_FORECASTER) -> np.ndarray:
    """(N, 6, 3) windows of features (SeriesStats.features) -> (N, 3) forecasts of the next
    three hours' load, as z-scores."""
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 3 or features.shape[1:] != (FORECAST_WINDOW, 3):
        raise ValueError(f"expected (N, {FORECAST_WINDOW}, 3) windows, got shape {features.shape}")
    return _windows_of(model, features).reshape(len(features), FORECAST_HORIZON)


@dataclass
class SequenceForecast:
    """Forecasts from every origin of a part of a series (the held-out part, usually), with
    the baselines' forecasts for the same hours. Arrays are (N, 3): column h is h+1 hours ahead."""
    origins: np.ndarray                 # (N,) indices of the last hour seen
    timestamps: np.ndarray              # (N,) datetime64[h] of the last hour seen
    actual: np.ndarray                  # (N, 3) load
    forecast: np.ndarray                # (N, 3) the LSTM's forecast
    baselines: dict[str, np.ndarray]    # name -> (N, 3)
    load_unit: str = ""
    stats: SeriesStats | None = None

    def errors(self) -> list[dict]:
        """MAE and RMSE at each horizon for the LSTM and every baseline (rows, best first)."""
        rows = []
        for name, predicted in {SEQUENCE_LSTM_LABEL: self.forecast, **self.baselines}.items():
            error = predicted - self.actual
            row = {"Method": name}
            row.update({f"MAE {h + 1} h": float(np.abs(error[:, h]).mean()) for h in range(error.shape[1])})
            row.update({f"RMSE {h + 1} h": float(np.sqrt((error[:, h] ** 2).mean())) for h in range(error.shape[1])})
            rows.append(row)
        return sorted(rows, key=lambda r: r[f"MAE {FORECAST_HORIZON} h"])

    def strongest_seasonal_naive(self) -> str:
        """The seasonal-naive baseline with the smaller MAE over all horizons."""
        return min(NAIVE_LAGS, key=lambda name: float(np.abs(self.baselines[name] - self.actual).mean()))

    def at_horizon(self, hours: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(timestamps forecast, actual, LSTM forecast) for forecasts `hours` ahead."""
        return self.timestamps + np.timedelta64(hours, "h"), self.actual[:, hours - 1], self.forecast[:, hours - 1]


def forecast_heldout(series: LoadSeries, split: SeriesSplit | None = None, model=SEQUENCE_FORECASTER,
                     stats: SeriesStats | None = None) -> SequenceForecast:
    """Forecast every hour of the held-out part from the six hours before it, beside the
    seasonal-naive baselines (24 and 168 hours earlier) and persistence. Normalisation uses
    the training part's statistics (for the built-in series: the ones the shipped model
    carries in its metadata)."""
    split = split or default_split(series)
    stats = stats or SeriesStats.of(series, split.train)
    origins = forecast_origins(split.test, FORECAST_WINDOW, FORECAST_HORIZON, inputs_inside=False,
                               history=max(NAIVE_LAGS.values()))
    if len(origins) == 0:
        raise SeriesError("the held-out part is too short to forecast")
    features = stats.features(series)
    z = forecast_next_hours(windows(features, origins - FORECAST_WINDOW + 1, FORECAST_WINDOW), model)
    targets = origins[:, None] + np.arange(1, FORECAST_HORIZON + 1)          # (N, 3) indices
    load = series.load.astype(np.float64)
    baselines = {name: load[targets - lag] for name, lag in NAIVE_LAGS.items()}
    baselines[PERSISTENCE] = np.repeat(load[origins][:, None], FORECAST_HORIZON, axis=1)
    return SequenceForecast(origins, series.timestamps[origins], load[targets], stats.load_units(z),
                            baselines, series.load_unit, stats)


# ------------------------------------------------------------------ anomaly detection

def reconstruct_windows(features: np.ndarray, model=SEQUENCE_AUTOENCODER) -> np.ndarray:
    """(N, 24, 3) windows of features -> (N, 24) their load rebuilt by the autoencoder (z-scores)."""
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 3 or features.shape[1:] != (RECONSTRUCTION_WINDOW, 3):
        raise ValueError(f"expected (N, {RECONSTRUCTION_WINDOW}, 3) windows, got shape {features.shape}")
    return _windows_of(model, features).reshape(len(features), RECONSTRUCTION_WINDOW)


def window_scores(features: np.ndarray, stats: SeriesStats, model=SEQUENCE_AUTOENCODER) -> np.ndarray:
    """(N, 24, 3) windows -> (N,) anomaly scores: the reconstruction's RMS error as a percentage
    of the level the autoencoder expects (the rebuilt window's mean load, or the load's standard
    deviation where that is larger). Load noise grows with the load: scored by the plain error,
    the higher winter load, calibrated on autumn, raised about twice as many false alarms."""
    z = np.asarray(features, dtype=np.float32)[:, :, 0]
    rebuilt = reconstruct_windows(features, model).astype(np.float64)
    rms = np.sqrt(((rebuilt - z) ** 2).mean(axis=1)) * stats.load_std
    level = np.maximum(np.abs(stats.load_units(rebuilt).mean(axis=1)), stats.load_std)
    return 100 * rms / level


def overlaps(starts: np.ndarray, anomaly: InjectedAnomaly, length: int = RECONSTRUCTION_WINDOW) -> np.ndarray:
    """Which windows (by start) share at least one hour with the anomaly."""
    hours = anomaly.hours
    return (starts < hours.stop) & (starts + length > hours.start)


@dataclass
class SequenceDetection:
    """Every 24-hour window of the held-out part (one starting at each hour), scored, with the
    threshold from the validation windows' scores, and how the injected anomalies fared."""
    series: LoadSeries                      # with the anomalies injected
    starts: np.ndarray                      # (W,) window starts (indices)
    scores: np.ndarray                      # (W,)
    threshold: float
    percentile: float
    calibration_windows: int
    anomalies: list[InjectedAnomaly] = field(default_factory=list)
    detected: list[bool] = field(default_factory=list)   # per anomaly: a window overlapping it is flagged

    @property
    def flagged(self) -> np.ndarray:
        return self.scores > self.threshold

    @property
    def normal(self) -> np.ndarray:
        """Windows that overlap no injected anomaly."""
        clear = np.ones(len(self.starts), bool)
        for anomaly in self.anomalies:
            clear &= ~overlaps(self.starts, anomaly)
        return clear

    @property
    def false_alarms(self) -> int:
        return int((self.flagged & self.normal).sum())

    @property
    def false_alarms_per_1000(self) -> float:
        return 1000 * self.false_alarms / max(1, int(self.normal.sum()))

    def flagged_spans(self) -> list[tuple[int, int]]:
        """Hours covered by flagged windows, merged into (start, stop) index ranges."""
        spans: list[list[int]] = []
        for start in self.starts[self.flagged]:
            if spans and start <= spans[-1][1]:
                spans[-1][1] = int(start) + RECONSTRUCTION_WINDOW
            else:
                spans.append([int(start), int(start) + RECONSTRUCTION_WINDOW])
        return [(a, b) for a, b in spans]


def calibration_scores(series: LoadSeries, split: SeriesSplit, stats: SeriesStats,
                       model=SEQUENCE_AUTOENCODER) -> np.ndarray:
    """Scores of every window of the validation part: normal data the model never trained on."""
    starts = window_starts(split.validation, RECONSTRUCTION_WINDOW)
    if len(starts) == 0:
        raise SeriesError("the validation part is shorter than one window")
    return window_scores(windows(stats.features(series), starts, RECONSTRUCTION_WINDOW), stats, model)


def detect_sequence_anomalies(series: LoadSeries, anomalies: list[InjectedAnomaly] = (),
                              split: SeriesSplit | None = None, percentile: float = DEFAULT_THRESHOLD_PERCENTILE,
                              model=SEQUENCE_AUTOENCODER, stats: SeriesStats | None = None) -> SequenceDetection:
    """Inject `anomalies` (which must lie in the held-out part) into the series' load, score
    every 24-hour window of the held-out part and flag those above the `percentile`-th
    percentile of the validation windows' scores."""
    split = split or default_split(series)
    stats = stats or SeriesStats.of(series, split.train)
    anomalies = list(anomalies)
    for anomaly in anomalies:
        if not split.test.start <= anomaly.start < split.test.stop:
            raise ValueError(f"anomaly at hour {anomaly.start} is outside the held-out part "
                             f"({split.test.start} to {split.test.stop - 1})")
    if not 0 < percentile < 100:
        raise ValueError("percentile must be between 0 and 100")
    calibration = calibration_scores(series, split, stats, model)
    injected = series.with_load(inject_anomalies(series.load, anomalies, stats.load_std))
    starts = window_starts(split.test, RECONSTRUCTION_WINDOW)
    scores = window_scores(windows(stats.features(injected), starts, RECONSTRUCTION_WINDOW), stats, model)
    threshold = float(np.percentile(calibration, percentile))
    detected = [bool((scores[overlaps(starts, a)] > threshold).any()) for a in anomalies]
    return SequenceDetection(injected, starts, scores, threshold, percentile, len(calibration), anomalies, detected)


@dataclass
class DetectionTrials:
    kind: str
    size: float
    duration: int
    trials: int
    detected: float          # share of trials where a window overlapping the anomaly is flagged
    chance: float            # the same, at the same positions with nothing injected


def detection_trials(series: LoadSeries, kind: str, *, size: float = 4.0, duration: int = 6,
                     trials: int = 200, seed: int = 0, split: SeriesSplit | None = None,
                     threshold: float | None = None, model=SEQUENCE_AUTOENCODER) -> DetectionTrials:
    """Inject one anomaly at a time at `trials` random hours of the held-out part and count how
    often a window overlapping it is flagged; `chance` is how often that happens at the same
    hours with nothing injected (the detection a false alarm would give)."""
    split = split or default_split(series)
    stats = SeriesStats.of(series, split.train)
    if threshold is None:
        threshold = float(np.percentile(calibration_scores(series, split, stats, model), DEFAULT_THRESHOLD_PERCENTILE))
    rng = np.random.default_rng(seed)
    length = 1 if kind == "spike" else duration
    all_starts = window_starts(split.test, RECONSTRUCTION_WINDOW)
    features = stats.features(series)
    clean_scores = window_scores(windows(features, all_starts, RECONSTRUCTION_WINDOW), stats, model)
    positions = rng.integers(split.test.start + RECONSTRUCTION_WINDOW,
                             split.test.stop - RECONSTRUCTION_WINDOW - length, size=trials)
    batches, owners, chance = [], [], []
    for trial, position in enumerate(positions):
        anomaly = InjectedAnomaly(int(position), kind, size, duration)
        near = all_starts[overlaps(all_starts, anomaly)]
        chance.append(bool((clean_scores[overlaps(all_starts, anomaly)] > threshold).any()))
        local = slice(near[0], near[-1] + RECONSTRUCTION_WINDOW)
        piece = features[local].copy()
        shifted = InjectedAnomaly(anomaly.start - local.start, kind, size, duration)
        load = inject_anomalies(series.load[local], [shifted], stats.load_std)
        piece[:, 0] = (load - stats.load_mean) / stats.load_std
        batches.append(windows(piece, near - local.start, RECONSTRUCTION_WINDOW))
        owners.append(np.full(len(near), trial))
    scores = window_scores(np.concatenate(batches), stats, model)
    hit = np.zeros(trials, bool)
    np.logical_or.at(hit, np.concatenate(owners), scores > threshold)
    return DetectionTrials(kind, size, duration, trials, float(hit.mean()), float(np.mean(chance)))


# ------------------------------------------------------------------ training (needs torch)

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
    import torch

    from ..models import (SequenceAutoencoder, SequenceAutoencoderConfig, SequenceForecaster,
                          SequenceForecasterConfig)
    from ..train import TrainConfig, fit

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
    output = model.output_name

    def loss(outputs: dict, targets: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.mse_loss(outputs[output], targets)

    train_config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed, threads=threads)
    history = fit(model, batch, train_config, loss_fn=loss, progress=progress, stop=stop,
                  report_every=report_every)
    return model, history


def export_sequence_model(model, path, stats: SeriesStats, note: str, split_note: dict,
                          extra: dict | None = None, seed: int = 0) -> bytes:
    """One ONNX file with a dynamic batch axis, the normalisation statistics in its metadata,
    checked against torch on batches of 1, 2 and 7."""
    import dataclasses

    import torch

    from ..export import export_onnx

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


def sequence_model_stats(model=SEQUENCE_FORECASTER) -> SeriesStats:
    """The normalisation statistics a sequence model was trained with (its metadata)."""
    import json

    return SeriesStats(**json.loads(runtime.metadata(model)["normalisation"]))


@dataclass
class TrainedSequenceModels:
    """Both models trained on a user's series, kept in memory as ONNX bytes (the autoencoder is
    None when training was stopped before it began)."""
    forecaster: bytes
    autoencoder: bytes | None
    losses: dict[str, list[float]]      # model kind -> loss of every step
    steps: int                          # steps asked of each model
    seconds: float
    stats: SeriesStats
    stopped: bool = False

    @property
    def steps_done(self) -> int:
        return sum(len(v) for v in self.losses.values())


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
                progress(type(p)(p.step + offset * steps, 2 * steps, p.loss, time.perf_counter() - start))

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
