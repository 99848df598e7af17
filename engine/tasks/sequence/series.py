"""Hourly load and temperature series: a realistic synthetic one made here, users' CSV files,
time-based splits, windows, and injected anomalies. numpy in, numpy out; no torch.

A series is hourly with no gaps: `timestamps` are numpy datetime64[h], one per hour; `load`
is the value to forecast (MW for the built-in series) and `temperature` (degrees C for the
built-in series) is optional context."""
from __future__ import annotations

import functools
import io
import os
import re
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from engine.core import precomputed

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
# Limits that keep a hostile CSV cheap: it is refused (or cut short) before it costs much.
MAX_COLUMNS = 200                   # columns a CSV may have, the timestamp's included (counted before parsing)
MAX_CELLS = 5_000_000               # hours spanned x numeric columns, checked before any hourly grid is made
MAX_ABS_VALUE = 1e12                # readings beyond it, or infinite, are taken as missing (hourly means stay finite)
MAX_MIXED_TIMES = 2_000             # timestamps in no one format that are read one by one (slow: dateutil)
# Formats pandas does not guess from a value but spreadsheets write (two-digit years, AM and PM).
COMMON_TIME_FORMATS = ("%m/%d/%y %H:%M", "%d/%m/%y %H:%M", "%d.%m.%y %H:%M", "%m/%d/%Y %I:%M:%S %p",
                       "%m/%d/%Y %I:%M %p", "%m/%d/%y %I:%M %p", "%d/%m/%Y %I:%M:%S %p", "%b %d %Y %I:%M %p")
DELIMITERS = ",;\t|"                # the fields' separators a CSV may use, the first preferred on a tie
SNIFF_LINES = 50                    # lines, and characters, the delimiter is guessed from
SNIFF_CHARS = 65_536
SHOWN_CHARS = 40                    # a value quoted in a message is cut to this
MAX_ABS_TEXT = f"{MAX_ABS_VALUE:.0e}".replace("e+", "e")


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


# Units a column's name may carry ("load_kwh", "Demand (MW)", "temp [°C]"), as they are written.
UNITS = {"kwh": "kWh", "mwh": "MWh", "gwh": "GWh", "wh": "Wh", "kw": "kW", "mw": "MW", "gw": "GW", "w": "W",
         "°c": "°C", "degc": "°C", "celsius": "°C", "°f": "°F", "degf": "°F", "fahrenheit": "°F", "k": "K",
         "kva": "kVA", "a": "A", "v": "V", "m3": "m³", "l": "l", "%": "%"}


def unit_in_name(column: str) -> str:
    """The unit a column's name ends with, in brackets or after a separator ("load_kwh" -> "kWh",
    "Demand (MW)" -> "MW", "temp °C" -> "°C"); "" when it names none. Single letters count only
    in brackets: "load_w" is too likely a word's end."""
    name = column.strip().lower()
    if len(name) > 1 and name in UNITS:
        return UNITS[name]
    if match := re.search(r"[(\[]\s*([^()\[\]]+?)\s*[)\]]\s*$", name):
        return UNITS.get(match.group(1).replace(" ", ""), "")
    word = re.split(r"[\s_\-./]+", name)[-1] if re.search(r"[\s_\-./]", name) else ""
    return UNITS.get(word, "") if len(word) > 1 else ""


def hour_text(stamp: np.datetime64) -> str:
    """A time stamp as people write it: "2012-01-01 00:00"."""
    return str(np.datetime64(stamp, "m")).replace("T", " ")


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


