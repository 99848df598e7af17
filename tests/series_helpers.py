"""Helpers the sequence tests share: short series, CSV files made from them, and bad CSVs."""
import engine


def short_series(days: int = 40, seed: int = 1, temperature: bool = True) -> engine.LoadSeries:
    """The first `days` days of a synthetic series (a user's file, say)."""
    whole = engine.synthetic_load_series(years=1, seed=seed)
    hours = slice(0, days * 24)
    return engine.LoadSeries(whole.timestamps[hours], whole.load[hours],
                             whole.temperature[hours] if temperature else None, name="short")


def csv_bytes(series: engine.LoadSeries, sep: str = ",", drop: slice | None = None) -> bytes:
    """A CSV of the series with a text column besides, leaving out the rows in `drop`."""
    lines = [sep.join(["timestamp", "load_mw", "temperature_c", "site"])]
    for i, (t, load, temp) in enumerate(zip(series.timestamps, series.load, series.temperature)):
        if drop is not None and drop.start <= i < drop.stop:
            continue
        stamp = str(t.astype("datetime64[m]")).replace("T", " ")
        lines.append(sep.join([stamp, f"{load:.3f}", f"{temp:.2f}", "north"]))
    return ("\n".join(lines) + "\n").encode()


# name -> (file bytes, the SeriesError subclass it raises, words its message holds)
BAD_CSVS = {
    "png bytes": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), engine.NotACSVError, "binary"),
    "empty": (b"", engine.NotACSVError, "empty"),
    "one column": (b"just some words\nand more words\n", engine.NotACSVError, "single column"),
    "no numeric column": (b"timestamp,site\n2020-01-01 00:00,north\n2020-01-01 01:00,south\n",
                          engine.NoNumericColumnError, "holds numbers"),
    "bad timestamps": (b"timestamp,load\n2020-01-01 00:00,5\nnot a date,6\n2020-01-01 02:00,7\n",
                       engine.TimestampError, "'not a date' on line 3"),
    "numbers for timestamps": (b"timestamp,load\n1,5\n2,6\n3,7\n", engine.TimestampError, "numbers, not dates"),
    "daily readings": (("day,load\n" + "".join(f"2020-01-{d:02d},{d}\n" for d in range(1, 31))).encode(),
                       engine.TimestampError, "hourly"),
    "too short": (("time,load\n" + "".join(f"2020-01-01 {h:02d}:00,{h}\n" for h in range(24))).encode(),
                  engine.SeriesTooShortError, "at least 672"),
    "centuries": (("time,load\n" + "".join(f"1900-01-01 {h:02d}:00,{h}\n" for h in range(5))
                   + "2020-01-01 00:00,3\n").encode(), engine.SeriesTooLargeError, "span"),
    "huge": (b"time,load\n" + b"2020-01-01 00:00,1\n" * (engine.MAX_CSV_BYTES // 18 + 1), engine.SeriesTooLargeError,
             "limit"),
}
