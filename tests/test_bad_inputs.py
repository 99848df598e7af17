"""Bad input, systematically: every file of the corpus in tests/bad_files.py goes through the
engine (a typed exception with a message for people, or a correct result) and a sample of it
through the pages under AppTest (a clear message, the session goes on, nothing written outside
its place). Known engine bugs are marked xfail(strict=True) with the reason, so they stay visible
and the mark has to go when they are fixed."""
from __future__ import annotations

import io
import re
import tracemalloc
import warnings
from collections import Counter, defaultdict
from hashlib import sha256
from pathlib import Path

import bad_files
import numpy as np
import pytest
from page_helpers import anomaly_table
from PIL import Image, UnidentifiedImageError
from streamlit.testing.v1 import AppTest

import engine
from engine.core import imaging
from engine.core.loaders import DatasetError

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
CORPUS = bad_files.corpus()
IMAGES = [case for case in CORPUS if not case.is_zip]
ZIPS = [case for case in CORPUS if case.is_zip]
MIME = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
        "webp": "image/webp", "tif": "image/tiff", "bmp": "image/bmp", "zip": "application/zip"}
ENGINE_ERRORS = {name: getattr(imaging, name) for name in (
    "ImageError", "NotAnImageError", "CorruptImageError", "ImageTooLargeError", "EmptyImageError",
    "ImageShapeError")}
# Pillow warns about the damaged TIFF headers it reads past; the answers are what is tested.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")

# ------------------------------------------------------------------------------ known bugs

GREY_ALPHA_16 = ("a 16-bit grey+alpha PNG comes back as colour (H, W, 3): Pillow opens it as RGBA and "
                 "the engine keeps it, though grey sources give (H, W)")



def pillow_cannot_identify(data: bytes) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        return True
    except Exception:  # noqa: BLE001 - anything else means Pillow did recognise the format
        return False
    return False


def known_bug(case: bad_files.BadFile) -> str | None:
    if case.name == "la16.png":
        return GREY_ALPHA_16
    return None


def params(cases, bug=known_bug):
    """pytest parameters named after the files, the known bugs marked strictly."""
    out = []
    for case in cases:
        reason = bug(case)
        fails = (AssertionError, pytest.fail.Exception)
        marks = [pytest.mark.xfail(strict=True, raises=fails, reason=reason)] if reason else []
        out.append(pytest.param(case, id=case.name, marks=marks))
    return out


# ------------------------------------------------------------------------------ helpers

SIZE = r"[\d.,]+ (?:MB|KB|bytes)"


def assert_user_message(message: str, name: str = "") -> None:
    """A message written for people: a sentence or two, no traceback or Python repr, and no
    size over a limit given in the same words as the limit."""
    assert len(message) > 20, f"{name}: too short a message: {message!r}"
    assert message.rstrip().endswith((".", ")")), f"{name}: not a sentence: {message!r}"
    for sign in ("Traceback", "PIL", "Error(", "Exception", " object at 0x", "errno", "\n  File "):
        assert sign not in message, f"{name}: {sign!r} in the message {message!r}"
    for size, limit in re.findall(rf"(?:is|to) ({SIZE})[^;.]*; the limit is ({SIZE})", message):
        assert size != limit, f"{name}: over the limit, yet the same size as it: {message!r}"


def decode(case: bad_files.BadFile) -> np.ndarray | imaging.ImageError:
    """decode_image's answer: an array or the ImageError it raised; anything else fails the test."""
    try:
        return imaging.decode_image(case.data)
    except imaging.ImageError as err:
        return err
    except Exception as err:  # noqa: BLE001
        pytest.fail(f"{case.name}: {type(err).__name__} escaped decode_image: {err}")


def outcome_allowed(case: bad_files.BadFile, outcome: str) -> bool:
    for allowed in (case.expect, *case.also):
        if allowed == outcome == "ok":
            return True
        if allowed != "ok" and outcome != "ok" and issubclass(ENGINE_ERRORS[outcome], ENGINE_ERRORS[allowed]):
            return True
    return False


def mime(name: str) -> str:
    return MIME.get(name.rsplit(".", 1)[-1].lower(), "application/octet-stream")


def engine_message(data: bytes) -> str | None:
    """The message a page should show for an uploaded character, or None when it is usable."""
    try:
        imaging.prepare_character(imaging.decode_image(data))
    except imaging.ImageError as err:
        return str(err)
    return None


