"""Sequence autoencoders on an hourly load series: an LSTM encoder-decoder forecasts the next three
hours, another rebuilds day-long windows and flags those it rebuilds badly."""

import datetime as dt
import logging

import streamlit as st

import engine
from app_pages.common import job_panel, number_columns, render_open_tab, running_text, start_logged_job
from app_pages.logic import sequence as logic, sources
from app_pages.logic.sequence import BUILTIN, NO_TEMPERATURE
from app_pages.text import plain

log = logging.getLogger(__name__)

MAX_UPLOAD_MB = engine.MAX_CSV_BYTES // 2**20  # also server.maxUploadSize in .streamlit/config.toml
JOB = "seq_job"  # the training run on a user's CSV, what it trained on, and the steps asked
JOB_SOURCE = "seq_job_source"
ASKED = "seq_asked"
USE_TRAINED = "seq_use_trained"
PERCENTILES = [90.0, 95.0, 97.5, 99.0, 99.5, 99.9]
# The two parts are tabs: opening the page draws the forecast's chart, not the detection's too.
FORECAST_TAB, DETECT_TAB = "1. Forecast the next three hours", "2. Find anomalous days"


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
def models_in_use(source: str) -> tuple[object, object, str, bool]:
    """(forecaster, autoencoder, key naming them, whether they are the user's trained ones)."""
    trained = logic.trained_models(st.session_state.get(JOB), st.session_state.get(JOB_SOURCE), source)
    return logic.models_in_use(trained, st.session_state.get(USE_TRAINED, False))


