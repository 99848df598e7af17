"""User strings (file names, zip members, folder labels, CSV columns) are shown as text: the
helper that escapes them for markdown, and every page that takes uploads, driven by AppTest with
files named like markdown images, LaTeX and HTML."""
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from page_helpers import drawn, png_bytes
from PIL import Image
from series_helpers import csv_bytes, short_series
from streamlit.testing.v1 import AppTest

import engine
from app_pages.logic import sources
from app_pages.text import plain

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"

# A name that markdown would make an image fetched from elsewhere, LaTeX, a link and bold HTML.
HOSTILE = "![x](http://host/track.png) $q^{77}$ <b>*y*</b> www.host.org a@b.c"
ESCAPED = re.compile(r"\\[!-/:-@\[-`{-~]")          # CommonMark's backslash escapes
SPECIAL = set("\\`*_[]()<>#|!$~&:@")


def unescaped(text: str) -> str:
    """`text` with its backslash escapes resolved, as markdown shows it."""
    return ESCAPED.sub(lambda m: m[0][1], text)


def bare(text: str) -> str:
    """`text` with its backslash escapes taken out: the characters markdown would interpret."""
    return ESCAPED.sub("", text)


# --- The helper ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [HOSTILE, "plain.png", "a\\*b\\", "![](<javascript:x>)", "[a]: http://x",
                                  "`code` ~~gone~~ __b__ | a | b |", "# heading", ":red[red] :material/home: :smile:",
                                  "&lt;img src=x&gt; &#33;", "\\$x$", "x](y)"])
def test_plain_escapes_every_markdown_character(text):
    shown = plain(text)
    assert unescaped(shown) == text                    # it reads as itself
    assert not SPECIAL & set(bare(shown))              # and nothing is left to interpret
    assert "![" not in shown and "](" not in shown


def test_plain_keeps_one_line_and_breaks_bare_links_and_list_starts():
    assert plain("a\nb\r\n# c\td\x00e\u2028f") == r"a b \# c d e f"
    assert plain("see www.host.org or WWW.x.y") == r"see www\.host.org or WWW\.x.y"
    assert plain("http://host/t.png") == r"http\://host/t.png"
    assert plain("- item") == r"\- item" and plain("+ item") == r"\+ item" and plain("12. item") == r"12\. item"
    assert plain("1.png") == "1.png" and plain("-x.png") == "-x.png"    # no list without the space
    assert plain(42) == "42" and plain("") == ""
    assert plain(ValueError("bad *x*")) == r"bad \*x\*"


def test_plain_leaves_ordinary_names_alone():
    for name in ("photo.png", "my photo (2).jpg", "scan-7, final.tiff", "Ünïcödé 写真.png"):
        assert unescaped(plain(name)) == name
    assert plain("photo.png") == "photo.png" and plain("scan-7, final.tiff") == "scan-7, final.tiff"


# --- The pages -----------------------------------------------------------------------------------
def open_page(page: str, timeout: int = 120) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def markdown_texts(at: AppTest) -> list[str]:
    """Every string on the page that Streamlit renders as markdown: bodies of markdown, captions
    and alerts, image captions, labels and help of widgets, expanders, tabs and metrics, radio
    options. Selectbox options and table cells are plain text and are left out."""
    texts = []
    for node in at._tree:
        proto, kind = getattr(node, "proto", None), getattr(node, "type", None)
        if proto is None or not hasattr(proto, "DESCRIPTOR"):
            continue
        fields = {field.name for field in proto.DESCRIPTOR.fields}
        if kind == "image":
            texts += [image.caption for image in proto.imgs]
        if "body" in fields and kind not in ("code", "text", "json", "exception"):
            texts.append(proto.body)
        texts += [getattr(proto, name) for name in ("label", "help") if name in fields]
        if kind == "radio":
            texts += [*proto.options, *proto.captions]
    return [text for text in texts if isinstance(text, str) and text]


def assert_shown_as_text(at: AppTest, *names: str, shown: int = 1) -> list[str]:
    """Each of `names` appears escaped at least `shown` times, nothing of them as markdown."""
    assert not at.exception, [e.value for e in at.exception]
    texts = markdown_texts(at)
    for text in texts:
        assert "![" not in text and "](" not in text.replace(f"]({sources.LINK})", "]"), text   # only our Sources
        assert not re.search(r"(?<!\\)\$q\^", text), text
        assert "<b>" not in text and "http://host" not in text, text
    for name in names:
        assert sum(plain(name) in text for text in texts) >= shown, (name, texts)
    return texts


