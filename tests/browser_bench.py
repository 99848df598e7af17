"""Interaction latency and load, in a real browser: not a test (nothing is asserted on timing),
a benchmark whose figures go in the issue notes. Modes:

    python tests/browser_bench.py latency [--rounds 3]                 one visitor, every page and control
    python tests/browser_bench.py load [--sessions 10] [--rounds 10]   many visitors at once, the same
    python tests/browser_bench.py crowd [--sessions 5] [--rounds 3]    one visitor's browser among visitors without one
    python tests/browser_bench.py first                                each page as a restarted server's first visit
    python tests/browser_bench.py photo [--rounds 3]                   a 12 MP phone photo on denoising, colorization
    python tests/browser_bench.py compare --old PATH [--rounds 1]      first, latency, load (5), crowd (5) and photo, old then new
    python tests/browser_bench.py hostile                              costly files, one by one
    python tests/browser_bench.py live [--rounds 3]                    the studio's live views' cost on training

Flags: `--root PATH` runs the app of another checkout (an older commit of this repository, e.g. a
git worktree) while the visits stay this file's; `--pages home,denoising,...` keeps some pages
(home and the nine: denoising colorize anomaly search generate studio sequence semisupervised
impute); `--skip first,load,...` leaves modes out of `compare`; `--warmup N` rounds (default 1)
run uncounted before `latency`, `load` and `photo` (their figures are reported apart, as the cold
ones); `--control-timeout S` (default 30) bounds each control; `--json FILE` also writes the report
(`latency` and `load` rewrite it every minute as they go, `"finished": false` until the end);
`--shots DIR` keeps a screenshot of the page at each failed control; `--browsers-idle` runs the
visitors' browsers in Linux's idle scheduling class: on this one machine five visitors' Chromiums
take over 90% of the two cores, where on a host the visitors' browsers run on their own machines,
so the server has the cores first and the browsers draw in what it leaves.

`latency` and `load`: each round of a session, for every page, runs its visit of browser.VISITS
(opens the page at its own URL, a fresh Streamlit session, waits for the built-in example's
result, uploads a file through the real file input and waits for that result), then the page's
controls of browser_controls.CONTROLS (opens it again, then works each main control once on
built-in data: radios, selectboxes, sliders, toggles, buttons, tabs), then "open from the
sidebar": the home page, then the page's link in the sidebar, as a visitor in the app moves on
(no reload of Streamlit's scripts; the bar of an open). Latency runs from the
navigation, the upload or the action until the result is visible and the script (or fragment)
has finished; per step, p50 and p95, and every failed step (a control that times out counts its
timeout). `load` also samples the server's resident memory before, during and after (5 s after the
visitors leave, and again once Streamlit has dropped their sessions: its disconnectedSessionTTL + 15 s).
`crowd` is the issue's five visitors as a host sees them, their browsers on their own machines:
one visitor works every page and control in a real browser, as in `latency`, while the other
`--sessions` - 1 visitors have no browser (tests/protocol_visitor.py): each arrives (a new
session) and opens every page in turn through Streamlit's own WebSocket protocol, the next as soon
as the last one's run has ended (no time to look at a page: more load than people reading), again
and again until the visitor with a browser is done. Its steps are the figures (open's bar 3 s),
with the browserless visitors' opens (the server's whole answer) and the CPU split. On this machine
`load`'s five Chromiums take over 90% of the two cores, so `load` measures them more than the app.
`first`: for each page, a fresh server and a fresh browser; the seconds from launching `streamlit
run` until /_stcore/health answers ok (and, for the home page, until it is shown), and from the
navigation until the page's main result is visible.
`photo`: a 4000x3000 JPEG (browser_controls.phone_photo_jpeg, new noise each time) uploaded on a
freshly opened page, timed until its result is shown (denoising: the autoencoder's answer, and
apart, until its classical methods have followed from the background).
`compare`: the modes above against `--old` and then the current checkout (or `--root`), in one
process, with a markdown before/after table (step, old p95, new p95, the issue's bar) and the JSON.
`hostile` uploads each costly file of browser.hostile_uploads on a freshly opened page while the
health endpoint is polled, as another visitor's browser would: per file, the seconds until the
page answered, whether it showed a message, and the longest health answer meanwhile.
`live`: the training studio's 10-epoch convolutional run on the built-in 28x28 digits (no early
stopping), opened by its link with the live views off and on (in turn first), `--rounds` pairs
after `--warmup` uncounted ones, the browser
watching the page all the while: the training seconds each run reports (the engine's clock) and
the wall seconds from Train to the result, and the slowdown of the runs with live views.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from browser import CHART, OPEN_READY, ROOT, SCRIPT_FINISHED, TEXT_SHOWN, VISITS, launch_browser, streamlit_server
from browser_controls import PAGES, PHOTO_PAGES, open_page, operate, phone_photo_jpeg, upload_photo
from protocol_visitor import ProtocolVisitor

LOAD_SESSIONS_IN_COMPARE = 5
DISCONNECT_WAIT_S = 5.0     # after the visitors leave, memory is read once their disconnections reached the server,
EXPIRY_MARGIN_S = 15.0      # and again this long past the session TTL (counted from the same moment)
PROGRESS_EVERY_S = 60.0     # how often a load writes its report so far (--json)
FIRST_TIMEOUT_MS = 300_000   # a restarted server's first visit to a page (first mode)
# The bars, seconds: by mode and kind of step (None: no bar).
BARS = {("first", "page"): 5.0, ("first", "home shown after launch"): 5.0, ("latency", "open"): 1.5,
        ("latency", "control"): 1.0, ("load", "open"): 3.0, ("crowd", "open"): 3.0, ("photo", "upload"): 4.0}


@dataclass
class Tally:
    """What visitors record: rows (round, page, step, seconds, ok), error lines, the controls
    skipped as missing from this version of the app, and those timed with no sign of a rerun."""
    results: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    skipped: set = field(default_factory=set)
    unseen: set = field(default_factory=set)
    server: dict = field(default_factory=lambda: defaultdict(list))   # "page step" -> seconds to the server's answer
    protocol: list = field(default_factory=list)   # crowd: the browserless visitors' opens (page, seconds, ok)


def session_rounds(url: str, rounds: int, pages: list[str], tally: Tally, start: threading.Barrier | None,
                   control_timeout: float, shots: Path | None = None, idle: bool = False) -> None:
    """One visitor: `rounds` times, every page's visit and then its controls (its browser in the idle
    scheduling class with `idle`)."""
    from playwright.sync_api import sync_playwright

    results, errors = tally.results, tally.errors
    with sync_playwright() as playwright:
        browser, page = launch_browser(playwright, idle=idle)
        try:
            if start is not None:
                start.wait()
            for round_number in range(rounds):
                for slug in pages:
                    if slug in VISITS:
                        try:
                            for action, seconds in VISITS[slug](page, url).items():
                                results.append((round_number, slug, action, seconds, True))
                        except Exception as error:  # counted and reported: every interaction must succeed
                            errors.append(f"round {round_number} {slug} visit: {type(error).__name__}: {error}"
                                          f" [{_page_state(page, slug)}]")
                            results.append((round_number, slug, "visit", float("nan"), False))
                            if shots is not None:
                                with contextlib.suppress(Exception):
                                    shots.mkdir(parents=True, exist_ok=True)
                                    page.screenshot(path=shots / f"{slug}-visit-{time.strftime('%H%M%S')}.png",
                                                    full_page=True)
                    try:
                        for row in operate(page, url, slug, control_timeout, shots):
                            if "skipped" in row:
                                tally.skipped.add(f"{slug} {row['step']}: {row['skipped']}")
                                continue
                            results.append((round_number, slug, row["step"], row["seconds"], row["ok"]))
                            if row["ok"] and row.get("server") is not None:
                                tally.server[f"{slug} {row['step']}"].append(row["server"])
                            if row.get("rerun_seen") == "none":
                                tally.unseen.add(f"{slug} {row['step']}")
                            if not row["ok"]:
                                errors.append(f"round {round_number} {slug} {row['step']}: {row['error']}")
                    except Exception as error:   # the page did not open
                        errors.append(f"round {round_number} {slug} controls: {type(error).__name__}: {error}")
                        results.append((round_number, slug, "open", float("nan"), False))
        finally:
            browser.close()


def protocol_rounds(url: str, pages: list[str], tally: Tally, start: threading.Barrier | None,
                    done: threading.Event) -> None:
    """A visitor without a browser (`crowd`): until `done`, arrives (a new session) and opens every
    page in turn through Streamlit's protocol, each as soon as the last one's run has ended."""
    if start is not None:
        start.wait()
    while not done.is_set():
        slug = pages[0]
        try:
            with ProtocolVisitor(url) as visitor:
                for slug in pages:
                    if done.is_set():
                        break
                    answer = visitor.open("" if slug == "home" else slug)
                    tally.protocol.append((slug, answer.seconds, answer.exceptions == 0))
                    if answer.exceptions:
                        tally.errors.append(f"browserless visitor: {slug} showed an exception")
        except Exception as error:   # counted and reported; the visitor arrives again
            tally.errors.append(f"browserless visitor: {slug}: {type(error).__name__}: {error}")
            tally.protocol.append((slug, float("nan"), False))
            done.wait(1.0)


def _page_state(page, slug: str) -> str:
    """What a page shows, for an error line: its script's state, whether its open's ready condition
    holds now, images, charts, the open tab and alerts."""
    try:
        return page.evaluate("""([ready, chart]) => {
          const q = s => document.querySelectorAll(s), app = document.querySelector('[data-testid="stApp"]');
          const tab = document.querySelector('[role=tab][aria-selected=true]');
          return `script ${app?.dataset.testScriptState}, open's condition ${eval(ready)}, `
            + `${q('[data-testid="stImage"] img').length} images, ${q(chart).length} charts, `
            + `tab ${tab ? tab.innerText : '-'}, alerts: `
            + Array.from(q('[data-testid="stAlert"]')).map(a => a.innerText.slice(0, 120)).join(' | ');
        }""", [OPEN_READY[slug], CHART])
    except Exception as error:   # the page itself may be what failed
        return f"page state unknown: {type(error).__name__}"


def _stats(times: list[float]) -> dict:
    times = [t for t in times if t == t]   # a failed visit has no time (nan)
    if not times:
        return {"n": 0}
    return {"n": len(times), "p50_s": round(float(np.percentile(times, 50)), 3),
            "p95_s": round(float(np.percentile(times, 95)), 3)}


def summarise(results: list) -> dict:
    by_step, failed = defaultdict(list), defaultdict(int)
    for _, slug, step, seconds, ok in results:
        by_step[f"{slug} {step}"].append(seconds)
        failed[f"{slug} {step}"] += not ok
    table = {step: {**_stats(t), "failed": failed[step]} for step, t in sorted(by_step.items())}
    table["all"] = {**_stats([r[3] for r in results]), "failed": sum(failed.values())}
    return table


POLICIES = {0: "normal", 3: "batch", 5: "idle"}   # Linux's scheduling classes (/proc/PID/stat field 41)


class CpuTally:
    """CPU seconds used by the server and by the visitors' Chromiums while sampled (Linux /proc):
    on one machine they share its cores, and this says whose work a load's latency waits on."""

    def __init__(self, server_pid: int):
        self.server_pid, self.tick = server_pid, os.sysconf("SC_CLK_TCK")
        self.first: dict = {}
        self.last: dict = {}
        self.policies: dict = {"server": set(), "chromium": set()}   # the scheduling classes seen

    def sample(self) -> None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            key = (entry.name, fields[19])   # the pid and its start time
            kind = "server" if int(entry.name) == self.server_pid else "chromium" if b"chromium" in command else None
            kind = self.last.get(key, (kind, 0))[0] or kind   # an exiting process has no command line
            if kind is None:
                continue
            seconds = (int(fields[11]) + int(fields[12])) / self.tick
            self.policies[kind].add(POLICIES.get(int(fields[38]), fields[38]))
            self.first.setdefault(key, (kind, seconds))
            self.last[key] = (kind, seconds)

    def seconds(self) -> dict:
        out = {"server": 0.0, "chromium": 0.0}
        for key, (kind, seconds) in self.last.items():
            out[kind] += seconds - self.first[key][1]
        return {kind: round(value, 1) for kind, value in out.items()}


