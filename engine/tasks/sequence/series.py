"""Hourly load and temperature series: a realistic synthetic one made here, users' CSV files,
time-based splits, windows, and injected anomalies. numpy in, numpy out; no torch.

A series is hourly with no gaps: `timestamps` are numpy datetime64[h], one per hour; `load`
is the value to forecast (MW for the built-in series) and `temperature` (degrees C for the
built-in series) is optional context."""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

HOUR = np.timedelta64(1, "h")
SYNTHETIC_START = "2012-01-01"
SYNTHETIC_YEARS = 3


# The lecture's split of GEFCom2014: train to the end of August 2014, validate on September
# and October, test on November and December. The synthetic series starts when GEFCom's does.
SYNTHETIC_VALIDATION_START = "2014-09-01"
SYNTHETIC_TEST_START = "2014-11-01"


# A CSV is split by position: the first 60% trains, the next 20% validates (and calibrates
# anomaly thresholds), the final 20% is held out.
VALIDATION_FRACTION = 0.2
TEST_FRACTION = 0.2
MAX_CSV_BYTES = 20 * 2**20          # the page's upload cap too (server.maxUploadSize)
MAX_HOURS = 100_000                 # about 11 years of hourly readings
MIN_HOURS = 28 * 24                 # four weeks: the weekly baseline needs a week of history
MAX_FILLED_GAP = 6                  # hours: longer runs of missing readings are refused
TIMESTAMP_NAMES = ("timestamp", "datetime", "date_time", "time", "date", "ds")


class SeriesError(ValueError):
    """A series (a user's CSV, usually) cannot be used; the message is fit for the user."""


class NotACSVError(SeriesError):
    pass


class NoNumericColumnError(SeriesError):
    pass


class TimestampError(SeriesError):
    pass


class SeriesGapError(SeriesError):
    pass


class SeriesTooShortError(SeriesError):
    pass


class SeriesTooLargeError(SeriesError):
    pass


@dataclass
class LoadSeries:
    timestamps: np.ndarray                  # (T,) datetime64[h], consecutive hours
    load: np.ndarray                        # (T,) float32
    temperature: np.ndarray | None = None   # (T,) float32, or None when the data has none
    name: str = "series"
    load_unit: str = ""
    temperature_unit: str = ""
    notes: list[str] = field(default_factory=list)   # what was done to the data (fills, resampling)
    split_dates: tuple[str, str] | None = None       # (validation start, test start); None: by fraction

    def __len__(self) -> int:
        return len(self.load)

    def with_load(self, load: np.ndarray) -> LoadSeries:
        """The same series with another load (an injected anomaly, say)."""
        return replace(self, load=np.asarray(load, dtype=np.float32), notes=list(self.notes))


def holidays(years: range) -> set[np.datetime64]:
    """Days on which load looks like a Sunday's: New Year, Memorial Day, Independence Day,
    Labor Day, Thanksgiving and Christmas (the US federal holidays that utilities feel most)."""
    days = set()
    for year in years:
        def weekday_on_or_after(month: int, day: int, weekday: int) -> np.datetime64:
            date = np.datetime64(f"{year}-{month:02d}-{day:02d}", "D")
            return date + (weekday - _weekday(date)) % 7

        days |= {np.datetime64(f"{year}-01-01", "D"), np.datetime64(f"{year}-07-04", "D"),
                 np.datetime64(f"{year}-12-25", "D"),
                 weekday_on_or_after(5, 25, 0),      # Memorial Day: the last Monday of May
                 weekday_on_or_after(9, 1, 0),       # Labor Day: the first Monday of September
                 weekday_on_or_after(11, 22, 3)}     # Thanksgiving: the fourth Thursday of November
    return days


def _weekday(days: np.ndarray | np.datetime64) -> np.ndarray:
    """Monday 0 .. Sunday 6 (1970-01-01 was a Thursday)."""
    return (np.asarray(days, dtype="datetime64[D]").astype(np.int64) + 3) % 7