def character_png() -> bytes:
    return drawn([[(20, 12), (55, 12), (32, 60)]])


def photo_png(colour: bool = True, size: tuple[int, int] = (72, 96)) -> bytes:
    rng = np.random.default_rng(3)
    height, width = size
    y, x = np.mgrid[0:height, 0:width] / max(size)
    pixels = np.stack([0.5 + 0.4 * np.sin(5 * x), 0.5 + 0.4 * np.cos(4 * y), 0.4 + 0.3 * x * y], -1)
    pixels = np.clip(pixels + 0.03 * rng.standard_normal(pixels.shape), 0, 1)
    image = Image.fromarray((255 * pixels).astype(np.uint8))
    return png_bytes(image if colour else image.convert("L"))


@pytest.mark.slow
def test_anomaly_page_names_characters_and_bad_files_as_text():
    at = open_page("app_pages/anomaly.py")
    at.multiselect(key="examples").set_value([])
    at.file_uploader(key="uploads").set_value(
        [(f"{HOSTILE}.png", character_png(), "image/png"), (f"{HOSTILE} 2.png", b"not an image", "image/png")]).run()
    texts = assert_shown_as_text(at, f"{HOSTILE}.png", f"{HOSTILE} 2.png")
    assert f"**{plain(f'{HOSTILE}.png')}**" in texts          # the character's heading
    assert any(text.startswith(plain(f"{HOSTILE} 2.png") + ": ") for text in (e.value for e in at.error))


@pytest.mark.slow
def test_colorize_page_names_photos_as_text():
    at = open_page("app_pages/colorize.py")
    at.file_uploader(key="upload").upload(f"{HOSTILE}.png", photo_png(), "image/png").run()
    assert not at.error, [e.value for e in at.error]
    assert_shown_as_text(at, f"{HOSTILE}.png")
    if engine.training.available():   # fine-tuning's uploads: a grey photo is left out by name, a bad one named
        at.file_uploader(key="ft_photos").set_value(
            [(f"{HOSTILE} grey.png", photo_png(colour=False), "image/png"),
             (f"{HOSTILE} bad.png", b"not an image", "image/png")]).run()
        assert_shown_as_text(at, f"{HOSTILE} grey.png", f"{HOSTILE} bad.png")
    at.file_uploader(key="upload").upload(f"{HOSTILE} broken.png", b"not an image", "image/png").run()
    assert_shown_as_text(at, f"{HOSTILE} broken.png")
    assert at.error


@pytest.mark.slow
def test_generate_page_names_uploads_as_text():
    at = open_page("app_pages/generate.py")
    at.file_uploader(key="uploads").set_value([(f"{HOSTILE}.png", character_png(), "image/png")]).run()
    assert at.session_state["generate_tab"] == "Your digit & beta"
    texts = assert_shown_as_text(at, f"{HOSTILE}.png", shown=3)   # the expander, the input, its reconstructions
    assert f"Your picture: {plain(f'{HOSTILE}.png')}" in texts
    at.file_uploader(key="uploads").set_value([(f"{HOSTILE}.png", b"not an image", "image/png")]).run()
    assert_shown_as_text(at, f"{HOSTILE}.png")
    assert len(at.error) == 1


@pytest.mark.slow
def test_impute_page_names_the_character_and_a_bad_mask_as_text():
    at = open_page("app_pages/impute.py", timeout=300)
    at.file_uploader(key="impute_upload").upload(f"{HOSTILE}.png", character_png(), "image/png").run()
    texts = assert_shown_as_text(at, f"{HOSTILE}.png")
    assert any(text.startswith(f"**{plain(f'{HOSTILE}.png')}**: RMSE") for text in texts)
    at.radio(key="mask_kind").set_value("upload").run()
    at.file_uploader(key="mask_upload").upload(f"{HOSTILE} mask.png", b"not an image", "image/png").run()
    assert_shown_as_text(at, f"{HOSTILE} mask.png")
    assert len(at.error) == 1


