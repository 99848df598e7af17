"""What the browser tests and the browser benchmark share: starting the app with `streamlit run`
on a free local port, Debian's Chromium, and the interactions a user makes on each page.

Uses Debian's chromium (`apt-get install chromium`), never a browser downloaded by Playwright.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STARTUP_SECONDS = 60
SCRIPT_FINISHED = (
    "document.querySelector('[data-testid=\"stApp\"]')?.dataset.testScriptState === 'notRunning'"
)
SCRIPT_RUNNING = (
    "document.querySelector('[data-testid=\"stApp\"]')?.dataset.testScriptState === 'running'"
)
NO_EXCEPTION = "document.querySelectorAll('[data-testid=\"stException\"]').length === 0"
IMAGES_AT_LEAST = "document.querySelectorAll('[data-testid=\"stImage\"] img').length >= {}"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().strip() == b"ok"
    except OSError:
        return False


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log_path: Path
    root: Path = ROOT
    launched: float = 0.0   # time.perf_counter() when `streamlit run` was launched
    health_s: float = 0.0   # seconds from the launch until /_stcore/health answered ok

    def rss_mb(self) -> float:
        """The server's resident memory now, in MB (Linux)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS in /proc status")


@contextlib.contextmanager
def streamlit_server(log_dir: Path | None = None, root: Path | str | None = None) -> Iterator[Server]:
    """The app of the checkout at `root` (by default the repository this file is in) started with
    `streamlit run` on a free local port, stopped on exit. Raises RuntimeError with the server's
    log when it does not come up."""
    root = Path(root or ROOT).resolve()
    port = free_port()
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="streamlit-"))
    log_path = log_dir / "server.log"
    command = [
        sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(root)}   # that checkout's engine, never this one's
    with open(log_path, "wb") as log:
        launched = time.perf_counter()
        process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, log_path, root, launched)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not healthy(server.url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.05)
        server.health_s = time.perf_counter() - launched
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def drawn_digit_png() -> bytes:
    """A '7' in dark ink on white paper, bigger than 28x28: what a user photographs or draws."""
    from PIL import Image, ImageDraw

    paper = Image.new("L", (90, 90), 255)
    ImageDraw.Draw(paper).line([(18, 15), (70, 15), (38, 78)], fill=15, width=8)
    buffer = io.BytesIO()
    paper.save(buffer, format="PNG")
    return buffer.getvalue()


def photo_png() -> bytes:
    """A 320x240 colour photo (scikit-image's coffee, which no model trained on)."""
    from PIL import Image
    from skimage.data import coffee

    buffer = io.BytesIO()
    Image.fromarray(coffee()).resize((320, 240)).save(buffer, format="PNG")
    return buffer.getvalue()


# ---------------------------------------------------------------- seeing a rerun end
GRACE_MS = 3_000    # how long a ready page must stay so when no rerun was seen
QUIET_MS = 150      # how long the server must be quiet when a rerun was seen by its messages only

# Installed in every document before the app's scripts: a MutationObserver counts the script runs
# that end (data-test-script-state leaving 'running'), and the app's WebSocket is wrapped to note
# each message from the server, which a rerun too quick for the DOM ever to show 'running' (its
# messages all handled in one task) still sends.
# `watchFor(ready, noException)` then judges a condition in the page itself, at the frame after each
# change of the document (never while it is still): whether the script has finished, an exception is
# shown and `ready` holds, and since when. Playwright only reads that verdict (SETTLED, OPENED, every
# POLL_MS), so waiting costs the browser next to nothing: evaluating `ready` (often the whole page's innerText)
# at every frame, as polling "raf" does, took a tenth of a core per waiting browser, which five
# visitors' browsers on this machine's two cores took from the server and from each other.
RUN_WATCH = """(() => {
  if (window.__stRuns) return;
  const runs = window.__stRuns = {ended: 0, messages: 0, lastMessage: 0, markTime: 0, markEnded: 0,
                                  markMessages: 0, watch: null};
  new MutationObserver(records => {
    for (const r of records) if (r.oldValue === 'running') runs.ended += 1;
  }).observe(document, {subtree: true, attributes: true, attributeOldValue: true,
                        attributeFilter: ['data-test-script-state']});
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', () => { runs.messages += 1; runs.lastMessage = performance.now(); });
    }
  };
  let observer = null;
  runs.watch = null;
  runs.watchFor = (ready, noException) => {
    const isReady = new Function(`return (${ready});`), clean = new Function(`return (${noException});`);
    const w = runs.watch = {finished: false, exception: false, ready: false, okSince: null, pending: false};
    const judge = () => {
      w.pending = false;
      const app = document.querySelector('[data-testid="stApp"]');
      w.finished = app?.dataset.testScriptState === 'notRunning';
      w.exception = w.finished && !clean();
      const ok = w.finished && !w.exception && Boolean(isReady());
      if (!ok) w.okSince = null; else if (w.okSince === null) w.okSince = performance.now();
      w.ready = ok;
    };
    const schedule = () => { if (!w.pending && runs.watch === w) { w.pending = true; requestAnimationFrame(judge); } };
    if (observer) observer.disconnect();
    observer = new MutationObserver(schedule);
    observer.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
    schedule();
  };
})();"""
MARK = """() => { const r = window.__stRuns; r.markTime = performance.now(); r.markEnded = r.ended;
                r.markMessages = r.messages; }"""
