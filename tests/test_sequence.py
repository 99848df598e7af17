"""Sequence autoencoders on hourly load: the synthetic series, time splits and windows, CSV
loading, anomaly injection, training, ONNX parity, and the shipped models' held-out figures."""
import importlib.util
import io
import json

import numpy as np
import pytest
from series_helpers import BAD_CSVS, csv_bytes, short_series

import engine
from engine import builds as builds
from engine.core import runtime
from engine.nn import recipes as recipes
from engine.tasks.sequence import build as sequence_build, series as series, serve as sequence_serve

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="training needs PyTorch")


@pytest.fixture(scope="module")
def synthetic() -> engine.LoadSeries:
    return engine.synthetic_load_series()


def autocorrelation(values: np.ndarray, lag: int) -> float:
    x = values.astype(np.float64) - values.mean()
    return float((x[:-lag] * x[lag:]).sum() / (x * x).sum())


# --- the synthetic series ---------------------------------------------------------------------
def test_synthetic_series_is_hourly_seeded_and_has_daily_and_weekly_rhythm(synthetic):
    assert len(synthetic) == (366 + 365 + 365) * 24          # 2012 is a leap year
    assert synthetic.timestamps[0] == np.datetime64("2012-01-01T00", "h")
    assert np.all(np.diff(synthetic.timestamps) == np.timedelta64(1, "h"))
    assert synthetic.load.dtype == np.float32 and synthetic.temperature.shape == synthetic.load.shape
    assert np.isfinite(synthetic.load).all() and synthetic.load.min() > 0
    again, other = engine.synthetic_load_series(), engine.synthetic_load_series(seed=1)
    assert np.array_equal(again.load, synthetic.load) and np.array_equal(again.temperature, synthetic.temperature)
    assert not np.allclose(other.load, synthetic.load)
    load = synthetic.load
    assert autocorrelation(load, 24) > 0.8 and autocorrelation(load, 168) > 0.8
    assert autocorrelation(load, 12) < 0.2          # half a day on: the other side of the daily cycle
    # Weekends (and holidays) are lower than working days at the same hour.
    days = synthetic.timestamps.astype("datetime64[D]")
    hour = (synthetic.timestamps - days).astype(int)
    weekday = (days.astype(np.int64) + 3) % 7
    noon = hour == 12
    assert load[noon & (weekday == 6)].mean() < 0.92 * load[noon & (weekday == 2)].mean()
    christmas = days == np.datetime64("2013-12-25")     # a Wednesday
    assert load[christmas & noon][0] < 0.92 * load[noon & (weekday == 2) & (days > np.datetime64("2013-12-10"))
                                                     & (days < np.datetime64("2013-12-20"))].mean()


def test_load_rises_on_cold_and_on_hot_days(synthetic):
    """Heating and cooling: load against temperature is U-shaped, at the same hour of working days."""
    days = synthetic.timestamps.astype("datetime64[D]")
    hour = (synthetic.timestamps - days).astype(int)
    afternoon = (hour == 15) & ((days.astype(np.int64) + 3) % 7 < 5)
    temperature, load = synthetic.temperature[afternoon], synthetic.load[afternoon]
    mild = load[(temperature > 14) & (temperature < 19)].mean()
    assert load[temperature < -2].mean() > 1.1 * mild
    assert load[temperature > 30].mean() > 1.1 * mild


