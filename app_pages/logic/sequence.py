"""What the Sequence autoencoder page decides and draws: which models serve which data, the
injected anomalies a session keeps, the charts, the tables and the words around them. Plain
numpy and plotly (no streamlit)."""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import MutableMapping
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import engine
from app_pages.figures import decimals_for
from app_pages.text import plain

BUILTIN = "builtin"
NO_TEMPERATURE = "(none)"
ANOMALIES = "seq_anomalies"  # session state: {"source": key, "items": [(start, kind, size, duration), ...]}
SHIPPED = "shipped"  # the cache key of the shipped models
COLOURS = {"actual": "#1f2a44", "lstm": "#3b6fd4", "naive": "#e4572e", "flag": "#e4572e", "inject": "#f2a541"}


def to_datetime(stamp: np.datetime64) -> dt.datetime:
    """A numpy time stamp as a datetime, to the second."""
    return stamp.astype("datetime64[s]").astype(dt.datetime)


def guess_temperature(columns: list[str], load_column: str) -> str:
    """The first other column whose name looks like a temperature, else none."""
    return next(
        (c for c in columns if c != load_column and any(w in c.lower() for w in ("temp", "°", "degc"))),
        NO_TEMPERATURE,
    )


def source_key(data: bytes, load_column: str, temperature_column: str | None) -> str:
    """What names an uploaded series: the file's hash and the columns read from it."""
    return f"{hashlib.sha256(data).hexdigest()[:16]}|{load_column}|{temperature_column}"


def trained_key(model: bytes) -> str:
    """The cache key of a model trained here, named by its ONNX bytes."""
    return "trained-" + hashlib.sha256(model).hexdigest()[:16]


def anomaly_items(state: MutableMapping, source: str) -> list[tuple]:
    """The injected anomalies that `state` (a session) keeps for this data source; another
    source's are dropped."""
    kept = state.get(ANOMALIES)
    if kept is None or kept["source"] != source:
        kept = state[ANOMALIES] = {"source": source, "items": []}
    return kept["items"]


def anomaly_at(series: engine.LoadSeries, when: dt.datetime, kind: str, size: float, duration: int) -> tuple:
    """An injected anomaly as kept: (first hour's index, kind, size, hours)."""
    start = int(np.searchsorted(series.timestamps, np.datetime64(when, "h")))
    return (start, kind, float(size), int(duration))