WATCH_FOR = "([ready, noException]) => window.__stRuns.watchFor(ready, noException)"
POLL_MS = 50   # how often Playwright reads the page's verdict (the times come from the page's own clock)
# The verdict after an action, read every POLL_MS: {seconds, seen, server} once the page is ready
# (finished, no exception, `ready`) after the action's rerun: seconds from the mark to the moment it
# became ready for good when a run ending after the mark was seen; when only the server's messages
# were (a quick rerun), once they have been quiet for QUIET_MS, to the later of that moment and the
# last message; when neither was, once the page has stayed ready for GRACE_MS, to the moment it
# became so. -1 for an exception shown after a run.
SETTLED = """() => {{
  const r = window.__stRuns, w = r && r.watch;
  if (!w || !w.finished) return false;
  const ended = r.ended > r.markEnded, messaged = r.messages > r.markMessages, now = performance.now();
  if (w.exception) return ended || messaged ? -1 : false;
  if (!w.ready) return false;
  const since = s => ({{seconds: Math.max(s - r.markTime, 0.01) / 1000, seen: ended ? 'run' : messaged ? 'messages' : 'none',
                       server: messaged ? Math.max(r.lastMessage - r.markTime, 0.01) / 1000 : null}});
  if (ended) return since(w.okSince);
  if (messaged) return now - r.lastMessage > {quiet} ? since(Math.max(w.okSince, r.lastMessage)) : false;
  return now - w.okSince > {grace} ? since(w.okSince) : false;
}}"""
# After a navigation (the document's clock starts at it): seconds until the page was ready, once it is.
OPENED = "() => { const w = window.__stRuns?.watch; return !w ? false : w.exception ? -1 : w.ready ? w.okSince / 1000 : false; }"


class Timing(NamedTuple):
    """What timed() measured: the seconds until the result was visible, how the rerun was seen,
    and the seconds until the server's last message of it arrived (None when none came): the
    server's answer, the rest being the browser's drawing."""
    seconds: float
    seen: str
    server: float | None


def timed(page, act: Callable[[], None], ready: str, timeout_s: float) -> Timing:
    """Seconds from `act` until the rerun it starts has ended and `ready` holds, and how that
    rerun was seen: "run" (its running state), "messages" (only the server's messages) or "none"
    (`ready` held for GRACE_MS with no sign of a rerun)."""
    page.evaluate(MARK)
    act()
    page.evaluate(WATCH_FOR, [ready, NO_EXCEPTION])
    settled = SETTLED.format(grace=GRACE_MS, quiet=QUIET_MS)
    answer = page.wait_for_function(settled, polling=POLL_MS, timeout=timeout_s * 1000).json_value()
    if answer == -1:
        raise AssertionError(f"an exception is shown at {page.url}")
    server = answer.get("server")
    return Timing(float(answer["seconds"]), answer["seen"], None if server is None else float(server))


# ---------------------------------------------------------------- what a user does on each page
# Each visit opens a page at its own URL, waits for the built-in example's result, then uploads a
# file through the real file input and waits for that result: it returns the seconds each took,
# from the navigation or the upload until the result is visible and the script has finished.