def denoising_message(data: bytes) -> str | None:
    """The message the Denoising page should show for an upload, or None when it is usable: a
    character's, or for a photo the noise measurement's (a photo too thin to measure)."""
    image = imaging.decode_image(data)
    if engine.denoise_target(image) == "character":
        return engine_message(data)
    try:
        engine.estimate_photo_noise(image)
    except imaging.ImageError as err:
        return str(err)
    return None


def pick(cases, per_kind: int = 1):
    """A few files of each kind, from the middle of the kind (the interesting cut, say)."""
    by_kind = defaultdict(list)
    for case in cases:
        by_kind[case.kind].append(case)
    chosen = []
    for group in by_kind.values():
        start = len(group) // 2
        chosen += (group[start:] + group[:start])[:per_kind]
    return chosen


def snapshot(root: Path) -> set:
    return {(p.relative_to(root).as_posix(), p.stat().st_size) for p in root.rglob("*")}


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """Run in an empty working folder inside tmp_path and check afterwards that nothing was
    written there, next to it, in the repository's root or tests folder, or at the absolute
    paths the traversal zips name."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    outside = [Path("/tmp/evil-absolute.png"), Path("/evil.png"), ROOT / "evil.png", ROOT.parent / "evil.png"]
    existed = {path for path in outside if path.exists()}
    before = snapshot(tmp_path)
    repo_before = {p.name for p in ROOT.iterdir()} | {p.name for p in (ROOT / "tests").iterdir()}
    yield work
    assert snapshot(tmp_path) == before, "files appeared in the working folder or beside it"
    assert not [path for path in outside if path.exists() and path not in existed]
    repo_after = {p.name for p in ROOT.iterdir()} | {p.name for p in (ROOT / "tests").iterdir()}
    assert not {name for name in repo_after - repo_before if "evil" in name}


# ------------------------------------------------------------------------------ the corpus itself

@pytest.mark.slow
def test_corpus_is_large_varied_and_the_same_every_time():
    kinds = Counter(case.kind for case in CORPUS)
    assert len(CORPUS) >= 200, len(CORPUS)
    assert not set(bad_files.REQUIRED_KINDS) - set(kinds), set(bad_files.REQUIRED_KINDS) - set(kinds)
    for ext in bad_files.FORMATS.values():
        assert kinds[f"truncated-{ext}"] >= 8
    one_pixel = {case.name.split("-", 2)[2].rsplit(".", 1)[0] for case in CORPUS if case.kind == "one-pixel"}
    assert {"1", "L", "LA", "P", "RGB", "RGBA", "I16", "I", "F", "CMYK"} <= one_pixel
    orientations = {case.name for case in CORPUS if case.kind == "exif-rotated" and case.name.endswith("jpg")}
    assert orientations == {f"exif-orientation-{k}.jpg" for k in range(1, 9)}
    assert any(case.name.startswith("huge-20000x20000") and len(case.data) < 5 << 20 for case in CORPUS)
    assert len({case.name for case in CORPUS}) == len(CORPUS)
    # Built again from nothing, every byte is the same.
    digest = sha256(b"".join(case.name.encode() + case.data for case in CORPUS)).hexdigest()
    bad_files._build.cache_clear()
    again = bad_files.corpus()
    assert sha256(b"".join(case.name.encode() + case.data for case in again)).hexdigest() == digest


# ------------------------------------------------------------------------------ engine: images

@pytest.mark.parametrize("case", params(IMAGES))
def test_decode_image(case):
    """A typed ImageError with a message for people, or float32 in [0, 1] of the right shape
    whose pixels pass the file's check; prepare_character then gives 28x28 (or, for a blank
    image, EmptyImageError)."""
    result = decode(case)
    if isinstance(result, imaging.ImageError):
        outcome = type(result).__name__
        assert outcome in ENGINE_ERRORS, f"{case.name}: an unexpected ImageError subclass {outcome}"
        assert outcome_allowed(case, outcome), \
            f"{case.name}: {outcome} ({result}); expected {case.expect} {case.note}".strip()
        assert_user_message(str(result), case.name)
        return
    assert outcome_allowed(case, "ok"), f"{case.name}: decoded to {result.shape}; expected {case.expect}"
    assert isinstance(result, np.ndarray) and result.dtype == np.float32
    assert result.ndim == 2 or (result.ndim == 3 and result.shape[2] == 3), result.shape
    assert np.isfinite(result).all() and result.min() >= 0.0 and result.max() <= 1.0
    if case.shape is not None:
        assert result.shape == case.shape, f"{case.name}: shape {result.shape}, expected {case.shape}"
    if case.check is not None:
        case.check(result)
    try:
        character = imaging.prepare_character(result)
    except imaging.ImageError as err:
        from engine.core.capture import NotACharacterError

        scrambled = case.kind.startswith(("flipped", "garbage", "truncated")) and isinstance(err, NotACharacterError)
        # damaged pixel data may decode to noise, which is rightly "not a character"
        assert scrambled or type(err).__name__ == case.character == "EmptyImageError", f"{case.name}: {err!r}"
        assert_user_message(str(err), case.name)
    else:
        if case.expect == "ok":
            assert case.character == "ok", f"{case.name}: a character was found in a blank image"
        assert character.shape == (28, 28) and character.dtype == np.float32
        assert character.min() >= 0.0 and character.max() <= 1.0


# ------------------------------------------------------------------------------ engine: zips

@pytest.mark.parametrize("case", params(ZIPS))
def test_load_image_folder(case, sandbox):
    """Readable members loaded, bad ones skipped with a reason, unsafe names never written,
    DatasetError for archives that cannot be read at all."""
    expect = case.archive
    try:
        folder = engine.load_image_folder(case.data)
    except DatasetError as err:
        assert "DatasetError" in expect.folder, f"{case.name}: DatasetError {err}"
        assert_user_message(str(err), case.name)
        return
    except Exception as err:  # noqa: BLE001
        pytest.fail(f"{case.name}: {type(err).__name__} escaped load_image_folder: {err}")
    assert "ok" in expect.folder, f"{case.name}: loaded {folder.names}; expected {expect.folder}"
    assert folder.names == list(expect.loaded)
    assert len(folder.images) == len(folder.names)
    for image in folder.images:
        assert image.dtype == np.float32 and image.min() >= 0.0 and image.max() <= 1.0
    skipped = dict(folder.skipped)
    assert set(expect.skipped) <= set(skipped), f"{case.name}: skipped {sorted(skipped)}"
    for name, reason in folder.skipped:
        assert_user_message(reason, f"{case.name}/{name}")
    # The traversal names are reported by name and were never written anywhere (see sandbox).
    if case.kind == "zip-traversal":
        assert all("outside the archive" in skipped[name] or "not an image" in skipped[name]
                   for name in expect.skipped)


@pytest.mark.parametrize("case", params(ZIPS))
def test_load_gallery_with_a_zip(case, sandbox):
    """A zip in the search page's gallery: its good members searched, its bad ones listed as
    zip/member with a reason; GalleryError when nothing is left."""
    good = bad_files.encode(bad_files.drawn_character(), "PNG")
    try:
        alone = engine.load_gallery([(case.name, case.data)])
        with_good = engine.load_gallery([("good.png", good), (case.name, case.data)])
    except engine.GalleryError as err:
        assert case.archive.gallery == "GalleryError", f"{case.name}: {err}"
        assert_user_message(str(err), case.name)
        with_good = engine.load_gallery([("good.png", good), (case.name, case.data)])
        assert with_good.names[0] == "good.png"
        assert any(name == case.name or name.startswith(f"{case.name}/") for name, _ in with_good.skipped) \
            or case.kind in ("zip-empty", "zip-no-images")
        return
    except Exception as err:  # noqa: BLE001
        pytest.fail(f"{case.name}: {type(err).__name__} escaped load_gallery: {err}")
    assert case.archive.gallery == "ok", f"{case.name}: a gallery of {len(alone)}"
    assert alone.names == [f"{case.name}/{name}" for name in case.archive.loaded]
    assert {f"{case.name}/{name}" for name in case.archive.skipped} <= {name for name, _ in alone.skipped}
    for name, reason in alone.skipped:
        assert_user_message(reason, name)
    assert len(with_good) == len(alone) + 1


BOUNDED = [case for case in ZIPS if case.archive.bounded]


@pytest.mark.parametrize("case", params(BOUNDED))
def test_zip_bombs_are_refused_without_inflating(case):
    """Loading a bomb allocates a few MB at most: nothing refused is inflated."""
    tracemalloc.start()
    try:
        folder = engine.load_image_folder(case.data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert folder.names == list(case.archive.loaded)
    assert peak < 8 << 20, f"{case.name}: {peak / 2**20:.0f} MB allocated while loading"


# ------------------------------------------------------------------------------ pages

def open_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(page).run()
    assert not at.exception
    return at


def bad_sample() -> list[bad_files.BadFile]:
    """One image file of each kind: most are refused by the engine, some decode (damage a decoder
    reads past, a blank pixel, CMYK, EXIF...) and the page must handle those as well. AppTest does
    not apply the uploader's 20 MB cap, so the file over it reaches the page code too."""
    return pick(IMAGES)