# --- splits and windows -----------------------------------------------------------------------
def test_time_split_keeps_held_out_hours_out_of_training_windows(synthetic):
    split = engine.default_split(synthetic)
    assert synthetic.timestamps[split.validation.start] == np.datetime64("2014-09-01T00", "h")
    assert synthetic.timestamps[split.test.start] == np.datetime64("2014-11-01T00", "h")
    assert split.train.stop == split.validation.start and split.validation.stop == split.test.start
    assert split.test.stop == len(synthetic)
    # A user's file over the same dates is split by position, not by the lecture's dates.
    users = engine.LoadSeries(synthetic.timestamps[-5000:], synthetic.load[-5000:])
    assert engine.default_split(users).test == slice(4000, 5000)
    features = engine.SeriesStats.of(synthetic, split.train).features(synthetic)
    batch = sequence_build.forecast_training_batch(features, split.train, batch_size=4096)
    origins = series.forecast_origins(split.train, engine.FORECAST_WINDOW, engine.FORECAST_HORIZON)
    last_hour_used = origins.max() + engine.FORECAST_HORIZON
    first_hour_used = origins.min() - engine.FORECAST_WINDOW + 1
    assert first_hour_used == 0 and last_hour_used == split.train.stop - 1
    starts = series.window_starts(split.train, engine.RECONSTRUCTION_WINDOW)
    assert starts.max() + engine.RECONSTRUCTION_WINDOW - 1 == split.train.stop - 1
    # The batches really come from there: every target is a training hour's load.
    x, y = batch(0, np.random.default_rng(0))
    assert x.shape == (4096, 6, 3) and y.shape == (4096, 3)
    training_loads = set(np.round(features[split.train, 0], 5))
    assert set(np.round(y.ravel(), 5)) <= training_loads
    held_out = set(np.round(features[split.validation.start:, 0], 5))
    assert not set(np.round(y.ravel(), 5)) & (held_out - training_loads)


def test_a_series_without_the_lecture_dates_is_split_by_fraction():
    series = short_series(days=50)
    split = engine.default_split(series)
    n = len(series)
    assert (split.test.stop - split.test.start) == round(0.2 * n)
    assert (split.validation.stop - split.validation.start) == round(0.2 * n)
    assert split.train == slice(0, n - 2 * round(0.2 * n))
    with pytest.raises(engine.SeriesTooShortError):
        engine.time_split(short_series(days=50), "2011-01-01", "2011-02-01")   # dates before the data


def test_normalisation_uses_the_training_part_only(synthetic):
    split = engine.default_split(synthetic)
    stats = engine.SeriesStats.of(synthetic, split.train)
    assert stats.load_mean == pytest.approx(float(synthetic.load[split.train].astype(np.float64).mean()))
    assert stats.load_mean != pytest.approx(float(synthetic.load.astype(np.float64).mean()), rel=1e-4)
    features = stats.features(synthetic)
    assert abs(features[split.train, 0].mean()) < 1e-3 and features[split.train, 0].std() == pytest.approx(1, abs=1e-3)
    assert (features[:, 2] == 1).all()
    no_temperature = engine.SeriesStats.of(short_series(temperature=False)).features(short_series(temperature=False))
    assert (no_temperature[:, 1:] == 0).all()
    # The shipped models carry the same statistics in their metadata.
    for model in (engine.SEQUENCE_FORECASTER, engine.SEQUENCE_AUTOENCODER):
        assert engine.sequence_model_stats(model) == pytest.approx(stats)


# --- anomaly injection and detection -------------------------------------------------------------
def test_each_anomaly_kind_changes_exactly_its_hours():
    load = np.linspace(100, 200, 100, dtype=np.float32)
    cases = {
        "spike": (engine.InjectedAnomaly(10, "spike", size=3.0), slice(10, 11)),
        "level shift": (engine.InjectedAnomaly(20, "level shift", size=-2.0, duration=5), slice(20, 25)),
        "flat line": (engine.InjectedAnomaly(40, "flat line", duration=7), slice(40, 47)),
        "dropout": (engine.InjectedAnomaly(60, "dropout", duration=3), slice(60, 63)),
    }
    assert set(cases) == set(engine.SERIES_ANOMALY_KINDS)
    for kind, (anomaly, hours) in cases.items():
        out = engine.inject_anomalies(load, [anomaly], load_std=10.0)
        changed = np.flatnonzero(out != load)
        assert changed.min() == hours.start and changed.max() == hours.stop - 1, kind
        assert np.array_equal(out[:hours.start], load[:hours.start])
        assert np.array_equal(out[hours.stop:], load[hours.stop:])
    assert engine.inject_anomalies(load, [cases["spike"][0]], 10.0)[10] == pytest.approx(load[10] + 30)
    assert np.allclose(engine.inject_anomalies(load, [cases["level shift"][0]], 10.0)[20:25], load[20:25] - 20)
    assert (engine.inject_anomalies(load, [cases["flat line"][0]], 10.0)[40:47] == load[39]).all()
    assert (engine.inject_anomalies(load, [cases["dropout"][0]], 10.0)[60:63] == 0).all()
    assert np.array_equal(engine.inject_anomalies(load, [], 10.0), load)
    with pytest.raises(ValueError, match="kind"):
        engine.inject_anomalies(load, [engine.InjectedAnomaly(5, "wobble")], 10.0)
    with pytest.raises(ValueError, match="outside"):
        engine.inject_anomalies(load, [engine.InjectedAnomaly(100, "spike")], 10.0)