TEXT_SHOWN = "document.body.innerText.includes({!r})"
# Charts shown: plotly's (drawn as the element mounts), and Vega-Lite's once drawn (they hold their SVG or
# canvas of marks; a chart can hold more than one element of that class).
CHART = '[data-testid="stPlotlyChart"], [data-testid="stVegaLiteChart"]:has(.marks)'
CHARTS_AT_LEAST = "document.querySelectorAll('" + CHART.replace('"', '\\"') + "').length >= {}"
# What shows that each page's main result (for its built-in example) is there, once its script has run.
OPEN_READY = {
    "home": "document.querySelectorAll('[data-testid=\"stPageLink\"]').length >= 9",
    "denoising": IMAGES_AT_LEAST.format(4),
    # the default example: original, grey input, mean colour and the autoencoder's colours
    "colorize": IMAGES_AT_LEAST.format(4),
    "anomaly": IMAGES_AT_LEAST.format(5),
    "search": TEXT_SHOWN.format("for this query"),
    "generate": IMAGES_AT_LEAST.format(16),   # the Sample tab's default grid is 4x4
    "studio": "document.querySelector('.st-key-studio_train button') !== null",   # the Train tab, ready to train
    "sequence": CHARTS_AT_LEAST.format(2),
    "semisupervised": CHARTS_AT_LEAST.format(1) + " && " + IMAGES_AT_LEAST.format(12),
    "impute": IMAGES_AT_LEAST.format(5),
}


def _settle(page, ready: str, started: float) -> float:
    page.wait_for_function(ready, polling="raf")
    page.wait_for_function(SCRIPT_FINISHED, polling="raf")
    seconds = time.perf_counter() - started
    if not page.evaluate(NO_EXCEPTION):
        raise AssertionError(f"an exception is shown at {page.url}")
    return seconds


SERVER_SINCE_NAVIGATION = "window.__stRuns && window.__stRuns.messages ? window.__stRuns.lastMessage / 1000 : null"


def server_seconds_of_open(page) -> float | None:
    """After an open: the seconds from the navigation to the server's last message so far (its
    page's run answered), when the page counts messages (RUN_WATCH installed), else None."""
    value = page.evaluate(SERVER_SINCE_NAVIGATION)
    return None if value is None else float(value)


def _open(page, url: str, slug: str, ready: str) -> float:
    """Seconds from the navigation until the page's main result is visible (`ready`) and its script
    has finished. A document that watches itself (RUN_WATCH installed) says so on its own clock,
    which starts at the navigation; otherwise Playwright polls at every frame."""
    started = time.perf_counter()
    page.goto(f"{url}/{slug}")
    if not page.evaluate("Boolean(window.__stRuns && window.__stRuns.watchFor)"):
        return _settle(page, ready, started)
    page.evaluate(WATCH_FOR, [ready, NO_EXCEPTION])
    seconds = float(page.wait_for_function(OPENED, polling=POLL_MS).json_value())
    if seconds < 0:
        raise AssertionError(f"an exception is shown at {page.url}")
    return seconds


def _upload(page, files: list[tuple[str, bytes]], ready: str, nth: int = 0, mime: str = "image/png") -> float:
    chooser = page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(nth)
    started = time.perf_counter()
    chooser.set_input_files(files=[{"name": n, "mimeType": mime, "buffer": d} for n, d in files])
    return _settle(page, ready, started)


def _choose(page, group: str, option: str, ready: str) -> None:
    page.locator('[data-testid="stRadio"]', has_text=group).get_by_text(option, exact=True).click()
    page.wait_for_function(ready, polling="raf")
    page.wait_for_function(SCRIPT_FINISHED, polling="raf")


def visit_denoising(page, url: str) -> dict[str, float]:
    times = {"open": _open(page, url, "denoising", OPEN_READY["denoising"])}
    _choose(page, "Image", "Upload your own", TEXT_SHOWN.format("Drop an image above"))
    times["upload"] = _upload(page, [("photo.png", photo_png())], IMAGES_AT_LEAST.format(4))
    return times


def visit_anomaly(page, url: str) -> dict[str, float]:
    times = {"open": _open(page, url, "anomaly", OPEN_READY["anomaly"])}
    shown = page.evaluate("document.querySelectorAll('[data-testid=\"stImage\"] img').length")
    # Each character adds its own image and, per model, a reconstruction and an error map.
    times["upload"] = _upload(page, [("seven.png", drawn_digit_png())], IMAGES_AT_LEAST.format(shown + 5))
    return times