def _smooth_noise(rng: np.random.Generator, n: int, hours: float) -> np.ndarray:
    """A stationary AR(1) process with correlation time `hours` and unit standard deviation."""
    from scipy.signal import lfilter

    phi = np.exp(-1.0 / hours)
    shocks = rng.standard_normal(n) * np.sqrt(1 - phi ** 2)
    shocks[0] = rng.standard_normal()
    return lfilter([1.0], [1.0, -phi], shocks)


def _daily_profile(hour: np.ndarray, weekend: np.ndarray) -> np.ndarray:
    """Relative load by hour of day: a night trough, a morning ramp, a working-day plateau and an
    evening peak; a later, lower morning at weekends."""
    def bump(centre: float, width: float) -> np.ndarray:
        distance = (hour - centre + 12) % 24 - 12
        return np.exp(-0.5 * (distance / width) ** 2)

    workday = 0.70 + 0.28 * _ramp(hour, 5.5, 9.0) * (1 - _ramp(hour, 20.0, 24.5)) + 0.08 * bump(18.5, 1.8)
    rest = 0.68 + 0.18 * _ramp(hour, 7.5, 11.5) * (1 - _ramp(hour, 20.5, 25.0)) + 0.09 * bump(18.5, 2.0)
    return np.where(weekend, rest, workday)


def _ramp(hour: np.ndarray, start: float, end: float) -> np.ndarray:
    """0 before `start`, 1 after `end`, a smooth step between (hours past midnight may exceed 24)."""
    x = np.clip((hour - start) / (end - start), 0, 1)
    return x * x * (3 - 2 * x)