def test_a_big_spike_is_flagged_and_normal_windows_mostly_are_not(synthetic):
    split = engine.default_split(synthetic)
    clean = engine.detect_sequence_anomalies(synthetic)
    assert len(clean.starts) == 1464 - 24 + 1 and clean.calibration_windows == 1441
    assert clean.false_alarms_per_1000 < 20        # the 99th percentile: about 10 by construction
    assert clean.threshold == pytest.approx(
        json.loads(runtime.metadata(engine.SEQUENCE_AUTOENCODER)["calibration"])["threshold"], rel=1e-5)
    spike = engine.InjectedAnomaly(split.test.start + 500, "spike", size=4.0)
    found = engine.detect_sequence_anomalies(synthetic, [spike])
    assert found.detected == [True]
    around = sequence_serve.overlaps(found.starts, spike)
    assert around.sum() == 24 and found.flagged[around].mean() > 0.9     # every window holding it
    assert found.scores[around].min() > 2 * clean.scores[around].max()
    assert found.series.load[spike.start] == pytest.approx(
        synthetic.load[spike.start] + 4 * engine.SeriesStats.of(synthetic, split.train).load_std, rel=1e-5)
    assert np.array_equal(synthetic.load, engine.synthetic_load_series().load)   # the original is untouched
    assert found.false_alarms <= clean.false_alarms
    with pytest.raises(ValueError, match="held-out"):
        engine.detect_sequence_anomalies(synthetic, [engine.InjectedAnomaly(100, "spike")])


def test_detection_trials_count_hits_and_chance(synthetic):
    big = engine.detection_trials(synthetic, "level shift", size=1.0, duration=6, trials=40, seed=3)
    tiny = engine.detection_trials(synthetic, "level shift", size=0.05, duration=6, trials=40, seed=3)
    assert big.detected == 1.0 and tiny.detected < 0.5
    assert big.chance == tiny.chance < 0.3          # the same hours: the same chance


# --- the shipped models -------------------------------------------------------------------------
def test_the_shipped_forecaster_beats_seasonal_naive_at_every_horizon(synthetic):
    result = engine.forecast_heldout(synthetic)
    assert result.actual.shape == result.forecast.shape == (1464 - 3 + 1, 3)
    assert result.timestamps[0] == np.datetime64("2014-10-31T23", "h")     # forecasts 1 Nov 00:00 first
    rows = {row["Method"]: row for row in result.errors()}
    lstm = rows[engine.SEQUENCE_LSTM_LABEL]
    for h in (1, 2, 3):
        for name in sequence_serve.NAIVE_LAGS:
            assert lstm[f"MAE {h} h"] < rows[name][f"MAE {h} h"], (h, name)
            assert lstm[f"RMSE {h} h"] < rows[name][f"RMSE {h} h"], (h, name)
    assert lstm["MAE 3 h"] < 0.6 * rows[result.strongest_seasonal_naive()]["MAE 3 h"]
    # The baselines are what they say: the same hour a day and a week earlier.
    day, week = (result.baselines[name] for name in sequence_serve.NAIVE_LAGS)
    assert day[0, 0] == pytest.approx(synthetic.load[result.origins[0] + 1 - 24])
    assert week[5, 2] == pytest.approx(synthetic.load[result.origins[5] + 3 - 168])


def test_the_shipped_forecaster_serves_a_series_without_temperature():
    with_temperature, without = short_series(days=60), short_series(days=60, temperature=False)
    rows = {r["Method"]: r for r in engine.forecast_heldout(without).errors()}
    assert rows[engine.SEQUENCE_LSTM_LABEL]["MAE 1 h"] < rows[sequence_serve.PERSISTENCE]["MAE 1 h"]
    assert rows[engine.SEQUENCE_LSTM_LABEL]["MAE 3 h"] < min(rows[n]["MAE 3 h"] for n in sequence_serve.NAIVE_LAGS)
    forecast = engine.forecast_heldout(with_temperature).forecast
    assert not np.allclose(forecast, engine.forecast_heldout(without).forecast)   # temperature is used


