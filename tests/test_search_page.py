"""The image search page, driven by Streamlit's AppTest: the real engine and pretrained models."""

import io
import zipfile
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import pytest
from page_helpers import drawn, png_bytes
from PIL import Image
from streamlit.testing.v1 import AppTest
from streamlit.typing import VegaLiteState

import engine
from app_pages.logic import search as logic
from app_pages.parts import search_tsne
from app_pages.text import plain

pytestmark = pytest.mark.slow   # every test drives the app under AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
SEARCH = "app_pages/search.py"


@pytest.fixture(scope="module")
def digits() -> engine.Gallery:
    """The page's default gallery, built here too so that its answers can be checked."""
    return engine.builtin_gallery("digits")


def open_search() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(SEARCH).run()
    assert not at.exception
    return at


def frame_with(at: AppTest, column: str) -> pd.DataFrame | None:
    """The first table on the page that has this column (tables hold results, scores, skipped files)."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    return None


def results(at: AppTest) -> pd.DataFrame:
    table = frame_with(at, "Rank")
    assert table is not None, "no results table"
    return table


def precision_metric(at: AppTest) -> tuple[str, float] | None:
    for metric in at.metric:
        if metric.label.startswith("Precision@"):
            return metric.label, float(metric.value)
    return None


def small(strokes: list[list[tuple[int, int]]]) -> bytes:
    """A drawing at half size: small enough (64 pixels or less) to be taken for a character."""
    return png_bytes(Image.open(io.BytesIO(drawn(strokes))).resize((45, 35)))


SEVEN = [[(20, 12), (55, 12), (32, 60)]]
ONE = [[(40, 10), (40, 60)]]


def photo(seed: int, size: tuple[int, int], style: str) -> bytes:
    """A random colour picture bigger than a character: red horizontal stripes ("stripes") or a
    blue checkerboard ("checks"), or plain colour noise ("noise"), with noise on top."""
    rng = np.random.default_rng(seed)
    height, width = size
    rows, cols = np.mgrid[0:height, 0:width]
    if style == "stripes":
        pattern = (np.sin(rows / 3.0) > 0)[..., None] * np.array([0.9, 0.15, 0.1])
    elif style == "checks":
        pattern = (((rows // 8) + (cols // 8)) % 2 == 0)[..., None] * np.array([0.1, 0.2, 0.9])
    else:
        pattern = rng.random((height, width, 3))
    image = np.clip(0.8 * pattern + 0.2 * rng.random((height, width, 3)), 0, 1)
    return png_bytes(Image.fromarray((image * 255).astype(np.uint8)))


def labelled_zip() -> bytes:
    """Two folders (the labels) of three pictures each, and a member that is not an image."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i, size in enumerate([(96, 96), (110, 80), (80, 120)]):
            archive.writestr(f"stripes/{i}.png", photo(10 + i, size, "stripes"))
            archive.writestr(f"checks/{i}.png", photo(20 + i, size, "checks"))
        archive.writestr("stripes/bad.png", b"not an image")
    return buffer.getvalue()


LOOSE_PHOTOS = [(f"photo{i}.png", photo(i, size, "noise")) for i, size in
                enumerate([(80, 100), (120, 90), (100, 100), (150, 70)])]


