"""A corpus of hostile and awkward CSV files for the sequence page's reader, made in memory, the
same every time (issue 22).

`corpus()` returns (name, bytes, expected) entries: `expected` is the name of the SeriesError
subclass that engine.tasks.sequence.series raises for the file (from read_series_csv, or from
picking its first numeric column when the table itself reads), or "ok" when load_series_csv
gives a usable series.

`python tests/bad_csv.py` prints every entry's size and expected outcome.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

MiB = 1 << 20
START = np.datetime64("2014-10-01T00", "h")
DAYS = 30                     # a usable file: 720 hours, above the 672 the models need


class Case(NamedTuple):
    name: str
    data: bytes
    expected: str             # "ok" or a SeriesError subclass name


def stamps(hours: int, start: np.datetime64 = START, step_minutes: int = 60) -> list[str]:
    """Timestamps like 2014-10-01 13:00."""
    times = start.astype("datetime64[m]") + np.arange(hours) * np.timedelta64(step_minutes, "m")
    return [t.replace("T", " ") for t in np.datetime_as_string(times, unit="m").tolist()]


def load_values(n: int, per_day: int = 24) -> np.ndarray:
    """A daily rhythm around 1,000 (MW, say), deterministic."""
    i = np.arange(n)
    return 1000 + 200 * np.sin(2 * np.pi * i / per_day) + 7 * (i % 5)


def temperature_values(n: int, per_day: int = 24) -> np.ndarray:
    i = np.arange(n)
    return 10 + 5 * np.cos(2 * np.pi * i / per_day)


def text_table(hours: int = DAYS * 24, sep: str = ",", decimal: str = ".", start: np.datetime64 = START,
               step_minutes: int = 60, header: str | None = None, times: list[str] | None = None) -> str:
    """A good file: timestamp, load, temperature and a text column."""
    times = times or stamps(hours, start, step_minutes)
    per_day = 24 * 60 // step_minutes
    load, temperature = load_values(len(times), per_day), temperature_values(len(times), per_day)
    lines = [header or sep.join(["timestamp", "load_mw", "temperature_c", "site"])]
    for t, a, b in zip(times, load, temperature):
        lines.append(sep.join([t, f"{a:.2f}".replace(".", decimal), f"{b:.2f}".replace(".", decimal), "north"]))
    return "\n".join(lines) + "\n"


def good(**kwargs) -> bytes:
    return text_table(**kwargs).encode()


def us_dates(times: list[str]) -> list[str]:
    """2014-10-01 13:00 as 10/01/2014 13:00."""
    return [f"{t[5:7]}/{t[8:10]}/{t[:4]}{t[10:]}" for t in times]


def dotted_dates(times: list[str]) -> list[str]:
    """2014-10-01 13:00 as 01.10.2014 13:00 (day first)."""
    return [f"{t[8:10]}.{t[5:7]}.{t[:4]}{t[10:]}" for t in times]


def wide(columns: int, hours: int = 1000, late_years: int | None = 11) -> bytes:
    """`hours` hourly rows of `columns` numeric columns, and, with late_years, one more row that
    many years later (the rows between never come)."""
    times = stamps(hours)
    if late_years:
        times.append(str(START.astype("datetime64[m]") + np.timedelta64(late_years * 8766, "h")).replace("T", " "))
    values = (np.arange(len(times))[:, None] + np.arange(columns)[None, :]) % 97
    lines = [",".join(["time"] + [f"c{j}" for j in range(columns)])]
    lines += [t + "," + ",".join(map(str, row)) for t, row in zip(times, values.tolist())]
    return ("\n".join(lines) + "\n").encode()


def with_values(values: list[str], column: str = "load") -> bytes:
    """An hourly file of one column holding `values` (cycled over 30 days)."""
    times = stamps(DAYS * 24)
    rows = [f"{t},{values[i % len(values)]}" for i, t in enumerate(times)]
    return ("\n".join([f"time,{column}"] + rows) + "\n").encode()


def replace_rows(data: bytes, rows: dict[int, str]) -> bytes:
    """The file with data rows (0 = the first after the header) replaced."""
    lines = data.decode().split("\n")
    for i, row in rows.items():
        lines[i + 1] = row
    return "\n".join(lines).encode()


def dst_offsets() -> bytes:
    """Hourly local clock times in Central Europe with their offsets, across the change to
    summer time on 2014-03-30 (+01:00, then +02:00)."""
    utc = np.arange(np.datetime64("2014-03-10T00", "h"), np.datetime64("2014-04-14T00", "h"), np.timedelta64(1, "h"))
    summer = utc >= np.datetime64("2014-03-30T01", "h")
    lines = ["timestamp,load_mw"]
    for t, is_summer, value in zip(utc, summer, load_values(len(utc))):
        offset = 2 if is_summer else 1
        local = str(t + np.timedelta64(offset, "h")).replace("T", " ") + ":00"
        lines.append(f"{local}+0{offset}:00,{value:.1f}")
    return ("\n".join(lines) + "\n").encode()


def utf16_no_bom(text: str, big_endian: bool) -> bytes:
    return text.encode("utf-16-be" if big_endian else "utf-16-le")


@functools.cache
def corpus() -> list[Case]:
    good_text = text_table()
    good_bytes = good_text.encode()
    header = "timestamp,load_mw,temperature_c,site"
    cases = [
        # --- found by the attacker -----------------------------------------------------------
        Case("sniffer bomb: 64 KB of ,\"", b',"' * 32768, "SeriesTooLargeError"),
        Case("sniffer bomb under a good header", b"timestamp,load\n" + b',"' * 32768, "NotACSVError"),
        Case("2,000 columns, then a row 11 years later", wide(2000), "SeriesTooLargeError"),
        Case("150 columns, then a row 11 years later", wide(150), "SeriesTooLargeError"),
        Case("3 columns, then a row 11 years later", wide(3), "SeriesGapError"),
        Case("every value near 1e308", with_values(["1.7e308", "1.6e308", "-1.7e308"]), "NoNumericColumnError"),
        Case("every value 1e300, averaged per hour",
             ("time,load\n" + "".join(f"{t},1e300\n{t[:-2]}30,1.7e308\n" for t in stamps(DAYS * 24))).encode(),
             "NoNumericColumnError"),
        Case("a few values near 1e308 and inf", replace_rows(good_bytes, {
            100: f"{stamps(DAYS * 24)[100]},1.7e308,3.0,north", 200: f"{stamps(DAYS * 24)[200]},inf,3.0,north",
            300: f"{stamps(DAYS * 24)[300]},-1e13,3.0,north"}), "ok"),
        Case("utf-16 with a BOM", good_text.encode("utf-16"), "ok"),
        Case("utf-16-be with a BOM", b"\xfe\xff" + good_text.encode("utf-16-be"), "ok"),
        Case("utf-16-le without a BOM", utf16_no_bom(good_text, big_endian=False), "ok"),
        Case("utf-16-be without a BOM", utf16_no_bom(good_text, big_endian=True), "ok"),
        Case("utf-32 with a BOM", good_text.encode("utf-32"), "ok"),
        Case("utf-8 with a BOM", good_text.encode("utf-8-sig"), "ok"),
        Case("decimal commas, semicolons", good(sep=";", decimal=","), "ok"),
        Case("decimal commas, tabs", good(sep="\t", decimal=","), "ok"),
        Case("mixed offsets across a DST change", dst_offsets(), "ok"),
        # --- siblings ------------------------------------------------------------------------
        Case("empty", b"", "NotACSVError"),
        Case("whitespace only", b" \n\t\r\n" * 1000, "NotACSVError"),
        Case("header only", header.encode() + b"\n", "NotACSVError"),
        Case("header only, 10,000 columns", (",".join(f"c{i}" for i in range(10_000)) + "\n").encode(),
             "SeriesTooLargeError"),
        Case("10,000 columns", wide(10_000, hours=50, late_years=None), "SeriesTooLargeError"),
        Case("201 columns", wide(201, hours=DAYS * 24, late_years=None), "SeriesTooLargeError"),
        Case("199 columns", wide(199, hours=DAYS * 24, late_years=None), "ok"),
        Case("a line of 1 MB in a text column", replace_rows(good_bytes, {5: f"{stamps(10)[5]},1000,10," + "x" * MiB}),
             "ok"),
        Case("a timestamp of 1 MB", replace_rows(good_bytes, {5: "x" * MiB + ",1000,10,north"}), "TimestampError"),
        Case("a column name of 1 MB, no numbers",
             ("time," + "n" * MiB + "\n" + "".join(f"{t},north\n" for t in stamps(100))).encode(),
             "NoNumericColumnError"),
        Case("only quotes, even", b'"' * MiB, "NotACSVError"),
        Case("only quotes, odd", b'"' * (MiB + 1), "NotACSVError"),
        Case("an unclosed quote", replace_rows(good_bytes, {10: f'{stamps(11)[10]},"1000,10,north'}), "NotACSVError"),
        Case("a row with more fields than the header", replace_rows(good_bytes, {10: f"{stamps(11)[10]},1,2,3,4,5"}),
             "NotACSVError"),
        Case("a million empty lines within 20 MB",
             (header + "\n" + text_table(hours=DAYS * 12).split("\n", 1)[1] + "\n" * 1_000_000
              + text_table(hours=DAYS * 12, start=START + np.timedelta64(DAYS * 12, "h")).split("\n", 1)[1]).encode(),
             "ok"),
        Case("19 million newlines after a header", header.encode() + b"\n" * (19 * 10**6), "NotACSVError"),
        Case("a NUL byte in text", good_bytes[:5000] + b"\x00" + good_bytes[5000:], "NotACSVError"),
        Case("PNG bytes", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8, "NotACSVError"),
        Case("an HTML page", b"<!DOCTYPE html>\n<html><head><title>Login</title></head>\n<body>Sign in</body></html>\n",
             "NotACSVError"),
        Case("CR line endings", good_text.replace("\n", "\r").encode(), "ok"),
        Case("CRLF line endings", good_text.replace("\n", "\r\n").encode(), "ok"),
        Case("a comma after every row", good_text.replace("north\n", "north,\n").encode(), "ok"),
        Case("an Excel sep= line", b"sep=;\n" + good(sep=";"), "ok"),
        Case("pipes", good(sep="|"), "ok"),
        Case("latin-1 with a degree sign", text_table(header="timestamp,load_mw,temperature_°C,site").encode("latin-1"),
             "ok"),
        Case("quoted fields with commas and newlines",
             good_text.replace(",north\n", ',"north, by the\nriver"\n', 50).encode(), "ok"),
        Case("duplicate column names", text_table(header="timestamp,load,load,site").encode(), "ok"),
        Case("half-hourly readings", good(hours=DAYS * 48, step_minutes=30), "ok"),
        Case("a year of minute readings", good(hours=365 * 24 * 60, step_minutes=1, start=np.datetime64("2014-01-01T00", "h")),
             "ok"),
        Case("US dates, a year of minute readings",
             good(times=us_dates(stamps(365 * 24 * 60, np.datetime64("2014-01-01T00", "h"), 1)), step_minutes=1), "ok"),
        Case("day-first dotted dates", good(times=dotted_dates(stamps(DAYS * 24))), "ok"),
        Case("two timestamp formats, alternating, 100,000 rows",
             good(times=[t if i % 2 else us_dates([t])[0] for i, t in enumerate(stamps(100_000, step_minutes=15))],
                  step_minutes=15), "ok"),
        Case("three timestamp formats, 100,000 rows",
             good(times=[(t, us_dates([t])[0], dotted_dates([t])[0])[i % 3]
                         for i, t in enumerate(stamps(100_000, step_minutes=15))], step_minutes=15), "TimestampError"),
        Case("timestamps like 2014-10-01 1pm, 5,000 rows",
             good(times=[f"{t[:10]} {(int(t[11:13]) + 11) % 12 + 1}{'am' if int(t[11:13]) < 12 else 'pm'}"
                         for t in stamps(5000)]), "TimestampError"),
        Case("garbage timestamps, 500,000 rows", ("time,load\n" + "soon,1\n" * 500_000).encode(), "TimestampError"),
        Case("two-hourly readings", good(hours=DAYS * 12, step_minutes=120), "TimestampError"),
        Case("one timestamp, 500,000 rows", ("time,load\n" + "2020-01-01 00:00,1\n" * 500_000).encode(),
                                             "SeriesTooShortError"),
        Case("epoch seconds for timestamps",
             ("time,load\n" + "".join(f"{1_400_000_000 + 3600 * i},{i}\n" for i in range(DAYS * 24))).encode(),
             "TimestampError"),
        Case("a row in the year 3000", replace_rows(good_bytes, {DAYS * 24 - 1: "3000-01-01 00:00,1,2,north"}),
             "SeriesTooLargeError"),
        Case("199 columns, 32,000 hourly rows", wide(199, hours=32_000, late_years=None), "SeriesTooLargeError"),
        Case("200 columns of empty cells, 20 MB", ("time," + ",".join(f"c{i}" for i in range(199)) + "\n"
                                                    + ("," * 199 + "\n") * (20 * MiB // 200 - 10)).encode(),
             "TimestampError"),
        Case("199 text columns, 20 MB", ("time," + ",".join(f"c{i}" for i in range(199)) + "\n" + "".join(
            t + ",x" * 199 + "\n" for t in stamps(20 * MiB // 416))).encode(), "NoNumericColumnError"),
        Case("every load 'n/a'", with_values(["n/a"]), "NoNumericColumnError"),
        Case("over 20 MB", b"time,load\n" + b"2020-01-01 00:00,1\n" * (20 * MiB // 18 + 1), "SeriesTooLargeError"),
    ]
    names = [case.name for case in cases]
    assert len(set(names)) == len(names), "corpus names must differ"
    return cases


if __name__ == "__main__":
    for case in corpus():
        print(f"{len(case.data):>12,}  {case.expected:<22} {case.name}")
