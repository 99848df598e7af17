"""Sequence autoencoders on an hourly load series: an LSTM encoder-decoder forecasts the next three
hours, another rebuilds day-long windows and flags those it rebuilds badly."""

import datetime as dt
import hashlib
import importlib.util
import logging

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import engine
from app_pages.common import job_panel, running_text, start_logged_job

log = logging.getLogger(__name__)

MAX_UPLOAD_MB = engine.MAX_CSV_BYTES // 2**20  # also server.maxUploadSize in .streamlit/config.toml
HAS_TORCH = importlib.util.find_spec("torch") is not None  # serving-only installs have no torch
BUILTIN = "builtin"
NO_TEMPERATURE = "(none)"
ANOMALIES = "seq_anomalies"  # session state: {"source": key, "items": [(start, kind, size, duration), ...]}
JOB = "seq_job"  # the training run on a user's CSV, what it trained on, and the steps asked
JOB_SOURCE = "seq_job_source"
ASKED = "seq_asked"
USE_TRAINED = "seq_use_trained"
PERCENTILES = [90.0, 95.0, 97.5, 99.0, 99.5, 99.9]
COLOURS = {"actual": "#1f2a44", "lstm": "#3b6fd4", "naive": "#e4572e", "flag": "#e4572e", "inject": "#f2a541"}


# --- Cached helpers --------------------------------------------------------------------------
@st.cache_resource(show_spinner="Making the built-in series…")
def builtin_series() -> engine.LoadSeries:
    return engine.synthetic_load_series()


@st.cache_data(max_entries=4, show_spinner="Reading the CSV…")
def read_table(data: bytes, name: str) -> engine.SeriesTable:
    return engine.read_series_csv(data, name=name)


@st.cache_data(max_entries=8, show_spinner=False)
def csv_series(data: bytes, name: str, load_column: str, temperature_column: str | None) -> engine.LoadSeries:
    return read_table(data, name).series(load_column, temperature_column)


# The series and the models are not hashed (`_series`, `_model`): their keys say what they are.
@st.cache_data(max_entries=8, show_spinner="Forecasting…")
def forecast(source: str, _series: engine.LoadSeries, model_key: str, _model) -> engine.SequenceForecast:
    return engine.forecast_heldout(_series, model=_model)


@st.cache_data(max_entries=16, show_spinner="Scoring every window…")
def detect(
    source: str, _series: engine.LoadSeries, anomalies: tuple, percentile: float, model_key: str, _model
) -> engine.SequenceDetection:
    items = [engine.InjectedAnomaly(*a) for a in anomalies]
    return engine.detect_sequence_anomalies(_series, items, percentile=percentile, model=_model)


# --- Plain helpers ---------------------------------------------------------------------------
def to_datetime(stamp: np.datetime64) -> dt.datetime:
    return stamp.astype("datetime64[s]").astype(dt.datetime)


def guess_temperature(columns: list[str], load_column: str) -> str:
    """The first other column whose name looks like a temperature, else none."""
    return next(
        (c for c in columns if c != load_column and any(w in c.lower() for w in ("temp", "°", "degc"))),
        NO_TEMPERATURE,
    )


def anomaly_items(source: str) -> list[tuple]:
    """The injected anomalies of this data source (another source's are dropped)."""
    state = st.session_state.get(ANOMALIES)
    if state is None or state["source"] != source:
        state = st.session_state[ANOMALIES] = {"source": source, "items": []}
    return state["items"]


def anomaly_at(series: engine.LoadSeries, when: dt.datetime, kind: str, size: float, duration: int) -> tuple:
    start = int(np.searchsorted(series.timestamps, np.datetime64(when, "h")))
    return (start, kind, float(size), int(duration))


def models_in_use(source: str) -> tuple[object, object, str, bool]:
    """(forecaster, autoencoder, key naming them, whether they are the user's trained ones)."""
    result = trained_models(source)
    if result is not None and st.session_state.get(USE_TRAINED, False):
        key = "trained-" + hashlib.sha256(result.forecaster).hexdigest()[:16]
        return result.forecaster, result.autoencoder or engine.SEQUENCE_AUTOENCODER, key, True
    return engine.SEQUENCE_FORECASTER, engine.SEQUENCE_AUTOENCODER, "shipped", False