def visit_search(page, url: str) -> dict[str, float]:
    times = {"open": _open(page, url, "search", OPEN_READY["search"])}
    _choose(page, "Search with", "Upload an image", TEXT_SHOWN.format("Drop an image to search the gallery for"))
    times["upload"] = _upload(page, [("seven.png", drawn_digit_png())], TEXT_SHOWN.format("neighbours are labelled"))
    return times


def visit_generate(page, url: str) -> dict[str, float]:
    # An upload opens "Your digit & beta" with its reconstruction and the two beta models' table.
    times = {"open": _open(page, url, "generate", OPEN_READY["generate"])}
    ready = TEXT_SHOWN.format("reconstruction of seven.png") + " && " + TEXT_SHOWN.format("The trade-off")
    times["upload"] = _upload(page, [("seven.png", drawn_digit_png())], ready)
    return times


def visit_colorize(page, url: str) -> dict[str, float]:
    times = {"open": _open(page, url, "colorize", OPEN_READY["colorize"])}
    times["upload"] = _upload(page, [("photo.png", photo_png())], TEXT_SHOWN.format("Colours for photo.png"))
    return times


def load_csv() -> bytes:
    """Six weeks of the synthetic hourly load and temperature, as a user's CSV."""
    import engine

    series = engine.synthetic_load_series(years=1, seed=5)
    lines = ["timestamp,load_mw,temperature_c"]
    for t, load, temp in list(zip(series.timestamps, series.load, series.temperature))[:42 * 24]:
        lines.append(f"{str(t.astype('datetime64[m]')).replace('T', ' ')},{load:.2f},{temp:.2f}")
    return ("\n".join(lines) + "\n").encode()


def visit_sequence(page, url: str) -> dict[str, float]:
    times = {"open": _open(page, url, "sequence", OPEN_READY["sequence"])}
    chooser = page.locator('[data-testid="stFileUploaderDropzoneInput"]').first
    started = time.perf_counter()
    chooser.set_input_files(files=[{"name": "load.csv", "mimeType": "text/csv", "buffer": load_csv()}])
    times["upload"] = _settle(page, TEXT_SHOWN.format("load.csv") + " && " + CHARTS_AT_LEAST.format(2), started)
    return times


def visit_semisupervised(page, url: str) -> dict[str, float]:
    times = {"open": _open(page, url, "semisupervised", OPEN_READY["semisupervised"])}
    shown = page.evaluate("document.querySelectorAll('[data-testid=\"stImage\"] img').length")
    times["upload"] = _upload(page, [("seven.png", drawn_digit_png())], IMAGES_AT_LEAST.format(shown + 1))
    return times


def visit_impute(page, url: str) -> dict[str, float]:
    times = {"open": _open(page, url, "impute", OPEN_READY["impute"])}
    times["upload"] = _upload(page, [("seven.png", drawn_digit_png())], TEXT_SHOWN.format("seven.png: RMSE"))
    return times


VISITS = {"denoising": visit_denoising, "colorize": visit_colorize, "anomaly": visit_anomaly,
          "search": visit_search, "generate": visit_generate, "sequence": visit_sequence,
          "semisupervised": visit_semisupervised, "impute": visit_impute}


def launch_browser(playwright, timeout_ms: int = 90_000, idle: bool = False):
    """Headless Debian Chromium with one page of a desktop's size; with `idle`, every thread of it
    runs in Linux's idle scheduling class (SCHED_IDLE: a core only when nothing else wants it, whatever
    priorities Chromium gives its threads), so that on one machine the server comes first."""
    executable = _idle(CHROMIUM) if idle else CHROMIUM
    browser = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS, headless=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(timeout_ms)
    return browser, page


def _idle(executable: Path) -> Path:
    """A script that runs `executable` in the idle scheduling class (its processes and threads inherit it).
    Not `nice`: Chromium sets its threads' nice values itself (-8 to 5 were seen under a nice 19 start)."""
    script = Path(tempfile.gettempdir()) / f"chromium-idle-{os.getuid()}"
    text = f'#!/bin/sh\nexec chrt --idle 0 {executable} "$@"\n'
    if not script.exists() or script.read_text() != text:
        partial = script.with_suffix(f".{os.getpid()}")
        partial.write_text(text)
        partial.chmod(0o755)
        partial.replace(script)   # atomic: visitors' threads may launch at once
    return script