def upload_gallery(at: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    at.radio(key="gallery_source").set_value("upload").run()
    assert not at.exception
    assert at.info  # asks for files first
    mimes = {"zip": "application/zip"}
    at.file_uploader(key="gallery_files").set_value(
        [(name, data, mimes.get(name.rsplit(".", 1)[-1], "image/png")) for name, data in files]
    ).run()
    assert not at.exception
    return at


def upload_query(at: AppTest, name: str, data: bytes) -> AppTest:
    at.radio(key="query_mode").set_value("upload").run()
    at.file_uploader(key="query_file").upload(name, data, "image/png").run()
    assert not at.exception
    return at


# --- The built-in gallery --------------------------------------------------------------------


def test_default_page_searches_with_the_first_digit(digits):
    at = open_search()
    assert not at.error
    table = results(at)
    expected = engine.search(digits, 0, space="autoencoder", metric="cosine", k=10)
    assert list(table["Image number"]) == list(expected.indices)
    assert list(table["Label"]) == expected.labels
    assert np.allclose(table["Distance"], expected.distances, atol=1e-4)
    assert list(table["Distance"]) == sorted(table["Distance"])
    assert len(at.image) == 1 + 10  # the query and its neighbours
    label, value = precision_metric(at)
    assert label == "Precision@10 for this query"
    assert value == pytest.approx(expected.precision, abs=0.005)
    assert len(at.get("vega_lite_chart")) == 1
    assert len(at.latex) == 1  # the two distances


def test_default_page_compares_every_code_space(digits):
    at = open_search()
    table = frame_with(at, "Code space")
    assert table is not None
    assert list(table["Code space"]) == [engine.SPACE_NAMES[space] for space in digits.spaces]
    expected = engine.compare_spaces(digits, "cosine", (1, 5, 10))
    for row, space in zip(table.itertuples(index=False), digits.spaces, strict=True):
        assert row[1:] == pytest.approx([100 * expected[space][k] for k in (1, 5, 10)], abs=1e-4)   # percent
    scores = dict(zip(table["Code space"], table["Precision@1"] / 100, strict=True))
    chance = 0.1  # ten digits, about equally many of each
    assert all(score > 2 * chance for score in scores.values())
    # The lesson of the page: the code that learnt to undo distortions beats comparing ink.
    assert scores[engine.SPACE_NAMES["autoencoder"]] > scores[engine.SPACE_NAMES["pixels"]]


def test_k_sets_the_number_of_neighbours():
    at = open_search()
    at.slider(key="k").set_value(3).run()
    assert not at.exception
    assert len(results(at)) == 3
    assert len(at.image) == 1 + 3
    assert precision_metric(at)[0] == "Precision@3 for this query"


def test_switching_space_and_metric_changes_the_answer(digits):
    at = open_search()
    default = list(results(at)["Image number"])
    default_scores = frame_with(at, "Code space")
    at.radio(key="space").set_value("pixels")
    at.radio(key="metric").set_value("euclidean").run()
    assert not at.exception
    assert not at.error
    expected = engine.search(digits, 0, space="pixels", metric="euclidean", k=10)
    shown = list(results(at)["Image number"])
    assert shown == list(expected.indices)
    assert shown != default
    assert any("raw pixels, euclidean distance" in md.value for md in at.markdown)
    assert not frame_with(at, "Code space").equals(default_scores)  # scored again with the new distance


def test_query_by_gallery_position(digits):
    at = open_search()
    at.number_input(key="query_position").set_value(5).run()
    assert not at.exception
    expected = engine.search(digits, 5, k=10)
    assert list(results(at)["Image number"]) == list(expected.indices)
    assert 5 not in list(results(at)["Image number"])  # a gallery image is not its own neighbour
    assert any(caption.value.startswith(plain(digits.names[5])) for caption in at.caption)   # "5 #5": as text


def test_the_other_builtin_gallery_has_letters():
    at = open_search()
    at.selectbox(key="builtin").set_value("digits-capitals").run()
    assert not at.exception
    assert not at.error
    assert any("1,000 characters, 36 labels" in caption.value for caption in at.caption)
    assert len(results(at)) == 10
    assert len(frame_with(at, "Code space")) == 3


@pytest.mark.parametrize("name, strokes, digit", [("one.png", ONE, "1"), ("seven.png", SEVEN, "7")])
def test_query_by_uploaded_character(name, strokes, digit):
    at = upload_query(open_search(), name, drawn(strokes))
    assert not at.error
    labels = list(results(at)["Label"])
    assert len(labels) == 10
    assert labels.count(digit) >= 5, labels
    assert precision_metric(at) is None  # an upload has no label to score against
    assert any("neighbours are labelled" in caption.value for caption in at.caption)


def test_a_query_that_is_not_an_image_is_reported():
    at = upload_query(open_search(), "x.png", b"hello")
    errors = [error.value for error in at.error]
    assert len(errors) == 1 and "x.png" in errors[0]
    assert frame_with(at, "Rank") is None
    assert len(at.get("vega_lite_chart")) == 1  # the rest of the page goes on
    assert frame_with(at, "Code space") is not None


def test_a_blank_query_is_reported():
    at = upload_query(open_search(), "blank.png", png_bytes(Image.new("L", (64, 64), 255)))
    assert at.error
    assert frame_with(at, "Rank") is None


# --- Users' galleries ------------------------------------------------------------------------


def test_photos_and_a_zip_make_an_unlabelled_gallery():
    files = [*LOOSE_PHOTOS, ("pictures.zip", labelled_zip())]
    at = upload_gallery(open_search(), files)
    assert not at.error
    assert at.radio(key="space").options == [
        engine.SPACE_NAMES[s] for s in ("autoencoder", "autoencoder-grey", "pca", "pixels")
    ]
    skipped = frame_with(at, "File")
    assert list(skipped["File"]) == ["pictures.zip/stripes/bad.png"]
    assert any("1 file could not be read" in warning.value for warning in at.warning)
    table = results(at)
    assert len(table) == 4 + 6 - 1  # everything but the query
    assert "Label" not in table.columns
    # Loose images beside the zip's folders: no labels, and the page says why.
    assert frame_with(at, "Code space") is None
    assert any("no labels" in info.value for info in at.info)
    assert len(at.get("vega_lite_chart")) == 1


def test_a_zip_with_folders_is_labelled_and_scored():
    at = upload_gallery(open_search(), [("pictures.zip", labelled_zip())])
    assert not at.error
    assert list(frame_with(at, "File")["File"]) == ["pictures.zip/stripes/bad.png"]
    table = results(at)
    assert len(table) == 5
    assert set(table["Label"]) <= {"stripes", "checks"}
    scores = frame_with(at, "Code space")
    assert list(scores["Code space"]) == [
        engine.SPACE_NAMES[s] for s in ("autoencoder", "autoencoder-grey", "pca", "pixels")
    ]
    assert scores["Precision@1"].between(0, 100).all()   # percent
    # Red stripes and blue checks differ in colour and texture: the colour codes tell them apart,
    # and every code does better than picking at random (2 of the 5 others share a label).
    best = dict(zip(scores["Code space"], scores["Precision@1"] / 100, strict=True))
    assert best[engine.SPACE_NAMES["autoencoder"]] == 1.0
    assert best[engine.SPACE_NAMES["pixels"]] == 1.0
    assert all(score > 0.4 for score in best.values())
    # Three images a label: the query has only two others to find among its five neighbours.
    assert precision_metric(at) == ("Precision@5 for this query", 0.4)
    assert any("so 0.40 is the best possible" in caption.value for caption in at.caption)
    for space in ("autoencoder-grey", "pca"):
        at.radio(key="space").set_value(space).run()
        assert not at.exception
        assert not at.error
        assert len(results(at)) == 5
    # An uploaded gallery's t-SNE map is drawn in the background: a progress bar (the rest of the
    # page answering meanwhile), then the map once the job has ended (waited for, not timed).
    at.radio(key="projection").set_value("tsne")
    at.checkbox(key="map_thumbnails").set_value(True).run()
    assert not at.exception and not at.error
    _, job = at.session_state[search_tsne.JOB]
    assert len(results(at)) == 5 and (job.running or job.state == "done")
    assert job.wait(timeout=600) and job.state == "done" and len(job.updates) == engine.TSNE_STAGES
    at.run()
    assert not at.exception and not at.error
    assert len(at.get("vega_lite_chart")) == 1 and not at.get("progress")
    at.radio(key="space").set_value("autoencoder-grey").run()   # another code space: another map, its own job
    _, other = at.session_state[search_tsne.JOB]
    assert other is not job
    other.stop()
    assert other.wait(timeout=600) and other.state == "stopped"
    at.run()
    assert not at.exception and not at.get("vega_lite_chart")
    assert any("stopped" in info.value for info in at.info) and at.button(key="search_tsne_again")


def relabelled_zip(folders: list[str]) -> bytes:
    """The same six pictures, in the same order (three stripes, then three checks), each in the
    folder named by `folders`: other labels for the same pixels."""
    pictures = [photo(10 + i, (96, 96), "stripes") for i in range(3)] + [photo(20 + i, (96, 96), "checks") for i in range(3)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i, (folder, data) in enumerate(zip(folders, pictures, strict=True)):
            archive.writestr(f"{folder}/{i}.png", data)    # members sort by folder, then number: the order above
    return buffer.getvalue()


def test_the_same_images_under_other_labels_are_scored_on_their_own_labels():
    """Streamlit's cache is shared by every visitor: a second gallery of the same pixels with other
    folder names must not be shown the precision table of the first."""
    by_kind, mixed = ["a", "a", "a", "b", "b", "b"], ["a", "a", "b", "b", "c", "c"]
    tables = []
    for folders in (by_kind, mixed):
        files = [("pictures.zip", relabelled_zip(folders))]
        at = upload_gallery(open_search(), files)
        assert not at.error
        table = frame_with(at, "Code space")
        expected = engine.compare_spaces(engine.load_gallery(files), "cosine", logic.PRECISION_KS)
        assert list(table["Code space"]) == [engine.SPACE_NAMES[space] for space in expected]
        for k in logic.PRECISION_KS:
            assert list(table[f"Precision@{k}"]) == pytest.approx([100 * expected[space][k] for space in expected])
        tables.append(table)
    # Stripes and checks are told apart: by kind every code finds its label first, mixed it cannot.
    assert (tables[0]["Precision@1"] == 100).all() and (tables[1]["Precision@1"] < 100).all()


def test_cache_key_covers_labels_names_and_kind():
    labelled, unlabelled = tiny_gallery(["x", "y", "x", "x"]), tiny_gallery(None)
    assert labelled.key == unlabelled.key            # the engine's key: the pixels alone
    keys = {logic.cache_key(g) for g in (labelled, unlabelled, tiny_gallery(["x", "x", "y", "x"]))}
    renamed = tiny_gallery(["x", "y", "x", "x"])
    renamed.names[0] = "other.png"
    as_photos = tiny_gallery(None)
    as_photos.kind = "photo"
    keys |= {logic.cache_key(renamed), logic.cache_key(as_photos)}
    assert len(keys) == 5
    assert logic.cache_key(labelled) == logic.cache_key(tiny_gallery(["x", "y", "x", "x"]))


def test_an_uploaded_photo_finds_its_kind():
    at = upload_gallery(open_search(), [("pictures.zip", labelled_zip())])
    at = upload_query(at, "new.png", photo(99, (130, 100), "stripes"))
    assert not at.error
    assert list(results(at)["Label"])[:3] == ["stripes"] * 3
    assert precision_metric(at) is None
    assert len(results(at)) == 6  # a new image: every gallery image is a candidate
    assert any("3 of its 6 neighbours are labelled **stripes**" in caption.value for caption in at.caption)


def test_small_uploads_are_characters():
    files = [(f"{digit}.png", small(strokes)) for digit, strokes in (("one", ONE), ("seven", SEVEN))] * 2
    files = [(f"{i}-{name}", data) for i, (name, data) in enumerate(files)]
    at = upload_gallery(open_search(), files)
    assert not at.error
    assert at.radio(key="space").options == [engine.SPACE_NAMES[s] for s in ("autoencoder", "pca", "pixels")]
    assert any("4 characters, no labels" in caption.value for caption in at.caption)
    # 0-one and 2-one are the same drawing: each other's nearest neighbour.
    assert results(at)["Name"].iloc[0] == "2-one.png"


def test_a_blank_character_in_a_gallery_is_reported():
    blank = png_bytes(Image.new("L", (40, 40), 255))
    at = upload_gallery(open_search(), [("one.png", small(ONE)), ("blank.png", blank)])
    assert not at.exception
    # Today the engine refuses the whole gallery; skipping the blank image would do as well.
    skipped = frame_with(at, "File")
    assert at.error or (skipped is not None and "blank.png" in list(skipped["File"]))


def test_a_gallery_of_one_image():
    at = upload_gallery(open_search(), [("one.png", drawn(ONE))])
    assert not at.error
    assert frame_with(at, "Rank") is None
    assert any("no other image" in info.value for info in at.info)
    assert len(at.get("vega_lite_chart")) == 1


def test_a_gallery_with_nothing_readable_is_reported():
    at = upload_gallery(open_search(), [("a.png", b"not an image"), ("b.zip", b"PK\x03\x04broken")])
    errors = [error.value for error in at.error]
    assert len(errors) == 1 and "None of these files" in errors[0]
    assert not at.get("vega_lite_chart")


def test_changing_gallery_keeps_the_settings_valid():
    """A photo-only code space, or a position past the end, must not break the next gallery."""
    at = upload_gallery(open_search(), [("pictures.zip", labelled_zip())])
    at.number_input(key="query_position").set_value(5)
    at.radio(key="space").set_value("autoencoder-grey").run()
    assert not at.exception
    at.file_uploader(key="gallery_files").set_value([(name, data, "image/png") for name, data in LOOSE_PHOTOS[:3]])
    at.run()
    assert not at.exception
    assert not at.error
    assert at.number_input(key="query_position").value == 0  # 5 is past the end of three photos
    assert at.radio(key="space").value == "autoencoder-grey"  # still offered for photos
    assert len(results(at)) == 2
    at.radio(key="gallery_source").set_value("builtin").run()
    assert not at.exception
    assert not at.error
    assert at.radio(key="space").value == "autoencoder"  # characters have no colour-blind code
    assert len(results(at)) == 10


# --- Clicking the map ------------------------------------------------------------------------


def test_a_clicked_point_becomes_the_query_position():
    position_from_selection = logic.position_from_selection

    def clicked(*points):
        """What the map's key holds in session state after a click: the chart's point selection,
        the clicked points' fields."""
        return VegaLiteState({"selection": {logic.MAP_PICK: list(points), "shown": [{"label": "3"}]}})

    assert position_from_selection(clicked({"position": 42}), 100) == 42
    assert position_from_selection(clicked({"position": 7.0}), 100) == 7
    assert position_from_selection(clicked({"position": 0}), 100) == 0
    # Nothing clicked, no position, or a point from a bigger gallery shown before.
    assert position_from_selection(None, 100) is None
    assert position_from_selection({}, 100) is None
    assert position_from_selection({"selection": {logic.MAP_PICK: [{"position": 5}]}}, 100) == 5  # a plain dict
    assert position_from_selection({"selection": {"shown": [{"position": 5}]}}, 100) is None   # another selection
    assert position_from_selection(clicked(), 100) is None
    assert position_from_selection(clicked({"label": "3"}), 100) is None
    assert position_from_selection(clicked({"position": 150}), 100) is None
    assert position_from_selection(clicked({"position": -1}), 100) is None
    assert position_from_selection(clicked({"position": "a"}), 100) is None
    assert position_from_selection(clicked({"position": True}), 100) is None
    # Several points: the first usable one.
    assert position_from_selection(clicked({"label": "x"}, {"position": 9}, {"position": 4}), 100) == 9


# --- The page's logic ------------------------------------------------------------------------


def tiny_gallery(labels: list[str] | None) -> engine.Gallery:
    """Four characters with hand-made labels (or none): enough for captions, tables and the map."""
    images = [np.full((28, 28), i / 4, dtype=np.float32) for i in range(4)]
    return engine.Gallery(images, [f"c{i}.png" for i in range(4)], "character",
                          None if labels is None else np.array(labels))


def result_of(labels: list[str] | None, query_label: str | None = None) -> engine.SearchResult:
    count = 3 if labels is None else len(labels)
    return engine.SearchResult(
        indices=np.arange(1, count + 1), distances=np.linspace(0.1, 0.3, count), names=[f"n{i}" for i in range(count)],
        labels=labels, query_label=query_label, space="autoencoder", metric="cosine",
    )


def test_digest_display_and_thumbnails():
    files = [("a.png", b"12"), ("b.png", b"3")]
    assert logic.digest_of(files) == logic.digest_of(list(files))
    assert logic.digest_of(files) != logic.digest_of([("a.png", b"1"), ("b.png", b"23")])  # where one file ends
    assert logic.digest_of(files) != logic.digest_of([("c.png", b"12"), ("b.png", b"3")])
    character = np.full((28, 28), 0.5, dtype=np.float32)
    assert logic.for_display(character).shape == (112, 112)
    photo = np.zeros((256, 512, 3), dtype=np.float32)
    assert logic.for_display(photo).shape[0] * logic.for_display(photo).shape[1] <= logic.DISPLAY_PIXELS
    assert list(logic.thumbnail_positions(5)) == [0, 1, 2, 3, 4]
    many = logic.thumbnail_positions(1000)
    assert len(many) == logic.MAP_THUMBNAILS and list(many) == sorted(set(many.tolist()))
    assert list(many) == list(logic.thumbnail_positions(1000))  # the same sample every time
    assert logic.projection_methods(engine.TSNE_LIMIT) == ["pca", "tsne"]
    assert logic.projection_methods(engine.TSNE_LIMIT + 1) == ["pca"]


def test_chance_precision():
    assert logic.chance_precision(np.array(["a", "a", "b", "b"])) == pytest.approx(1 / 3)  # 4 * (1 * 2) / 12
    assert logic.chance_precision(np.array(["a", "b", "c"])) == 0.0
    assert logic.chance_precision(np.array(["a", "a", "a"])) == 1.0


def test_gallery_and_query_captions():
    labelled, unlabelled = tiny_gallery(["x", "y", "x", "x"]), tiny_gallery(None)
    assert logic.gallery_caption(labelled) == "4 characters, 2 labels."
    assert logic.gallery_caption(unlabelled) == "4 characters, no labels."
    assert logic.query_caption(labelled, 1) == "c1.png (label y)"
    assert logic.query_caption(unlabelled, 1) == "c1.png"
    assert logic.skipped_warning(1).startswith("1 file could not be read and is left out")
    assert logic.skipped_warning(3).startswith("3 files could not be read and are left out")
    assert logic.skipped_table([("a", "why"), ("b", "because")]) == {"File": ["a", "b"], "Reason": ["why", "because"]}


def test_result_captions_and_table():
    result = result_of(["x", "y", "x"], query_label="x")
    assert logic.results_heading(result, "pixels", "euclidean") == (
        f"**The 3 nearest** in {engine.SPACE_NAMES['pixels'].lower()}, euclidean distance"
    )
    assert logic.result_caption(result, 0) == "x · 0.100"
    assert logic.result_caption(result_of(None), 2) == "0.300"
    labels = np.array(["x", "x", "x", "y", "x"])  # the query and three others labelled x
    assert logic.precision_caption(result, labels) == "2 of 3 neighbours are labelled x."
    scarce = logic.precision_caption(result, np.array(["x", "x", "y", "y"]))  # one other x only
    assert scarce.endswith("Only 1 other image in the gallery carry that label, so 0.33 is the best possible.")
    assert "classifier's guess" in logic.vote_caption(["x", "y", "x"])
    assert "2 of its 3 neighbours are labelled **x**" in logic.vote_caption(["x", "y", "x"])
    table = logic.results_table(result)
    assert list(table) == ["Rank", "Image number", "Name", "Label", "Distance"]
    assert list(table["Rank"]) == [1, 2, 3]
    assert "Label" not in logic.results_table(result_of(None))


def test_map_caption_and_space_comparison():
    assert "The query is the star" in logic.map_caption(query_shown=True, searched=True)
    uploaded = logic.map_caption(query_shown=False, searched=True)
    assert "only its neighbours are circled" in uploaded and "star" not in uploaded
    plain = logic.map_caption(query_shown=False, searched=False)
    assert "star" not in plain and "circled" not in plain and "click one to search with it" in plain
    comparison = {"autoencoder": {1: 0.9, 5: 0.8, 10: 0.7}, "pixels": {1: 0.5, 5: 0.4, 10: 0.3}}
    table = logic.comparison_table(comparison)
    assert table["Code space"] == [engine.SPACE_NAMES["autoencoder"], engine.SPACE_NAMES["pixels"]]
    assert table["Precision@5"] == pytest.approx([80, 40]) and list(table)[1:] == ["Precision@1", "Precision@5", "Precision@10"]
    caption = logic.comparison_caption(comparison, tiny_gallery(["x", "y", "x", "x"]))
    assert caption.startswith(f"**{engine.SPACE_NAMES['autoencoder']}**: the code of an encoder")
    assert "would score 50%." in caption and "With only 4 images" in caption


def test_map_chart_marks_the_query_and_its_neighbours():
    gallery = tiny_gallery(["x", "y", "x", "x"])
    points = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5], [3.0, 2.0]])
    chart = logic.map_chart(gallery, points, 0, np.array([2, 3]), {1: "data:image/png;base64,"}, "Map")
    pictures, dots, ringed, star = chart.layer
    assert list(pictures.data["position"]) == [1] and list(pictures.data["url"]) == ["data:image/png;base64,"]
    assert list(dots.data["position"]) == [0, 1, 2, 3] and list(dots.data["label"]) == ["x", "y", "x", "x"]
    assert list(ringed.data["position"]) == [2, 3] and ringed.mark.filled is False
    assert list(star.data["position"]) == [0] and star.mark.shape == logic.STAR
    spec = chart.to_dict()
    assert spec["title"] == "Map"
    picks = [p for p in spec["params"] if p["name"] == logic.MAP_PICK]   # a click selects a gallery position
    assert [p["bind"] for p in spec["params"] if p["name"] in ("shown", "zoom")] == ["legend", "scales"]
    assert picks and picks[0]["select"]["fields"] == ["position"] and picks[0]["select"]["on"] == "click"
    assert dots.mark.opacity is alt.Undefined and dots.mark.size == 18   # faint and small over the thumbnails
    plain = logic.map_chart(tiny_gallery(None), points, None, np.array([], dtype=int), None, "Map")
    data = plain.layer[0].data if plain.layer[0].data is not alt.Undefined else plain.data   # altair lifts a lone layer's
    assert len(plain.layer) == 1 and set(data["label"]) == {"gallery"}
    assert plain.layer[0].mark.size == 50