def trained_models(source: str) -> engine.TrainedSequenceModels | None:
    """The finished (or stopped) training run's models, when they were trained on this source."""
    job = st.session_state.get(JOB)
    if job is None or job.running or job.state == "failed" or st.session_state.get(JOB_SOURCE) != source:
        return None
    return job.result


def error_table(result: engine.SequenceForecast) -> list[dict]:
    return [
        {k: (round(v, 1) if isinstance(v, float) else v) for k, v in row.items()} for row in result.errors()
    ]


def overview_figure(series: engine.LoadSeries, split: engine.SeriesSplit) -> go.Figure:
    """Weekly means of the whole series (daily ones zigzag with the weekends), with the
    validation and held-out parts shaded."""
    week = 7 * 24 if len(series) >= 8 * 7 * 24 else 24
    starts = np.arange(0, len(series), week)
    counts = np.diff(np.r_[starts, len(series)])
    when = series.timestamps[starts].astype("datetime64[s]").astype(dt.datetime)
    label = "weekly" if week > 24 else "daily"

    def mean_of(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values, starts) / counts

    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(
        go.Scatter(x=when, y=mean_of(series.load), name=f"load, {label} mean",
                   line={"color": COLOURS["actual"], "width": 1.5})
    )
    if series.temperature is not None:
        figure.add_trace(
            go.Scatter(x=when, y=mean_of(series.temperature), name=f"temperature, {label} mean",
                       line={"color": COLOURS["naive"], "width": 1}, opacity=0.7),
            secondary_y=True,
        )
    for part, label, colour, side in ((split.validation, "validation", "#8a8a8a", "top left"),
                                      (split.test, "held out", "#3b6fd4", "top right")):
        figure.add_vrect(x0=to_datetime(series.timestamps[part.start]),
                         x1=to_datetime(series.timestamps[part.stop - 1]), fillcolor=colour, opacity=0.12,
                         line_width=0, annotation_text=label, annotation_position=side)
    figure.update_layout(height=260, margin={"t": 30, "b": 10}, legend={"orientation": "h", "y": -0.2})
    figure.update_yaxes(title_text=f"load {series.load_unit}".strip(), secondary_y=False)
    figure.update_yaxes(title_text=f"temperature {series.temperature_unit}".strip(), secondary_y=True)
    return figure


def forecast_figure(result: engine.SequenceForecast, hours: int, baseline: str) -> go.Figure:
    when, actual, predicted = result.at_horizon(hours)
    when = when.astype("datetime64[s]").astype(dt.datetime)
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=when, y=actual, name="actual",
                                line={"color": COLOURS["actual"], "width": 2}))
    figure.add_trace(go.Scatter(x=when, y=predicted, name=f"LSTM, {hours} h ahead",
                                line={"color": COLOURS["lstm"]}))
    figure.add_trace(go.Scatter(x=when, y=result.baselines[baseline][:, hours - 1], name=baseline,
                                line={"color": COLOURS["naive"], "dash": "dot"}))
    figure.update_layout(
        height=400, margin={"t": 40, "b": 10}, legend={"orientation": "h", "y": 1.0, "yanchor": "bottom"},
        yaxis_title=f"load {result.load_unit}".strip(),
        xaxis={"range": [when[0], when[min(len(when) - 1, 7 * 24)]], "rangeslider": {"visible": True}},
    )
    return figure


