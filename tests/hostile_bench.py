"""Time and peak memory of every hostile file through the engine: not a test (nothing is asserted
on time), a benchmark whose figures go in the issue notes (issue 22: each answered within 5 s and
under 1 GB).

    python tests/hostile_bench.py [--top 10] [--json FILE]

Every image of tests/bad_files.py is decoded as the pages decode an upload (scaled while decoded
to engine.UPLOAD_PIXELS) and as engine.decode_image does by default; every zip is loaded as a
folder and as a search gallery; every CSV of tests/bad_csv.py is read as the sequence page reads
it. The peak is the process's resident memory at its highest during the call (Linux's VmHWM,
reset before each call), less what the process held before it.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bad_csv  # noqa: E402
import bad_files  # noqa: E402

import engine  # noqa: E402
from engine.tasks.sequence import series  # noqa: E402

LIMIT_SECONDS, LIMIT_MB = 5.0, 1024


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure(call) -> tuple[float, float, str]:
    """(seconds, peak MB above the memory held before, the outcome's name)."""
    Path("/proc/self/clear_refs").write_text("5")   # resets VmHWM to the current resident size
    before = _status_mb("VmRSS")
    started = time.perf_counter()
    try:
        call()
        outcome = "ok"
    except Exception as err:  # noqa: BLE001 - the outcome is reported, not judged
        outcome = type(err).__name__
    seconds = time.perf_counter() - started
    return seconds, _status_mb("VmHWM") - before, outcome


def cases():
    for case in bad_files.images():
        yield f"page decode  {case.name}", lambda d=case.data: engine.decode_image(d, fit_pixels=engine.UPLOAD_PIXELS)
        yield f"decode_image {case.name}", lambda d=case.data: engine.decode_image(d)
    for case in bad_files.archives():
        yield f"folder       {case.name}", lambda d=case.data: engine.load_image_folder(d)
        yield f"gallery      {case.name}", lambda c=case: engine.load_gallery([(c.name, c.data)])
    for name, data, _ in bad_csv.corpus():
        yield f"csv          {name}", lambda d=data: series.load_series_csv(d)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--top", type=int, default=10, help="how many of the slowest and largest to list")
    parser.add_argument("--json", type=Path, help="also write every row to this file")
    args = parser.parse_args(argv)
    engine.decode_image(bad_files.clean_files()["PNG"])          # imports and first calls, not the files'
    series.load_series_csv(next(data for _, data, expected in bad_csv.corpus() if expected == "ok"))
    rows = []
    for label, call in cases():
        seconds, peak, outcome = measure(call)
        rows.append({"case": label, "seconds": round(seconds, 3), "peak_mb": round(peak, 1), "outcome": outcome})
    over = [r for r in rows if r["seconds"] > LIMIT_SECONDS or r["peak_mb"] > LIMIT_MB]
    print(f"{len(rows)} calls; over {LIMIT_SECONDS:g} s or {LIMIT_MB} MB: {len(over)}")
    for title, key in (("slowest", "seconds"), ("largest", "peak_mb")):
        print(f"\n{title}:")
        for row in sorted(rows, key=lambda r: -r[key])[:args.top]:
            print(f"  {row['seconds']:7.2f} s {row['peak_mb']:8.1f} MB  {row['outcome']:24s} {row['case']}")
    if over:
        print("\nover the limits:")
        for row in over:
            print(f"  {row['seconds']:7.2f} s {row['peak_mb']:8.1f} MB  {row['outcome']:24s} {row['case']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