def synthetic_load_series(years: int = SYNTHETIC_YEARS, seed: int = 0, start: str = SYNTHETIC_START) -> LoadSeries:
    """An hourly electricity load (MW) and temperature (C) series in the manner of GEFCom2014,
    made from a seed. Temperature: a yearly cycle, a daily cycle whose size varies with the
    season and the day's cloud, weather systems lasting days, and hourly jitter. Load: a daily
    profile that differs between working days and weekends (holidays count as Sundays), darker
    evenings lighting up in winter, heating below about 15 C and cooling above about 20 C (both
    growing faster than linearly, and felt through the buildings' thermal lag), slow growth,
    and noise that persists for hours."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    first = np.datetime64(start, "h")
    last = np.datetime64(f"{int(str(start)[:4]) + years}{str(start)[4:]}", "h")
    timestamps = np.arange(first, last, HOUR)
    n = len(timestamps)
    days = timestamps.astype("datetime64[D]")
    hour = (timestamps - days).astype(np.int64).astype(np.float64)
    day_of_year = (days - days.astype("datetime64[Y]")).astype(np.float64)
    season = np.cos(2 * np.pi * (day_of_year - 200) / 365.25)           # +1 in mid July, -1 in mid January
    day_index = (days - days[0]).astype(np.int64)

    # Temperature: a cloudy day has a smaller daily swing; weather systems last a few days.
    cloud = np.clip(rng.normal(1.0, 0.3, day_index[-1] + 1), 0.3, 1.5)[day_index]
    daily_swing = (4.5 + 2.0 * season) * cloud
    temperature = (12.0 + 12.0 * season + daily_swing * np.cos(2 * np.pi * (hour - 15) / 24)
                   + _smooth_noise(rng, n, hours=60) * (3.8 - 1.0 * season)
                   + 0.6 * _smooth_noise(rng, n, hours=4))

    # The buildings feel the temperature of the last half day more than this hour's.
    felt = lfilter([0.15], [1.0, -0.85], temperature - temperature[0]) + temperature[0]
    heating = 38.0 * np.logaddexp(0, (15.0 - felt) / 2.5) * 2.5           # a smooth hinge: MW per C below 15
    cooling = 12.0 * np.clip(felt - 20.0, 0, None) ** 1.7                    # air conditioning grows faster
    holiday_days = np.array(sorted(holidays(range(int(str(start)[:4]) - 1, int(str(start)[:4]) + years + 1))))
    weekend = (_weekday(days) >= 5) | np.isin(days, holiday_days)
    activity = _daily_profile(hour, weekend)
    sunset = 18.2 + 1.6 * season                                            # hours past midnight
    lighting = 110.0 * np.exp(-0.5 * ((hour - sunset - 1.0) / 1.6) ** 2) * (1 - 0.5 * (season + 1) / 2)
    growth = 1 + 0.015 * day_index / 365.25
    load = (2500.0 * activity + lighting + heating * (0.75 + 0.25 * activity)
            + cooling * (0.4 + 0.8 * activity)) * growth
    load *= 1 + 0.012 * _smooth_noise(rng, n, hours=8) + rng.normal(0, 0.004, n)
    lecture = (np.datetime64(SYNTHETIC_VALIDATION_START, "h"), np.datetime64(SYNTHETIC_TEST_START, "h"))
    inside = timestamps[0] < lecture[0] and lecture[1] < timestamps[-1]
    return LoadSeries(timestamps, load.astype(np.float32), temperature.astype(np.float32),
                      name=f"Synthetic load, {years} years hourly (seed {seed})", load_unit="MW",
                      temperature_unit="C",
                      split_dates=(SYNTHETIC_VALIDATION_START, SYNTHETIC_TEST_START) if inside else None)


@dataclass(frozen=True)
class SeriesSplit:
    """Index ranges of a series in time order: train, then validation, then test (held out)."""
    train: slice
    validation: slice
    test: slice

    def describe(self, series: LoadSeries) -> dict[str, str]:
        def span(part: slice) -> str:
            return f"{series.timestamps[part.start]} to {series.timestamps[part.stop - 1]} ({part.stop - part.start} h)"

        return {"train": span(self.train), "validation": span(self.validation), "test": span(self.test)}


def time_split(series: LoadSeries, validation_start: str | None = None,
               test_start: str | None = None) -> SeriesSplit:
    """Split by time, never by random windows: before `validation_start` trains, from
    `test_start` on is held out. Without dates the final TEST_FRACTION is held out and the
    VALIDATION_FRACTION before it validates."""
    n = len(series)
    if validation_start is None or test_start is None:
        test = n - int(round(n * TEST_FRACTION))
        validation = test - int(round(n * VALIDATION_FRACTION))
    else:
        validation, test = (int(np.searchsorted(series.timestamps, np.datetime64(d, "h")))
                            for d in (validation_start, test_start))
    if not 0 < validation < test < n:
        raise SeriesTooShortError("the series is too short to split into training, validation and test parts")
    return SeriesSplit(slice(0, validation), slice(validation, test), slice(test, n))


def default_split(series: LoadSeries) -> SeriesSplit:
    """The series' own split dates (the built-in series has the lecture's), else fractions."""
    return time_split(series, *series.split_dates) if series.split_dates else time_split(series)


@dataclass(frozen=True)
class SeriesStats:
    """Normalisation: z-scores with the training part's mean and standard deviation."""
    load_mean: float
    load_std: float
    temperature_mean: float = 0.0
    temperature_std: float = 1.0

    @classmethod
    def of(cls, series: LoadSeries, part: slice | None = None) -> SeriesStats:
        part = part or slice(None)
        load = series.load[part].astype(np.float64)
        stats = dict(load_mean=float(load.mean()), load_std=float(load.std()) or 1.0)
        if series.temperature is not None:
            temperature = series.temperature[part].astype(np.float64)
            stats.update(temperature_mean=float(temperature.mean()),
                         temperature_std=float(temperature.std()) or 1.0)
        return cls(**stats)

    def features(self, series: LoadSeries) -> np.ndarray:
        """(T, 3) float32: load and temperature as z-scores, and 1 where temperature is known
        (0, with temperature 0, when the series has none)."""
        out = np.zeros((len(series), 3), np.float32)
        out[:, 0] = (series.load - self.load_mean) / self.load_std
        if series.temperature is not None:
            out[:, 1] = (series.temperature - self.temperature_mean) / self.temperature_std
            out[:, 2] = 1.0
        return out

    def load_units(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z, np.float64) * self.load_std + self.load_mean