def test_a_drawn_seven_finds_sevens(monkeypatch):
    from page_helpers import FakeCanvas

    from app_pages.parts import char_sources

    monkeypatch.setattr(char_sources, "canvas", FakeCanvas([[(20, 12), (60, 12), (34, 70)]]))
    at = open_search()
    at.radio(key="query_mode").set_value("draw").run()
    assert not at.exception and not at.error
    table = results(at)
    labels = [str(label) for label in table[[c for c in table.columns if "abel" in c][0]]]
    assert labels.count("7") >= len(labels) // 2      # a drawn 7 lands among the gallery's sevens


def test_a_photographed_digit_is_the_query():
    import io

    from PIL import Image

    from engine.core import capture_corpus

    capture = capture_corpus.render_capture("4", np.random.default_rng(12), force={"light_on_dark": False})
    buffer = io.BytesIO()
    Image.fromarray(np.round(capture.image * 255).astype(np.uint8)).save(buffer, "JPEG", quality=85)
    at = open_search()
    at.radio(key="query_mode").set_value("camera").run()
    at.camera_input(key="search_camera").set_value(("shot.jpg", buffer.getvalue(), "image/jpeg")).run()
    assert not at.exception and not at.error
    labels = [str(label) for label in results(at)["Label"]]
    assert labels.count("4") >= len(labels) // 2


