"""`python -m engine eval sequence`: forecasts against seasonal naive, and anomaly detection."""
from __future__ import annotations

from engine.core import runtime
from engine.core.report import result_table

# Injected anomalies `eval sequence` counts: (kind, size in standard deviations, duration in hours).
SEQUENCE_DETECTION_CASES = (("spike", 0.5, 1), ("spike", 1.0, 1), ("spike", 2.0, 1),
                            ("level shift", 0.25, 6), ("level shift", 0.5, 6), ("level shift", 1.0, 6),
                            ("flat line", 0.0, 3), ("flat line", 0.0, 6), ("flat line", 0.0, 12),
                            ("dropout", 0.0, 1), ("dropout", 0.0, 3))


def eval_sequence(count: int = 300, seed: int = 8) -> dict:
    """The held-out months of the built-in load series: forecast error by horizon against the
    seasonal-naive baselines, false alarms of the anomaly threshold, and detection of `count`
    injected anomalies of each kind and size (one at a time, at random hours)."""
    from engine.tasks.sequence.series import default_split, synthetic_load_series
    from engine.tasks.sequence.serve import (
        DEFAULT_THRESHOLD_PERCENTILE,
        FORECAST_HORIZON,
        SEQUENCE_AUTOENCODER,
        SEQUENCE_FORECASTER,
        detect_sequence_anomalies,
        detection_trials,
        forecast_heldout,
    )

    series = synthetic_load_series()
    split = default_split(series)
    parts = split.describe(series)
    forecast = forecast_heldout(series, split)
    horizons = range(1, FORECAST_HORIZON + 1)
    forecast_rows = [[r["Method"], *(round(r[f"MAE {h} h"], 1) for h in horizons),
                      *(round(r[f"RMSE {h} h"], 1) for h in horizons)] for r in forecast.errors()]
    alarm_rows = []
    for percentile in (95.0, 99.0, 99.9):
        found = detect_sequence_anomalies(series, split=split, percentile=percentile)
        alarm_rows.append([percentile, round(found.threshold, 3), found.false_alarms, int(found.normal.sum()),
                           round(found.false_alarms_per_1000, 1)])
    threshold = detect_sequence_anomalies(series, split=split).threshold
    detection_rows = []
    for kind, size, duration in SEQUENCE_DETECTION_CASES:
        trial = detection_trials(series, kind, size=size, duration=duration, trials=count, seed=seed,
                                 split=split, threshold=threshold)
        detection_rows.append([kind, size if kind in ("spike", "level shift") else "-", duration,
                               trial.trials, round(trial.detected, 3), round(trial.chance, 3)])
    return {"command": "eval sequence", "device": runtime.device_name(), "tables": [
        result_table(f"Forecast error (MW) on the held-out part, {parts['test']}, every hour forecast from the "
               f"6 hours before it ({runtime.model_info(SEQUENCE_FORECASTER)['name']})",
               ["Method", *(f"MAE {h} h" for h in horizons), *(f"RMSE {h} h" for h in horizons)], forecast_rows),
        result_table(f"False alarms: every 24-hour window of the held-out part, nothing injected; thresholds "
               f"from the scores of the validation windows, {parts['validation']} "
               f"({runtime.model_info(SEQUENCE_AUTOENCODER)['name']})",
               ["Percentile", "Threshold (%)", "Flagged", "Windows", "Per 1,000 windows"], alarm_rows),
        result_table(f"Injected anomalies, one at a time at {count} random hours of the held-out part each, at the "
               f"{DEFAULT_THRESHOLD_PERCENTILE:g}th-percentile threshold; detected: a window overlapping it "
               "is flagged; chance: the same at the same hours with nothing injected",
               ["Kind", "Size (std)", "Hours", "Trials", "Detected", "Chance"], detection_rows),
    ]}


EVALS = {"sequence": eval_sequence}