def held_out_range(
    series: engine.LoadSeries, split: engine.SeriesSplit
) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    """The held-out part's first and last hours, and its middle (where an anomaly goes first)."""
    first = to_datetime(series.timestamps[split.test.start])
    last = to_datetime(series.timestamps[split.test.stop - 1])
    return first, last, first + dt.timedelta(hours=(split.test.stop - split.test.start) // 2)


def trained_models(job: engine.Job | None, job_source: str | None, source: str) -> engine.TrainedSequenceModels | None:
    """The finished (or stopped) training run's models, when they were trained on this source."""
    if job is None or job.running or job.state == "failed" or job_source != source:
        return None
    return job.result


def models_in_use(trained: engine.TrainedSequenceModels | None, use_trained: bool) -> tuple[object, object, str, bool]:
    """(forecaster, autoencoder, key naming them, whether they are the user's trained ones)."""
    if trained is not None and use_trained:
        # The key names both models: a run stopped before its autoencoder trained may have the
        # same forecaster as a finished one (training is seeded), but scores with the shipped one.
        autoencoder = trained.autoencoder or engine.SEQUENCE_AUTOENCODER
        autoencoder_key = trained_key(trained.autoencoder) if trained.autoencoder else SHIPPED
        return trained.forecaster, autoencoder, f"{trained_key(trained.forecaster)}+{autoencoder_key}", True
    return engine.SEQUENCE_FORECASTER, engine.SEQUENCE_AUTOENCODER, SHIPPED, False


@dataclass(frozen=True)
class Scale:
    """How a series' figures are written: to three significant digits of its typical level (at
    least one decimal), with its unit. Half-hourly kWh around 0.5 get three decimals, MW in the
    thousands one."""
    decimals: int
    unit: str = ""

    @classmethod
    def of(cls, series: engine.LoadSeries) -> Scale:
        return cls(decimals_for(series.load, least=1), series.load_unit)

    def text(self, value: float, signed: bool = False) -> str:
        return f"{value:{'+' if signed else ''},.{self.decimals}f} {self.unit}".strip()

    def header(self, name: str) -> str:
        """A table column's name with the unit: "MAE 1 h (kWh)"."""
        return f"{name} ({self.unit})" if self.unit else name

    def columns(self, names: list[str]) -> dict[str, str]:
        """printf formats for st.column_config.NumberColumn, by (headed) column name."""
        return {self.header(name): f"%.{self.decimals}f" for name in names}


ERROR_COLUMNS = [f"{kind} {h} h" for kind in ("MAE", "RMSE") for h in range(1, engine.FORECAST_HORIZON + 1)]


def error_table(result: engine.SequenceForecast, scale: Scale) -> list[dict]:
    """The forecast errors of every method, in the series' unit and to its scale."""
    return [{(scale.header(k) if k in ERROR_COLUMNS else k): (round(v, scale.decimals) if isinstance(v, float) else v)
             for k, v in row.items()} for row in result.errors()]


def mae_metrics(result: engine.SequenceForecast, baseline: str, scale: Scale) -> list[tuple[str, str, str]]:
    """(label, value, delta against `baseline`) of the LSTM's mean absolute error at each horizon."""
    rows = {row["Method"]: row for row in result.errors()}
    lstm, naive = rows[engine.SEQUENCE_LSTM_LABEL], rows[baseline]
    return [
        (f"MAE {h} h ahead", scale.text(lstm[f"MAE {h} h"]),
         f"{scale.text(lstm[f'MAE {h} h'] - naive[f'MAE {h} h'], signed=True)} against seasonal naive")
        for h in range(1, engine.FORECAST_HORIZON + 1)
    ]


def series_caption(series: engine.LoadSeries, parts: dict[str, str], source: str) -> str:
    """The series' name and length, and how it is split."""
    return (
        f"**{plain(series.name)}**, {len(series):,} hours. Split by time, never by random windows: training "
        f"{parts['train']}; validation {parts['validation']}; held out {parts['test']}."
        + ("" if source == BUILTIN else " Your data is scaled by its own training part's mean and spread.")
    )


def anomaly_rows(found: engine.SequenceDetection, series: engine.LoadSeries) -> list[dict]:
    """One row per injected anomaly: where, what, how big, how long and whether it was found."""
    return [
        {"Start": engine.hour_text(series.timestamps[a.start]), "Kind": a.kind,
         "Size (std)": f"{a.size:g}" if a.kind in ("spike", "level shift") else "–",
         "Hours": a.hours.stop - a.hours.start, "Detected": hit}
        for a, hit in zip(found.anomalies, found.detected, strict=True)
    ]


def comparison_rows(shipped: list[dict], trained: list[dict], scale: Scale) -> list[dict]:
    """The LSTM's errors by the shipped forecaster and by the one trained here."""
    comparison = []
    for label, rows in (("Shipped forecaster", shipped), ("Trained on your data", trained)):
        row = next(r for r in rows if r["Method"] == engine.SEQUENCE_LSTM_LABEL)
        comparison.append({"Model": label, **{scale.header(k): round(v, scale.decimals)
                                              for k, v in row.items() if k.startswith("MAE")}})
    return comparison


def stopped_text(result: engine.TrainedSequenceModels, asked: int) -> str:
    """What a stopped run says: the steps done of both networks' and, without an autoencoder,
    what scores the windows."""
    return (
        f"Stopped after {result.steps_done} of {2 * asked} steps"
        + ("" if result.autoencoder else "; anomalies are still scored by the shipped autoencoder")
        + "."
    )


def overview_figure(series: engine.LoadSeries, split: engine.SeriesSplit) -> go.Figure:
    """Weekly means of the whole series (daily ones zigzag with the weekends), with the
    validation and held-out parts shaded."""
    week = 7 * 24 if len(series) >= 8 * 7 * 24 else 24
    starts = np.arange(0, len(series), week)
    counts = np.diff(np.r_[starts, len(series)])
    when = series.timestamps[starts].astype("datetime64[s]")   # plotly encodes these 9x faster than datetimes
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
    """The held-out load, the LSTM's forecast `hours` ahead and the baseline's, a week shown."""
    when, actual, predicted = result.at_horizon(hours)
    when = when.astype("datetime64[s]")
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
        xaxis={"range": [to_datetime(when[0]), to_datetime(when[min(len(when) - 1, 7 * 24)])],
               "rangeslider": {"visible": True}},
    )
    return figure