def run(sessions: int, rounds: int, pages: list[str], root: Path, warmup: int = 1, control_timeout: float = 30.0,
        shots: Path | None = None, progress: Callable[[dict], None] | None = None, idle: bool = False,
        crowd: bool = False) -> dict:
    """`sessions` visitors at once, `rounds` each after `warmup` uncounted rounds, their browsers in
    the idle scheduling class with `idle`; with `crowd`, one visitor has a browser and the others
    none (protocol_rounds, until the one with a browser is done); `progress`, if given, gets the
    report so far every PROGRESS_EVERY_S seconds and the whole one at the end."""
    with streamlit_server(root=root) as server:
        memory = {"after start": round(server.rss_mb(), 1)}
        # Warm-up rounds: models load and caches fill, which is not growth (their figures: the cold ones).
        warm = Tally()
        warm_started = time.perf_counter()
        if warmup:
            session_rounds(server.url, warmup, pages, warm, None, control_timeout, shots, idle)
        warm_seconds = time.perf_counter() - warm_started
        memory["after warm-up"] = round(server.rss_mb(), 1)
        tally = Tally(errors=[f"warm-up {e}" for e in warm.errors], skipped=warm.skipped, unseen=warm.unseen)
        barrier = threading.Barrier(sessions) if sessions > 1 else None
        browsers = 1 if crowd else sessions
        threads = [threading.Thread(target=session_rounds,
                                    args=(server.url, rounds, pages, tally, barrier, control_timeout, shots, idle))
                   for _ in range(browsers)]
        done = threading.Event()
        browserless = [threading.Thread(target=protocol_rounds, args=(server.url, pages, tally, barrier, done))
                       for _ in range(sessions - browsers)]
        samples, cpu = [], CpuTally(server.process.pid)
        cpu.sample()
        started = time.perf_counter()
        for thread in threads + browserless:
            thread.start()

        def report(finished: bool) -> dict:
            if not finished:
                memory["peak so far"] = round(max(samples, default=server.rss_mb()), 1)
            return _load_report(root, sessions, rounds, pages, tally, warm, warm_seconds, memory, cpu,
                                time.perf_counter() - started, finished, idle, crowd)

        if progress is not None:
            progress(report(finished=False))   # at once: the warm-up's figures and memory
        last_progress = time.perf_counter()
        while any(t.is_alive() for t in threads):
            samples.append(server.rss_mb())
            cpu.sample()
            if progress is not None and time.perf_counter() - last_progress >= PROGRESS_EVERY_S:
                progress(report(finished=False))
                last_progress = time.perf_counter()
            time.sleep(1.0)
        seconds = time.perf_counter() - started
        done.set()
        for thread in browserless:
            thread.join()
        time.sleep(DISCONNECT_WAIT_S)  # let the closed tabs' disconnections reach the server
        memory.pop("peak so far", None)
        memory["peak during load"] = round(max(samples, default=server.rss_mb()), 1)
        memory["after load"] = round(server.rss_mb(), 1)
        if sessions > 1:
            # Streamlit keeps a closed tab's session (its state, uploads and results) for
            # server.disconnectedSessionTTL, in case the visitor comes back: "after load" still holds them.
            time.sleep(session_ttl() + EXPIRY_MARGIN_S - DISCONNECT_WAIT_S)
            memory["after the sessions expired"] = round(server.rss_mb(), 1)
    out = _load_report(root, sessions, rounds, pages, tally, warm, warm_seconds, memory, cpu, seconds, True, idle, crowd)
    if progress is not None:
        progress(out)
    return out