def assert_no_traceback_shown(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    for element in (*at.error, *at.warning, *at.info):
        assert "Traceback" not in str(element.value)


@pytest.mark.slow
def test_denoising_page_survives_every_kind_of_bad_upload(sandbox):
    at = open_page("app_pages/denoising.py")
    at.radio(key="input_mode").set_value("Upload your own").run()
    assert not at.exception
    shown = 0
    for case in bad_sample():
        at.file_uploader(key="upload").set_value((case.name, case.data, mime(case.name))).run()
        assert_no_traceback_shown(at)
        result = decode(case)
        if isinstance(result, imaging.ImageError):
            errors = [error.value for error in at.error]
            assert errors == [str(result)], f"{case.name}: the page showed {errors}"
            assert not at.image, f"{case.name}: images shown beside the error"
            shown += 1
        else:
            # Decodable (damaged but readable, or a blank pixel): a result or a clear message.
            assert at.image or [e.value for e in at.error] == [denoising_message(case.data)], case.name
    assert shown >= 30
    # The session goes on: the built-in examples still give their normal result.
    at.file_uploader(key="upload").set_value(None)
    at.radio(key="input_mode").set_value("Built-in example").run()
    for name, image in engine.denoise_examples().items():
        if image.shape == (28, 28):
            at.selectbox(key="example").set_value(name).run()
            break
    assert_no_traceback_shown(at)
    assert not at.error
    assert len(at.image) >= 4 and at.dataframe and at.download_button


def test_denoising_page_gives_results_for_awkward_but_valid_files(sandbox):
    at = open_page("app_pages/denoising.py")
    at.radio(key="input_mode").set_value("Upload your own").run()
    names = ("cmyk.jpg", "exif-orientation-6.jpg", "animated-transparent.gif", "ramp16-little.png",
             "palette-trns-index.png", "garbage-appended.webp")
    for case in [case for case in IMAGES if case.name in names]:
        at.file_uploader(key="upload").set_value((case.name, case.data, mime(case.name))).run()
        assert_no_traceback_shown(at)
        assert not at.error, f"{case.name}: {[e.value for e in at.error]}"
        assert len(at.image) >= 4 and at.dataframe, case.name


@pytest.mark.slow
def test_anomaly_page_reports_each_bad_file_by_name_and_scores_the_rest(sandbox):
    at = open_page("app_pages/anomaly.py")
    good = [("seven.png", bad_files.encode(bad_files.drawn_character(), "PNG")),
            ("one.png", bad_files.encode(bad_files.drawn_character([(20, 5), (20, 35)]), "PNG"))]
    sample = [(case.name, case.data) for case in bad_sample()]
    uploads = [good[0], *sample, good[1]]
    at.multiselect(key="examples").set_value([])
    at.file_uploader(key="uploads").set_value([(name, data, mime(name)) for name, data in uploads]).run()
    assert_no_traceback_shown(at)
    expected_errors = {name: engine_message(data) for name, data in uploads}
    refused = {name: message for name, message in expected_errors.items() if message is not None}
    assert len(refused) >= 30
    errors = [error.value for error in at.error]
    assert sorted(errors) == sorted(f"{name}: {message}" for name, message in refused.items())
    names = list(anomaly_table(at)["Name"])
    assert names == [name for name, _ in uploads if name not in refused]
    assert names[0] == "seven.png" and names[-1] == "one.png"
    # The session goes on: clear the uploads, pick built-in characters, and all is normal.
    at.file_uploader(key="uploads").set_value(None)
    chosen = list(engine.anomaly_examples())[:3]
    at.multiselect(key="examples").set_value(chosen).run()
    assert_no_traceback_shown(at)
    assert not at.error
    assert list(anomaly_table(at)["Name"]) == chosen
    assert len(at.image) == 5 * len(chosen)


def search_files(cases) -> list[tuple[str, bytes, str]]:
    return [(case.name, case.data, mime(case.name)) for case in cases]


def left_out(at: AppTest) -> list[str]:
    for frame in at.dataframe:
        if "Reason" in frame.value.columns:
            return list(frame.value["File"])
    return []


@pytest.mark.slow
def test_search_page_gallery_and_query_uploads(sandbox):
    at = open_page("app_pages/search.py")
    good = [("seven.png", bad_files.encode(bad_files.drawn_character(), "PNG")),
            ("one.png", bad_files.encode(bad_files.drawn_character([(20, 5), (20, 35)]), "PNG"))]
    zips = [case for case in ZIPS if not known_bug(case)]
    refused_images = [case for case in bad_sample() if isinstance(decode(case), imaging.ImageError)]
    files = [(name, data, "image/png") for name, data in good]
    files += search_files(refused_images) + search_files(zips)
    at.radio(key="gallery_source").set_value("upload").run()
    at.file_uploader(key="gallery_files").set_value(files).run()
    assert_no_traceback_shown(at)
    assert not at.error, [e.value for e in at.error]
    gallery = engine.load_gallery([(name, data) for name, data, _ in files])
    assert at.warning and f"{len(gallery.skipped)} files could not be read" in at.warning[0].value
    listed = left_out(at)
    assert listed == [name for name, _ in gallery.skipped]
    for case in refused_images:   # a zip named .png is read as the zip it is
        assert (case.name in listed) != case.data.startswith(b"PK\x03\x04"), case.name
    for case in zips:
        expected = ([case.name] if case.archive.folder == ("DatasetError",)
                    else [f"{case.name}/{member}" for member in case.archive.skipped])
        assert set(expected) <= set(listed), case.name
    assert any(f"{len(gallery):,} characters" in caption.value for caption in at.caption)
    disguised = [case for case in refused_images if case.data.startswith(b"PK\x03\x04")]   # one image each
    assert len(gallery) == 2 + sum(len(case.archive.loaded) for case in zips) + len(disguised)

    # A bad query: a message naming it, the gallery still there; then a good query: results.
    at.radio(key="query_mode").set_value("upload").run()
    for case in refused_images[::4]:
        at.file_uploader(key="query_file").set_value((case.name, case.data, mime(case.name))).run()
        assert_no_traceback_shown(at)
        assert [e.value for e in at.error] == [f"{case.name}: {decode(case)}"]
    at.file_uploader(key="query_file").set_value(("seven.png", good[0][1], "image/png")).run()
    assert_no_traceback_shown(at)
    assert not at.error
    assert any("Rank" in frame.value.columns for frame in at.dataframe)

    # Nothing readable at all: GalleryError, naming the first files.
    unusable = [case for case in ZIPS if case.archive.gallery == "GalleryError" and not known_bug(case)]
    nothing = search_files(refused_images[:5]) + search_files(unusable[:3])
    at.file_uploader(key="gallery_files").set_value(nothing).run()
    assert_no_traceback_shown(at)
    errors = [error.value for error in at.error]
    assert len(errors) == 1 and errors[0].startswith("None of these files could be read as an image")
    assert refused_images[0].name in errors[0]

    # The session goes on with the built-in gallery.
    at.radio(key="gallery_source").set_value("builtin").run()
    at.radio(key="query_mode").set_value("gallery").run()
    assert_no_traceback_shown(at)
    assert not at.error
    assert any("Rank" in frame.value.columns for frame in at.dataframe)


def test_search_page_skips_a_zip_with_a_damaged_directory(sandbox):
    """A zip whose directory zipfile cannot read is left out, named, like any other bad file."""
    at = open_page("app_pages/search.py")
    good = ("seven.png", bad_files.encode(bad_files.drawn_character(), "PNG"), "image/png")
    damaged = [case for case in ZIPS if case.kind == "zip-damaged-directory"]
    at.radio(key="gallery_source").set_value("upload").run()
    at.file_uploader(key="gallery_files").set_value([good, *search_files(damaged)]).run()
    assert_no_traceback_shown(at)
    assert not at.error, [e.value for e in at.error]
    listed = left_out(at)
    for case in damaged:
        assert any(name == case.name or name.startswith(f"{case.name}/") for name in listed), case.name
