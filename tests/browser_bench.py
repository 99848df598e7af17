"""Interaction latency and load, in a real browser: not a test (nothing is asserted on timing),
a benchmark whose figures go in the issue notes.

    python tests/browser_bench.py latency [--rounds 3]                  one user, every page
    python tests/browser_bench.py load [--sessions 10] [--rounds 10]    many users at once
    python tests/browser_bench.py hostile                               costly files, one by one

Each round of a session opens every page at its own URL (a fresh Streamlit session), waits for
the built-in example's result, uploads a file through the real file input and waits for that
result. Latency runs from the navigation or the upload until the result is visible and the
script has finished. `load` also samples the server's resident memory before, during and after.
`hostile` uploads each costly file of browser.hostile_uploads on a freshly opened page while the
health endpoint is polled, as another visitor's browser would: per file, the seconds until the
page answered, whether it showed a message, and the longest health answer meanwhile.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from browser import VISITS, launch_browser, streamlit_server


def session_rounds(url: str, rounds: int, results: list, errors: list, start: threading.Barrier | None) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser, page = launch_browser(playwright)
        try:
            if start is not None:
                start.wait()
            for round_number in range(rounds):
                for slug, visit in VISITS.items():
                    try:
                        for action, seconds in visit(page, url).items():
                            results.append((round_number, slug, action, seconds))
                    except Exception as error:  # counted and reported: every interaction must succeed
                        errors.append(f"round {round_number} {slug}: {type(error).__name__}: {error}")
        finally:
            browser.close()


def summarise(results: list) -> dict:
    by_step = defaultdict(list)
    for _, slug, action, seconds in results:
        by_step[f"{slug} {action}"].append(seconds)
    every = [seconds for *_, seconds in results]
    table = {step: {"n": len(t), "p50_s": round(float(np.percentile(t, 50)), 3),
                    "p95_s": round(float(np.percentile(t, 95)), 3)} for step, t in sorted(by_step.items())}
    table["all"] = {"n": len(every), "p50_s": round(float(np.percentile(every, 50)), 3),
                    "p95_s": round(float(np.percentile(every, 95)), 3)}
    return table


def run(sessions: int, rounds: int) -> dict:
    with streamlit_server() as server:
        memory = {"after start": round(server.rss_mb(), 1)}
        # One warm-up round: models load and caches fill, which is not growth.
        warm: list = []
        errors: list = []
        session_rounds(server.url, 1, warm, errors, None)
        memory["after warm-up"] = round(server.rss_mb(), 1)
        results: list = []
        barrier = threading.Barrier(sessions) if sessions > 1 else None
        threads = [threading.Thread(target=session_rounds, args=(server.url, rounds, results, errors, barrier))
                   for _ in range(sessions)]
        samples = []
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            samples.append(server.rss_mb())
            time.sleep(1.0)
        seconds = time.perf_counter() - started
        time.sleep(5)  # let the server drop the closed sessions
        memory["peak during load"] = round(max(samples, default=server.rss_mb()), 1)
        memory["after load"] = round(server.rss_mb(), 1)
        per_round = defaultdict(list)
        for round_number, *_ , secs in results:
            per_round[round_number].append(secs)
    return {"sessions": sessions, "rounds per session": rounds, "pages": list(VISITS),
            "interactions": len(results), "failed interactions": len(errors), "errors": errors[:20],
            "wall seconds": round(seconds, 1), "latency": summarise(results),
            "median latency by round (s)": [round(float(np.median(per_round[r])), 3) for r in sorted(per_round)],
            "server memory (MB)": memory}


def run_hostile() -> dict:
    from browser import HealthWatch, hostile_uploads, upload_answer
    from playwright.sync_api import sync_playwright

    rows, memory = [], {}
    with streamlit_server() as server, sync_playwright() as playwright:
        memory["after start"] = round(server.rss_mb(), 1)
        browser, page = launch_browser(playwright)
        peak = 0.0
        with HealthWatch(server.url) as health:
            for slug, name, data in hostile_uploads():
                health.since_mark()
                seconds, alerts = upload_answer(page, server.url, slug, name, data)
                peak = max(peak, server.rss_mb())
                rows.append({"page": slug, "file": name, "seconds": round(seconds, 2), "message": bool(alerts),
                             "server_mb": round(server.rss_mb(), 1),
                             "health_s": round(health.since_mark(), 3)})
        browser.close()
        memory["peak (sampled after each file)"], memory["after"] = round(peak, 1), round(server.rss_mb(), 1)
    return {"files": len(rows), "slowest": sorted(rows, key=lambda r: -r["seconds"])[:8],
            "longest health answer (s)": max(r["health_s"] for r in rows), "answered with a message":
            sum(r["message"] for r in rows), "server memory (MB)": memory, "every file": rows}


def main(argv: list[str] | None = None) -> int:
    # Run as a script, Python puts tests/ on the path, not the repository: the sequence visit
    # makes its CSV with the engine (browser.load_csv), in this process.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("latency", "load", "hostile"))
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=None, help="rounds per session (latency 3, load 10)")
    args = parser.parse_args(argv)
    if args.mode == "hostile":
        print(json.dumps(run_hostile(), indent=2))
        return 0
    sessions = 1 if args.mode == "latency" else args.sessions
    rounds = args.rounds or (3 if args.mode == "latency" else 10)
    report = run(sessions, rounds)
    print(json.dumps(report, indent=2))
    return 1 if report["failed interactions"] else 0


if __name__ == "__main__":
    sys.exit(main())