# ---------------------------------------------------------------- hostile uploads (issue 22)
# One visitor uploads files made to be slow or large to decode while another's requests keep
# being answered: the server's health endpoint is polled all the while.

HOSTILE_IMAGE_KINDS = ("jpeg-many-scans", "tiff-many-strips", "narrow-strip", "float-extremes", "big-lossless")
HOSTILE_ZIP_KINDS = ("zip-pixel-bomb",)
HOSTILE_CSV_BYTES = 1 << 20   # CSVs this large, and those refused: the costly ones
ALERTS = "document.querySelectorAll('[data-testid=\"stAlert\"]').length"


def hostile_uploads() -> list[tuple[str, str, bytes]]:
    """(page, file name, bytes): the costly images of tests/bad_files.py for the denoising page,
    its pixel bombs for the image-search gallery, and tests/bad_csv.py's refused or large CSVs for
    the sequence page (each under the uploader's 20 MB)."""
    import bad_csv
    import bad_files

    out = [("denoising", case.name, case.data) for case in bad_files.corpus()
           if case.kind in HOSTILE_IMAGE_KINDS and len(case.data) <= 20_000_000]
    out += [("search", case.name, case.data) for case in bad_files.archives() if case.kind in HOSTILE_ZIP_KINDS
            and len(case.data) <= 20_000_000]
    out += [("sequence", re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-") + ".csv", data)
            for name, data, expected in bad_csv.corpus()
            if (expected != "ok" or len(data) >= HOSTILE_CSV_BYTES) and len(data) <= 20_000_000]
    return out


class HealthWatch:
    """Polls the server's health endpoint from a thread, as another visitor's browser would,
    and keeps the longest answer time (a request that fails counts as its timeout), overall and
    since the last call of `since_mark`."""

    def __init__(self, url: str, every: float = 0.1, timeout: float = 10.0):
        import threading

        self.url, self.every, self.timeout = url, every, timeout
        self.longest, self.requests, self.recent = 0.0, 0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=self.timeout) as response:
                    response.read()
                took = time.perf_counter() - started
            except OSError:
                took = self.timeout
            self.longest, self.recent, self.requests = max(self.longest, took), max(self.recent, took), self.requests + 1
            self._stop.wait(self.every)

    def since_mark(self) -> float:
        """The longest answer since the last call (or the start)."""
        recent, self.recent = self.recent, 0.0
        return recent

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _page_ready_for(page, url: str, slug: str) -> None:
    """The page open with its upload widget showing."""
    page.goto(f"{url}/{slug}")
    page.wait_for_function(SCRIPT_FINISHED, polling="raf")
    if slug == "denoising":
        _choose(page, "Image", "Upload your own", TEXT_SHOWN.format("Drop an image above"))
    elif slug == "search":
        _choose(page, "Gallery", "Your own images", "document.querySelector('[data-testid=\"stFileUploader\"]')")


def upload_answer(page, url: str, slug: str, name: str, data: bytes) -> tuple[float, str]:
    """Upload one file on a freshly opened page and wait for the rerun it starts to end: the
    seconds it took and the alerts shown (a refusal's message). A refusal so quick that no frame
    shows its run costs this wait's 5 s (the seconds are then 5 and more, not the app's)."""
    _page_ready_for(page, url, slug)
    chooser = page.locator('[data-testid="stFileUploaderDropzoneInput"]').first
    started = time.perf_counter()
    chooser.set_input_files(files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}])
    try:
        page.wait_for_function(SCRIPT_RUNNING, polling="raf", timeout=5_000)
    except Exception:   # noqa: BLE001 - a rerun so quick that it ended between two frames
        pass
    page.wait_for_function(SCRIPT_FINISHED, polling="raf")
    seconds = time.perf_counter() - started
    if not page.evaluate(NO_EXCEPTION):
        raise AssertionError(f"an exception is shown for {name} on {slug}")
    alerts = page.locator('[data-testid="stAlert"]').all_inner_texts()
    return seconds, "\n".join(alerts)