def session_ttl() -> float:
    """Seconds Streamlit keeps a disconnected session (the app's config, else Streamlit's default)."""
    import streamlit as st

    return float(st.get_option("server.disconnectedSessionTTL"))


def _load_report(root: Path, sessions: int, rounds: int, pages: list[str], tally: Tally, warm: Tally,
                 warm_seconds: float, memory: dict, cpu: CpuTally, seconds: float, finished: bool, idle: bool = False,
                 crowd: bool = False) -> dict:
    """The report of `run`, whole (`finished`) or so far (from the rows the visitors have recorded)."""
    results = list(tally.results)   # the visitors' threads may still be appending
    per_round = defaultdict(list)
    for round_number, *_, secs, ok in results:
        if ok:
            per_round[round_number].append(secs)
    return {"root": str(root), "finished": finished, "sessions": sessions, "rounds per session": rounds,
            "browsers in the idle scheduling class": idle,
            "pages": pages, "interactions": len(results), "failed interactions": sum(not r[4] for r in results),
            "errors": list(tally.errors)[:40], "skipped controls": sorted(tally.skipped),
            "controls with no rerun seen (timed until ready)": sorted(tally.unseen), "wall seconds": round(seconds, 1),
            "latency": summarise(results),
            # From the action (or the navigation) to the server's last message of the rerun: the server's
            # share of each step; the rest is the browser drawing (on this machine, beside the server).
            "server answered (s)": {step: _stats(list(times)) for step, times in sorted(tally.server.items())},
            "median latency by round (s)": [round(float(np.median(per_round[r])), 3) for r in sorted(per_round)],
            "warm-up (cold) latency": summarise(warm.results) if warm.results else {},
            "warm-up wall seconds": round(warm_seconds, 1), "server memory (MB)": dict(memory),
            "CPU seconds while measured (server, visitors' Chromiums)": cpu.seconds(),
            "scheduling classes seen": {kind: sorted(values) for kind, values in cpu.policies.items()},
            **({"browserless visitors' opens (s)": summarise([(0, slug, "open", secs, ok)
                                                               for slug, secs, ok in list(tally.protocol)])}
               if crowd else {})}