# --- Page ------------------------------------------------------------------------------------
st.title("Sequence autoencoder (time series)")
st.markdown(
    "An autoencoder for sequences reads a window of hourly readings, squeezes it into one code and "
    "unrolls that code into another sequence. Here it works on electricity load and temperature, as in "
    f"the GEFCom2014 example of {sources.link()}: one network forecasts the **next three hours** from the past six, "
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
        guess = logic.guess_temperature(names, load_column)
        temperature_column = columns_col.selectbox(
            "Temperature column (optional)", others, index=others.index(guess), key="seq_temperature_column"
        )
        temperature = None if temperature_column == NO_TEMPERATURE else temperature_column
        series = csv_series(data, upload.name, load_column, temperature)
        source = logic.source_key(data, load_column, temperature)
    except engine.SeriesError as error:   # its message may quote the file's column names and cells
        st.error(f"Could not use **{plain(upload.name)}**: {plain(error)}", icon=":material/error:")
    except Exception:
        log.exception("Reading the CSV %r failed", upload.name)
        st.error(
            f"Something went wrong while reading **{plain(upload.name)}**. Try another file.",
            icon=":material/error:",
        )
    if series is None:
        st.caption("Showing the built-in series instead.")
if series is None:
    series, source = builtin_series(), BUILTIN

split = engine.default_split(series)
parts = split.describe(series)
for note in series.notes:   # notes name the file's columns
    st.info(plain(note), icon=":material/info:")
if series.temperature is None:
    st.info(
        "No temperature column: the networks see the load alone (they were trained with the temperature "
        "hidden now and then, for data like this).",
        icon=":material/thermostat:",
    )
st.caption(logic.series_caption(series, parts, source))
st.plotly_chart(logic.overview_figure(series, split), key="seq_overview")

forecaster, autoencoder, model_key, using_trained = models_in_use(source)
if using_trained:
    st.info(
        "Using the models you trained on this data (see the end of the page).",
        icon=":material/model_training:",
    )

# --- 1. Forecast and 2. anomalous days: tabs of which only the open one runs ----------------
def forecast_part() -> None:
    result = forecast(source, series, model_key, forecaster)   # a damaged model: render_open_tab reports it
    baseline = result.strongest_seasonal_naive()
    hours = st.segmented_control(
        "Hours ahead", [1, 2, 3], default=1, format_func=lambda h: f"{h} h", key="seq_hours", bind="query-params", required=True
    )
    st.plotly_chart(logic.forecast_figure(result, hours, baseline), key="seq_forecast_chart")
    scale = logic.Scale.of(series)   # every figure to the data's scale, with its unit
    metric_cols = st.columns(engine.FORECAST_HORIZON)
    for column, (label, value, delta) in zip(metric_cols, logic.mae_metrics(result, baseline, scale), strict=True):
        column.metric(label, value, delta=delta, delta_color="inverse")
    st.dataframe(logic.error_table(result, scale), hide_index=True, key="seq_errors",
                 column_config=number_columns(scale.columns(logic.ERROR_COLUMNS)))
    st.caption(
        f"Every hour of the held-out part forecast from the six hours before it. The stronger seasonal-naive "
        f"baseline here is **{baseline}**; persistence repeats the last hour seen, hard to beat one hour ahead "
        "and poor three hours ahead."
    )


def detection_part() -> None:
    st.markdown(
        "The autoencoder rebuilds every 24-hour window of the held-out part (one starting at each hour). "
        "A window it rebuilds badly is flagged when its score passes a threshold set from the validation "
        "windows' scores: normal data it never trained on. Place anomalies of your own and see which "
        "windows light up."
    )
    items = logic.anomaly_items(st.session_state, source)
    first, last, default_time = logic.held_out_range(series, split)
    if not first <= st.session_state.get("seq_position", default_time) <= last:
        del st.session_state["seq_position"]  # a place in another series' held-out part: start afresh
    kind_col, when_col, size_col, hours_col = st.columns([1, 2, 1, 1])
    kind = kind_col.selectbox("Kind", list(engine.SERIES_ANOMALY_KINDS), key="seq_kind", bind="query-params")
    when = when_col.slider(
        "Where", first, last, default_time, step=dt.timedelta(hours=1), format="YYYY-MM-DD HH:mm",
        key="seq_position", bind="query-params",
    )
    load_std = engine.SeriesStats.of(series, split.train).load_std
    size = size_col.slider(
        "Size (standard deviations)",
        0.25,
        8.0,
        3.0,
        0.25,
        key="seq_size", bind="query-params",
        disabled=kind not in ("spike", "level shift"),
        help=f"One standard deviation of this load is {load_std:,.0f} {series.load_unit}".strip(),
    )
    duration = hours_col.slider("Hours", 1, 48, 6, key="seq_duration", bind="query-params", disabled=kind == "spike")
    st.caption(engine.SERIES_ANOMALY_KINDS[kind])
    add_col, clear_col, percentile_col = st.columns([1, 1, 3], vertical_alignment="bottom")
    if add_col.button("Inject anomaly", key="seq_inject", type="primary", icon=":material/add:"):
        items.append(logic.anomaly_at(series, when, kind, size, duration))
    if clear_col.button("Remove all", key="seq_clear", disabled=not items, icon=":material/delete:"):
        items.clear()
    percentile = percentile_col.select_slider(
        "Threshold: percentile of the validation windows' scores", PERCENTILES, value=99.0, key="seq_percentile",
        bind="query-params",
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
    st.plotly_chart(logic.detection_figure(found, series), key="seq_detection_chart")
    if found.anomalies:
        st.dataframe(logic.anomaly_rows(found, series), hide_index=True, key="seq_anomaly_table")
    st.caption(
        f"{found.false_alarms_per_1000:.1f} false alarms per 1,000 normal windows. A flagged window is shaded "
        "red above; injected anomalies are outlined in orange. An anomaly counts as detected when a flagged "
        "window overlaps it."
    )


render_open_tab([FORECAST_TAB, DETECT_TAB],
                {FORECAST_TAB: (forecast_part, "forecast"), DETECT_TAB: (detection_part, "find anomalous days")},
                key="seq_tab", log=log)

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
              lambda: logic.loss_figure(job.updates) if job.updates else None)


def start_training(series: engine.LoadSeries, source: str, steps: int) -> bool:
    """False (and a message saying why) when the run cannot start; the last run is then kept."""
    def work(job: engine.Job) -> engine.TrainedSequenceModels:
        return engine.training.train_sequence_models(series, steps=steps, progress=job.report,
                                                      stop=job.should_stop)

    job = start_logged_job(work, "sequence-train", "Training the sequence models", log)
    if job is None:
        return False
    st.session_state[JOB_SOURCE] = source
    st.session_state[ASKED] = steps
    st.session_state[JOB] = job
    return True


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
        st.warning(logic.stopped_text(result, asked), icon=":material/stop_circle:")
    else:
        st.success(
            f"Trained each network for {asked} steps in {result.seconds:.0f} s.", icon=":material/check:"
        )
    shipped = forecast(source, series, logic.SHIPPED, engine.SEQUENCE_FORECASTER).errors()
    trained = forecast(source, series, logic.trained_key(result.forecaster), result.forecaster).errors()
    scale = logic.Scale.of(series)
    st.dataframe(logic.comparison_rows(shipped, trained, scale), hide_index=True, key="seq_trained_table",
                 column_config=number_columns(scale.columns([c for c in logic.ERROR_COLUMNS if c.startswith("MAE")])))
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
    if not engine.training.available():
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
        steps = steps_col.slider("Steps per network", 100, 2000, 400, 100, key="seq_steps", bind="query-params", disabled=running)
        if button_col.button("Train", key="seq_train", type="primary", disabled=running,
                             icon=":material/model_training:"):
            if start_training(series, source, steps):
                st.rerun()
        if job is not None:
            if running:
                training_progress()
            else:
                finished_run(job, series, source)
