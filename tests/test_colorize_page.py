"""The Colorization page, driven by Streamlit's AppTest: the real engine, the shipped colorizer,
and real (short) fine-tuning runs in the background."""

import io
from pathlib import Path

import bad_files
import numpy as np
import pytest
from page_helpers import png_bytes, wait_for_job, without_torch
from PIL import Image, ImageDraw
from run_control import hold_at_first_report, run_to_end
from streamlit.runtime.memory_media_file_storage import _calculate_file_id
from streamlit.testing.v1 import AppTest

import engine
from app_pages.logic import colorize as logic

pytestmark = pytest.mark.slow   # every test drives the app under AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
COLORIZE = "app_pages/colorize.py"
AUTOENCODER = "Autoencoder"
needs_torch = pytest.mark.skipif(not engine.training.available(), reason="fine-tuning needs PyTorch")


def open_colorize() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(COLORIZE).run()
    assert not at.exception
    return at


def images_by_caption(at: AppTest) -> dict[str, str]:
    """Caption -> image URL for every image on the page; the URL names the image's content."""
    return {
        caption: url for image in at.image for caption, url in zip(image.captions, image.value, strict=True)
    }


def metrics_table(at: AppTest):
    return next((frame.value for frame in at.dataframe if "Colourfulness" in frame.value.columns), None)


def row_of(rows: list[dict], starts: str) -> dict:
    return next(r for r in rows if r["Image"].startswith(starts))


def row(table, starts: str) -> dict:
    return row_of(table.to_dict("records"), starts)