def run_first(pages: list[str], root: Path) -> dict:
    """Each page as the first visit of a restarted server, in a fresh browser."""
    from playwright.sync_api import sync_playwright

    rows, errors = [], []
    for slug in pages:
        with sync_playwright() as playwright:
            # started before the server, so as not to slow its start; a cold page may take minutes
            browser, page = launch_browser(playwright, FIRST_TIMEOUT_MS)
            try:
                with streamlit_server(root=root) as server:
                    row = {"page": slug, "health_s": round(server.health_s, 3)}
                    try:
                        navigated = time.perf_counter() - server.launched
                        seconds = open_page(page, server.url, slug)
                        row["open_s"], row["launch_to_shown_s"] = round(seconds, 3), round(navigated + seconds, 3)
                    except Exception as error:
                        errors.append(f"{slug}: {type(error).__name__}: {str(error).splitlines()[0]}")
                        row["failed"] = True
                    rows.append(row)
            finally:
                browser.close()
    health = [r["health_s"] for r in rows]
    home = [r["launch_to_shown_s"] for r in rows if r["page"] == "home" and "launch_to_shown_s" in r]
    return {"root": str(root), "pages": {r["page"]: r for r in rows}, "errors": errors,
            "server start": {"health ok (s)": _stats(health),
                             "home shown after launch (s)": home[0] if home else None}}