def window_starts(part: slice, length: int, stride: int = 1) -> np.ndarray:
    """Starts of every window of `length` hours lying wholly inside `part`."""
    return np.arange(part.start, part.stop - length + 1, stride)


def windows(values: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """(len(starts), length, *values.shape[1:]) windows of `values` (copies)."""
    return values[np.asarray(starts)[:, None] + np.arange(length)]


def forecast_origins(part: slice, window: int, horizon: int, inputs_inside: bool = True,
                     history: int = 0) -> np.ndarray:
    """Forecast origins t (the last hour seen) whose targets t+1..t+horizon lie in `part`.
    With inputs_inside, the `window` hours of input lie in `part` too (training never sees
    another part); otherwise the input, and `history` hours for a baseline, may reach back
    before it (a held-out hour is forecast from the hours before it, whatever part they are in)."""
    first = part.start + window - 1 if inputs_inside else max(part.start - 1, window - 1, history - 1)
    return np.arange(first, part.stop - horizon)


SERIES_ANOMALY_KINDS = {
    "spike": "One hour far above normal (a meter glitch): size in standard deviations of the load.",
    "level shift": "The load jumps by `size` standard deviations and stays there for the duration.",
    "flat line": "The reading freezes at its last value for the duration (a stuck sensor).",
    "dropout": "The reading falls to zero for the duration (a lost feed).",
}


@dataclass(frozen=True)
class InjectedAnomaly:
    start: int              # index into the series
    kind: str
    size: float = 4.0       # standard deviations of the load (spike, level shift)
    duration: int = 6       # hours (level shift, flat line, dropout; a spike lasts one hour)

    @property
    def hours(self) -> slice:
        return slice(self.start, self.start + (1 if self.kind == "spike" else self.duration))


def inject_anomalies(load: np.ndarray, anomalies: list[InjectedAnomaly], load_std: float) -> np.ndarray:
    """A copy of `load` with each anomaly written in (later ones over earlier ones)."""
    out = np.array(load, dtype=np.float32, copy=True)
    for anomaly in anomalies:
        if anomaly.kind not in SERIES_ANOMALY_KINDS:
            raise ValueError(f"anomaly kind must be one of {tuple(SERIES_ANOMALY_KINDS)}, got {anomaly.kind!r}")
        if not 0 <= anomaly.start < len(out) or anomaly.duration < 1:
            raise ValueError(f"anomaly at {anomaly.start} lies outside the series of {len(out)} hours")
        hours = anomaly.hours
        if anomaly.kind in ("spike", "level shift"):
            out[hours] += anomaly.size * load_std
        elif anomaly.kind == "flat line":
            out[hours] = out[max(anomaly.start - 1, 0)]
        else:
            out[hours] = 0.0
    return out


@dataclass
class SeriesTable:
    """A CSV read and put on an hourly grid: its timestamps and its numeric columns (NaN where
    a reading is missing), before a load column is picked."""
    timestamps: np.ndarray                      # (T,) datetime64[h], consecutive hours
    columns: dict[str, np.ndarray]              # numeric column name -> (T,) float64
    timestamp_column: str
    name: str = "CSV"
    notes: list[str] = field(default_factory=list)

    def series(self, load_column: str, temperature_column: str | None = None) -> LoadSeries:
        """The picked columns as a gap-free LoadSeries: runs of up to MAX_FILLED_GAP missing hours
        are filled by linear interpolation (and said so in `notes`); longer runs are refused."""
        for column in (load_column, temperature_column):
            if column is not None and column not in self.columns:
                raise NoNumericColumnError(f"there is no numeric column named {column!r}; the numeric "
                                           f"columns are {', '.join(self.columns)}")
        if load_column == temperature_column:
            raise SeriesError("pick different columns for the load and the temperature")
        picked = [self.columns[c] for c in (load_column, temperature_column) if c is not None]
        known = np.all([np.isfinite(v) for v in picked], axis=0)
        if not known.any():
            raise SeriesTooShortError(f"column {load_column!r} has no readings")
        first, last = np.flatnonzero(known)[[0, -1]]
        notes = list(self.notes)
        if first > 0 or last < len(known) - 1:
            notes.append(f"Left out {first} hours at the start and {len(known) - 1 - last} at the end "
                         "without readings.")
        timestamps = self.timestamps[first:last + 1]
        filled = []
        for name, values in zip((load_column, temperature_column), picked):
            values, count = _fill_gaps(values[first:last + 1], timestamps, name)
            filled.append(values)
            if count:
                notes.append(f"Filled {count} missing hours of {name!r} by linear interpolation "
                             f"(gaps of up to {MAX_FILLED_GAP} hours are filled; longer ones are refused).")
        if len(timestamps) < MIN_HOURS:
            raise SeriesTooShortError(
                f"the series has {len(timestamps)} hours of readings; at least {MIN_HOURS} ({MIN_HOURS // 24} "
                "days) are needed, for a week of history before the held-out part")
        name = f"{self.name}: {load_column}" + (f" with {temperature_column}" if temperature_column else "")
        return LoadSeries(timestamps, filled[0].astype(np.float32),
                          None if temperature_column is None else filled[1].astype(np.float32),
                          name=name, notes=notes)


def _fill_gaps(values: np.ndarray, timestamps: np.ndarray, name: str) -> tuple[np.ndarray, int]:
    missing = ~np.isfinite(values)
    if not missing.any():
        return values, 0
    edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    longest = int(np.argmax(stops - starts))
    if stops[longest] - starts[longest] > MAX_FILLED_GAP:
        raise SeriesGapError(
            f"column {name!r} has {stops[longest] - starts[longest]} hours without readings from "
            f"{timestamps[starts[longest]]} to {timestamps[stops[longest] - 1]}; gaps of up to "
            f"{MAX_FILLED_GAP} hours are filled by interpolation, longer ones are refused. Fill that "
            "gap or cut the file before or after it.")
    known = np.flatnonzero(~missing)
    filled = values.copy()
    filled[missing] = np.interp(np.flatnonzero(missing), known, values[known])
    return filled, int(missing.sum())


def _text_of(data: bytes | str | os.PathLike | io.IOBase) -> tuple[str, str]:
    """The CSV's text and a name for it from bytes, a path (str or PathLike) or a file-like
    object, refusing what is too large or not text."""
    name = "CSV"
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        name = path.name
        if path.stat().st_size > MAX_CSV_BYTES:
            raise SeriesTooLargeError(f"the file is {path.stat().st_size / 2**20:.1f} MB; the limit is "
                                      f"{MAX_CSV_BYTES // 2**20} MB")
        data = path.read_bytes()
    elif hasattr(data, "read"):
        name = getattr(data, "name", name)
        data = data.read(MAX_CSV_BYTES + 1)
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_CSV_BYTES:
        raise SeriesTooLargeError(f"the file is larger than the limit of {MAX_CSV_BYTES // 2**20} MB")
    if not data.strip():
        raise NotACSVError("the file is empty")
    if b"\x00" in data[:65536]:
        raise NotACSVError("the file is binary, not a CSV text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
        if sum(not (c.isprintable() or c in "\r\n\t") for c in text[:65536]) > 0.01 * min(len(text), 65536):
            raise NotACSVError("the file is not text: a CSV is plain text with one reading per line") from None
    return text, name


def read_series_csv(data: bytes | str | os.PathLike | io.IOBase, name: str | None = None) -> SeriesTable:
    """Read a CSV of readings: a timestamp column (named like timestamp, datetime, time or date,
    else the first column) and numeric columns. Rows are sorted by time; repeated timestamps
    are averaged; readings more often than hourly are averaged per hour; coarser readings are
    refused. Raises a SeriesError subclass with a message fit for the user."""
    import pandas as pd

    text, found_name = _text_of(data)
    try:
        dialect = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeError, ValueError) as err:
        raise NotACSVError(f"the file could not be read as a CSV: {str(err).splitlines()[0]}") from None
    if frame.shape[1] < 2 or len(frame) == 0:
        raise NotACSVError("the file reads as a single column or no rows: a CSV here needs a timestamp "
                           "column and at least one numeric column, separated by commas")
    frame.columns = [str(c).strip() for c in frame.columns]
    time_column = next((c for c in frame.columns if c.lower() in TIMESTAMP_NAMES), frame.columns[0])
    raw_times = frame[time_column]
    if pd.api.types.is_numeric_dtype(raw_times):
        raise TimestampError(f"the timestamp column {time_column!r} holds numbers, not dates and times "
                             "(write them like 2014-11-01 13:00)")
    dated = raw_times.notna().to_numpy()
    notes = [] if dated.all() else [f"Left out {int((~dated).sum())} rows without a timestamp."]
    frame = frame[dated]
    times, time_notes = _parse_times(frame[time_column].astype(str).str.strip(), time_column)
    numeric = {}
    for column in frame.columns:
        if column == time_column:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.notna().sum() >= 0.5 * len(frame):   # a few "n/a" cells are missing readings
            numeric[column] = values.to_numpy(dtype=np.float64)
    if not numeric:
        raise NoNumericColumnError(f"no column besides {time_column!r} holds numbers "
                                   f"(columns: {', '.join(frame.columns)})")
    return _hourly(times, numeric, time_column, name or found_name, notes + time_notes)


def _parse_times(values, column: str) -> tuple[object, list[str]]:
    """The column as pandas datetimes without a time zone (local clock times as written; UTC
    when offsets differ between rows), and notes on what was done."""
    import pandas as pd

    notes = []
    try:
        times = pd.to_datetime(values, errors="coerce", format="mixed")
    except (ValueError, TypeError):   # offsets that differ between rows
        times = pd.to_datetime(values, errors="coerce", format="mixed", utc=True)
        notes.append("Timestamps carry different time-zone offsets: they were converted to UTC.")
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_localize(None)
    bad = times.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise TimestampError(f"the timestamp column {column!r} has values that are not dates and times, "
                             f"such as {values.iloc[row]!r} on line {values.index[row] + 2}")
    return times, notes


def _hourly(times, numeric: dict[str, np.ndarray], time_column: str, name: str, notes: list[str]) -> SeriesTable:
    import pandas as pd

    frame = pd.DataFrame(numeric, index=pd.DatetimeIndex(times)).sort_index()
    step = pd.Series(frame.index).diff().dropna()
    step = step[step > pd.Timedelta(0)]
    if step.empty:
        raise SeriesTooShortError("the file holds readings for a single time only")
    typical = step.median()
    if typical > pd.Timedelta(hours=1):
        raise TimestampError(f"readings come every {typical}; the models need hourly readings "
                             "(or more often, which are averaged per hour)")
    span = (frame.index[-1] - frame.index[0]) / pd.Timedelta(hours=1)
    if span > MAX_HOURS:
        raise SeriesTooLargeError(f"the readings span {span:,.0f} hours; the limit is {MAX_HOURS:,} "
                                  f"(about {MAX_HOURS // 8766} years)")
    repeated = int(frame.index.duplicated().sum())
    if typical < pd.Timedelta(hours=1):
        notes.append(f"Readings every {typical} averaged per hour.")
    elif repeated:
        notes.append(f"{repeated} repeated timestamps averaged (a change of clocks, perhaps).")
    hourly = frame.groupby(frame.index.floor("h")).mean()
    grid = pd.date_range(hourly.index[0], hourly.index[-1], freq="h")
    missing = len(grid) - len(hourly)
    hourly = hourly.reindex(grid)
    if missing:
        notes.append(f"{missing} hours had no row.")
    return SeriesTable(grid.to_numpy().astype("datetime64[h]"),
                       {c: hourly[c].to_numpy(dtype=np.float64) for c in hourly.columns},
                       time_column, name, notes)


def load_series_csv(data: bytes | str | os.PathLike | io.IOBase, load_column: str | None = None,
                    temperature_column: str | None = None) -> LoadSeries:
    """read_series_csv, then the load column (default: the first numeric column) and an
    optional temperature column as a LoadSeries."""
    table = read_series_csv(data)
    return table.series(load_column or next(iter(table.columns)), temperature_column)