def labelled_zip(label: str, member: str) -> bytes:
    """Two folders of three photos; one folder and one file are named like markdown."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(3):
            archive.writestr(f"{label}/{member} {i}.png", photo_png(size=(64 + 8 * i, 80)))
            archive.writestr(f"plain/{i}.png", photo_png(colour=False, size=(64, 64 + 8 * i)))
    return buffer.getvalue()


@pytest.mark.slow
def test_search_page_names_files_and_labels_as_text():
    label, member = "![l](x.png) $y$", "![m](http:host) *n*"
    at = open_page("app_pages/search.py")
    at.radio(key="gallery_source").set_value("upload").run()
    at.file_uploader(key="gallery_files").set_value(
        [(f"{HOSTILE}.zip", labelled_zip(label, member), "application/zip")]).run()
    assert not at.error, [e.value for e in at.error]
    texts = assert_shown_as_text(at, f"{HOSTILE}.zip/{label}/{member} 0.png", label)
    assert plain(label) + " · " in " ".join(texts)               # a neighbour's caption
    # The map's tooltips (Vega-Lite) show its data as text: the names go in as they are, not escaped
    # (as plotly's hover texts were), and not in the spec, where Vega could read them as markup.
    chart = at.get("vega_lite_chart")[0].proto
    names = {name for dataset in chart.datasets
             for name in pa.ipc.open_stream(dataset.data.data).read_pandas().get("name", [])}
    assert f"{HOSTILE}.zip/{label}/{member} 0.png" in names and not any("&lt;" in name for name in names)
    assert "<b>" not in chart.spec
    at.radio(key="query_mode").set_value("upload").run()
    at.file_uploader(key="query_file").upload(f"{HOSTILE} query.png", b"not an image", "image/png").run()
    assert_shown_as_text(at, f"{HOSTILE} query.png")
    assert len(at.error) == 1
    at.file_uploader(key="query_file").upload(f"{HOSTILE} query.png", photo_png(), "image/png").run()
    assert_shown_as_text(at, f"{HOSTILE} query.png", label)      # its caption, and the neighbours' vote


@pytest.mark.slow
def test_semisupervised_page_names_a_bad_upload_as_text():
    at = open_page("app_pages/semisupervised.py")
    at.file_uploader(key="semi_upload").upload(f"{HOSTILE}.png", b"not a picture", "image/png").run()
    assert_shown_as_text(at, f"{HOSTILE}.png")
    assert len(at.error) == 1


@pytest.mark.slow
def test_sequence_page_names_the_csv_and_its_columns_as_text():
    column = "![c](http://host/t.png) $MW$"
    data = csv_bytes(short_series(days=40), drop=slice(300, 303)).replace(b"load_mw", column.encode())
    at = open_page("app_pages/sequence.py")
    at.file_uploader(key="seq_csv").upload(f"{HOSTILE}.csv", data, "text/csv").run()
    assert not at.error, [e.value for e in at.error]
    texts = assert_shown_as_text(at, f"{HOSTILE}.csv", column)
    assert any(text.startswith("Filled 3 missing hours of") for text in texts)   # the note names the column
    at.file_uploader(key="seq_csv").upload(f"{HOSTILE} bad.csv", b"just some words\nand more words\n",
                                           "text/csv").run()
    assert_shown_as_text(at, f"{HOSTILE} bad.csv")
    assert len(at.error) == 1


@pytest.mark.slow
@pytest.mark.skipif(not engine.training.available(), reason="the studio's uploads need PyTorch")
def test_studio_page_names_uploads_and_zip_members_as_text():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(3):
            archive.writestr(f"pics/{i}.png", png_bytes(Image.new("L", (30, 30), 40 * i)))
        archive.writestr(f"pics/{HOSTILE}.png", b"not an image")
    at = open_page("app_pages/studio.py")
    at.radio(key="studio_data").set_value("upload").run()
    at.file_uploader(key="studio_files").set_value(
        [(f"{HOSTILE}.zip", buffer.getvalue(), "application/zip"), (f"{HOSTILE}.png", b"garbage", "image/png")]).run()
    assert_shown_as_text(at, f"{HOSTILE}.zip", f"pics/{HOSTILE}.png", f"{HOSTILE}.png")
    assert len(at.error) == 1 and len(at.warning) == 1


def test_download_stems_have_no_spaces_or_brackets():
    from app_pages.text import file_stem

    assert file_stem("Astronaut (colour, held out)") == "Astronaut_colour_held_out"
    assert file_stem("my photo (1).jpg") == "my_photo_1" and file_stem("a.b.c.png") == "a_b_c"
    assert file_stem("((()))") == "image" and file_stem("((()))", "photo") == "photo"