def test_model_inputs_are_checked():
    with pytest.raises(ValueError, match="6, 3"):
        engine.forecast_next_hours(np.zeros((2, 24, 3), np.float32))
    with pytest.raises(ValueError, match="24, 3"):
        engine.reconstruct_windows(np.zeros((2, 6, 3), np.float32))
    assert engine.forecast_next_hours(np.zeros((0, 6, 3), np.float32)).shape == (0, 3)


@needs_torch
@pytest.mark.parametrize("name", [engine.SEQUENCE_FORECASTER, engine.SEQUENCE_AUTOENCODER])
def test_onnx_matches_torch_for_both_shipped_graphs(synthetic, name):
    import torch

    from engine.nn.checkpoints import from_checkpoint

    module = from_checkpoint(torch.load(io.BytesIO(runtime.checkpoint_bytes(name)), weights_only=False))
    window = module.config.window
    split = engine.default_split(synthetic)
    features = engine.SeriesStats.of(synthetic, split.train).features(synthetic)
    for batch in (1, 37):
        starts = np.random.default_rng(batch).integers(split.test.start, split.test.stop - window, size=batch)
        x = series.windows(features, starts, window)
        with torch.no_grad():
            expected = module(torch.from_numpy(x))[module.output_name].numpy()
        served = runtime.run(name, x)
        assert served.shape == expected.shape == (batch, module.config.output_steps)
        assert np.abs(served - expected).max() < 1e-4


# --- training -----------------------------------------------------------------------------------
@pytest.mark.slow
@needs_torch
@pytest.mark.parametrize("kind", ["forecast", "reconstruct"])
def test_the_model_trains_and_its_loss_falls(kind):
    from engine.tasks.sequence.model import SequenceAutoencoderConfig, SequenceForecasterConfig

    series = short_series(days=40)
    split = engine.default_split(series)
    stats = engine.SeriesStats.of(series, split.train)
    config = (SequenceForecasterConfig(hidden=32, code_size=8) if kind == "forecast"
              else SequenceAutoencoderConfig(hidden=32, code_size=4))
    seen = []
    model, losses = sequence_build.train_sequence_model(kind, series, split, stats, steps=300, batch_size=32, lr=1e-2,
                                             threads=1, progress=seen.append, report_every=100, config=config)
    assert len(losses) == 300 and [p.step for p in seen] == [100, 200, 300]
    assert np.mean(losses[-20:]) < 0.6 * np.mean(losses[:20])
    assert not model.training


@pytest.mark.slow
@needs_torch
def test_training_on_a_users_series_gives_servable_models_and_stops_when_asked():
    series = short_series(days=35)
    reports = []
    result = engine.training.train_sequence_models(series, steps=20, progress=reports.append)
    assert not result.stopped and result.steps_done == 40
    assert [r.step for r in reports][-1] == 40 and reports[-1].steps == 40
    rows = {r["Method"]: r for r in engine.forecast_heldout(series, model=result.forecaster).errors()}
    assert np.isfinite(rows[engine.SEQUENCE_LSTM_LABEL]["MAE 1 h"])
    found = engine.detect_sequence_anomalies(series, model=result.autoencoder)
    assert np.isfinite(found.scores).all()
    calls = []
    stopped = engine.training.train_sequence_models(series, steps=20, stop=lambda: calls.append(1) or len(calls) > 5)
    assert stopped.stopped and stopped.autoencoder is None and len(stopped.losses["forecast"]) == 5


