"""The Filling in missing values page, driven by Streamlit's AppTest: the real engine and the
shipped masking autoencoders."""
from pathlib import Path

import numpy as np
import pytest
from page_helpers import drawn, png_bytes
from PIL import Image
from streamlit.testing.v1 import AppTest

import engine
from app_pages.logic import impute as logic

pytestmark = pytest.mark.slow   # every test drives the app under AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
PAGE = "app_pages/impute.py"
AUTOENCODER = engine.IMPUTE_METHODS["autoencoder"]


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300).run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def images_by_caption(at: AppTest) -> dict[str, str]:
    return {caption: url for image in at.image for caption, url in zip(image.captions, image.value, strict=True)}


def errors(at: AppTest, which: str = "character") -> dict[str, float]:
    """Method -> RMSE from the page's error table for the character (shown first) or the table."""
    frames = [f.value for f in at.dataframe if "RMSE on hidden values" in f.value.columns]
    assert len(frames) == 2, "the character's and the table's errors"
    table = frames[0 if which == "character" else 1]
    return dict(zip(table["Method"], table["RMSE on hidden values"]))


def expected_errors(character: np.ndarray, missing: np.ndarray) -> dict[str, float]:
    result = engine.compare_character_filling(character[None], missing[None])
    return {row["Method"]: row["RMSE on hidden values"] for row in logic.error_rows(result)}


SEEN_TABLES: dict[float, engine.TableFilling] = {}   # fraction -> what the engine gave the page


@pytest.fixture(scope="module", autouse=True)
def record_table_fillings():
    """Keep each table comparison the page asks the engine for: the expected figures are the
    engine's own result, without completing the table a second time (19 s each on 2 cores)."""
    compare = engine.compare_table_filling

    def recording(name: str, fraction: float, seed: int, *args, **kwargs) -> engine.TableFilling:
        SEEN_TABLES[fraction] = compare(name, fraction, seed, *args, **kwargs)
        return SEEN_TABLES[fraction]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "compare_table_filling", recording)
        yield


def table_errors(fraction: float) -> dict[str, float]:
    """What the engine gives for the digits table with `fraction` of the held-out entries hidden."""
    if fraction not in SEEN_TABLES:   # the page's cache answered: compute it here
        SEEN_TABLES[fraction] = engine.compare_table_filling("digits", fraction, 0)
    return {r["Method"]: r["RMSE on hidden values"] for r in logic.error_rows(SEEN_TABLES[fraction])}


def first_example() -> np.ndarray:
    return next(iter(engine.impute_examples().values()))


def test_the_page_fills_an_example_and_a_table():
    at = open_page()
    assert not at.error
    missing = engine.random_mask((28, 28), "pixels", 0.5, 0)
    captions = list(images_by_caption(at))
    assert captions[:2] == ["Original", f"Input: {missing.mean():.0%} missing"]
    assert any(c.startswith(AUTOENCODER) for c in captions) and len(captions) == 5
    assert errors(at) == expected_errors(first_example(), missing)
    assert errors(at, "table") == table_errors(0.5)


@pytest.mark.parametrize("change", ["kind", "fraction", "seed"])
def test_changing_the_mask_changes_the_result(change):
    at = open_page()
    before, shown = errors(at), images_by_caption(at)
    if change == "kind":
        at.radio(key="mask_kind").set_value("blocks").run()
        missing = engine.random_mask((28, 28), "blocks", 0.5, 0)
    elif change == "fraction":
        at.slider(key="mask_fraction").set_value(0.8).run()
        missing = engine.random_mask((28, 28), "pixels", 0.8, 0)
    else:
        at.number_input(key="mask_seed").set_value(5).run()
        missing = engine.random_mask((28, 28), "pixels", 0.5, 5)
    assert not at.exception and not at.error
    assert errors(at) == expected_errors(first_example(), missing) != before
    assert images_by_caption(at) != shown


def test_a_rectangle_chosen_with_sliders_is_what_goes_missing():
    at = open_page()
    at.radio(key="mask_kind").set_value("rectangle").run()
    at.slider(key="rect_rows").set_value((4, 14)).run()
    at.slider(key="rect_cols").set_value((10, 24)).run()
    assert not at.exception and not at.error
    missing = engine.rectangle_mask((4, 14), (10, 24))
    assert f"Input: {missing.mean():.0%} missing" in images_by_caption(at)
    assert errors(at) == expected_errors(first_example(), missing)
    at.slider(key="rect_rows").set_value((4, 4)).run()  # an empty rectangle: said, not filled
    assert not at.exception and not at.error and at.warning


def test_an_uploaded_mask_is_used_and_a_bad_one_shows_an_error():
    at = open_page()
    at.radio(key="mask_kind").set_value("upload").run()
    assert not at.exception and at.info  # asks for a mask first
    picture = Image.new("L", (56, 56), 0)
    picture.paste(255, (0, 28, 56, 56))  # the bottom half
    mask = png_bytes(picture)
    at.file_uploader(key="mask_upload").upload("mask.png", mask, "image/png").run()
    assert not at.exception and not at.error
    assert errors(at) == expected_errors(first_example(), engine.mask_from_image(mask))
    at.file_uploader(key="mask_upload").upload("mask.png", b"not an image", "image/png").run()
    assert not at.exception
    assert len(at.error) == 1 and "mask.png" in at.error[0].value
    at.file_uploader(key="mask_upload").upload("black.png", png_bytes(Image.new("L", (9, 9), 0)), "image/png").run()
    assert len(at.error) == 1 and "no pixel" in at.error[0].value


