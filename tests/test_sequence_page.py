"""The Sequence autoencoder page, driven by Streamlit's AppTest: the real engine and the shipped
forecaster and autoencoder, the built-in series and uploaded CSV files."""

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from page_helpers import wait_for_job, without_torch
from run_control import hold_at_first_report, run_to_end
from series_helpers import BAD_CSVS, csv_bytes, short_series
from streamlit.testing.v1 import AppTest

import engine
from app_pages.logic import sequence as logic
from app_pages.text import plain

pytestmark = pytest.mark.slow   # every test drives the app under AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
PAGE = "app_pages/sequence.py"
FORECAST, DETECT = "1. Forecast the next three hours", "2. Find anomalous days"   # the page's two tabs
needs_torch = pytest.mark.skipif(not engine.training.available(), reason="training needs PyTorch")


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_tab(at: AppTest, name: str) -> AppTest:
    """The page with one of its two parts' tabs open (only the open tab runs)."""
    at.session_state["seq_tab"] = name
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def trace_names(at: AppTest) -> list[str]:
    """The names of every trace of every chart on the page."""
    return [trace.get("name") for chart in at.get("plotly_chart") for trace in json.loads(chart.proto.spec)["data"]]


def assert_forecast_shown(at: AppTest, series: engine.LoadSeries) -> None:
    """The MAE metrics and the error table are the engine's figures for this series."""
    rows = {r["Method"]: r for r in engine.forecast_heldout(series).errors()}
    lstm = rows[engine.SEQUENCE_LSTM_LABEL]
    shown, scale = metrics(at), logic.Scale.of(series)
    for h in (1, 2, 3):
        assert shown[f"MAE {h} h ahead"] == scale.text(lstm[f"MAE {h} h"]), (h, shown)
    table = next(frame.value for frame in at.dataframe if "Method" in frame.value.columns)
    assert list(table["Method"]) == list(rows)
    assert table[scale.header("MAE 3 h")].tolist() == [round(r["MAE 3 h"], scale.decimals) for r in rows.values()]


def test_the_built_in_series_shows_forecasts_and_detection():
    at = open_page()
    assert not at.error
    synthetic = engine.synthetic_load_series()
    assert_forecast_shown(at, synthetic)
    deltas = [m.delta for m in at.metric if m.label.startswith("MAE")]
    assert len(deltas) == 3 and all(d.startswith("-") for d in deltas)     # below the seasonal naive
    assert len(at.get("plotly_chart")) == 2            # overview and forecast: the detection tab is closed
    names = trace_names(at)
    assert "LSTM, 1 h ahead" in names and "window score" not in names and "Injected anomalies detected" not in metrics(at)
    assert any("held out 2014-11-01 00:00 to 2014-12-31 23:00" in c.value for c in at.caption)
    at.segmented_control(key="seq_hours").set_value(3).run()
    assert not at.exception and "LSTM, 3 h ahead" in trace_names(at)

    open_tab(at, DETECT)
    clean = engine.detect_sequence_anomalies(synthetic)
    shown = metrics(at)
    assert shown["Injected anomalies detected"] == "0 of 0"
    assert shown["False alarms"] == f"{clean.false_alarms} of {len(clean.starts):,} windows"
    assert shown["Threshold"] == f"{clean.threshold:.2f} %"
    assert len(at.get("plotly_chart")) == 2            # overview and detection
    names = trace_names(at)
    assert "window score" in names and "LSTM, 3 h ahead" not in names and "MAE 1 h ahead" not in shown


def test_an_injected_spike_is_flagged_and_can_be_removed():
    at = open_tab(open_page(), DETECT)
    synthetic = engine.synthetic_load_series()
    split = engine.default_split(synthetic)
    when = dt.datetime(2014, 12, 3, 14)
    at.selectbox(key="seq_kind").set_value("spike")
    at.slider(key="seq_position").set_value(when)
    at.slider(key="seq_size").set_value(4.0)
    at.button(key="seq_inject").click().run()
    assert not at.exception and not at.error
    assert metrics(at)["Injected anomalies detected"] == "1 of 1"
    table = next(frame.value for frame in at.dataframe if "Detected" in frame.value.columns)
    assert table.to_dict("records") == [
        {"Start": "2014-12-03 14:00", "Kind": "spike", "Size (std)": "4", "Hours": 1, "Detected": True}]
    start = int(np.searchsorted(synthetic.timestamps, np.datetime64(when, "h")))
    expected = engine.detect_sequence_anomalies(synthetic, [engine.InjectedAnomaly(start, "spike", 4.0, 6)])
    assert start >= split.test.start and expected.detected == [True]
    assert metrics(at)["False alarms"] == f"{expected.false_alarms} of {int(expected.normal.sum()):,} windows"
    assert "before injection" in trace_names(at)

    # A second anomaly, a tiny one that goes unnoticed, then a stricter threshold.
    at.selectbox(key="seq_kind").set_value("level shift").run()    # its duration slider comes alive
    at.slider(key="seq_position").set_value(dt.datetime(2014, 11, 20, 3))
    at.slider(key="seq_size").set_value(0.25)
    at.slider(key="seq_duration").set_value(2)
    at.button(key="seq_inject").click().run()
    assert not at.exception
    assert metrics(at)["Injected anomalies detected"] == "1 of 2"
    at.select_slider(key="seq_percentile").set_value(99.9).run()
    strict = engine.detect_sequence_anomalies(synthetic, percentile=99.9)
    assert metrics(at)["Threshold"] == f"{strict.threshold:.2f} %"

    at.button(key="seq_clear").click().run()
    assert not at.exception
    assert metrics(at)["Injected anomalies detected"] == "0 of 0"
    assert not [f for f in at.dataframe if "Detected" in f.value.columns]