def detection_figure(found: engine.SequenceDetection, original: engine.LoadSeries) -> go.Figure:
    """The held-out load with the anomalies in it (the original dotted where they differ) and
    flagged windows shaded; below, each window's score at its last hour and the threshold."""
    part = slice(found.starts[0], found.starts[-1] + engine.RECONSTRUCTION_WINDOW)
    when = found.series.timestamps[part].astype("datetime64[s]").astype(dt.datetime)
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.62, 0.38], vertical_spacing=0.06)
    changed = found.series.load[part] != original.load[part]
    if changed.any():
        before = np.where(changed, original.load[part], np.nan)
        figure.add_trace(go.Scatter(x=when, y=before, name="before injection", mode="lines+markers",
                                    marker={"size": 4},   # a spike changes one hour: a point, not a line
                                    line={"color": "#8a8a8a", "dash": "dot"}), row=1, col=1)
    figure.add_trace(go.Scatter(x=when, y=found.series.load[part], name="load",
                                line={"color": COLOURS["actual"], "width": 1.5}), row=1, col=1)
    ends = (found.series.timestamps[found.starts + engine.RECONSTRUCTION_WINDOW - 1]).astype("datetime64[s]")
    figure.add_trace(go.Scatter(x=ends.astype(dt.datetime), y=found.scores, name="window score",
                                line={"color": COLOURS["lstm"], "width": 1}), row=2, col=1)
    figure.add_hline(y=found.threshold, line={"color": COLOURS["flag"], "dash": "dash"}, row=2, col=1,
                     annotation_text=f"threshold ({found.percentile:g}th percentile)")
    for start, stop in found.flagged_spans()[:60]:
        figure.add_vrect(x0=to_datetime(found.series.timestamps[start]),
                         x1=to_datetime(found.series.timestamps[stop - 1]), fillcolor=COLOURS["flag"],
                         opacity=0.15, line_width=0, row=1, col=1)
    for anomaly in found.anomalies:
        hours = anomaly.hours
        figure.add_vrect(x0=to_datetime(found.series.timestamps[hours.start]) - dt.timedelta(minutes=30),
                         x1=to_datetime(found.series.timestamps[hours.stop - 1]) + dt.timedelta(minutes=30),
                         line={"color": COLOURS["inject"], "width": 2}, row=1, col=1)
    if found.anomalies:   # open on the week around the latest anomaly
        centre = to_datetime(found.series.timestamps[found.anomalies[-1].start])
        figure.update_xaxes(range=[centre - dt.timedelta(days=3.5), centre + dt.timedelta(days=3.5)])
    figure.update_layout(height=460, margin={"t": 30, "b": 10}, legend={"orientation": "h", "y": -0.12})
    figure.update_yaxes(title_text=f"load {original.load_unit}".strip(), row=1, col=1)
    figure.update_yaxes(title_text="score (%)", row=2, col=1)
    return figure


def loss_figure(updates: list) -> go.Figure:
    figure = go.Figure(go.Scatter(x=[u.step for u in updates], y=[u.loss for u in updates],
                                  mode="lines+markers", line={"color": COLOURS["lstm"]}))
    figure.update_layout(title="Training loss so far (forecaster, then autoencoder)", xaxis_title="step",
                         yaxis_title="mean squared error (z-scores)", height=280, margin={"t": 50, "b": 10})
    return figure


# --- Page ------------------------------------------------------------------------------------
st.title("Sequence autoencoder (time series)")
st.markdown(
    "An autoencoder for sequences reads a window of hourly readings, squeezes it into one code and "
    "unrolls that code into another sequence. Here it works on electricity load and temperature, as in "
    "the GEFCom2014 lecture example: one network forecasts the **next three hours** from the past six, "
    "another rebuilds **day-long windows** so that a badly rebuilt day stands out as an anomaly. Use the "
    "built-in series (three years, made here from a seed) or drop a CSV of your own."
)

# --- Data ------------------------------------------------------------------------------------
upload_col, columns_col = st.columns([3, 2], gap="large")
upload = upload_col.file_uploader(
    f"Drop a CSV: a timestamp column and numeric columns, hourly or more often (up to {MAX_UPLOAD_MB} MB)",
    type=["csv", "txt", "tsv"],
    max_upload_size=MAX_UPLOAD_MB,
    key="seq_csv",
)
series, source = None, BUILTIN
if upload is not None:
    data = upload.getvalue()
    try:
        table = read_table(data, upload.name)
        names = list(table.columns)
        load_column = columns_col.selectbox("Load column", names, key="seq_load_column")
        others = [NO_TEMPERATURE] + [c for c in names if c != load_column]
        guess = guess_temperature(names, load_column)
        temperature_column = columns_col.selectbox(
            "Temperature column (optional)", others, index=others.index(guess), key="seq_temperature_column"
        )
        temperature = None if temperature_column == NO_TEMPERATURE else temperature_column
        series = csv_series(data, upload.name, load_column, temperature)
        source = f"{hashlib.sha256(data).hexdigest()[:16]}|{load_column}|{temperature}"
    except engine.SeriesError as error:
        st.error(f"Could not use **{upload.name}**: {error}", icon=":material/error:")
    except Exception:
        log.exception("Reading the CSV %r failed", upload.name)
        st.error(
            f"Something went wrong while reading **{upload.name}**. Try another file.",
            icon=":material/error:",
        )
    if series is None:
        st.caption("Showing the built-in series instead.")
