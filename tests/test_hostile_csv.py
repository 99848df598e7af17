"""Hostile CSV files (tests/bad_csv.py) through the sequence page's reader: each gets its own
answer, a usable series or a SeriesError whose message is a plain sentence; the hourly grid is
made only for the columns picked, so memory stays small; and the page shows the same answers
under AppTest (issue 22). Nothing here depends on the machine's speed: the times are measured
by hand and reported, not asserted."""
from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

import bad_csv
import numpy as np
import pandas as pd
import pytest

from engine.tasks.sequence import series as S

CORPUS = bad_csv.corpus()
CASES = {case.name: case for case in CORPUS}
ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
PAGE = "app_pages/sequence.py"
# What a message for people never holds: tracebacks, reprs of pandas or numpy objects, raw
# timedeltas ("0 days 02:00:00"), internal names.
UNREADABLE = re.compile(r"Traceback|File \"|Error tokenizing|C error|dtype|Timedelta|Timestamp\(|DataFrame|"
                        r"Series\(|Index\(|array\(|numpy|\bnp\.|\bpd\.|object at 0x|\d+ days \d\d:\d\d:\d\d|"
                        r"Name: |NaT|\bnan\b")


def assert_readable(message: str, note: bool = False) -> None:
    """A sentence for people: one line, of sensible length, and none of UNREADABLE."""
    assert "\n" not in message and 10 < len(message) < 600, message
    assert not UNREADABLE.search(message), message
    assert re.search(r"[a-z]{3,} [a-z]{2,} ", message), message      # words, not a dump
    if note:        # notes are shown alone: a capital first, a full stop last
        assert message[0].isupper() and message.endswith("."), message
    else:           # errors follow "Could not use file.csv: "
        assert message[0].islower(), message


def unescaped(markdown: str) -> str:
    """What the page shows, without the backslashes that keep Markdown from acting on a file's
    own words."""
    return re.sub(r"\\(.)", r"\1", markdown)


def answer(data: bytes) -> S.LoadSeries:
    """The table read, then its first numeric column picked (what the page does first)."""
    table = S.read_series_csv(data)
    return table.series(next(iter(table.columns)))


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_each_hostile_csv_gets_its_answer_in_a_plain_sentence(case):
    if case.expected != "ok":
        with pytest.raises(S.SeriesError) as caught:
            answer(case.data)
        assert type(caught.value).__name__ == case.expected, str(caught.value)
        assert_readable(str(caught.value))
        return
    series = S.load_series_csv(case.data)
    assert len(series) >= S.MIN_HOURS and np.isfinite(series.load).all()
    assert (np.diff(series.timestamps) == S.HOUR).all() and series.timestamps.dtype == np.dtype("datetime64[h]")
    for note in series.notes:
        assert_readable(note, note=True)


def test_the_corpus_is_the_same_every_time_and_names_only_real_outcomes():
    again = bad_csv.corpus.__wrapped__()
    assert [(c.name, c.data, c.expected) for c in again] == [(c.name, c.data, c.expected) for c in CORPUS]
    outcomes = {c.expected for c in CORPUS}
    assert outcomes <= {"ok", *(cls.__name__ for cls in S.SeriesError.__subclasses__())}
    assert {"ok", "NotACSVError", "NoNumericColumnError", "TimestampError", "SeriesGapError", "SeriesTooShortError",
            "SeriesTooLargeError"} <= outcomes


# --- the attacker's files -------------------------------------------------------------------
def test_the_delimiter_is_guessed_from_a_bounded_sample_without_csv_sniffer():
    source = Path(S.__file__).read_text()
    assert "Sniffer" not in source and "import csv" not in source
    bomb = b',"' * (4 * S.SNIFF_CHARS)          # four times the sample: only the sample is looked at
    dialect = S._dialect(bomb.decode())
    assert dialect.delimiter == "," and not dialect.complete
    assert dialect.columns == S.SNIFF_CHARS // 4 + 1       # ,"," is one field, its comma quoted
    with pytest.raises(S.SeriesTooLargeError, match=f"at least {dialect.columns:,} columns; at most 200"):
        S.read_series_csv(bomb)
    with pytest.raises(S.NotACSVError, match="line 2 has more fields than the header line"):
        S.read_series_csv(CASES["sniffer bomb under a good header"].data)