def run_photo(rounds: int, pages: list[str], root: Path, warmup: int = 1) -> dict:
    """The 12 MP photo uploaded on each photo page, `rounds` times, each time with new noise."""
    from playwright.sync_api import sync_playwright

    slugs = [slug for slug in PHOTO_PAGES if slug in pages]
    times, warm, errors, sizes = defaultdict(list), defaultdict(list), [], []
    with streamlit_server(root=root) as server, sync_playwright() as playwright:
        browser, page = launch_browser(playwright)
        for round_number in range(-warmup, rounds):
            for number, slug in enumerate(slugs):
                data = phone_photo_jpeg(seed=1000 * (round_number + warmup) + number)
                sizes.append(len(data))
                try:
                    shown = upload_photo(page, server.url, slug, f"phone-{round_number + warmup}.jpg", data)
                    for step, seconds in shown.items():
                        (warm if round_number < 0 else times)[step].append(seconds)
                except Exception as error:
                    errors.append(f"round {round_number} {slug}: {type(error).__name__}: {str(error).splitlines()[0]}")
        browser.close()
        peak = round(server.rss_mb(), 1)
    return {"root": str(root), "photo": "4000x3000 JPEG, quality 90", "file MB": round(max(sizes, default=0) / 1e6, 2),
            "rounds": rounds, "upload": {slug: _stats(t) for slug, t in times.items()},
            "warm-up upload": {slug: _stats(t) for slug, t in warm.items()}, "errors": errors,
            "server memory after (MB)": peak}


def run_hostile(root: Path) -> dict:
    from browser import HealthWatch, hostile_uploads, upload_answer
    from playwright.sync_api import sync_playwright

    rows, memory = [], {}
    with streamlit_server(root=root) as server, sync_playwright() as playwright:
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