# --- Clothes (Fashion-MNIST) -----------------------------------------------------------------


def test_the_clothes_gallery_searches_by_kind(fake_fashion):
    at = open_search()
    assert logic.builtin_choices(True)[logic.CLOTHES] in at.selectbox(key="builtin").options
    at.selectbox(key="builtin").set_value(logic.CLOTHES).run()
    assert not at.exception and not at.error
    assert any("pictures of clothes, 10 labels" in caption.value for caption in at.caption)
    assert set(results(at)["Label"]) <= set(engine.FASHION_CLASSES)
    scores = frame_with(at, "Code space")
    assert scores is not None and len(scores) == 3
    assert any("Fashion-MNIST's 60,000 training pictures" in block.value for block in at.markdown)
    shirt = np.ones((120, 90, 3), np.float32)        # a picture of a block on white, as a product photo
    shirt[10:110, 30:60] = 0.2
    at = upload_query(at, "shirt.png", png_bytes(Image.fromarray((shirt * 255).astype(np.uint8))))
    assert not at.error
    assert len(results(at)) == 10
    assert any("as the encoder sees it" in caption.value for caption in at.caption)


def test_without_fashion_mnist_the_page_offers_characters_and_says_how_to_add_it(no_fashion):
    at = open_search()
    assert at.selectbox(key="builtin").options == list(logic.builtin_choices(False).values())
    assert any("apt-get install dataset-fashion-mnist" in caption.value for caption in at.caption)
    assert len(results(at)) == 10


def test_a_drawing_searches_the_clothes_as_a_garment(monkeypatch, fake_fashion):
    from page_helpers import FakeCanvas

    from app_pages.parts import char_sources

    # a tall, narrow block drawn with a thick pen: the stand-in gallery's narrow kinds
    monkeypatch.setattr(char_sources, "canvas", FakeCanvas([[(90, 20), (90, 180)], [(100, 20), (100, 180)]]))
    at = open_search()
    at.selectbox(key="builtin").set_value(logic.CLOTHES).run()
    at.radio(key="query_mode").set_value("draw").run()
    assert not at.exception and not at.error
    assert any(c.value.startswith("your drawing, as the encoder sees it") for c in at.caption)
    assert set(results(at)["Label"]) <= set(engine.FASHION_CLASSES)