if series is None:
    series, source = builtin_series(), BUILTIN

split = engine.default_split(series)
parts = split.describe(series)
for note in series.notes:
    st.info(note, icon=":material/info:")
if series.temperature is None:
    st.info(
        "No temperature column: the networks see the load alone (they were trained with the temperature "
        "hidden now and then, for data like this).",
        icon=":material/thermostat:",
    )
st.caption(
    f"**{series.name}**, {len(series):,} hours. Split by time, never by random windows: training "
    f"{parts['train']}; validation {parts['validation']}; held out {parts['test']}."
    + ("" if source == BUILTIN else " Your data is scaled by its own training part's mean and spread.")
)
st.plotly_chart(overview_figure(series, split), key="seq_overview")

forecaster, autoencoder, model_key, using_trained = models_in_use(source)
if using_trained:
    st.info(
        "Using the models you trained on this data (see the end of the page).",
        icon=":material/model_training:",
    )

# --- 1. Forecast -----------------------------------------------------------------------------
st.header("1. Forecast the next three hours")
try:
    result = forecast(source, series, model_key, forecaster)
except engine.ModelError as error:  # a missing or damaged model file: say which, and how to rebuild it
    st.error(str(error), icon=":material/error:")
    st.stop()
baseline = result.strongest_seasonal_naive()
rows = {row["Method"]: row for row in result.errors()}
hours = st.segmented_control(
    "Hours ahead", [1, 2, 3], default=1, format_func=lambda h: f"{h} h", key="seq_hours", required=True
)
st.plotly_chart(forecast_figure(result, hours, baseline), key="seq_forecast_chart")
metric_cols = st.columns(engine.FORECAST_HORIZON)
for h, column in zip(range(1, engine.FORECAST_HORIZON + 1), metric_cols, strict=True):
    lstm, naive = rows[engine.SEQUENCE_LSTM_LABEL], rows[baseline]
    column.metric(
        f"MAE {h} h ahead",
        f"{lstm[f'MAE {h} h']:,.1f} {series.load_unit}".strip(),
        delta=f"{lstm[f'MAE {h} h'] - naive[f'MAE {h} h']:+,.1f} against seasonal naive",
        delta_color="inverse",
    )
st.dataframe(error_table(result), hide_index=True, key="seq_errors")
st.caption(
    f"Every hour of the held-out part forecast from the six hours before it. The stronger seasonal-naive "
    f"baseline here is **{baseline}**; persistence repeats the last hour seen, hard to beat one hour ahead "
    "and poor three hours ahead."
)