# ---------------------------------------------------------------- before and after
def figures(mode: str, report: dict) -> dict[str, tuple]:
    """A mode's report as {step: (p95 seconds or None, failures, bar[, the server's answer's p95])}."""
    out = {}
    if mode == "first":
        start = report["server start"]
        out["first: server health ok"] = (start["health ok (s)"].get("p95_s"), 0, None)
        out["first: home shown after launch"] = (start["home shown after launch (s)"],
                                                 int(start["home shown after launch (s)"] is None),
                                                 BARS["first", "home shown after launch"])
        for slug, row in report["pages"].items():
            out[f"first: {slug}"] = (row.get("open_s"), int(bool(row.get("failed"))), BARS["first", "page"])
    elif mode in ("latency", "load", "crowd"):
        for step, stats in report["latency"].items():
            kind = "open" if step.endswith((" open", " open from the sidebar")) else "upload" if step.endswith(" upload") else \
                "all" if step == "all" else "control"
            server = report.get("server answered (s)", {}).get(step, {}).get("p95_s")
            out[f"{mode}: {step}"] = (stats.get("p95_s"), stats["failed"], BARS.get((mode, kind)), server)
    elif mode == "photo":
        for slug in PHOTO_PAGES:
            if slug in report["upload"] or any(slug in e for e in report["errors"]):
                failed = sum(e.split(":")[0].endswith(slug) for e in report["errors"])
                out[f"photo: {slug}"] = (report["upload"].get(slug, {}).get("p95_s"), failed, BARS["photo", "upload"])
        for step, stats in report["upload"].items():   # what follows the main result (no bar)
            if step not in PHOTO_PAGES:
                out[f"photo: {step}"] = (stats.get("p95_s"), 0, None)
    return out


def compare_table(old: dict, new: dict) -> str:
    def cell(figure) -> str:
        if figure is None:
            return "-"
        seconds, failed = figure[:2]
        text = "-" if seconds is None else f"{seconds:.2f}"
        return text + (f" ({failed} failed)" if failed else "")

    old_rows = {k: v for mode, r in old.items() for k, v in figures(mode, r).items()}
    new_rows = {k: v for mode, r in new.items() for k, v in figures(mode, r).items()}
    lines = ["| step | old p95 (s) | new p95 (s) | bar (s) | new: server answered, p95 (s) |", "|---|---:|---:|---:|---:|"]
    for step in list(dict.fromkeys([*new_rows, *old_rows])):
        bar = (new_rows.get(step) or old_rows.get(step))[2]
        server = (*(new_rows.get(step) or ()), None, None, None, None)[3]
        lines.append(f"| {step} | {cell(old_rows.get(step))} | {cell(new_rows.get(step))} | "
                     f"{'-' if bar is None else f'< {bar:g}'} | {'-' if server is None else f'{server:.2f}'} |")
    return "\n".join(lines)


LIVE_RUN = {"studio_family": "Convolutional", "studio_epochs": "10", "studio_patience": "off"}
LIVE_TIMEOUT_MS = 600_000


def run_live(rounds: int, root: Path, warmup: int = 1) -> dict:
    """See the module's notes (`live`)."""
    import re
    from urllib.parse import urlencode

    from playwright.sync_api import sync_playwright

    rows = []
    with streamlit_server(root=root) as server, sync_playwright() as playwright:
        browser, page = launch_browser(playwright, LIVE_TIMEOUT_MS)
        try:
            for round_ in range(-warmup, rounds):   # the warm-up's runs (round < 0) render the digits: not counted
                for live in (False, True) if round_ % 2 == 0 else (True, False):   # neither always goes first
                    query = urlencode({**LIVE_RUN, "studio_live": str(live).lower()})
                    page.goto(f"{server.url}/studio?{query}")
                    page.wait_for_function(OPEN_READY["studio"], polling="raf")
                    page.wait_for_function(SCRIPT_FINISHED, polling="raf")
                    started = time.perf_counter()
                    page.click(".st-key-studio_train button")
                    page.wait_for_function(TEXT_SHOWN.format("trained for 10 epochs in"), polling=500)
                    wall = time.perf_counter() - started
                    text = page.evaluate("document.body.innerText")
                    seconds = float(re.search(r"trained for 10 epochs in ([0-9.]+) s", text).group(1))
                    taken = re.search(r"Replay the training \(([0-9]+) snapshots\)", text)
                    rows.append({"round": round_, "live": live, "training s": seconds, "wall s": round(wall, 1),
                                 "snapshots": int(taken.group(1)) if taken else 0})
                    print(rows[-1], file=sys.stderr, flush=True)
        finally:
            browser.close()
    report = {"runs": rows}
    counted = [r for r in rows if r["round"] >= 0]
    for key in ("training s", "wall s"):
        off = [r[key] for r in counted if not r["live"]]
        on = [r[key] for r in counted if r["live"]]
        report[key] = {"off": off, "on": on, "median off": float(np.median(off)), "median on": float(np.median(on)),
                       "slowdown": float(np.median(on) / np.median(off) - 1)}
    return report


