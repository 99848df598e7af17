"""Sequence autoencoders on an hourly load series: an LSTM encoder-decoder forecasts the next
three hours from the past six (load and temperature), and another rebuilds 24-hour windows so
that its error flags windows unlike the normal ones.

Serving is numpy and onnxruntime; the training helpers at the end import torch when called."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.core import runtime
from engine.tasks.sequence.series import (
    InjectedAnomaly,
    LoadSeries,
    SeriesError,
    SeriesSplit,
    SeriesStats,
    default_split,
    forecast_origins,
    inject_anomalies,
    window_starts,
    windows,
)

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