def detection_figure(found: engine.SequenceDetection, original: engine.LoadSeries) -> go.Figure:
    """The held-out load with the anomalies in it (the original dotted where they differ) and
    flagged windows shaded; below, each window's score at its last hour and the threshold."""
    part = slice(found.starts[0], found.starts[-1] + engine.RECONSTRUCTION_WINDOW)
    when = found.series.timestamps[part].astype("datetime64[s]")
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
    figure.add_trace(go.Scatter(x=ends, y=found.scores, name="window score",
                                line={"color": COLOURS["lstm"], "width": 1}), row=2, col=1)
    figure.add_hline(y=found.threshold, line={"color": COLOURS["flag"], "dash": "dash"}, row=2, col=1,
                     annotation_text=f"threshold ({found.percentile:g}th percentile)")
    # Bands over the upper plot, set in one go (add_vrect redraws the layout for each: 0.1 s here).
    band = {"type": "rect", "xref": "x", "yref": "y domain", "y0": 0, "y1": 1}
    stamps = found.series.timestamps
    shapes = [{**band, "x0": to_datetime(stamps[start]), "x1": to_datetime(stamps[stop - 1]),
               "fillcolor": COLOURS["flag"], "opacity": 0.15, "line": {"width": 0}}
              for start, stop in found.flagged_spans()[:60]]
    half_hour = dt.timedelta(minutes=30)
    shapes += [{**band, "x0": to_datetime(stamps[a.hours.start]) - half_hour,
                "x1": to_datetime(stamps[a.hours.stop - 1]) + half_hour,
                "line": {"color": COLOURS["inject"], "width": 2}} for a in found.anomalies]
    figure.update_layout(shapes=[*figure.layout.shapes, *shapes])
    if found.anomalies:   # open on the week around the latest anomaly
        centre = to_datetime(found.series.timestamps[found.anomalies[-1].start])
        figure.update_xaxes(range=[centre - dt.timedelta(days=3.5), centre + dt.timedelta(days=3.5)])
    figure.update_layout(height=460, margin={"t": 30, "b": 10}, legend={"orientation": "h", "y": -0.12})
    figure.update_yaxes(title_text=f"load {original.load_unit}".strip(), row=1, col=1)
    figure.update_yaxes(title_text="score (%)", row=2, col=1)
    return figure


def loss_figure(updates: list[engine.JobUpdate]) -> go.Figure:
    """The loss of a running job's reports so far, the forecaster's steps then the autoencoder's."""
    figure = go.Figure(go.Scatter(x=[u.step for u in updates], y=[u.loss for u in updates],
                                  mode="lines+markers", line={"color": COLOURS["lstm"]}))
    figure.update_layout(title="Training loss so far (forecaster, then autoencoder)", xaxis_title="step",
                         yaxis_title="mean squared error (z-scores)", height=280, margin={"t": 50, "b": 10})
    return figure