@precomputed.stored("sequence_series")
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
            return (f"{hour_text(series.timestamps[part.start])} to {hour_text(series.timestamps[part.stop - 1])} "
                    f"({part.stop - part.start:,} h)")

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
    """A CSV read and averaged per hour, before a load column is picked: the hours that have
    rows and each numeric column's mean in them (NaN where a column has no reading that hour).
    A column is put on the hourly grid only when it is asked for (`columns[name]`, `series`), so
    a file whose rows are far apart never costs more than its rows."""
    hours: np.ndarray                           # (R,) datetime64[h], increasing: the hours that have rows
    readings: dict[str, np.ndarray]             # numeric column name -> (R,) float64 hourly means
    timestamp_column: str
    name: str = "CSV"
    notes: list[str] = field(default_factory=list)

    @property
    def timestamps(self) -> np.ndarray:
        """(T,) datetime64[h]: every hour from the first row's to the last's."""
        return np.arange(self.hours[0], self.hours[-1] + HOUR, HOUR)

    @property
    def columns(self) -> HourlyColumns:
        """Numeric column name -> (T,) float64 on the hourly grid of `timestamps`, NaN where a
        reading is missing; each column is put on the grid when it is looked up."""
        return HourlyColumns(self)

    def series(self, load_column: str, temperature_column: str | None = None) -> LoadSeries:
        """The picked columns as a gap-free LoadSeries: runs of up to MAX_FILLED_GAP missing hours
        are filled by linear interpolation (and said so in `notes`); longer runs are refused
        before anything is put on the hourly grid."""
        for column in (load_column, temperature_column):
            if column is not None and column not in self.readings:
                raise NoNumericColumnError(f"there is no numeric column named {_shown(column)}; the numeric "
                                           f"columns are {_names(self.readings)}")
        if load_column == temperature_column:
            raise SeriesError("pick different columns for the load and the temperature")
        names = [c for c in (load_column, temperature_column) if c is not None]
        known = np.logical_and.reduce([np.isfinite(self.readings[c]) for c in names])
        if not known.any():
            raise SeriesTooShortError(f"column {_shown(load_column)} has no readings")
        first, last = np.flatnonzero(known)[[0, -1]]
        start, stop = self.hours[first], self.hours[last]
        notes = list(self.notes)
        before, after = _hours_between(self.hours[0], start), _hours_between(stop, self.hours[-1])
        if before or after:
            notes.append(f"Left out {before} hours at the start and {after} at the end without readings.")
        inside = slice(first, last + 1)
        for name in names:      # the longest gap of each column, found from its readings alone
            at = self.hours[inside][np.isfinite(self.readings[name][inside])]
            missing = (np.diff(at) // HOUR).astype(np.int64) - 1
            longest = int(np.argmax(missing))
            if missing[longest] > MAX_FILLED_GAP:
                raise SeriesGapError(
                    f"column {_shown(name)} has {missing[longest]} hours without readings from "
                    f"{at[longest] + HOUR} to {at[longest + 1] - HOUR}; gaps of up to {MAX_FILLED_GAP} hours "
                    "are filled by interpolation, longer ones are refused. Fill that gap or cut the file "
                    "before or after it.")
        length = _hours_between(start, stop) + 1
        if length < MIN_HOURS:
            raise SeriesTooShortError(
                f"the series has {length} hours of readings; at least {MIN_HOURS} ({MIN_HOURS // 24} days) are "
                "needed, for a week of history before the held-out part")
        filled = []
        for name in names:
            values, count = _fill_gaps(_on_grid(self.hours[inside], self.readings[name][inside], start, length))
            filled.append(values)
            if count:
                notes.append(f"Filled {count} missing hours of {_shown(name)} by linear interpolation "
                             f"(gaps of up to {MAX_FILLED_GAP} hours are filled; longer ones are refused).")
        label = f"{self.name}: {load_column}" + (f" with {temperature_column}" if temperature_column else "")
        return LoadSeries(np.arange(start, stop + HOUR, HOUR), filled[0].astype(np.float32),
                          None if temperature_column is None else filled[1].astype(np.float32),
                          name=label, notes=notes, load_unit=unit_in_name(load_column),
                          temperature_unit=unit_in_name(temperature_column or ""))


class HourlyColumns(Mapping):
    """A SeriesTable's numeric columns by name, each put on the hourly grid when looked up."""

    def __init__(self, table: SeriesTable):
        self._table = table

    def __getitem__(self, name: str) -> np.ndarray:
        hours = self._table.hours
        return _on_grid(hours, self._table.readings[name], hours[0], _hours_between(hours[0], hours[-1]) + 1)

    def __iter__(self):
        return iter(self._table.readings)

    def __len__(self) -> int:
        return len(self._table.readings)


def _hours_between(start: np.datetime64, stop: np.datetime64) -> int:
    return int((stop - start) // HOUR)


def _on_grid(hours: np.ndarray, values: np.ndarray, start: np.datetime64, length: int) -> np.ndarray:
    """Readings at `hours` put on the `length` consecutive hours from `start`, NaN elsewhere."""
    out = np.full(length, np.nan)
    out[((hours - start) // HOUR).astype(np.int64)] = values
    return out


def _fill_gaps(values: np.ndarray) -> tuple[np.ndarray, int]:
    """`values` with NaN runs filled by linear interpolation (the ends are known), and how many."""
    missing = ~np.isfinite(values)
    if not missing.any():
        return values, 0
    known = np.flatnonzero(~missing)
    filled = values.copy()
    filled[missing] = np.interp(np.flatnonzero(missing), known, values[known])
    return filled, int(missing.sum())


def _shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """A value for a message: quoted, and cut short when long (a cell may hold a megabyte)."""
    text = str(value)
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "…"


def _names(names, limit: int = 12) -> str:
    """Column names for a message: the first `limit`, quoted and cut short, and how many more."""
    names = list(names)
    shown = ", ".join(_shown(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit:,} more" if len(names) > limit else "")


def _every(seconds: float) -> str:
    """A time step in words: 'every 2 hours', 'every 30 minutes', 'every day'."""
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds >= size or unit == "second":
            count = round(seconds / size, 1)
            return f"every {unit}" if count == 1 else f"every {count:g} {unit}s"
    raise AssertionError("unreachable")


# --- Reading a CSV ------------------------------------------------------------------------------
# Byte-order marks, longest first (UTF-32 LE's starts like UTF-16 LE's).
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"), (b"\xff\xfe", "utf-16"),
         (b"\xfe\xff", "utf-16"))
# Where the zero bytes of mostly-ASCII text fall in each group of four bytes, by encoding.
_NUL_PATTERNS = {"utf-32-le": (0, 1, 1, 1), "utf-32-be": (1, 1, 1, 0), "utf-16-le": (0, 1, 0, 1),
                 "utf-16-be": (1, 0, 1, 0)}
_QUOTED = re.compile(r'"[^"]*"')        # linear: no nesting, no backtracking
_VISIBLE = re.compile(r"\S")
_EXCEL_SEPARATOR = re.compile(r"sep=(.)[ \t]*(?:\r\n|\r|\n)")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _text_of(data: bytes | str | os.PathLike | io.IOBase) -> tuple[str, str]:
    """The CSV's text and a name for it from bytes, a path (str or PathLike) or a file-like
    object, refusing what is too large or not text. UTF-8, UTF-16 and UTF-32 (by their byte-order
    marks, or UTF-16 and UTF-32 by where their zero bytes fall) and Windows-1252 are read."""
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
    text = _decode(bytes(data))
    if not _VISIBLE.search(text):
        raise NotACSVError("the file is empty")
    return text, name


def _decode(data: bytes) -> str:
    codec = next((codec for bom, codec in _BOMS if data.startswith(bom)), None) or _zero_byte_codec(data)
    if codec is not None:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            raise NotACSVError(f"the file starts like {codec[:6].upper()} text but is not: save it as "
                               "UTF-8 text") from None
        if "\x00" in text[:65536]:
            raise NotACSVError("the file is binary, not a CSV text file")
        return text
    if b"\x00" in data[:65536]:
        raise NotACSVError("the file is binary, not a CSV text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if sum(not (c.isprintable() or c in "\r\n\t") for c in text[:65536]) > 0.01 * min(len(text), 65536):
        raise NotACSVError("the file is not text: a CSV is plain text with one reading per line")
    return text


def _zero_byte_codec(data: bytes) -> str | None:
    """UTF-16 or UTF-32 without a byte-order mark: text of mostly ASCII characters has zero bytes
    in the same places of every group of four bytes (every other byte, for UTF-16)."""
    sample = data[:4096]
    sample = sample[:len(sample) // 4 * 4]
    if len(sample) < 8 or b"\x00" not in sample:
        return None
    zeros = (np.frombuffer(sample, np.uint8).reshape(-1, 4) == 0).mean(axis=0)
    for codec, pattern in _NUL_PATTERNS.items():
        if all(z >= 0.9 if p else z <= 0.1 for z, p in zip(zeros, pattern)):
            return codec
    return None


@dataclass(frozen=True)
class _Dialect:
    delimiter: str
    start: int                  # where the header line starts in the text
    header_line: int            # its line number (1 for the first line)
    columns: int                # fields in the header line (a lower bound when `complete` is False)
    complete: bool              # whether the whole header line was looked at
    first_row: int              # fields in the first row after it (0 when it lies beyond the sample)


def _dialect(text: str) -> _Dialect:
    """The delimiter, guessed in time linear in a bounded sample: the first SNIFF_LINES lines
    (at most SNIFF_CHARS characters) with quoted parts taken out; the candidate found the same
    number of times on most lines wins (the first of DELIMITERS on a tie). An Excel 'sep=;'
    first line names it instead."""
    start = _VISIBLE.search(text).start()
    excel = _EXCEL_SEPARATOR.match(text, start)
    if excel:
        after = _VISIBLE.search(text, excel.end())
        start = after.start() if after else len(text)
    sample = text[start:start + SNIFF_CHARS]
    unquoted = _QUOTED.sub("", sample)
    if '"' in unquoted:                 # a quote left open: what follows it is inside it
        unquoted = unquoted[:unquoted.index('"')]
    lines = [line for line in _LINE_BREAK.split(unquoted) if line.strip()][:SNIFF_LINES]
    delimiter = excel.group(1) if excel else ","
    if not excel and lines:
        best = (0.0, 0)
        for rank, candidate in enumerate(reversed(DELIMITERS)):
            counts = [line.count(candidate) for line in lines]
            mode = Counter(counts).most_common(1)[0][0] or max(counts)
            if mode and (counts.count(mode) / len(lines), rank) > best:
                best, delimiter = (counts.count(mode) / len(lines), rank), candidate
    header = lines[0] if lines else ""
    complete = len(sample) < SNIFF_CHARS or _LINE_BREAK.search(unquoted) is not None
    row = lines[1].rstrip() if len(lines) > 1 else ""
    first_row = row.count(delimiter) + 1 - row.endswith(delimiter) if row else 0    # "1,2," has two fields
    return _Dialect(delimiter, start, text.count("\n", 0, start) + 1, header.count(delimiter) + 1, complete,
                    first_row)


def read_series_csv(data: bytes | str | os.PathLike | io.IOBase, name: str | None = None) -> SeriesTable:
    """Read a CSV of readings: a timestamp column (named like timestamp, datetime, time or date,
    else the first column) and numeric columns. Rows are sorted by time; repeated timestamps
    are averaged; readings more often than hourly are averaged per hour; coarser readings are
    refused. Values beyond ±MAX_ABS_VALUE, and infinite ones, are taken as missing (said so in
    `notes`). Raises a SeriesError subclass with a message fit for the user.

    Hostile files are refused early and cheaply: at most MAX_COLUMNS columns (counted on the
    header line before the file is parsed), at most MAX_HOURS hours spanned, and at most
    MAX_CELLS hours spanned times numeric columns, checked before any column is put on the
    hourly grid (which happens per column, when a column is picked)."""
    text, found_name = _text_of(data)
    dialect = _dialect(text)
    if dialect.columns > MAX_COLUMNS:
        raise _too_many_columns(dialect.columns, at_least=not dialect.complete)
    frame = _parse(text, dialect)
    time_column = next((c for c in frame.columns if c.lower() in TIMESTAMP_NAMES), frame.columns[0])
    raw_times = frame[time_column]
    dated = raw_times.notna().to_numpy()
    if not dated.any():
        raise TimestampError(f"the timestamp column {_shown(time_column)} is empty")
    if _is_numeric(raw_times):
        raise TimestampError(f"the timestamp column {_shown(time_column)} holds numbers, not dates and times "
                             "(write them like 2014-11-01 13:00)")
    notes = [] if dated.all() else [f"Left out {int((~dated).sum()):,} rows without a timestamp."]
    if not dated.all():
        frame = frame[dated]
    first_line = dialect.header_line + 1
    times, time_notes = _parse_times(frame[time_column].astype(str).str.strip(), time_column, first_line)
    numeric, value_notes, refused = _numeric_columns(frame, time_column, dialect.delimiter, first_line)
    if not numeric:
        others = [c for c in frame.columns if c != time_column]
        raise NoNumericColumnError(
            f"no column besides {_shown(time_column)} holds numbers (columns: {_names(others)})"
            + (f"; {refused}" if refused else ""))
    del frame
    return _hourly(times, numeric, time_column, name or found_name, notes + time_notes + value_notes)


def _parse(text: str, dialect: _Dialect):
    """The CSV as a DataFrame, by pandas' C parser; its complaints as sentences."""
    import pandas as pd

    if dialect.first_row > dialect.columns:     # pandas would drop the extra fields, or take one as an index
        raise _extra_fields(dialect)
    body = text[dialect.start:] if dialect.start else text
    with warnings.catch_warnings(record=True) as caught:    # (a first row beyond the sample: pandas warns)
        warnings.simplefilter("always")
        try:
            frame = pd.read_csv(io.StringIO(body), sep=dialect.delimiter, engine="c", skipinitialspace=True,
                                index_col=False, quotechar='"')
        except pd.errors.EmptyDataError:
            raise NotACSVError("the file has no columns") from None
        except (pd.errors.ParserError, UnicodeError, ValueError, OverflowError) as err:
            raise NotACSVError(_parser_complaint(str(err), dialect)) from None
    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        raise _extra_fields(dialect)
    if frame.shape[1] > MAX_COLUMNS:
        raise _too_many_columns(frame.shape[1])
    if frame.shape[1] < 2:
        raise NotACSVError("the file reads as a single column: a CSV here needs a timestamp column and at least "
                           "one numeric column, separated by commas, semicolons, tabs or |")
    if len(frame) == 0:
        raise NotACSVError("the file has a header line but no rows of readings")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _too_many_columns(count: int, at_least: bool = False) -> SeriesTooLargeError:
    return SeriesTooLargeError(f"the file has {'at least ' if at_least else ''}{count:,} columns; at most "
                               f"{MAX_COLUMNS} are read. Keep the timestamp column and the columns you need.")


def _extra_fields(dialect: _Dialect) -> NotACSVError:
    return NotACSVError(f"line {dialect.header_line + 1:,} has more fields than the header line: every row "
                        "needs as many fields as the header")


def _parser_complaint(message: str, dialect: _Dialect) -> str:
    shift = dialect.header_line - 1
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if fields:
        expected, line, saw = (int(g) for g in fields.groups())
        return (f"line {line + shift:,} has {saw:,} fields where the header line has {expected:,}: every row needs "
                "as many fields as the header")
    quote = re.search(r"EOF inside string starting at row (\d+)", message)
    if quote:
        return (f"a quotation mark on line {int(quote.group(1)) + 1 + shift:,} is never closed, so the rest of the "
                "file reads as one value")
    first = message.strip().splitlines()[0] if message.strip() else ""
    first = re.sub(r"^Error tokenizing data\. C error: ", "", first).strip().rstrip(".")[:200]
    return "the file could not be read as a CSV" + (f" ({first})" if first else "")


def _is_numeric(values) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)


def _numeric_columns(frame, time_column: str, delimiter: str, first_line: int
                     ) -> tuple[dict[str, np.ndarray], list[str], str]:
    """Columns that hold numbers in at least half their rows (a few 'n/a' cells are missing
    readings), as float64 with NaN for missing; notes on what was done; and a sentence on
    columns refused for holding values too large to be readings."""

    numeric, notes, decimal_commas, refused = {}, [], [], []
    for column in frame.columns:
        if column == time_column:
            continue
        values, comma = _numbers(frame[column], decimal_comma=delimiter != ",")
        if values is None:
            continue
        if comma:
            decimal_commas.append(column)
        absurd = np.isinf(values) | (np.abs(values) > MAX_ABS_VALUE)
        if absurd.any():
            row = int(np.flatnonzero(absurd)[0])
            example = f"such as {values[row]:g} on line {frame.index[row] + first_line:,}"
            values[absurd] = np.nan
            if np.isfinite(values).sum() < 0.5 * len(frame):
                refused.append(f"column {_shown(column)} holds values beyond ±{MAX_ABS_TEXT} ({example}), "
                               "which are not taken as readings")
                continue
            notes.append(f"Took {int(absurd.sum()):,} values of {_shown(column)} beyond ±{MAX_ABS_TEXT} or "
                         f"infinite as missing ({example}).")
        if np.isfinite(values).sum() >= 0.5 * len(frame):
            numeric[column] = values
    kept = [c for c in decimal_commas if c in numeric]
    if kept:
        notes.append(f"Read commas in {_names(kept)} as decimal marks (0,25 as 0.25).")
    return numeric, notes, "; ".join(refused[:3])


def _numbers(raw, decimal_comma: bool) -> tuple[np.ndarray | None, bool]:
    """A column as float64 (NaN where a cell is not a number) and whether commas were read as
    decimal marks (0,25: with semicolons or tabs between fields); None for a column of text,
    told from a thousand of its cells spread over it, so that text is not parsed as numbers."""
    import pandas as pd

    if _is_numeric(raw):
        return raw.to_numpy(dtype=np.float64, na_value=np.nan, copy=True), False
    ways = [lambda cells: pd.to_numeric(cells, errors="coerce")]
    if decimal_comma:
        ways.append(lambda cells: pd.to_numeric(cells.astype(str).str.replace(",", ".", regex=False), errors="coerce"))
    present = raw.dropna()
    sample = present.iloc[::max(1, len(present) // 1000)]
    counts = [int(way(sample).notna().sum()) for way in ways]
    best = int(np.argmax(counts))
    if counts[best] < 0.25 * len(sample) or not len(sample):
        return None, False
    return ways[best](raw).to_numpy(dtype=np.float64, na_value=np.nan, copy=True), best == 1


class _MixedZones(Exception):
    """Timestamps that need converting to UTC to be put in one column."""


def _parse_times(values, column: str, first_line: int = 2) -> tuple[np.ndarray, list[str]]:
    """The column as datetime64[us] without a time zone (local clock times as written; UTC
    when offsets differ between rows), and notes on what was done. Each row is read in one
    format, the one that reads most of the first thousand rows (ISO 8601 or the one pandas
    guesses from the first row); rows it leaves are read the same way once more, and what is
    left then (at most MAX_MIXED_TIMES rows: dateutil takes a while on each) one by one."""
    try:
        times = _times(values, column, first_line, utc=False)
        notes = []
    except _MixedZones:
        times = _times(values, column, first_line, utc=True)
        notes = ["Timestamps carry different time-zone offsets: they were converted to UTC."]
    return times, notes


def _times(values, column: str, first_line: int, utc: bool) -> np.ndarray:
    import pandas as pd

    def parse(part, fmt: str) -> np.ndarray:
        if fmt == "mixed":      # one by one: nothing longer than a timestamp could be is tried
            part = part.where(part.str.len() <= 64)
        elif _iso_rewrite(fmt):     # numbers in another order: rewritten as ISO 8601, read fast
            part = part.str.replace(r"\b(\d)\b", r"0\1", regex=True)
            for pattern, replacement in _iso_rewrite(fmt):
                part = part.str.replace(pattern, replacement, regex=True)
            fmt = "ISO8601"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                parsed = pd.to_datetime(part, errors="coerce", format=fmt, utc=utc)
            except (ValueError, TypeError, OverflowError) as err:
                if utc:
                    raise TimestampError(f"the timestamp column {_shown(column)} could not be read as dates and "
                                         "times (write them like 2014-11-01 13:00)") from err
                raise _MixedZones from None
        if parsed.dtype.kind != "M":
            raise _MixedZones   # pandas kept objects: times of several time zones
        zone = getattr(parsed.dt, "tz", None)
        if parsed.notna().any():
            zones.add(str(zone))
            if len(zones) > 1 and not utc:
                raise _MixedZones   # offsets that differ between rows, or some rows without one
        if zone is not None:
            parsed = parsed.dt.tz_localize(None)
        return parsed.to_numpy(dtype="datetime64[us]", copy=True)

    zones: set[str] = set()
    times = np.full(len(values), np.datetime64("NaT", "us"))
    bad = np.arange(len(values))
    for _ in range(2):      # the format that reads most of the first rows not yet read; twice
        left = values.iloc[bad]
        sample = left.iloc[:1000]
        counts = {"ISO8601": np.count_nonzero(~np.isnat(parse(sample, "ISO8601")))}
        if counts["ISO8601"] < len(sample):
            counts.update({fmt: np.count_nonzero(~np.isnat(parse(sample, fmt))) for fmt in _formats(left.iloc[0])})
        best = max(counts, key=counts.get)
        if counts[best] == 0:
            break
        times[bad] = parse(left, best)
        bad = bad[np.isnat(times[bad])]
        if not len(bad):
            return times
    left = values.iloc[bad]
    if len(bad) > MAX_MIXED_TIMES:
        if not np.isnat(parse(left.iloc[:200], "mixed")).any():
            if len(bad) == len(values):
                raise TimestampError(
                    f"the timestamp column {_shown(column)} writes dates and times in a way that can only be read "
                    f"one row at a time, such as {_shown(left.iloc[0])} on line {left.index[0] + first_line:,}; a "
                    f"file of more than {MAX_MIXED_TIMES:,} rows needs them written like 2014-11-01 13:00")
            read = int(np.flatnonzero(~np.isnat(times))[0])
            raise TimestampError(
                f"the timestamp column {_shown(column)} writes dates and times in more than one way, such as "
                f"{_shown(values.iloc[read])} on line {values.index[read] + first_line:,} and "
                f"{_shown(left.iloc[0])} on line {left.index[0] + first_line:,}; write them all one way "
                "(like 2014-11-01 13:00)")
        left, bad = left.iloc[:200], bad[:200]
    times[bad] = parse(left, "mixed")      # one by one, each in its own format
    still = np.flatnonzero(np.isnat(times[bad]))
    if len(still):
        row = bad[still[0]]
        raise TimestampError(f"the timestamp column {_shown(column)} has values that are not dates and times, "
                             f"such as {_shown(values.iloc[row])} on line {values.index[row] + first_line:,}")
    return times


def _formats(value: str) -> list[str]:
    """Formats to try on a column whose first unread value is `value`: ISO 8601, the format
    pandas guesses from it, month first and day first (day first first for 13.01.2020), and
    common ones it does not guess (two-digit years, AM and PM)."""
    firsts = (True, False) if "." in value[:10] else (False, True)
    guessed = [_guess_format(value, dayfirst) for dayfirst in firsts] if len(value) <= 64 else []
    return list(dict.fromkeys(["ISO8601", *(f for f in guessed if f), *COMMON_TIME_FORMATS]))


_ISO_PARTS = {"%Y": r"(\d{4})", "%m": r"(\d{2})", "%d": r"(\d{2})", "%H": r"(\d{2})", "%M": r"(\d{2})",
              "%S": r"(\d{2})"}
_CENTURIES = ((r"([0-5]\d|6[0-8])", "20"), (r"(69|[7-9]\d)", "19"))     # %y as strptime reads it


@functools.cache
def _iso_rewrite(fmt: str) -> tuple[tuple[str, str], ...]:
    """Regular expressions and their replacements that rewrite timestamps written in `fmt` (a
    format of numbers only, such as %m/%d/%Y %H:%M, once single digits are padded) as ISO 8601,
    which pandas reads many times faster than by strptime; none for other formats. A two-digit
    year is 20yy up to 68 and 19yy from 69 on, as strptime has it."""
    parts = re.split(r"(%.)", fmt)
    directives = [p for p in parts if p.startswith("%") and len(p) == 2]
    years = [d for d in directives if d in ("%Y", "%y")]
    if (len(set(directives)) < len(directives) or len(years) != 1 or not {"%m", "%d"} <= set(directives)
            or any(d not in _ISO_PARTS and d != "%y" for d in directives)
            or any(c.isalnum() for p in parts if p not in directives for c in p)
            or ("%M" in directives and "%H" not in directives) or ("%S" in directives and "%M" not in directives)):
        return ()
    group = {d: rf"\{i}" for i, d in enumerate(directives, 1)}
    time = (f" {group['%H']}:" + group.get("%M", "00") + (f":{group['%S']}" if "%S" in group else "")
            if "%H" in group else "")
    rewrites = []
    for year, century in ((_ISO_PARTS["%Y"], ""),) if years == ["%Y"] else _CENTURIES:
        pattern = "".join(year if p == years[0] else _ISO_PARTS.get(p, None) or re.escape(p) for p in parts)
        rewrites.append((f"^{pattern}$", f"{century}{group[years[0]]}-{group['%m']}-{group['%d']}{time}"))
    return tuple(rewrites)


def _guess_format(value: str, dayfirst: bool) -> str | None:
    try:
        from pandas.tseries.api import guess_datetime_format
    except ImportError:     # pandas before 2.2
        from pandas._libs.tslibs.parsing import guess_datetime_format
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # "Parsing dates in %Y-%m-%d format when dayfirst=True..."
        try:
            return guess_datetime_format(value, dayfirst=dayfirst)
        except (ValueError, TypeError, OverflowError):
            return None


def _hourly(times: np.ndarray, numeric: dict[str, np.ndarray], time_column: str, name: str,
            notes: list[str]) -> SeriesTable:
    """The readings averaged per hour, at the hours that have rows; the span and size checked
    before anything would be put on an hourly grid."""
    order = np.argsort(times, kind="stable")
    times = times[order]
    step = np.diff(times)
    step = step[step > np.timedelta64(0, "us")]
    if len(step) == 0:
        raise SeriesTooShortError("the file holds readings for a single time only")
    typical = np.median(step.astype(np.int64)) / 1e6        # seconds
    if typical > 3600:
        raise TimestampError(f"readings come {_every(typical)}; the models need hourly readings "
                             "(or more often, which are averaged per hour)")
    hours = times.astype("datetime64[h]")
    span = _hours_between(hours[0], hours[-1])
    if span > MAX_HOURS:
        raise SeriesTooLargeError(f"the readings span {span:,} hours, from {hours[0]} to {hours[-1]}; the limit "
                                  f"is {MAX_HOURS:,} (about {MAX_HOURS // 8766} years)")
    distinct, inverse = np.unique(hours, return_inverse=True)
    if (span + 1) * len(numeric) > MAX_CELLS:
        gaps = np.diff(distinct)
        widest = int(np.argmax(gaps))
        gap = int(gaps[widest] // HOUR) - 1
        raise SeriesTooLargeError(
            f"the readings span {span + 1:,} hours in {len(numeric):,} numeric columns: "
            f"{(span + 1) * len(numeric) / 1e6:.1f} million hourly values, above the limit of {MAX_CELLS / 1e6:g} "
            "million. "
            + (f"The longest stretch without rows is {gap:,} hours, from {distinct[widest] + HOUR} to "
               f"{distinct[widest + 1] - HOUR}: cut the file before or after it, or leave out columns."
               if gap > MAX_FILLED_GAP else "Cut the file's time span or leave out columns."))
    repeated = len(times) - 1 - len(step)
    if typical < 3600:
        notes.append(f"Readings {_every(typical)} averaged per hour.")
    elif repeated:
        notes.append(f"{repeated:,} repeated timestamps averaged (a change of clocks, perhaps).")
    missing = span + 1 - len(distinct)
    if missing:
        notes.append(f"{missing:,} hours had no row.")
    readings = {}
    for column, values in numeric.items():
        values = values[order]
        known = np.isfinite(values)
        total = np.bincount(inverse, weights=np.where(known, values, 0.0), minlength=len(distinct))
        count = np.bincount(inverse, weights=known, minlength=len(distinct))
        with np.errstate(invalid="ignore", divide="ignore"):
            readings[column] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return SeriesTable(distinct, readings, time_column, name, notes)


def load_series_csv(data: bytes | str | os.PathLike | io.IOBase, load_column: str | None = None,
                    temperature_column: str | None = None) -> LoadSeries:
    """read_series_csv, then the load column (default: the first numeric column) and an
    optional temperature column as a LoadSeries."""
    table = read_series_csv(data)
    return table.series(load_column or next(iter(table.columns)), temperature_column)
