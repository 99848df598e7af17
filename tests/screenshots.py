"""Every page of the app, whole, at a desktop's width and a phone's, as PNG files to look at:

    python tests/screenshots.py OUT_DIR [--widths 1400 390] [--pages denoising search ...]

Starts the app with `streamlit run` (Debian's Chromium; see tests/browser.py), opens each page at
its own URL, waits for its main result, and saves OUT_DIR/<page>-<width>.png with the page's full
height (Streamlit scrolls inside its own container, so the window is made as tall as the page).
Prints each page's height in pixels: on a phone, comparisons should stay side by side."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser import OPEN_READY, SCRIPT_FINISHED, launch_browser, streamlit_server  # noqa: E402

MAX_HEIGHT = 20_000   # pixels: a screenshot taller than this is cut (and the height says so)
SCROLLERS = "[data-testid=\"stMain\"], [data-testid=\"stAppViewContainer\"], body"
HEIGHT = f"Math.max(...Array.from(document.querySelectorAll('{SCROLLERS}')).map(e => e.scrollHeight))"


def page_height(page) -> int:
    """The page's full height in pixels, however Streamlit scrolls it."""
    return int(page.evaluate(HEIGHT))


def whole_page(page, path: Path, width: int) -> int:
    """A screenshot of the whole page at `width`: the window made as tall as the page. Returns
    the page's height."""
    page.set_viewport_size({"width": width, "height": 900})
    page.wait_for_timeout(300)   # the layout at the new width
    height = page_height(page)
    page.set_viewport_size({"width": width, "height": min(height, MAX_HEIGHT)})
    page.wait_for_timeout(500)   # charts redraw at their new size
    page.screenshot(path=path)
    page.set_viewport_size({"width": 1400, "height": 1000})
    return height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--widths", type=int, nargs="+", default=[1400, 390])
    parser.add_argument("--pages", nargs="+", default=[*OPEN_READY, "sources"])
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with streamlit_server(args.out) as server, sync_playwright() as playwright:
        browser, page = launch_browser(playwright)
        for slug in args.pages:
            for width in args.widths:
                page.set_viewport_size({"width": width, "height": 1000})
                page.goto(f"{server.url}/{'' if slug == 'home' else slug}")
                page.wait_for_function(OPEN_READY.get(slug, "true"), polling="raf")
                page.wait_for_function(SCRIPT_FINISHED, polling="raf")
                height = whole_page(page, args.out / f"{slug}-{width}.png", width)
                print(f"{slug:15s} {width:5d} px wide: {height:6d} px tall", flush=True)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
