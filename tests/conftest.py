"""Shared for every test file."""
import ast
import threading
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def one_parse_at_a_time(monkeypatch):
    """CPython 3.11's ast.parse is not thread-safe (a SystemError, 'AST constructor recursion
    depth mismatch'): AppTest parses the page script on every run (a server parses it once),
    while a page's background job may parse source in its own thread as it exports to ONNX."""
    lock, parse = threading.RLock(), ast.parse

    def serialized(*args, **kwargs):
        with lock:
            return parse(*args, **kwargs)

    monkeypatch.setattr(ast, "parse", serialized)


@pytest.fixture
def fake_opencv(tmp_path, monkeypatch):
    """OpenCV's example photos as Debian's opencv-doc lays them out, made here: a small smooth
    colour picture at every path the photo corpus names (tests never need the package)."""
    import numpy as np
    from PIL import Image

    from engine.core import photo_corpus

    rng = np.random.default_rng(7)
    for photo in photo_corpus.PHOTOS:
        if photo.source != "opencv-doc":
            continue
        path = tmp_path / "examples" / photo.origin
        path.parent.mkdir(parents=True, exist_ok=True)
        y, x = np.mgrid[0:72, 0:96] / 96
        phase = rng.uniform(0, 6, 3)
        pixels = 0.5 + 0.4 * np.sin(np.stack([3 * x + phase[0], 4 * y + phase[1], 2 * (x + y) + phase[2]], -1))
        Image.fromarray((255 * pixels).astype(np.uint8)).save(path)
    monkeypatch.setenv("OPENCV_EXAMPLES", str(tmp_path / "examples"))
    photo_corpus.load.cache_clear()
    yield tmp_path / "examples"
    photo_corpus.load.cache_clear()


@pytest.fixture
def fake_fashion(tmp_path, monkeypatch):
    """Fashion-MNIST's four files as Debian's dataset-fashion-mnist ships them, small and made here
    (tests/fashion_files.py), whether or not the machine has the package."""
    from fashion_files import forget, write_fashion

    from engine.core import fashion

    folder = write_fashion(tmp_path / "fashion-mnist")
    monkeypatch.setenv(fashion.FOLDER_VARIABLE, str(folder))
    forget()
    yield folder
    forget()


@pytest.fixture
def no_fashion(tmp_path, monkeypatch):
    """A machine without Fashion-MNIST, whether or not this one has the package."""
    from fashion_files import forget

    from engine.core import fashion

    monkeypatch.setenv(fashion.FOLDER_VARIABLE, str(tmp_path / "no-fashion-mnist"))
    forget()
    yield
    forget()


# ---------------------------------------------------------------- the browser tests' app and browser
PAGE_TIMEOUT_MS = 90_000  # the first denoising run loads the ONNX models


@pytest.fixture(scope="module")
def app_url(tmp_path_factory) -> Iterator[str]:
    """The app started with `streamlit run`, one server per browser-test file."""
    from browser import streamlit_server

    try:
        with streamlit_server(tmp_path_factory.mktemp("streamlit")) as server:
            yield server.url
    except RuntimeError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="module")
def page():
    """One page of Debian's headless Chromium, 1400 px wide."""
    from browser import CHROMIUM, in_ci, launch_browser

    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser, page = launch_browser(playwright, PAGE_TIMEOUT_MS)
        yield page
        browser.close()