def colour_photo(width: int = 120, height: int = 90, seed: int = 0) -> bytes:
    """A small 'photo': a blue sky over green ground, a red disc and a yellow box, with grain."""
    rng = np.random.default_rng(seed)
    picture = Image.new("RGB", (width, height), (90, 140, 220))
    pen = ImageDraw.Draw(picture)
    horizon = int(height * rng.uniform(0.4, 0.7))
    pen.rectangle([0, horizon, width, height], fill=(60, 150, 50))
    x, y = int(rng.integers(5, width // 2)), int(rng.integers(5, horizon))
    pen.ellipse([x, y, x + width // 4, y + height // 4], fill=(210, 40, 30))
    pen.rectangle([width // 2, horizon + 5, width // 2 + width // 5, height - 5], fill=(230, 200, 40))
    pixels = np.asarray(picture, dtype=np.int16) + rng.integers(-8, 9, size=(height, width, 3))
    return png_bytes(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)))


def assert_colour_result(at: AppTest, expected: engine.ColorizeComparison) -> None:
    """Original, grey input, baseline and autoencoder shown; the table is the engine's metrics."""
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    captions = list(images_by_caption(at))
    assert captions[:4] == [
        "Original", "Grey input (what the network sees)", "Baseline: mean colour", AUTOENCODER
    ]
    table = metrics_table(at)
    assert table is not None
    assert list(table["Image"]) == [r["Image"] for r in expected.metrics]
    assert list(table["Colourfulness"]) == [f"{r['Colourfulness']:.1f}" for r in expected.metrics]
    assert row(table, "Original")["PSNR (dB)"] == "∞ (itself)"  # infinite against itself: said, not "None"
    assert list(table["PSNR (dB)"])[1:] == [f"{r['PSNR (dB)']:.2f}" for r in expected.metrics][1:]
    assert any(b.label == "Download the colorized photo" for b in at.get("download_button"))


# --- Colouring -------------------------------------------------------------------------------
def test_default_example_is_coloured_and_measured():
    at = open_colorize()
    first, photo = next(iter(engine.colorize_examples().items()))
    assert at.selectbox(key="example").value == first
    assert_colour_result(at, engine.compare_colorization(photo))
    table = metrics_table(at)
    assert float(row(table, AUTOENCODER)["PSNR (dB)"]) > float(row(table, "Grey input")["PSNR (dB)"])  # colour helps
    assert float(row(table, AUTOENCODER)["Colourfulness"]) > 0
    about = next(m.value for m in at.markdown if m.value.startswith("**Model:**"))
    assert engine.model_info("colorizer")["name"] in about and " ms on " in about
    assert len(at.latex) >= 1  # the explanation's formula


def test_every_example_can_be_picked():
    at = open_colorize()
    for label, photo in engine.colorize_examples().items():
        at.selectbox(key="example").set_value(label).run()
        assert not at.exception and not at.error, label
        shown = images_by_caption(at)
        assert AUTOENCODER in shown, label
        if photo.ndim == 2:  # a grey photo: coloured, with nothing to measure against
            assert "Original" not in shown and metrics_table(at) is None, label
            assert any("grey" in info.value for info in at.info), label
        else:
            assert "Original" in shown and len(metrics_table(at)) == 4, label


def test_strength_zero_leaves_the_photo_grey():
    at = open_colorize()
    full = images_by_caption(at)
    at.slider(key="strength").set_value(0.0).run()
    assert not at.exception
    autoencoder = row(metrics_table(at), AUTOENCODER)
    assert autoencoder["Image"] == "Autoencoder (strength 0)"
    assert float(autoencoder["Colourfulness"]) == pytest.approx(0.0, abs=0.5)
    shown = images_by_caption(at)
    assert shown[AUTOENCODER] == shown["Grey input (what the network sees)"] != full[AUTOENCODER]


def test_an_uploaded_colour_photo_is_coloured_and_measured():
    data = colour_photo()
    at = open_colorize()
    at.file_uploader(key="upload").upload("garden.png", data, "image/png").run()
    assert_colour_result(at, engine.compare_colorization(engine.decode_image(data)))
    assert at.selectbox(key="example").disabled  # the upload takes the example's place


def test_a_photo_above_the_working_size_is_scaled_as_it_is_opened_and_says_so():
    at = open_colorize()
    picture = Image.open(io.BytesIO(colour_photo(250, 170))).resize((2500, 1700), Image.NEAREST)
    at.file_uploader(key="upload").upload("big.png", png_bytes(picture), "image/png").run()
    assert not at.exception and not at.error
    assert any(info.value.startswith("Your 2500x1700 image was scaled to 1485x1009 pixels") for info in at.info)
    assert len(metrics_table(at)) == 4


def test_a_file_that_is_not_an_image_is_reported_by_name():
    at = open_colorize()
    at.file_uploader(key="upload").upload("photo.png", b"this is not a picture", "image/png").run()
    assert not at.exception
    assert len(at.error) == 1 and "photo.png" in at.error[0].value
    first, photo = next(iter(engine.colorize_examples().items()))
    assert not at.selectbox(key="example").disabled
    assert_shown = images_by_caption(at)  # the page goes on with the example
    assert {"Original", AUTOENCODER} <= set(assert_shown)
    assert list(metrics_table(at)["Colourfulness"]) == [
        f"{r['Colourfulness']:.1f}" for r in engine.compare_colorization(photo).metrics
    ]
    # A good photo afterwards replaces the bad one, and the error goes.
    at.file_uploader(key="upload").set_value(("good.png", colour_photo(), "image/png")).run()
    assert not at.exception and not at.error
    assert at.selectbox(key="example").disabled


@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")  # damaged headers it reads past
def test_every_kind_of_bad_file_is_reported_and_the_page_goes_on():
    """One file of each kind in the bad-file corpus, and the two 20000-pixel strips (st.image
    fails on a strip too thin to shrink), through the photo uploader."""
    by_kind = {}
    for case in bad_files.images():
        by_kind.setdefault(case.kind, case)
    cases = [*by_kind.values(), *(c for c in bad_files.images() if c.name.startswith("strip-"))]
    at = open_colorize()
    refused = 0
    for case in cases:
        at.file_uploader(key="upload").set_value((case.name, case.data, "application/octet-stream")).run()
        assert not at.exception, (case.name, [e.value for e in at.exception])
        errors = [e.value for e in at.error]
        assert all(case.name in e and "Traceback" not in e for e in errors), (case.name, errors)
        try:
            engine.decode_image(case.data)
        except engine.ImageError as error:
            assert len(errors) == 1 and str(error) in errors[0], (case.name, errors)
            assert at.selectbox(key="example").disabled is False  # the example is shown instead
            refused += 1
        assert AUTOENCODER in images_by_caption(at), case.name
    assert refused >= 30


# --- Fine-tuning -----------------------------------------------------------------------------
def upload_training_photos(at: AppTest, count: int = 3) -> dict[str, bytes]:
    photos = {f"photo{i}.png": colour_photo(96, 96, seed=i + 1) for i in range(count)}
    at.file_uploader(key="ft_photos").set_value([(name, data, "image/png") for name, data in photos.items()])
    at.run()
    assert not at.exception and not at.error
    return photos


def assert_before_and_after(at: AppTest, job: engine.Job, holdout: str, data: bytes) -> None:
    """The held-out photo coloured by both models, measured as the engine measures them."""
    assert any(m.value.startswith(f"**Before and after, on {holdout}**") for m in at.markdown)
    assert {"Shipped model", "Fine-tuned model"} <= set(images_by_caption(at))
    psnr = {m.label: float(m.value.split()[0]) for m in at.metric}
    photo = engine.decode_image(data)
    for label, model in (("PSNR, shipped model", "colorizer"), ("PSNR, fine-tuned model", job.result.onnx)):
        expected = row_of(engine.compare_colorization(photo, model=model).metrics, AUTOENCODER)
        assert psnr[label] == pytest.approx(expected["PSNR (dB)"], abs=0.006), label
    download = next(b for b in at.get("download_button") if b.label == "Download the fine-tuned model (ONNX)")
    # A download's URL names a hash of its bytes, type and file name.
    file_id = _calculate_file_id(job.result.onnx, "application/octet-stream", "colorizer_finetuned.onnx")
    assert download.proto.url.rsplit("/", 1)[-1].split(".")[0] == file_id
    assert at.get("plotly_chart")  # the loss curve


@needs_torch
def test_fine_tuning_compares_the_held_out_photo_and_offers_the_model():
    at = open_colorize()
    photos = upload_training_photos(at)
    holdout = list(photos)[-1]
    assert at.selectbox(key="ft_holdout_pick").value == holdout  # the last photo is held out
    at.slider(key="ft_steps").set_value(50).run()
    at.button(key="ft_start").click().run()
    job = at.session_state["ft_job"]
    try:
        assert not at.exception
        if job.running:  # the first rerun almost always sees it: progress and a stop button
            assert at.get("progress") and at.button(key="ft_stop")
        job = run_to_end(at, "ft_job")
    finally:
        job.stop()
    assert job.state == "done", job.error
    assert job.result.steps == 50 and job.result.photos == 2  # the held-out photo is not trained on
    assert not at.error
    assert any("Fine-tuned for 50 steps on 2 photos" in s.value for s in at.success)
    assert_before_and_after(at, job, holdout, photos[holdout])

    # The photo at the top can be coloured by the fine-tuned model for the rest of the session.
    shipped = images_by_caption(at)[AUTOENCODER]
    at.toggle(key="use_finetuned").set_value(True).run()
    assert not at.exception and not at.error
    shown = images_by_caption(at)
    assert "Autoencoder (fine-tuned)" in shown and shown["Autoencoder (fine-tuned)"] != shipped
    assert any("fine-tuned on your 2 photos for 50 steps" in m.value for m in at.markdown)

    # The run, its comparison and the choice of model outlive a visit to another page.
    at.switch_page("app_pages/home.py").run()
    at.switch_page(COLORIZE).run()
    assert not at.exception and not at.error
    assert at.toggle(key="use_finetuned").value
    assert images_by_caption(at)["Autoencoder (fine-tuned)"] == shown["Autoencoder (fine-tuned)"]
    assert_before_and_after(at, job, holdout, photos[holdout])


@needs_torch
def test_a_stopped_run_keeps_the_steps_done(monkeypatch):
    hold_at_first_report(monkeypatch, "fine_tune_colorizer")  # the run waits for the stop button there
    at = open_colorize()
    photos = upload_training_photos(at)
    holdout = list(photos)[-1]
    at.slider(key="ft_steps").set_value(50).run()
    at.button(key="ft_start").click().run()
    job = at.session_state["ft_job"]
    try:
        job = wait_for_job(at, "ft_job", lambda j: j.updates or not j.running)
        assert job.running, job.error
        done = job.updates[-1].step
        at.switch_page("app_pages/home.py").run()  # the run goes on while the user is elsewhere
        at.switch_page(COLORIZE).run()
        assert not at.exception
        assert at.session_state["ft_job"] is job and at.get("progress")
        at.button(key="ft_stop").click().run()
        assert not at.exception
        job = wait_for_job(at, "ft_job", lambda j: not j.running)
    finally:
        job.stop()
    assert job.state == "stopped", job.error
    assert job.result.steps == len(job.result.losses) == done < 50  # the steps done, no more
    assert not at.error
    assert any(f"Stopped after {done} of 50 steps" in w.value for w in at.warning)
    assert_before_and_after(at, job, holdout, photos[holdout])


def test_photos_whose_pixels_are_all_grey_are_left_out_up_front():
    at = open_colorize()
    files = [("colour.png", colour_photo(96, 96, seed=4), "image/png")]
    for seed in (1, 2):
        grey = Image.open(io.BytesIO(colour_photo(96, 96, seed=seed))).convert("L").convert("RGB")
        files.append((f"grey{seed}.png", png_bytes(grey), "image/png"))
    at.file_uploader(key="ft_photos").set_value(files).run()
    assert not at.exception and not at.error
    assert any("grey1.png" in w.value and "grey2.png" in w.value for w in at.warning)
    assert at.button(key="ft_start").disabled     # one colour photo is not enough


@needs_torch
def test_a_failed_run_shows_its_error(monkeypatch):
    def fails(*args, **kwargs):
        raise engine.ColorizeError("the photos could not be read into patches")

    monkeypatch.setattr(engine.training, "fine_tune_colorizer", fails)
    at = open_colorize()
    files = [(f"photo{seed}.png", colour_photo(96, 96, seed=seed), "image/png") for seed in (1, 2, 3)]
    at.file_uploader(key="ft_photos").set_value(files).run()
    assert not at.exception and not at.error
    at.button(key="ft_start").click().run()
    job = at.session_state["ft_job"]
    try:
        job = wait_for_job(at, "ft_job", lambda j: not j.running)
    finally:
        job.stop()
    assert job.state == "failed"
    assert len(at.error) == 1 and at.error[0].value.startswith("Fine-tuning failed:")
    assert "could not be read into patches" in at.error[0].value
    assert "Download the fine-tuned model (ONNX)" not in {b.label for b in at.get("download_button")}
    assert AUTOENCODER in images_by_caption(at)  # the rest of the page is untouched


def test_fine_tuning_needs_two_readable_colour_photos():
    at = open_colorize()
    at.file_uploader(key="ft_photos").set_value(
        [
            ("only.png", colour_photo(96, 96), "image/png"),
            ("broken.jpg", b"\xff\xd8\xff nonsense", "image/jpeg"),
        ]
    ).run()
    assert not at.exception
    assert len(at.error) == 1 and "broken.jpg" in at.error[0].value
    assert any("at least 2 colour photos" in i.value and "one colour photo" in i.value for i in at.info)
    assert at.button(key="ft_start").disabled
    assert "ft_job" not in at.session_state


def test_without_torch_fine_tuning_points_to_the_training_requirements(monkeypatch):
    without_torch(monkeypatch)
    at = open_colorize()
    assert not at.error
    assert any("requirements-train.txt" in info.value for info in at.info)
    assert not [b for b in at.button if b.key == "ft_start"]
    assert AUTOENCODER in images_by_caption(at)  # colouring needs no torch


# --- The page's plain logic ------------------------------------------------------------------
def comparison(original: bool = True) -> engine.ColorizeComparison:
    image = np.linspace(0, 1, 4 * 6 * 3, dtype=np.float32).reshape(4, 6, 3)
    metrics = [{"Image": "Original", "PSNR (dB)": float("inf"), "Colourfulness": 30.0},
               {"Image": "Autoencoder", "PSNR (dB)": 24.5, "Colourfulness": 20.0}] if original else []
    return engine.ColorizeComparison(image if original else None, image, image * 0.5, image, metrics)


def test_duplicate_upload_names_are_numbered():
    assert logic.unique_names(["a.png", "b.png", "a.png", "a.png"]) == ["a.png", "b.png", "a.png (2)", "a.png (3)"]
    assert logic.unique_names([]) == []


def test_the_metrics_say_the_original_s_infinite_psnr_in_words():
    rows = logic.metrics_table(comparison())
    assert rows[0]["PSNR (dB)"] == "∞ (itself)" and rows[1]["PSNR (dB)"] == "24.50"   # never "None"
    assert logic.autoencoder_psnr(comparison()) == 24.5
    assert logic.autoencoder_psnr(comparison(original=False)) is None  # a grey photo: nothing to measure


def test_panels_name_the_model_that_coloured():
    assert [c for c, _ in logic.result_panels(comparison(), fine_tuned=False)] == [
        "Original", "Grey input (what the network sees)", "Baseline: mean colour", AUTOENCODER]
    grey = [c for c, _ in logic.result_panels(comparison(original=False), fine_tuned=True)]
    assert grey == ["Grey input (what the network sees)", "Baseline: mean colour", "Autoencoder (fine-tuned)"]
    assert [c for c, _ in logic.before_after_panels(comparison(), comparison())] == [
        "Original", "Shipped model", "Fine-tuned model"]


def test_images_are_kept_as_8_bit_pixels_and_downloaded_as_png():
    kept = logic.as_uint8(comparison())
    assert kept.colorized.dtype == np.uint8 and kept.original is not None
    assert logic.as_uint8(comparison(original=False)).original is None
    back = engine.decode_image(logic.png(kept.colorized))
    assert np.abs(back * 255 - kept.colorized).max() < 1


def test_a_strip_too_thin_for_st_image_is_made_taller():
    strip = np.zeros((2, 20_000, 3), dtype=np.uint8)
    tall = logic.displayable(strip)
    assert tall.shape[0] * logic.STREAMLIT_MAX_WIDTH >= tall.shape[1] == 20_000
    photo = np.zeros((90, 120, 3), dtype=np.uint8)
    assert logic.displayable(photo) is photo


def test_model_keys_and_texts():
    assert logic.model_key(None) == logic.MODEL
    assert logic.model_key(b"x") == logic.model_key(b"x") != logic.model_key(b"y")
    result = engine.FineTuneResult(onnx=b"", losses=[0.5] * 30, steps=30, photos=2, seconds=12.4)
    assert logic.model_text("Colorizer", None) == "Colorizer"
    assert logic.model_text("Colorizer", result) == "Colorizer, fine-tuned on your 2 photos for 30 steps"
    assert logic.stopped_text(result, 300).startswith("Stopped after 30 of 300 steps")
    assert logic.done_text(result) == "Fine-tuned for 30 steps on 2 photos in 12 s."
    assert "no colour photo yet" in logic.photos_needed_text(0)
    assert "one colour photo" in logic.photos_needed_text(1)


def test_only_a_run_that_ended_well_or_was_stopped_has_a_model():
    result = object()
    assert logic.finished_result(None) is None
    for state, kept in (("running", None), ("failed", None), ("done", result), ("stopped", result)):
        job = engine.Job(work=lambda job: None, state=state, result=result)
        assert logic.finished_result(job) is kept, state


def test_loss_curves():
    assert logic.live_loss_figure([]) is None
    live = logic.live_loss_figure([engine.JobUpdate(1, 50, 0.3, 1.0), engine.JobUpdate(2, 50, 0.2, 2.0)])
    assert list(live.data[0].x) == [1, 2] and live.data[0].mode == "lines+markers"
    final = logic.final_loss_figure([1.0] * 5 + [0.0] * 25)  # a running mean of 20 steps
    assert list(final.data[0].x) == list(range(20, 31)) and final.data[0].y[0] == 0.25
    assert logic.final_loss_figure([0.4]).layout.title.text == "Training loss (running mean of 1 steps)"


# --- Colour points -----------------------------------------------------------------------------
HINTED = "From my colour points"


def hint_mode(at: AppTest) -> AppTest:
    at.button_group(key="colour_mode").set_value(HINTED).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def add_point(at: AppTest, y: int, x: int, colour: str) -> None:
    at.color_picker(key="hint_colour").set_value(colour)
    at.number_input(key="hint_y").set_value(y)
    at.number_input(key="hint_x").set_value(x)
    at.button(key="hint_add").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]


def test_points_placed_colour_the_photo_as_the_engine_does_and_can_be_undone():
    at = hint_mode(open_colorize())
    first, photo = next(iter(engine.colorize_examples().items()))
    assert "Autoencoder, automatic" not in images_by_caption(at)       # no points yet: automatic only
    add_point(at, 100, 200, "#1f3fd0")
    add_point(at, 400, 60, "#d02020")
    expected = engine.compare_colorization(photo, hints=[(100, 200, logic.rgb_of("#1f3fd0")),
                                                         (400, 60, logic.rgb_of("#d02020"))])
    table = metrics_table(at)
    assert list(table["Image"]) == [r["Image"] for r in expected.metrics]
    assert row(table, "Autoencoder + your 2 hints")["PSNR (dB)"] == f"{expected.metrics[-1]['PSNR (dB)']:.2f}"
    assert {"Original", "Autoencoder, automatic", "Autoencoder + your 2 hints"} <= set(images_by_caption(at))
    points = at.dataframe[0].value
    assert list(points["x"]) == [200, 60] and list(points["Colour"]) == ["#1f3fd0", "#d02020"]
    at.button(key="hint_undo").click().run()
    assert row(metrics_table(at), "Autoencoder + your 1 hint")
    at.button(key="hint_clear").click().run()
    assert len(metrics_table(at)) == 4 and "Autoencoder, automatic" not in images_by_caption(at)
    at.button(key="hint_undo").click().run()                       # undo brings the cleared point back
    assert row(metrics_table(at), "Autoencoder + your 1 hint")


def test_points_stay_with_their_photo_across_modes_and_examples():
    at = hint_mode(open_colorize())
    add_point(at, 10, 10, "#00aa00")
    labels = list(engine.colorize_examples())
    at.selectbox(key="example").set_value(labels[1]).run()
    assert len(metrics_table(at)) == 4                              # the other photo has no points
    at.button_group(key="colour_mode").set_value("Automatic").run()
    at.selectbox(key="example").set_value(labels[0]).run()
    assert len(metrics_table(at)) == 4                              # automatic mode ignores points
    hint_mode(at)
    assert row(metrics_table(at), "Autoencoder + your 1 hint")      # and they were kept


def test_a_grey_photo_takes_points_with_nothing_to_measure():
    at = open_colorize()
    grey_label = next(label for label, photo in engine.colorize_examples().items() if photo.ndim == 2)
    at.selectbox(key="example").set_value(grey_label).run()
    hint_mode(at)
    add_point(at, 50, 50, "#c08040")
    assert metrics_table(at) is None and "Autoencoder + your 1 hint" in images_by_caption(at)


def test_points_download_and_load_again_and_a_bad_file_is_refused():
    at = hint_mode(open_colorize())
    add_point(at, 30, 40, "#123456")
    download = next(b for b in at.get("download_button") if b.label == "Download the points (JSON)")
    assert not download.proto.disabled
    first, photo = next(iter(engine.colorize_examples().items()))
    shape = photo.shape[:2]
    saved = logic.hints_file([logic.Hint(30, 40, "#123456"), logic.Hint(5, 6, "#654321")], "x.png", shape)
    at.button(key="hint_clear").click().run()
    at.file_uploader(key=f"hint_file_example-{first}").set_value(("points.json", saved, "application/json")).run()
    assert not at.exception and not at.error
    assert row(metrics_table(at), "Autoencoder + your 2 hints")
    at.file_uploader(key=f"hint_file_example-{first}").set_value(("bad.json", b"{nope", "application/json")).run()
    assert not at.exception
    assert len(at.error) == 1 and "bad.json" in at.error[0].value and "not a file of colour points" in at.error[0].value
    assert row(metrics_table(at), "Autoencoder + your 2 hints")     # the points placed are kept
