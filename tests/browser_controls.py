"""Every page's main controls, operated in a real browser on built-in data and timed one by one,
and the 12 MP phone photo uploaded on the denoising and colorization pages (tests/browser_bench.py).

`operate(page, url, slug)` opens a page at its own URL (a fresh Streamlit session), waits for its
main result (browser.OPEN_READY), then works each of its CONTROLS once, in order: a radio or a
segmented control by clicking the option's text, a selectbox by opening it and clicking an option
of its list, a slider by focusing its thumb and pressing keys, a toggle, a button, a number input
(typed, then Enter), a tab. Each control is timed from the action until the rerun it starts (the
whole script's, or a fragment's) has finished and its `ready` condition holds: the updated result is
visible. Buttons that start training are no interaction to time and are left alone.

The time is read on the page's own clock: a MutationObserver counts the script runs that end (the
app's data-test-script-state leaving 'running'), so that a rerun too quick for a frame to show is
still seen; and a condition that holds without any rerun seen (an action that starts none) counts
once it has held for GRACE_MS, from the moment it began to hold, not the grace.
"""
from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from browser import (
    CHARTS_AT_LEAST,
    IMAGES_AT_LEAST,
    OPEN_READY,
    RUN_WATCH,
    SCRIPT_FINISHED,
    TEXT_SHOWN,
    _choose,
    _open,
    _settle,
    server_seconds_of_open,
    timed,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeout

OPEN_TIMEOUT_MS = 90_000     # a page's first run after a start loads its models
SETTLE_AFTER_TIMEOUT_MS = 180_000   # after a control's timeout, how long its rerun may go on before the next
DATAFRAMES_AT_LEAST = "document.querySelectorAll('[data-testid=\"stDataFrame\"]').length >= {}"
# Tables: interactive ones (st.dataframe) or static ones (st.table).
TABLES_OF_EITHER_KIND = "document.querySelectorAll('[data-testid=\"stDataFrame\"], [data-testid=\"stTable\"]').length >= {}"
TEXT_GONE = "!document.body.innerText.includes({!r})"
KEYED = "document.querySelector('.st-key-{}') !== null"


def both(*conditions: str) -> str:
    return " && ".join(f"({c})" for c in conditions)


# ---------------------------------------------------------------- the controls
class Absent(Exception):
    """The control is not on the page in this version of the app (a skipped row, not a failure)."""


@dataclass
class Control:
    name: str
    act: Callable[[object], None]   # does the user's action on the page
    ready: str                      # JS: the updated result is visible
    optional: bool = False          # may be missing in a version of the app: then skipped, not failed
    find: Callable[[object], object] | None = field(default=None, repr=False)   # its widget, for `optional`
    prepare: Callable[[object], None] | None = field(default=None, repr=False)  # untimed, before `act`


def _group(page, label: str, key: str | None):
    """A radio's or segmented control's group: by its widget key when given, else its label."""
    if key:
        return page.locator(f".st-key-{key}").first
    return page.get_by_role("radiogroup", name=label, exact=True).first


def choose(label: str, option: str, ready: str, key: str | None = None, name: str | None = None) -> Control:
    """A radio button or a segmented control's option, clicked on its text."""
    return Control(name or f"{label}: {option}",
                   lambda page: _group(page, label, key).get_by_text(option, exact=True).first.click(), ready)


def _combobox(page, label: str, key: str | None):
    return page.locator(f".st-key-{key} [role=combobox]").first if key else \
        page.get_by_role("combobox", name=label, exact=True).first


def select(label: str, option: str | None, ready: str, key: str | None = None, name: str | None = None) -> Control:
    """A selectbox's option (None: the first one not chosen now), clicked in its open list. Opening
    the list is not timed (it involves no rerun), and is tried again when the list closes at once."""
    def options(page):
        return page.get_by_role("listbox").last.get_by_role("option")

    def prepare(page) -> None:
        for _ in range(4):   # the list may close at once: a chart drawn late moves the page under it
            _combobox(page, label, key).click()
            try:
                options(page).first.wait_for(timeout=2_000)
            except PlaywrightTimeout:
                page.keyboard.press("Escape")
                continue
            if option is None and options(page).and_(page.locator("[aria-selected=false]")).count() == 0:
                page.keyboard.press("Escape")
                raise Absent(f"{label!r} offers a single option")
            return
        raise AssertionError(f"the list of {label!r} does not open")

    def act(page) -> None:
        if option is None:
            options(page).and_(page.locator("[aria-selected=false]")).first.click()
        else:
            page.get_by_role("listbox").last.get_by_role("option", name=option, exact=True).click()
    return Control(name or f"{label}: {option or 'another'}", act, ready, prepare=prepare)


def slide(label: str, keys: list[str], ready: str, key: str | None = None, name: str | None = None) -> Control:
    """A slider's thumb, focused (untimed), then the keys pressed (ArrowRight, End, Home...)."""
    def thumb(page):
        where = page.locator(f".st-key-{key}") if key else page.get_by_role("group", name=label, exact=True)
        return where.get_by_role("slider").first

    def act(page) -> None:
        for pressed in keys:
            page.keyboard.press(pressed)
    return Control(name or f"{label}: {' '.join(keys)}", act, ready, prepare=lambda page: thumb(page).focus())


def switch(label: str, ready: str, optional: bool = False) -> Control:
    def find(page):
        return page.locator('[data-testid="stCheckbox"]').filter(has=page.get_by_role("switch", name=label, exact=True))
    return Control(f"toggle {label}", lambda page: find(page).first.get_by_text(label, exact=True).click(), ready,
                   optional, find)


def press(label: str, ready: str) -> Control:
    return Control(f"button {label}", lambda page: page.locator(
        '[data-testid="stButton"] button, [data-testid="stBaseButton-secondary"]', has_text=label).first.click(), ready)


def tab(label: str, ready: str, optional: bool = False) -> Control:
    def find(page):
        return page.get_by_role("tab", name=label, exact=True)
    return Control(f"tab {label}", lambda page: find(page).click(), ready, optional, find)


def number(key: str, value: int, ready: str, label: str) -> Control:
    def act(page) -> None:
        field = page.locator(f".st-key-{key} input").first
        field.fill(str(value))
        field.press("Enter")
    return Control(f"{label}: {value}", act, ready)


# Conditions of each page's results.
DENOISED_PHOTO = both(TEXT_SHOWN.format("Noise level (sigma"), IMAGES_AT_LEAST.format(5), DATAFRAMES_AT_LEAST.format(1))
DENOISED = both(IMAGES_AT_LEAST.format(4), DATAFRAMES_AT_LEAST.format(1))
HINTING_TEXT = "Click on the photo to place a point"   # the hint mode's caption above the photo
HINTING = TEXT_SHOWN.format(HINTING_TEXT)
COMPONENT = "document.querySelector('[data-testid=\"stCustomComponentV1\"]') !== null"   # the photo to click on
COLOURED = both(IMAGES_AT_LEAST.format(4), TEXT_SHOWN.format("Colours for"))
SCORED = IMAGES_AT_LEAST.format(20)   # 4 characters x 5 pictures
TABLES_AT_LEAST = "document.querySelectorAll('[data-testid=\"stTable\"]').length >= {}"
# Every Vega-Lite chart on the page drawn (its marks are there); none, for a page of plotly charts.
VEGA_ALL_DRAWN = ("document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]').length"
                  " === document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]:has(.marks)').length")
# The evaluation tab: its charts (plotly until 2026-11: four, then two; since 2026-12-01 three in Vega-Lite, a
# histogram a model and the ROC chart, all drawn) and a confusion table a model. The tables come last, so all
# the charts have arrived when they are there, in every version.
EVALUATED = both(CHARTS_AT_LEAST.format(2), VEGA_ALL_DRAWN, TABLES_AT_LEAST.format(2), TEXT_SHOWN.format("AUROC"))
FOUND = both(TEXT_SHOWN.format("for this query"), CHARTS_AT_LEAST.format(1))
WALKED = both(TEXT_SHOWN.format("The judge reads"), CHARTS_AT_LEAST.format(1))
# The PCA tab's parts (before 2026-11-30 the tab showed all three at once, its surfaces in 3-D: each condition
# holds there too). Plotly charts until 2026-12-01, Vega-Lite since: all of them drawn. The 3-D views: WebGL
# canvases in plotly, a pair of turn and tilt sliders a chart in Vega-Lite.
SURFACES = both(CHARTS_AT_LEAST.format(2), VEGA_ALL_DRAWN, TABLES_OF_EITHER_KIND.format(1),
                TEXT_SHOWN.format("Reconstruction mean squared error from 2 numbers"))
TURNABLE = ("(document.querySelectorAll('[data-testid=\"stPlotlyChart\"] .gl-container canvas').length >= 2"
            " || document.querySelectorAll('[data-testid=\"stVegaLiteChart\"] .vega-bindings input[type=range]').length >= 4)")
SURFACES_3D = both(SURFACES, TURNABLE)
LESSONS = both(CHARTS_AT_LEAST.format(2), VEGA_ALL_DRAWN, TABLES_OF_EITHER_KIND.format(1),
               TEXT_SHOWN.format("Follows: the correlation"))
DIGITS = both(CHARTS_AT_LEAST.format(2), VEGA_ALL_DRAWN, TABLES_OF_EITHER_KIND.format(1),
              TEXT_SHOWN.format("Neighbour agreement is the share"))
DIGITS_3D = both(DIGITS, TURNABLE)
# The overview and the forecast chart (before 2026-11-30 the detection chart showed beside them).
FORECAST = both(CHARTS_AT_LEAST.format(2), TEXT_SHOWN.format("MAE 1 h ahead"))
DETECTED = both(CHARTS_AT_LEAST.format(2), TEXT_SHOWN.format("Injected anomalies detected"))
CHARACTER_FILLED = both(TEXT_SHOWN.format("RMSE over the"), IMAGES_AT_LEAST.format(5))
TABLE_FILLED = both(CHARTS_AT_LEAST.format(2), DATAFRAMES_AT_LEAST.format(2), TEXT_SHOWN.format("hidden entries"))
SEMI = "with {} labels per digit"

CONTROLS: dict[str, list[Control]] = {
    "home": [],
    "denoising": [
        select("Example", "Photo: astronaut (colour, held out)", DENOISED_PHOTO, name="example: a photo"),
        slide("Noise level (sigma, out of 255)", ["ArrowRight"], DENOISED_PHOTO, name="noise level: +5"),
        switch("Close-up of the centre", DENOISED_PHOTO),
        choose("What to do", "Clean my photo as it is",
               both(TEXT_SHOWN.format("Noise level to remove"), IMAGES_AT_LEAST.format(3)), name="mode: clean"),
        choose("What to do", "Add noise and measure", DENOISED, name="mode: measure"),
        choose("Image", "Upload your own", TEXT_SHOWN.format("Drop an image above"), name="image: upload"),
        choose("Image", "Built-in example", DENOISED, name="image: built-in"),
    ],
    "colorize": [
        select("Or a built-in example", "Coffee (colour, held out)",
               both(COLOURED, TEXT_SHOWN.format("Colours for Coffee")), name="example: coffee"),
        slide("Colour strength", ["ArrowLeft"], COLOURED, name="colour strength: -0.05"),
        choose("Colours", "From my colour points", both(HINTING, COMPONENT), name="hints: colour points"),
        choose("Colours", "Automatic", both(COLOURED, TEXT_GONE.format(HINTING_TEXT)), name="hints: automatic"),
    ],
    "anomaly": [
        choose("Scoring", "Mean squared error", SCORED, name="scoring: mse"),
        slide("False-positive rate allowed on digits", ["ArrowRight"], SCORED, name="threshold: +0.5%"),
        tab("How well each model tells digits from letters", EVALUATED, optional=True),   # tabs since 2026-11
        choose("Scoring", "Tolerant of small shifts (default)", EVALUATED, name="scoring: tolerant"),
        tab("Your characters", SCORED, optional=True),
    ],
    "search": [
        choose("Code space", "PCA, same size", FOUND, name="code space: PCA"),
        choose("Code space", "Raw pixels", FOUND, name="code space: pixels"),
        choose("Projection", "t-SNE", FOUND, name="map: t-SNE"),
        choose("Projection", "PCA", FOUND, name="map: PCA"),
        press("Random image", FOUND),
        choose("Distance", "Euclidean", FOUND, name="distance: euclidean"),
        select("Built-in gallery", "Digits and capital letters",
               both(FOUND, TEXT_SHOWN.format("36 labels")), name="gallery: digits and capitals"),
        choose("Code space", "Autoencoder code", FOUND, name="code space: autoencoder"),
    ],
    "generate": [
        select("Sample #", "5", TEXT_SHOWN.format("Download sample #5"), name="sample pick: #5"),
        slide("Grid", ["ArrowRight"], IMAGES_AT_LEAST.format(25), name="sample grid: 5x5"),
        tab("Interpolate", both(TEXT_SHOWN.format("t = 1.00"), CHARTS_AT_LEAST.format(1))),
        tab("Walk", WALKED),
        slide("Grid size", ["ArrowRight"], WALKED, name="walk grid: +1"),
        slide("z1", ["ArrowRight"], WALKED, name="walk z1 (fragment)"),
        tab("Map", both(CHARTS_AT_LEAST.format(1), TEXT_SHOWN.format("Click a point on the map"))),
        select("Model", None, both(CHARTS_AT_LEAST.format(1), TEXT_SHOWN.format("PCA keeps")), name="map model: another"),
        tab("Choose a digit", TEXT_SHOWN.format("Judged a 7")),
        choose("Digit to draw", "3", TEXT_SHOWN.format("Judged a 3"), name="digit: 3"),
        tab("Your digit & beta", TEXT_SHOWN.format("The trade-off")),
        tab("Sample", IMAGES_AT_LEAST.format(16)),
    ],
    "studio": [
        choose("Data", "Built-in handwritten digits, 8x8",
               both(KEYED.format("studio_train"), TEXT_SHOWN.format("8x8 handwritten digits (64 numbers")),
               name="data: 8x8 digits"),
        tab("Compare runs", TEXT_SHOWN.format("No model trained yet")),
        tab("Training methods", KEYED.format("methods_train")),
        select("Data", "Built-in handwritten digits, 8x8", KEYED.format("methods_train"), name="methods data: 8x8"),
        tab("PCA vs autoencoders", SURFACES),
        switch("Rotate in 3-D", SURFACES_3D, optional=True),   # edge-on first since 2026-11-30
        tab("Nothing to compress, or one number", LESSONS, optional=True),   # parts of their own since 2026-11-30
        tab("Digits in 2 or 3 numbers", DIGITS, optional=True),
        choose("Dimensions", "3", DIGITS_3D, name="dimensions: 3"),
        tab("Train", KEYED.format("studio_train")),
    ],
    "sequence": [
        choose("Hours ahead", "3 h", FORECAST, name="hours ahead: 3 h"),
        switch("Use my trained models above", FORECAST, optional=True),
        tab("2. Find anomalous days", DETECTED, optional=True),   # tabs since 2026-11-30
        press("Inject anomaly", both(DETECTED, DATAFRAMES_AT_LEAST.format(1))),
        slide("Threshold: percentile of the validation windows' scores", ["ArrowLeft"], DETECTED,
              name="threshold percentile: one lower"),
        press("Remove all", DETECTED),
        tab("1. Forecast the next three hours", FORECAST, optional=True),
        choose("Hours ahead", "1 h", FORECAST, name="hours ahead: 1 h"),
    ],
    "semisupervised": [
        *(choose("Labels per digit", str(n), both(TEXT_SHOWN.format(SEMI.format(n)), IMAGES_AT_LEAST.format(12)),
                 name=f"labels per digit: {n}") for n in (50, 100, 10)),
        press("Other digits", IMAGES_AT_LEAST.format(12)),
    ],
    "impute": [
        choose("What is missing", "Random 7x7 blocks", CHARACTER_FILLED, name="missing: blocks"),
        slide("Share missing", ["ArrowRight"], CHARACTER_FILLED, name="share missing: +0.05"),
        number("mask_seed", 3, CHARACTER_FILLED, "character seed"),
        choose("What is missing", "A rectangle (sliders)", CHARACTER_FILLED, name="missing: rectangle"),
        choose("What is missing", "Random pixels", CHARACTER_FILLED, name="missing: pixels"),
        select("Table", None, TABLE_FILLED, name="table: another"),
        slide("Share of entries hidden", ["ArrowRight"] * 3, TABLE_FILLED, name="share hidden: 0.8"),
        number("table_seed", 3, TABLE_FILLED, "table seed"),
    ],
}
PAGES = list(CONTROLS)   # home and the nine pages, in the sidebar's order


def open_page(page, url: str, slug: str) -> float:
    """Seconds from the navigation until the page's main result is visible and its script finished."""
    return _open(page, url, "" if slug == "home" else slug, OPEN_READY[slug])


def close_open_lists(page) -> None:
    """Untimed, before each control: a selectbox's list left open (its option clicked while a rerun
    moved the page under it) would swallow the next control's click, as it did a tab's once."""
    lists = page.get_by_role("listbox")
    if lists.count():
        page.keyboard.press("Escape")
        lists.first.wait_for(state="detached", timeout=5_000)


def operate(page, url: str, slug: str, timeout_s: float = 30.0, shots: Path | None = None) -> list[dict]:
    """The page opened, then each of its controls worked once: one row per step, {"step",
    "seconds", "ok", "error"} (and "rerun_seen", as timed() says, for a control); a control that
    fails or times out is a row with ok False (its seconds the timeout's when it timed out), and
    the next control is tried all the same. A control missing from this version of the app (or a
    selectbox with a single option) gives a row with "skipped". With `shots`, a failed control
    leaves a screenshot of the whole page there."""
    page.add_init_script(RUN_WATCH)
    page.set_default_timeout(OPEN_TIMEOUT_MS)
    rows = [{"step": "open", "seconds": open_page(page, url, slug), "ok": True, "error": "",
             "server": server_seconds_of_open(page)}]
    page.set_default_timeout(timeout_s * 1000)
    try:
        for control in CONTROLS[slug]:
            started = time.perf_counter()
            row = {"step": control.name, "seconds": 0.0, "ok": True, "error": ""}
            try:
                if control.optional and control.find is not None and control.find(page).count() == 0:
                    raise Absent("not on the page")
                close_open_lists(page)
                if control.prepare is not None:
                    control.prepare(page)
                row["seconds"], row["rerun_seen"], row["server"] = timed(page, lambda c=control: c.act(page), control.ready,
                                                                         timeout_s)
            except Absent as absent:
                row.update(skipped=str(absent))
            except PlaywrightTimeout as error:
                row.update(seconds=timeout_s, ok=False, error=f"timeout: {str(error).splitlines()[0]}")
                with contextlib.suppress(Exception):   # the next control starts from a page at rest
                    page.wait_for_function(SCRIPT_FINISHED, polling=250, timeout=SETTLE_AFTER_TIMEOUT_MS)
            except Exception as error:   # reported as a failed row: the run goes on
                row.update(seconds=round(time.perf_counter() - started, 3), ok=False,
                           error=f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
            if shots is not None and not row["ok"]:
                shots.mkdir(parents=True, exist_ok=True)
                name = "".join(c if c.isalnum() else "-" for c in f"{slug}-{control.name}")
                with contextlib.suppress(Exception):
                    page.screenshot(path=shots / f"{name}-{time.strftime('%H%M%S')}.png", full_page=True)
            rows.append(row)
        if slug != "home":
            rows.append(open_from_sidebar(page, url, slug, timeout_s))
    finally:
        page.set_default_timeout(OPEN_TIMEOUT_MS)
    return rows


def open_from_sidebar(page, url: str, slug: str, timeout_s: float) -> dict:
    """How a visitor already in the app opens a page: the home page, then the page's link in the
    sidebar (no reload of the app's scripts), timed like a control until its main result is
    visible and the new page's script has finished."""
    row = {"step": "open from the sidebar", "seconds": 0.0, "ok": True, "error": ""}
    try:
        open_page(page, url, "home")
        link = page.locator(f'[data-testid="stSidebarNav"] a[href$="/{slug}"]').first
        ready = f"location.pathname.endsWith('/{slug}') && {OPEN_READY[slug]}"
        row["seconds"], row["rerun_seen"], row["server"] = timed(page, link.click, ready, timeout_s)
    except Exception as error:   # reported as a failed row: the run goes on
        row.update(seconds=timeout_s, ok=False, error=f"{type(error).__name__}: {str(error).splitlines()[0]}")
    return row


# ---------------------------------------------------------------- a 12 MP phone photo
PHOTO_PAGES = ("denoising", "colorize")


def phone_photo_jpeg(seed: int = 0) -> bytes:
    """A 12 MP phone photo: scikit-image's chelsea cropped to 4:3 and upscaled to 4000x3000 with
    Lanczos, mild Gaussian noise (sigma 5 of 255, of `seed`: each seed's file differs, so no cache holds
    it), JPEG quality 90 with an EXIF orientation tag of 1."""
    import numpy as np
    from PIL import Image
    from skimage.data import chelsea

    small = chelsea()                            # 300x451
    width = small.shape[0] * 4 // 3              # 400: a 4:3 crop of the middle
    left = (small.shape[1] - width) // 2
    big = Image.fromarray(small[:, left:left + width]).resize((4000, 3000), Image.LANCZOS)
    noise = np.random.default_rng(seed).normal(0, 5, (3000, 4000, 3)).astype(np.float32)
    pixels = np.clip(np.asarray(big, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 1   # Orientation: as stored
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90, exif=exif)
    return buffer.getvalue()


def upload_photo(page, url: str, slug: str, name: str, data: bytes) -> dict[str, float]:
    """The page opened (its built-in result shown), then the photo uploaded: seconds from the
    upload until its result is shown, by the conditions of the pages' visits in browser.py, as
    {slug: seconds}. Denoising shows the autoencoder's answer first (clean, noisy and denoised,
    the script finished) and its classical methods after, from the background: that second time
    is under "denoising, classical methods"."""
    open_page(page, url, slug)
    if slug == "denoising":
        _choose(page, "Image", "Upload your own", TEXT_SHOWN.format("Drop an image above"))
        ready = IMAGES_AT_LEAST.format(3)
    else:
        ready = TEXT_SHOWN.format(f"Colours for {name}")
    chooser = page.locator('[data-testid="stFileUploaderDropzoneInput"]').first
    started = time.perf_counter()
    chooser.set_input_files(files=[{"name": name, "mimeType": "image/jpeg", "buffer": data}])
    times = {slug: _settle(page, ready, started)}
    if slug == "denoising":
        times["denoising, classical methods"] = _settle(page, IMAGES_AT_LEAST.format(5), started)
    return times