@pytest.mark.parametrize("text, delimiter", [
    ("time,load\n2020-01-01 00:00,1\n", ","),
    ("time;load;temp\n2020-01-01 00:00;0,25;12,5\n2020-01-01 01:00;0,5;12\n", ";"),
    ("time\tload\n2020-01-01 00:00\t0,25\n", "\t"),
    ("time|load\n2020-01-01 00:00|1\n", "|"),
    ('time,site\n2020-01-01 00:00,"a;b;c"\n2020-01-01 01:00,"d;e;f"\n', ","),    # quoted semicolons
    ("sep=;\ntime;load, MW\n2020-01-01 00:00;1\n", ";"),                             # Excel names it
    ("just words\nmore words\n", ","),
])
def test_delimiters_are_guessed_outside_quotes(text, delimiter):
    assert S._dialect(text).delimiter == delimiter


def test_a_first_row_longer_than_the_header_is_refused_before_pandas_reads_it():
    assert (S._dialect("a,b\n1,2,3\n").first_row, S._dialect("a,b\n1,2,\n").first_row) == (3, 2)
    with pytest.raises(S.NotACSVError, match="^line 4 has more fields than the header line"):
        S.read_series_csv(b"\n\ntime,load\n2020-01-01 00:00,1,2\n")
    with pytest.raises(S.NotACSVError, match="^line 4 has 3 fields where the header line has 2"):
        S.read_series_csv(b"time,load\n2020-01-01 00:00,1\n2020-01-01 01:00,1\n2020-01-01 02:00,1,2\n")


def test_too_many_columns_are_refused_before_parsing_naming_the_limit():
    with pytest.raises(S.SeriesTooLargeError) as caught:
        S.read_series_csv(CASES["2,000 columns, then a row 11 years later"].data)
    assert str(caught.value).startswith(f"the file has 2,001 columns; at most {S.MAX_COLUMNS} are read")
    table = S.read_series_csv(CASES["199 columns"].data)
    assert len(table.columns) == 199


def test_a_far_row_is_not_put_on_an_hourly_grid_and_its_gap_is_named():
    table = S.read_series_csv(bad_csv.wide(3))
    assert len(table.hours) == 1001 and len(table.readings["c0"]) == 1001     # the rows, no more
    span = len(table.timestamps)
    assert span == 96_427
    assert len(table.columns["c1"]) == span and np.isfinite(table.columns["c1"]).sum() == 1001
    with pytest.raises(S.SeriesGapError, match="column 'c0' has 95426 hours without readings from 2014-11-11T16 "
                                                "to 2025-09-30T17"):
        table.series("c0")
    with pytest.raises(S.SeriesTooLargeError) as caught:
        S.read_series_csv(CASES["150 columns, then a row 11 years later"].data)
    message = str(caught.value)
    assert "96,427 hours in 150 numeric columns" in message and "limit of 5 million" in message
    assert "longest stretch without rows is 95,426 hours, from 2014-11-11T16 to 2025-09-30T17" in message


@pytest.mark.parametrize("name, bound_mb", [("2,000 columns, then a row 11 years later", 32),
                                            ("150 columns, then a row 11 years later", 32),
                                            ("3 columns, then a row 11 years later", 8)])