def test_an_uploaded_csv_is_forecast_and_scored():
    at = open_page()
    series = short_series(days=60)
    at.file_uploader(key="seq_csv").upload("site.csv", csv_bytes(series), "text/csv").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="seq_load_column").options == ["load_mw", "temperature_c"]
    assert at.selectbox(key="seq_temperature_column").value == "temperature_c"    # guessed by its name
    loaded = engine.load_series_csv(csv_bytes(series), "load_mw", "temperature_c")
    assert_forecast_shown(at, loaded)
    assert any(plain("site.csv: load_mw with temperature_c") in c.value for c in at.caption)
    assert any("own training part" in c.value for c in at.caption)
    # An anomaly placed in the upload's held-out part is found.
    open_tab(at, DETECT)
    split = engine.default_split(loaded)
    when = loaded.timestamps[split.test.start + 100].astype("datetime64[s]").astype(dt.datetime)
    at.slider(key="seq_position").set_value(when)
    at.selectbox(key="seq_kind").set_value("dropout")
    at.button(key="seq_inject").click().run()
    assert not at.exception and metrics(at)["Injected anomalies detected"] == "1 of 1"
    # Without its temperature the page says so and goes on.
    at.selectbox(key="seq_temperature_column").set_value("(none)").run()
    assert not at.exception and not at.error
    assert any("No temperature column" in i.value for i in at.info)
    assert metrics(at)["Injected anomalies detected"] == "0 of 0"    # another series: its own anomalies
    assert_forecast_shown(open_tab(at, FORECAST), engine.load_series_csv(csv_bytes(series), "load_mw"))


def test_a_csv_with_a_short_gap_says_it_was_filled():
    at = open_page()
    series = short_series(days=40)
    at.file_uploader(key="seq_csv").upload("gappy.csv", csv_bytes(series, drop=slice(300, 303)), "text/csv").run()
    assert not at.exception and not at.error
    assert any(plain("Filled 3 missing hours of 'load_mw'") in i.value for i in at.info)   # shown as text


def test_a_bad_csv_shows_an_error_and_the_page_goes_on():
    at = open_page()
    at.file_uploader(key="seq_csv").upload("photo.csv", BAD_CSVS["png bytes"][0], "text/csv").run()
    assert not at.exception
    assert len(at.error) == 1 and "photo.csv" in at.error[0].value and "binary" in at.error[0].value
    assert any("Showing the built-in series instead." in c.value for c in at.caption)
    assert_forecast_shown(at, engine.synthetic_load_series())
    open_tab(at, DETECT).button(key="seq_inject").click().run()   # the anomaly tools work on the built-in series
    assert not at.exception and metrics(at)["Injected anomalies detected"] == "1 of 1"
    # A good file afterwards replaces the bad one, and the error goes.
    at.file_uploader(key="seq_csv").set_value(("good.csv", csv_bytes(short_series(days=40)), "text/csv")).run()
    assert not at.exception and not at.error
    assert any(plain("good.csv: load_mw") in c.value for c in at.caption)


def test_every_kind_of_bad_csv_is_reported_by_name():
    at = open_page()
    gap = csv_bytes(short_series(days=40), drop=slice(200, 220))
    cases = {**{name: data for name, (data, _, _) in BAD_CSVS.items() if name != "huge"}, "long gap": gap}
    for name, data in cases.items():
        at.file_uploader(key="seq_csv").set_value((f"{name}.csv", data, "text/csv")).run()
        assert not at.exception, (name, [e.value for e in at.exception])
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and f"{name}.csv" in errors[0] and "Traceback" not in errors[0], (name, errors)
        with pytest.raises(engine.SeriesError) as caught:
            engine.load_series_csv(data)
        assert plain(caught.value) in errors[0], name   # it may quote the file: shown as text
        assert len(at.get("plotly_chart")) == 2, name      # the built-in series is shown instead (overview, forecast)