@pytest.mark.slow
@needs_torch
def test_a_tiny_build_writes_both_models_with_calibration(tmp_path):

    entries = builds.build("sequence", recipes.BuildOptions(out_dir=tmp_path, scale=0.005),
                           "python -m engine train sequence")
    assert set(entries) == {engine.SEQUENCE_FORECASTER, engine.SEQUENCE_AUTOENCODER}
    manifest = json.loads((tmp_path / "manifest.json").read_text())["models"]
    for _name, entry in manifest.items():
        assert runtime.sha256_of((tmp_path / entry["file"]).read_bytes()) == entry["sha256"]
        assert (tmp_path / entry["torch_file"]).is_file() and entry["task"] == "sequence"
    meta = runtime.metadata(str(tmp_path / "sequence_autoencoder.onnx"))
    calibration = json.loads(meta["calibration"])
    assert calibration["percentile"] == 99.0 and calibration["windows"] == 1441
    assert calibration == manifest["sequence_autoencoder"]["calibration"]
    assert json.loads(meta["split"])["test"].startswith("2014-11-01 00:00")
    out = runtime.run(str(tmp_path / "sequence_forecaster.onnx"), np.zeros((3, 6, 3), np.float32))
    assert out.shape == (3, 3)


# --- users' CSV files ---------------------------------------------------------------------------
def test_a_good_csv_loads_with_its_numeric_columns():
    series = short_series(days=30)
    table = engine.read_series_csv(csv_bytes(series), name="site.csv")
    assert table.timestamp_column == "timestamp" and list(table.columns) == ["load_mw", "temperature_c"]
    loaded = table.series("load_mw", "temperature_c")
    assert np.array_equal(loaded.timestamps, series.timestamps)
    assert np.allclose(loaded.load, series.load, atol=1e-3)
    assert np.allclose(loaded.temperature, series.temperature, atol=0.01)
    assert loaded.notes == [] and loaded.name == "site.csv: load_mw with temperature_c"
    semicolons = engine.load_series_csv(csv_bytes(series, sep=";"), "load_mw")
    assert np.allclose(semicolons.load, series.load, atol=1e-3) and semicolons.temperature is None
    # Rows out of order are sorted; the result forecasts like any series.
    lines = csv_bytes(series).decode().splitlines()
    shuffled = "\n".join([lines[0], *lines[:0:-1]]).encode()
    assert np.allclose(engine.load_series_csv(shuffled, "load_mw").load, series.load, atol=1e-3)
    assert engine.forecast_heldout(loaded).forecast.shape[1] == 3


def test_short_gaps_are_filled_and_say_so_and_readings_more_often_than_hourly_are_averaged():
    series = short_series(days=30)
    gappy = engine.load_series_csv(csv_bytes(series, drop=slice(100, 104)), "load_mw", "temperature_c")
    assert len(gappy) == len(series) and np.isfinite(gappy.load).all()
    assert np.allclose(gappy.load[100:104], np.linspace(series.load[99], series.load[104], 6)[1:-1], atol=1e-2)
    assert any("Filled 4 missing hours of 'load_mw'" in n for n in gappy.notes)
    start = np.datetime64("2020-03-01T00:00")
    rows = ["time,kw"] + [f"{str(start + np.timedelta64(15 * i, 'm')).replace('T', ' ')},{i % 4}"
                          for i in range(4 * 24 * 30)]
    quarter_hours = engine.load_series_csv("\n".join(rows).encode())
    assert len(quarter_hours) == 24 * 30 and np.allclose(quarter_hours.load, 1.5)
    assert any("averaged per hour" in n for n in quarter_hours.notes)


@pytest.mark.parametrize("case", list(BAD_CSVS))
def test_each_bad_csv_raises_its_own_clear_error(case):
    data, error, words = BAD_CSVS[case]
    with pytest.raises(error, match=words) as caught:
        engine.load_series_csv(data)
    assert isinstance(caught.value, engine.SeriesError) and isinstance(caught.value, ValueError)
    assert "Traceback" not in str(caught.value)


def test_a_long_gap_is_refused_naming_where_it_is():
    series = short_series(days=40)
    with pytest.raises(engine.SeriesGapError, match=f"{engine.MAX_FILLED_GAP + 1} hours without readings from "
                                                    f"{series.timestamps[200]}"):
        engine.load_series_csv(csv_bytes(series, drop=slice(200, 200 + engine.MAX_FILLED_GAP + 1)), "load_mw")
    table = engine.read_series_csv(csv_bytes(series))
    with pytest.raises(engine.NoNumericColumnError, match="site"):
        table.series("site")
    with pytest.raises(engine.SeriesError, match="different"):
        table.series("load_mw", "load_mw")