def test_an_uploaded_character_is_filled_and_a_bad_one_shows_an_error():
    at = open_page()
    seven = drawn([[(15, 10), (75, 10), (40, 62)]])
    at.file_uploader(key="impute_upload").upload("seven.png", seven, "image/png").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="impute_example").disabled
    character = engine.prepare_character(engine.decode_image(seven))
    assert errors(at) == expected_errors(character, engine.random_mask((28, 28), "pixels", 0.5, 0))
    at.file_uploader(key="impute_upload").upload("char.png", b"\x89PNG broken", "image/png").run()
    assert not at.exception
    assert len(at.error) == 1 and "char.png" in at.error[0].value
    assert errors(at) == expected_errors(first_example(), engine.random_mask((28, 28), "pixels", 0.5, 0))


def test_changing_the_hidden_share_of_the_table_changes_its_result():
    at = open_page()
    before = errors(at, "table")
    at.slider(key="table_fraction").set_value(0.2).run()
    assert not at.exception and not at.error
    after = errors(at, "table")
    assert after == table_errors(0.2) != before


# --- The page's plain logic ------------------------------------------------------------------
def small_filling() -> engine.Filling:
    truth = np.array([[0.0, 1.0], [0.5, 0.25]], dtype=np.float32)
    missing = np.array([[True, False], [False, True]])
    fills = {"mean": truth + 0.3, "pca": truth + 0.2, "autoencoder": truth + 0.1}
    return engine.Filling(truth, missing, fills, {"mean": 0.3, "pca": 0.2, "autoencoder": 0.1})


def test_missing_pixels_are_coloured_and_the_best_method_starred():
    character = np.array([[0.0, 1.0], [0.5, 2.0]], dtype=np.float32)
    view = logic.masked_view(character, np.array([[True, False], [False, False]]))
    assert view.shape == (2, 2, 3) and (view[0, 0] == logic.MISSING_COLOUR).all()
    assert (view[0, 1] == 1.0).all() and (view[1, 1] == 1.0).all()  # grey, clipped to [0, 1]
    result = small_filling()
    assert [row["Best"] for row in logic.error_rows(result)] == ["", "", "★"]
    figure = logic.rmse_figure(result, "Error")
    assert list(figure.data[0].x) == [engine.IMPUTE_METHODS[m] for m in ("mean", "pca", "autoencoder")]
    panels = logic.character_panels(result.truth, result.missing, result)
    assert [c for c, _ in panels][:2] == ["Original", "Input: 50% missing"]
    assert [c for c, _ in panels][-1] == f"{AUTOENCODER} (RMSE 0.100)" and len(panels) == 5
    assert (panels[-1][1] == result.fills["autoencoder"][0]).all()


def test_the_hidden_entries_of_a_table_with_each_guess():
    from types import SimpleNamespace

    small = small_filling()
    completed = engine.TableFilling(small.truth, small.missing, small.fills, small.rmse, pca_rank=3, pca_iterations=7,
                                    table=SimpleNamespace(training_rows=100, columns=["width", "height"]))
    entries = logic.hidden_entries(completed, 5)
    assert entries == [
        {"Row": 100, "Column": "width", "True value": 0.0, "Mean filling": 0.3, "PCA completion": 0.2,
         AUTOENCODER: 0.1},
        {"Row": 101, "Column": "height", "True value": 0.25, "Mean filling": 0.55, "PCA completion": 0.45,
         AUTOENCODER: 0.35},
    ]
    assert logic.hidden_entries(completed, 1) == entries[:1]
    caption = logic.table_caption(completed)
    assert caption.startswith("The 2 held-out rows (the autoencoder trained on the other 100) with 50% of their")
    assert "rank 3 and 7 rounds" in caption


def test_times_read_as_times_and_figures_follow_their_scale():
    from app_pages.figures import decimals_for, duration_text

    assert [duration_text(s) for s in (0.0004, 0.0123, 0.42, 52.4, 486.7152, 480)] == [
        "under 1 ms", "12 ms", "0.4 s", "52 s", "8 min 7 s", "8 min"]
    assert [decimals_for(v) for v in ([0.45, 0.5], [15.0], [1450.0], [0.0034], [], [0.0, float("nan")])] == [
        3, 1, 0, 5, 2, 2]
    assert decimals_for([1450.0], least=1) == 1
    rows = logic.error_rows(small_filling())
    assert all(set(row) == {"Method", "RMSE on hidden values", "Time", "Best"} for row in rows)   # no raw milliseconds
    assert all(row["Time"].endswith(("ms", " s")) for row in rows)
    assert logic.error_columns(small_filling()) == {"RMSE on hidden values": "%.4f"}   # one format for the column
