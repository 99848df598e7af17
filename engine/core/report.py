"""The shape of every evaluation and benchmark result: tables of rows, timed medians, and
their plain-text form for the terminal."""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def result_table(title: str, columns: list[str], rows: list[list]) -> dict:
    return {"title": title, "columns": columns, "rows": rows}


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: first runs pay for allocation and kernel selection
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def once_seconds(fn: Callable[[], object]) -> float:
    """The time of one call, for methods too slow to repeat (BM3D on a megapixel photo)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def paired_medians(fns: list[Callable[[], object]], repeats: int, rounds: int = 3) -> list[float]:
    """Median seconds of each function over `repeats` timed calls, taken in `rounds` blocks that
    alternate between the functions: a machine that is busier for a while slows every
    contender alike. Each block starts with an untimed call, because the thread pool of the one
    before (onnxruntime's and torch's both spin for a while after a call) is still busy then."""
    times: list[list[float]] = [[] for _ in fns]
    per_block = -(-repeats // rounds)
    for _ in range(rounds):
        for fn, spent in zip(fns, times):
            fn()
            for _ in range(per_block):
                start = time.perf_counter()
                fn()
                spent.append(time.perf_counter() - start)
    return [float(np.median(t)) for t in times]


def format_tables(result: dict) -> str:
    lines = [f"# {result['command']}  (device: {result['device']})"]
    for table in result["tables"]:
        cells = [table["columns"]] + [["-" if v is None else str(v) for v in row] for row in table["rows"]]
        widths = [max(len(str(r[i])) for r in cells) for i in range(len(table["columns"]))]
        lines += ["", table["title"]]
        for j, row in enumerate(cells):
            lines.append("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())
            if j == 0:
                lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