def test_memory_stays_small_for_wide_and_far_apart_rows(name, bound_mb):
    """tracemalloc's peak (numpy's arrays and Python's objects) while a file is refused: the old
    reader put every column on the hourly grid first (1.7 GB for the 2,000 columns, 117 MB for
    the 150)."""
    data = CASES[name].data
    tracemalloc.start()
    try:
        with pytest.raises(S.SeriesError):
            answer(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < bound_mb * 2**20, f"{peak / 2**20:.1f} MB"


def test_fifty_columns_with_a_gap_of_years_cost_their_rows_not_their_span():
    data = bad_csv.wide(50)         # 96,427 hours x 50 columns would be 39 MB a copy on the grid
    tracemalloc.start()
    try:
        table = S.read_series_csv(data)
        with pytest.raises(S.SeriesGapError):
            table.series("c0", "c1")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"{peak / 2**20:.1f} MB"


def test_values_too_large_to_be_readings_are_missing_and_said_so():
    series = S.load_series_csv(CASES["a few values near 1e308 and inf"].data)
    good = S.load_series_csv(bad_csv.good())
    assert np.isfinite(series.load).all() and np.abs(series.load).max() < 2000
    assert np.allclose(np.delete(series.load, [100, 200, 300]), np.delete(good.load, [100, 200, 300]))
    assert series.notes[0] == ("Took 3 values of 'load_mw' beyond ±1e12 or infinite as missing "
                               "(such as 1.7e+308 on line 102).")
    assert "Filled 3 missing hours of 'load_mw'" in series.notes[1]
    with pytest.raises(S.NoNumericColumnError) as caught:
        S.read_series_csv(CASES["every value near 1e308"].data)
    assert "column 'load' holds values beyond ±1e12 (such as 1.7e+308 on line 2)" in str(caught.value)
    # An hourly mean of two readings of 1e300 would be infinite: both are refused before averaging.
    with pytest.raises(S.NoNumericColumnError, match="such as 1e\\+300 on line 2"):
        S.read_series_csv(CASES["every value 1e300, averaged per hour"].data)
    stats = S.SeriesStats.of(series)
    assert np.isfinite(stats.features(series)).all()


@pytest.mark.parametrize("name", ["utf-16 with a BOM", "utf-16-be with a BOM", "utf-16-le without a BOM",
                                  "utf-16-be without a BOM", "utf-32 with a BOM", "utf-8 with a BOM",
                                  "CR line endings", "CRLF line endings", "an Excel sep= line", "pipes",
                                  "decimal commas, semicolons", "decimal commas, tabs"])
def test_encodings_line_ends_and_decimal_commas_read_as_the_plain_file(name):
    plain = S.read_series_csv(bad_csv.good())
    table = S.read_series_csv(CASES[name].data)
    assert list(table.columns) == list(plain.columns) == ["load_mw", "temperature_c"]
    for column in plain.columns:
        assert np.allclose(table.columns[column], plain.columns[column])
    assert np.array_equal(table.timestamps, plain.timestamps)
    if "decimal commas" in name:
        assert table.notes == ["Read commas in 'load_mw', 'temperature_c' as decimal marks (0,25 as 0.25)."]
    else:
        assert table.notes == []


def test_a_binary_file_with_a_utf16_mark_is_still_refused():
    with pytest.raises(S.NotACSVError, match="UTF-16"):
        S.read_series_csv(b"\xff\xfe" + b"\x00\xd8" * 10)          # a lone surrogate: not UTF-16 text
    with pytest.raises(S.NotACSVError, match="binary"):
        S.read_series_csv("time,load\n\x00\x00\x00\n".encode("utf-16"))


def test_offsets_that_change_with_daylight_saving_time_become_hourly_utc():
    series = S.load_series_csv(CASES["mixed offsets across a DST change"].data)
    assert series.notes == ["Timestamps carry different time-zone offsets: they were converted to UTC."]
    assert series.timestamps[0] == np.datetime64("2014-03-10T00", "h") and len(series) == 35 * 24
    assert np.allclose(series.load, np.round(bad_csv.load_values(35 * 24), 1))
    one_offset = b"timestamp,load\n" + b"".join(
        f"2014-01-{1 + h // 24:02d} {h % 24:02d}:00+01:00,{h}\n".encode() for h in range(30 * 24))
    local = S.load_series_csv(one_offset)
    assert local.timestamps[0] == np.datetime64("2014-01-01T00", "h") and local.notes == []   # clock as written


def test_steps_are_said_in_words_never_as_pandas_timedeltas():
    with pytest.raises(S.TimestampError, match="^readings come every 2 hours; the models need hourly readings"):
        S.read_series_csv(CASES["two-hourly readings"].data)
    assert S.read_series_csv(CASES["half-hourly readings"].data).notes == [
        "Readings every 30 minutes averaged per hour."]
    assert [S._every(s) for s in (86400, 3 * 86400, 5400, 60, 90, 1, 0.5, 14 * 86400)] == [
        "every day", "every 3 days", "every 1.5 hours", "every minute", "every 1.5 minutes", "every second",
        "every 0.5 seconds", "every 2 weeks"]


def test_timestamps_are_read_in_one_format_each():
    us = S.load_series_csv(bad_csv.good(times=bad_csv.us_dates(bad_csv.stamps(40 * 24))))
    dotted = S.load_series_csv(CASES["day-first dotted dates"].data)
    iso = S.load_series_csv(bad_csv.good(hours=40 * 24))
    assert np.array_equal(us.timestamps, iso.timestamps)
    assert np.array_equal(dotted.timestamps, iso.timestamps[:len(dotted)])
    with pytest.raises(S.TimestampError) as caught:
        S.read_series_csv(CASES["three timestamp formats, 100,000 rows"].data)
    assert str(caught.value) == (
        "the timestamp column 'timestamp' writes dates and times in more than one way, such as '2014-10-01 00:00' "
        "on line 2 and '01.10.2014 00:30' on line 4; write them all one way (like 2014-11-01 13:00)")
    with pytest.raises(S.TimestampError, match="such as 'xxxxxxxxxx[x]*'… on line 7$"):
        S.read_series_csv(CASES["a timestamp of 1 MB"].data)
    few = "time,load\n" + "".join(f"{t},1\n" for t in bad_csv.stamps(700)) + "Jan 30 2014 1:00 PM,2\n"
    assert len(S.read_series_csv(few.encode()).hours) == 701          # a few odd rows are read one by one


@pytest.mark.parametrize("fmt", ["%m/%d/%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%m/%d/%y %H:%M", "%d/%m/%y", "%Y%m%d %H%M",
                                 "%H:%M %d/%m/%Y"])
def test_timestamps_rewritten_as_iso_read_as_strptime_reads_them(fmt):
    rng = np.random.default_rng(3)
    values = []
    for _ in range(3000):
        m, d, y, h, mi, s = (rng.integers(0, 14), rng.integers(0, 33), rng.integers(1900, 2100), rng.integers(0, 25),
                             rng.integers(0, 61), rng.integers(0, 60))    # strptime takes :60 s, ISO not
        pad = rng.random() < 0.5 or "%m%d" in fmt      # digits run together only padded
        fields = {"%m": m, "%d": d, "%H": h, "%M": mi, "%S": s}
        text = fmt.replace("%Y", str(y)).replace("%y", f"{y % 100:02d}")
        for key, value in fields.items():
            text = text.replace(key, f"{value:02d}" if key in ("%M", "%S") or pad else str(value))
        values.append(text)
    column = pd.Series(values, dtype="str")
    assert S._iso_rewrite(fmt)
    rewritten = column.str.replace(r"\b(\d)\b", r"0\1", regex=True)
    for pattern, replacement in S._iso_rewrite(fmt):
        rewritten = rewritten.str.replace(pattern, replacement, regex=True)
    fast = pd.to_datetime(rewritten, format="ISO8601", errors="coerce")
    slow = pd.to_datetime(column, format=fmt, errors="coerce")
    assert 0 < slow.notna().sum() < len(values)
    assert fast.isna().equals(slow.isna()) and (fast[fast.notna()] == slow[slow.notna()]).all()


def test_cells_and_column_names_are_cut_short_in_messages():
    with pytest.raises(S.NoNumericColumnError) as caught:
        S.read_series_csv(CASES["a column name of 1 MB, no numbers"].data)
    assert len(str(caught.value)) < 200
    many = "time," + ",".join(f"name{i}" for i in range(30)) + "\n2020-01-01 00:00" + ",x" * 30 + "\n"
    with pytest.raises(S.NoNumericColumnError, match="'name11' and 18 more"):
        S.read_series_csv(many.encode())


# --- the page -------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_page_answers_hostile_files_plainly_and_goes_on():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page(PAGE).run()
    assert not at.exception
    names = ["sniffer bomb under a good header", "2,000 columns, then a row 11 years later",
             "3 columns, then a row 11 years later", "every value near 1e308", "a timestamp of 1 MB",
             "mixed offsets across a DST change"]
    for i, name in enumerate(names):
        case = CASES[name]
        file_name = f"hostile-{i}.csv"
        at.file_uploader(key="seq_csv").set_value((file_name, case.data, "text/csv")).run()
        assert not at.exception, (name, [e.value for e in at.exception])
        errors = [unescaped(e.value) for e in at.error]
        if case.expected == "ok":
            assert not errors, (name, errors)
            assert any(f"{file_name}: load_mw" in unescaped(c.value) for c in at.caption), name
            assert any("converted to UTC" in unescaped(info.value) for info in at.info), name
            continue
        assert len(errors) == 1 and errors[0].startswith(f"Could not use **{file_name}**: "), (name, errors)
        assert "Something went wrong" not in errors[0]
        with pytest.raises(S.SeriesError) as caught:
            answer(case.data)
        assert errors[0].endswith(str(caught.value)), name
        assert_readable(errors[0].split(": ", 1)[1])
        assert any("Showing the built-in series instead." in c.value for c in at.caption), name
    # A file in UTF-16 with decimal commas and semicolons reads as the plain one.
    utf16 = bad_csv.text_table(sep=";", decimal=",").encode("utf-16")
    at.file_uploader(key="seq_csv").set_value(("komma.csv", utf16, "text/csv")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="seq_load_column").options == ["load_mw", "temperature_c"]
    assert any("as decimal marks (0,25 as 0.25)" in unescaped(info.value) for info in at.info)
