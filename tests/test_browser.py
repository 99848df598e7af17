"""Smoke test: the real app, started with `streamlit run`, opened in headless Chromium.

Uses Debian's chromium (`apt-get install chromium`), never a browser downloaded by Playwright.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

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
PAGE_TIMEOUT_MS = 90_000  # the first denoising run loads the ONNX models
SCRIPT_FINISHED = (
    "document.querySelector('[data-testid=\"stApp\"]')?.dataset.testScriptState === 'notRunning'"
)


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


@pytest.fixture(scope="module")
def app_url(tmp_path_factory) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    command = [
        sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def page():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        yield page
        browser.close()


def assert_result_rendered(page, tmp_path, slug: str, result: str = '[data-testid="stDataFrame"]') -> None:
    """The page's result (by default its first table) is visible, with no exception or error
    element, at its own URL."""
    page.locator(result).first.wait_for()
    page.screenshot(path=tmp_path / f"{slug}.png", full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    assert f"/{slug}" in page.url


def test_home_then_denoising(page, app_url, tmp_path):
    page.goto(app_url)
    page.get_by_role("heading", name="Autoencoder Playground").wait_for()
    page.screenshot(path=tmp_path / "home.png", full_page=True)

    page.locator('[data-testid="stPageLink"] a', has_text="Denoising").click()
    page.get_by_role("heading", name="Denoising", exact=True).wait_for()
    page.wait_for_function(SCRIPT_FINISHED)
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stImage\"] img').length >= 4")
    assert_result_rendered(page, tmp_path, "denoising")


def test_home_then_anomaly_detection(page, app_url, tmp_path):
    page.goto(app_url)
    page.locator('[data-testid="stPageLink"] a', has_text="Anomaly detection").click()
    page.get_by_role("heading", name="Anomaly detection", exact=True).wait_for()
    examples = page.locator('[data-testid="stMultiSelect"]')
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stImage\"] img').length >= 5")
    page.wait_for_function(SCRIPT_FINISHED)
    examples.locator("[data-tag]").first.wait_for()
    chosen = examples.locator("[data-tag]").count()
    assert chosen > 0  # some built-in examples are chosen to start with

    # Add one more built-in example: five more images (input, and reconstruction and error per model).
    examples.get_by_role("combobox").click()
    page.get_by_role("option", name="'x' (letter)").click()
    page.keyboard.press("Escape")
    images = 5 * (chosen + 1)
    page.wait_for_function(f"document.querySelectorAll('[data-testid=\"stImage\"] img').length >= {images}")
    page.wait_for_function(SCRIPT_FINISHED)
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stPlotlyChart\"]').length >= 4")
    assert_result_rendered(page, tmp_path, "anomaly")


def drawn_digit_png() -> bytes:
    """A '7' in dark ink on white paper, bigger than 28x28: what a user photographs or draws."""
    import io

    from PIL import Image, ImageDraw

    paper = Image.new("L", (90, 90), 255)
    ImageDraw.Draw(paper).line([(18, 15), (70, 15), (38, 78)], fill=15, width=8)
    buffer = io.BytesIO()
    paper.save(buffer, format="PNG")
    return buffer.getvalue()


def test_image_search_by_gallery_image_then_by_upload(page, app_url, tmp_path):
    page.goto(f"{app_url}/search")
    page.get_by_role("heading", name="Image search", exact=True).wait_for()
    page.wait_for_function(SCRIPT_FINISHED)
    # The default query is gallery image 0: it and its 10 neighbours are shown, and the map.
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stImage\"] img').length >= 11")
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for()
    page.get_by_text("Precision@10 for this query").wait_for()

    # Search with an upload through the real file input.
    page.locator('[data-testid="stRadio"]', has_text="Search with").get_by_text("Upload an image").click()
    page.wait_for_function(SCRIPT_FINISHED)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "seven.png", "mimeType": "image/png", "buffer": drawn_digit_png()}])
    page.get_by_text("neighbours are labelled").wait_for()
    page.wait_for_function(SCRIPT_FINISHED)
    caption = page.get_by_text("neighbours are labelled").inner_text()
    assert "labelled 7" in caption
    assert_result_rendered(page, tmp_path, "search", result='[data-testid="stMetric"], [data-testid="stPlotlyChart"]')