def test_without_torch_training_points_to_the_training_requirements(monkeypatch):
    without_torch(monkeypatch)
    at = open_page()
    at.file_uploader(key="seq_csv").upload("site.csv", csv_bytes(short_series(days=40)), "text/csv").run()
    assert not at.exception and not at.error
    assert any("requirements-train.txt" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "seq_train"]
    assert len(at.get("plotly_chart")) == 2            # serving needs no torch (overview, forecast)


@needs_torch
def test_training_on_an_uploaded_csv_and_using_the_trained_models():
    at = open_page()
    data = csv_bytes(short_series(days=35))
    at.file_uploader(key="seq_csv").upload("site.csv", data, "text/csv").run()
    assert not at.exception and not at.error
    at.slider(key="seq_steps").set_value(100).run()
    at.button(key="seq_train").click().run()
    job = at.session_state["seq_job"]
    try:
        assert not at.exception
        if job.running:
            assert at.get("progress") and at.button(key="seq_stop")
        job = run_to_end(at, "seq_job")
    finally:
        job.stop()
    assert job.state == "done", job.error
    assert not at.error
    assert any("Trained each network for 100 steps" in s.value for s in at.success)
    table = next(f.value for f in at.dataframe if "Model" in f.value.columns)
    assert list(table["Model"]) == ["Shipped forecaster", "Trained on your data"]
    series = engine.load_series_csv(data, "load_mw", "temperature_c")
    trained = {r["Method"]: r for r in engine.forecast_heldout(series, model=job.result.forecaster).errors()}
    scale = logic.Scale.of(series)
    assert scale.unit == "MW"   # from the column's name, load_mw
    assert table["MAE 1 h (MW)"].tolist()[1] == round(trained[engine.SEQUENCE_LSTM_LABEL]["MAE 1 h"], scale.decimals)

    at.toggle(key="seq_use_trained").set_value(True).run()
    assert not at.exception and not at.error
    assert any("Using the models you trained" in i.value for i in at.info)
    assert metrics(at)["MAE 1 h ahead"] == scale.text(trained[engine.SEQUENCE_LSTM_LABEL]["MAE 1 h"])
    detection = engine.detect_sequence_anomalies(series, model=job.result.autoencoder)
    assert metrics(open_tab(at, DETECT))["Threshold"] == f"{detection.threshold:.2f} %"


@needs_torch
def test_a_stopped_training_run_keeps_the_steps_done(monkeypatch):
    hold_at_first_report(monkeypatch, "train_sequence_models")  # the run waits for the stop button there
    at = open_page()
    at.file_uploader(key="seq_csv").upload("site.csv", csv_bytes(short_series(days=35)), "text/csv").run()
    at.slider(key="seq_steps").set_value(100).run()
    at.button(key="seq_train").click().run()
    job = at.session_state["seq_job"]
    try:
        job = wait_for_job(at, "seq_job", lambda j: j.updates or not j.running)
        assert job.running, job.error
        done = job.updates[-1].step
        at.button(key="seq_stop").click().run()
        assert not at.exception
        job = wait_for_job(at, "seq_job", lambda j: not j.running)
    finally:
        job.stop()
    assert job.state == "stopped", job.error
    assert job.result.stopped and job.result.steps_done == done < 200  # the steps done, no more
    assert job.result.autoencoder is None  # stopped while the forecaster trained
    assert any(f"Stopped after {done} of 200 steps; anomalies are still scored by the shipped autoencoder."
               in w.value for w in at.warning)


# --- The page's plain logic ------------------------------------------------------------------
def test_a_temperature_column_is_guessed_by_its_name():
    assert logic.guess_temperature(["load", "Temp_C", "site"], "load") == "Temp_C"
    assert logic.guess_temperature(["load", "°F"], "load") == "°F"
    assert logic.guess_temperature(["load", "site"], "load") == logic.NO_TEMPERATURE
    assert logic.guess_temperature(["temperature"], "temperature") == logic.NO_TEMPERATURE  # not the load itself


def test_a_source_is_named_by_its_bytes_and_columns():
    key = logic.source_key(b"a,b\n", "load", None)
    assert key.endswith("|load|None") and key != logic.source_key(b"a,c\n", "load", None)
    assert logic.source_key(b"a,b\n", "load", "temp") != key


def test_the_session_keeps_the_anomalies_of_one_source():
    state: dict = {}
    items = logic.anomaly_items(state, "a")
    items.append((10, "spike", 3.0, 1))
    assert logic.anomaly_items(state, "a") == [(10, "spike", 3.0, 1)]
    assert logic.anomaly_items(state, "b") == []  # another source: its own, the first one's dropped
    assert logic.anomaly_items(state, "a") == []