# --- 2. Anomaly detection --------------------------------------------------------------------
st.header("2. Find anomalous days")
st.markdown(
    "The autoencoder rebuilds every 24-hour window of the held-out part (one starting at each hour). "
    "A window it rebuilds badly is flagged when its score passes a threshold set from the validation "
    "windows' scores: normal data it never trained on. Place anomalies of your own and see which "
    "windows light up."
)
items = anomaly_items(source)
first = to_datetime(series.timestamps[split.test.start])
last = to_datetime(series.timestamps[split.test.stop - 1])
default_time = first + dt.timedelta(hours=(split.test.stop - split.test.start) // 2)
if not first <= st.session_state.get("seq_position", default_time) <= last:
    del st.session_state["seq_position"]  # a place in another series' held-out part: start afresh
kind_col, when_col, size_col, hours_col = st.columns([1, 2, 1, 1])
kind = kind_col.selectbox("Kind", list(engine.SERIES_ANOMALY_KINDS), key="seq_kind")
when = when_col.slider(
    "Where", first, last, default_time, step=dt.timedelta(hours=1), format="YYYY-MM-DD HH:mm",
    key="seq_position",
)
load_std = engine.SeriesStats.of(series, split.train).load_std
size = size_col.slider(
    "Size (standard deviations)",
    0.25,
    8.0,
    3.0,
    0.25,
    key="seq_size",
    disabled=kind not in ("spike", "level shift"),
    help=f"One standard deviation of this load is {load_std:,.0f} {series.load_unit}".strip(),
)
duration = hours_col.slider("Hours", 1, 48, 6, key="seq_duration", disabled=kind == "spike")
st.caption(engine.SERIES_ANOMALY_KINDS[kind])
add_col, clear_col, percentile_col = st.columns([1, 1, 3], vertical_alignment="bottom")
if add_col.button("Inject anomaly", key="seq_inject", type="primary", icon=":material/add:"):
    items.append(anomaly_at(series, when, kind, size, duration))
if clear_col.button("Remove all", key="seq_clear", disabled=not items, icon=":material/delete:"):
    items.clear()
percentile = percentile_col.select_slider(
    "Threshold: percentile of the validation windows' scores", PERCENTILES, value=99.0, key="seq_percentile"
)

found = detect(source, series, tuple(items), percentile, model_key, autoencoder)
normal = int(found.normal.sum())
detected_col, alarms_col, threshold_col = st.columns(3)
detected_col.metric("Injected anomalies detected", f"{sum(found.detected)} of {len(found.anomalies)}")
alarms_col.metric(
    "False alarms",
    f"{found.false_alarms} of {normal:,} windows",
    help="Flagged windows that overlap no injected anomaly",
)
threshold_col.metric(
    "Threshold",
    f"{found.threshold:.2f} %",
    help=f"The {percentile:g}th percentile of {found.calibration_windows:,} validation windows' scores",
)
st.plotly_chart(detection_figure(found, series), key="seq_detection_chart")
if found.anomalies:
    st.dataframe(
        [
            {"Start": str(series.timestamps[a.start]), "Kind": a.kind,
             "Size (std)": a.size if a.kind in ("spike", "level shift") else None,
             "Hours": a.hours.stop - a.hours.start, "Detected": hit}
            for a, hit in zip(found.anomalies, found.detected, strict=True)
        ],
        hide_index=True,
        key="seq_anomaly_table",
    )
st.caption(
    f"{found.false_alarms_per_1000:.1f} false alarms per 1,000 normal windows. A flagged window is shaded "
    "red above; injected anomalies are outlined in orange. An anomaly counts as detected when a flagged "
    "window overlaps it."
)

# --- How it works ----------------------------------------------------------------------------
st.subheader("How the sequence autoencoder works")
st.markdown(
    """
An LSTM reads the window one hour at a time, updating its state $h_t$ from the hour's readings
$x_t$ (load and temperature, scaled to z-scores). Its last state becomes the **code** $z$. The code
is repeated once per output hour and a second LSTM unrolls it into a sequence, read out hour by hour:
"""
)
st.latex(
    r"h_t = \mathrm{LSTM}_{\mathrm{enc}}(x_t, h_{t-1}),\quad z = W h_T,\quad"
    r"\hat y_{1..H} = \mathrm{Dense}\big(\mathrm{LSTM}_{\mathrm{dec}}(z, z, \dots, z)\big)"
)
st.markdown(
    """
The **forecaster** decodes the next $H = 3$ hours from $T = 6$ hours in (as the lecture's
`LSTM → RepeatVector → LSTM → TimeDistributed(Dense)`); it predicts the change from the last hour
seen. The **autoencoder** decodes its own 24-hour window from an 8-number code: too small to copy
the window, so it can only rebuild what normal days look like. A window's score is the rebuilt
load's error relative to the level it expected,
"""
)
st.latex(r"s = 100 \cdot \frac{\sqrt{\tfrac{1}{24}\sum_t (y_t - \hat y_t)^2}}{\max(\bar{\hat y}, \sigma)}")
st.markdown(
    "so the noisier, higher winter load is not flagged for being higher. A seasonal-naive forecast "
    "repeats the value 24 or 168 hours earlier; it knows the daily and weekly rhythm but not today's weather."
)


# --- Training on your data -------------------------------------------------------------------
def training_progress() -> None:
    job = st.session_state.get(JOB)
    if job is None:
        return
    job_panel(job, "seq", lambda: running_text(job, "Stopping: exporting the models as they are after the steps done…"),
              lambda: loss_figure(job.updates) if job.updates else None)


def start_training(series: engine.LoadSeries, source: str, steps: int) -> None:
    def work(job: engine.Job) -> engine.TrainedSequenceModels:
        return engine.train_sequence_models(series, steps=steps, progress=job.reporter(), stop=job.should_stop)

    st.session_state[JOB_SOURCE] = source
    st.session_state[ASKED] = steps
    st.session_state[JOB] = start_logged_job(work, "sequence-train", "Training the sequence models", log)


def finished_run(job: engine.Job, series: engine.LoadSeries, source: str) -> None:
    if job.state == "failed":
        st.error(f"Training failed: {job.error}", icon=":material/error:")
        return
    result: engine.TrainedSequenceModels | None = job.result
    if result is None:
        st.info("The run was stopped before it started.", icon=":material/stop_circle:")
        return
    if st.session_state.get(JOB_SOURCE) != source:
        st.info(
            "The last run trained on other data; train again on this data to compare.", icon=":material/info:"
        )
        return
    asked = st.session_state.get(ASKED, result.steps)
    if result.stopped:
        st.warning(
            f"Stopped after {result.steps_done} of {2 * asked} steps"
            + ("" if result.autoencoder else "; anomalies are still scored by the shipped autoencoder")
            + ".",
            icon=":material/stop_circle:",
        )
    else:
        st.success(
            f"Trained each network for {asked} steps in {result.seconds:.0f} s.", icon=":material/check:"
        )
    shipped = forecast(source, series, "shipped", engine.SEQUENCE_FORECASTER).errors()
    trained = forecast(source, series, "trained-" + hashlib.sha256(result.forecaster).hexdigest()[:16],
                       result.forecaster).errors()
    comparison = []
    for label, rows in (("Shipped forecaster", shipped), ("Trained on your data", trained)):
        row = next(r for r in rows if r["Method"] == engine.SEQUENCE_LSTM_LABEL)
        comparison.append({"Model": label, **{k: round(v, 1) for k, v in row.items() if k.startswith("MAE")}})
    st.dataframe(comparison, hide_index=True, key="seq_trained_table")
    st.toggle(
        "Use my trained models above",
        key=USE_TRAINED,
        persist_state="session",
        help="Forecast and score windows with the models trained on your data for the rest of your session.",
    )


with st.expander(
    "Train on your own data", expanded=JOB in st.session_state, icon=":material/model_training:"
):
    st.markdown(
        "Train both networks from scratch on the training part of your CSV, in the background (a minute or "
        "two): the held-out part stays unseen, so the comparison with the shipped models is fair."
    )
    if not HAS_TORCH:
        st.info(
            "Training needs PyTorch, which this installation (made for serving) does not have. Install it "
            "with `pip install -r requirements-train.txt` and restart the app.",
            icon=":material/info:",
        )
    elif source == BUILTIN:
        st.info(
            "Drop a CSV at the top of the page to train on it; the built-in series has its shipped models.",
            icon=":material/upload_file:",
        )
    else:
        job = st.session_state.get(JOB)
        running = job is not None and job.running
        steps_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
        steps = steps_col.slider("Steps per network", 100, 2000, 400, 100, key="seq_steps", disabled=running)
        if button_col.button("Train", key="seq_train", type="primary", disabled=running,
                             icon=":material/model_training:"):
            start_training(series, source, steps)
            st.rerun()
        if job is not None:
            if running:
                training_progress()
            else:
                finished_run(job, series, source)