def run_modes(modes: list[str], root: Path, args) -> dict:
    reports = {}
    # A lone latency or load run keeps its --json file up to date as it goes: a long load that is
    # stopped still leaves its figures so far ("finished": false).
    progress = None
    if args.json is not None and args.mode in ("latency", "load", "crowd"):
        def progress(report: dict) -> None:
            args.json.write_text(json.dumps(report, indent=2))
    for mode in modes:
        print(f"[{time.strftime('%H:%M:%S')}] {mode} on {root}", file=sys.stderr, flush=True)
        if mode == "first":
            reports[mode] = run_first(args.pages, root)
        elif mode == "latency":
            reports[mode] = run(1, args.rounds or 3, args.pages, root, args.warmup, args.control_timeout, args.shots,
                                progress, idle=args.browsers_idle)
        elif mode == "load":
            reports[mode] = run(args.sessions or 10, args.rounds or 10, args.pages, root, args.warmup,
                                args.control_timeout, args.shots, progress, idle=args.browsers_idle)
        elif mode == "crowd":
            reports[mode] = run(args.sessions or LOAD_SESSIONS_IN_COMPARE, args.rounds or 3, args.pages, root, args.warmup,
                                args.control_timeout, args.shots, progress, idle=args.browsers_idle, crowd=True)
        elif mode == "photo":
            reports[mode] = run_photo(args.rounds or 3, args.pages, root, args.warmup)
    return reports


def main(argv: list[str] | None = None) -> int:
    # Run as a script, Python puts tests/ on the path, not the repository: the sequence visit
    # makes its CSV with the engine (browser.load_csv), in this process.
    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("latency", "load", "crowd", "first", "photo", "compare", "hostile", "live"))
    parser.add_argument("--sessions", type=int, default=None, help="visitors at once (load 10, crowd 5, compare 5)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per session (latency 3, load 10, photo 3)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose app is run (default: this one)")
    parser.add_argument("--old", type=Path, help="compare: the older checkout")
    parser.add_argument("--pages", type=lambda s: [p for p in s.split(",") if p], default=PAGES,
                        help="comma-separated pages (home, slugs); default all")
    parser.add_argument("--skip", type=lambda s: [m for m in s.split(",") if m], default=[],
                        help="compare: modes to leave out (first, latency, load, crowd, photo)")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted rounds before latency, load and photo")
    parser.add_argument("--control-timeout", type=float, default=30.0, help="seconds a control may take")
    parser.add_argument("--json", type=Path, help="also write the report to this file")
    parser.add_argument("--shots", type=Path, help="a folder for a screenshot of each failed control")
    parser.add_argument("--browsers-idle", action="store_true",
                        help="latency and load: the visitors' browsers in the idle scheduling class, so that the "
                             "server on this machine has the cores first, as on a host whose visitors' browsers "
                             "run on their own machines")
    args = parser.parse_args(argv)
    unknown = [p for p in args.pages if p not in PAGES]
    if unknown:
        parser.error(f"unknown pages {unknown}; known: {','.join(PAGES)}")
    args.pages = [p for p in PAGES if p in args.pages]
    failed = 0
    if args.mode == "hostile":
        report = run_hostile(args.root)
    elif args.mode == "live":
        report = run_live(args.rounds or 3, args.root.resolve(), args.warmup)
    elif args.mode == "compare":
        if args.old is None:
            parser.error("compare needs --old PATH")
        args.sessions = args.sessions or LOAD_SESSIONS_IN_COMPARE
        modes = [m for m in ("first", "latency", "load", "crowd", "photo") if m not in args.skip]
        old, new = run_modes(modes, args.old.resolve(), args), run_modes(modes, args.root.resolve(), args)
        table = compare_table(old, new)
        print(table)
        report = {"old": old, "new": new, "table": table}
    else:
        if args.mode == "latency":
            args.sessions = 1
        report = run_modes([args.mode], args.root.resolve(), args)[args.mode]
        failed = report.get("failed interactions", 0) + len(report.get("errors", []))
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