def test_an_anomaly_is_placed_at_its_hour_of_the_held_out_part():
    series = short_series(days=35)
    split = engine.default_split(series)
    first, last, middle = logic.held_out_range(series, split)
    assert first < middle < last and (last - first).total_seconds() == (split.test.stop - split.test.start - 1) * 3600
    start, kind, size, hours = logic.anomaly_at(series, middle, "spike", 2, 6)
    assert logic.to_datetime(series.timestamps[start]) == middle
    assert (kind, size, hours) == ("spike", 2.0, 6) and isinstance(size, float)


def test_trained_models_serve_only_their_own_source_and_when_asked():
    from types import SimpleNamespace

    trained = SimpleNamespace(forecaster=b"f", autoencoder=None)
    done = engine.Job(work=lambda job: None, state="done", result=trained)
    assert logic.trained_models(done, "a", "a") is trained
    assert logic.trained_models(done, "a", "b") is None
    for state in ("running", "failed"):
        assert logic.trained_models(engine.Job(work=lambda job: None, state=state, result=trained), "a", "a") is None
    shipped = (engine.SEQUENCE_FORECASTER, engine.SEQUENCE_AUTOENCODER, logic.SHIPPED, False)
    assert logic.models_in_use(None, True) == shipped
    assert logic.models_in_use(trained, False) == shipped
    # A run stopped before the autoencoder trained: the shipped autoencoder scores the windows.
    forecaster, autoencoder, key, own = logic.models_in_use(trained, True)
    assert (forecaster, autoencoder, own) == (b"f", engine.SEQUENCE_AUTOENCODER, True)
    # The cache key names both models: the same forecaster with a trained autoencoder scores
    # windows otherwise, so its results are cached apart.
    finished = logic.models_in_use(SimpleNamespace(forecaster=b"f", autoencoder=b"a"), True)
    assert finished[:2] == (b"f", b"a") and len({key, finished[2], logic.SHIPPED}) == 3


def test_texts_and_tables_of_a_training_run():
    from types import SimpleNamespace

    stopped = SimpleNamespace(steps_done=30, autoencoder=None)
    assert logic.stopped_text(stopped, 100) == (
        "Stopped after 30 of 200 steps; anomalies are still scored by the shipped autoencoder.")
    both = SimpleNamespace(steps_done=150, autoencoder=b"a")
    assert logic.stopped_text(both, 100) == "Stopped after 150 of 200 steps."
    lstm = engine.SEQUENCE_LSTM_LABEL
    shipped = [{"Method": "persistence", "MAE 1 h": 9.0}, {"Method": lstm, "MAE 1 h": 4.04, "RMSE 1 h": 5.0}]
    trained = [{"Method": lstm, "MAE 1 h": 3.96}]
    assert logic.comparison_rows(shipped, trained, logic.Scale(1, "MW")) == [
        {"Model": "Shipped forecaster", "MAE 1 h (MW)": 4.0}, {"Model": "Trained on your data", "MAE 1 h (MW)": 4.0}]


def test_figures_follow_the_datas_scale_and_unit():
    """Half-hourly kWh around 0.5: three decimals and the unit, never "0.1" and "+0.0"."""
    hours = np.arange(np.datetime64("2012-01-01T00", "h"), np.datetime64("2012-01-02T00", "h"))
    small = engine.LoadSeries(hours, np.full(24, 0.45, np.float32), load_unit="kWh")
    scale = logic.Scale.of(small)
    assert (scale.decimals, scale.text(0.0834), scale.text(0.0171, signed=True)) == (3, "0.083 kWh", "+0.017 kWh")
    assert scale.header("MAE 1 h") == "MAE 1 h (kWh)" and scale.columns(["MAE 1 h"]) == {"MAE 1 h (kWh)": "%.3f"}
    large = engine.LoadSeries(hours, np.full(24, 1450.0, np.float32), load_unit="MW")
    assert logic.Scale.of(large).text(25.34) == "25.3 MW"   # at least one decimal
    unitless = engine.LoadSeries(hours, np.full(24, 12.0, np.float32))
    assert logic.Scale.of(unitless).text(1.234) == "1.2" and logic.Scale.of(unitless).header("MAE") == "MAE"
    assert logic.Scale.of(engine.LoadSeries(hours, np.zeros(24, np.float32))).decimals == 2


@pytest.mark.parametrize("column, unit", [("consumption_kwh", "kWh"), ("Demand (MW)", "MW"), ("temp [°C]", "°C"),
                                          ("T (degC)", "°C"), ("load.mw", "MW"), ("kwh", "kWh"), ("load", ""),
                                          ("load_w", ""), ("Power [W]", "W"), ("temperature_c", "")])
def test_a_columns_unit_is_read_from_its_name(column, unit):
    assert engine.unit_in_name(column) == unit
