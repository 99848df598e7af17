"""The pages, driven by Streamlit's AppTest: no browser, the real engine and pretrained models."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

import engine
from app_pages.logic import denoising as logic
from app_pages.parts.denoise_common import SESSION_KEY

pytestmark = pytest.mark.slow   # every test drives the app under AppTest

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
DENOISING = "app_pages/denoising.py"


def run_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=60).run()


def open_denoising() -> AppTest:
    at = run_app()
    at.switch_page(DENOISING).run()
    assert not at.exception
    return at


def upload(at: AppTest, name: str, data: bytes, mime: str = "image/png") -> AppTest:
    at.radio(key="input_mode").set_value("Upload your own").run()
    at.file_uploader(key="upload").upload(name, data, mime).run()
    return at


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def handwritten_seven() -> bytes:
    """Dark ink on white paper, bigger than 28x28 and off-centre, like a phone photo of a digit."""
    paper = Image.new("L", (90, 70), 255)
    pen = ImageDraw.Draw(paper)
    pen.line([(20, 12), (55, 12), (32, 60)], fill=20, width=7)
    return png_bytes(paper)


def classical_done(at: AppTest) -> AppTest:
    """A photo's classical methods run in the background while the page shows the autoencoder
    (and a progress bar): wait for them (a condition, not a time), then show the page again."""
    held = at.session_state[SESSION_KEY] if SESSION_KEY in at.session_state else None
    if held is not None:
        held[1].result(timeout=600)
        at.run()
    return at


def assert_denoised(at: AppTest) -> None:
    """Four images, the metrics table, the autoencoder ahead of the noisy input, no errors."""
    classical_done(at)
    assert not at.exception
    assert not at.error
    assert len(at.image) >= 4
    table = at.dataframe[0].value
    psnr = dict(zip(table["Image"].str.lower(), table["PSNR (dB)"], strict=True))
    noisy = next(value for name, value in psnr.items() if "noisy" in name)
    autoencoder = next(value for name, value in psnr.items() if "autoencoder" in name)
    assert autoencoder > noisy
    assert at.download_button


def huge_png() -> bytes:
    """64 megapixels that compress to a few kilobytes: a decompression bomb in miniature."""
    return png_bytes(Image.new("1", (8000, 8000), 1))


def example_named(kind: str) -> str:
    """The first built-in example that is a character (28x28) or a photo (anything bigger)."""
    for name, image in engine.denoise_examples().items():
        if (image.shape[:2] == (28, 28)) == (kind == "character"):
            return name
    raise AssertionError(f"no built-in {kind} example")


def test_home_renders_and_links_to_denoising():
    at = run_app()
    assert not at.exception
    assert at.title[0].value == "Autoencoder Playground"
    assert any("Denoising" in link.value for link in at.page_link)


@pytest.mark.parametrize("kind", ["character", "photo"])
def test_builtin_example(kind):
    at = open_denoising()
    at.selectbox(key="example").set_value(example_named(kind)).run()
    assert_denoised(at)


def test_photo_close_up_by_default_and_the_whole_photo_on_request():
    at = open_denoising()
    at.selectbox(key="example").set_value(example_named("photo")).run()
    assert at.toggle(key="close_up").value   # light noise cannot be seen in a whole photo
    at.toggle(key="close_up").set_value(False).run()
    assert_denoised(at)


@pytest.mark.parametrize("noise", engine.CHARACTER_NOISE_KINDS)
def test_every_noise_kind(noise):
    at = open_denoising()
    at.selectbox(key="example").set_value(example_named("character"))
    at.selectbox(key="noise_kind_character").set_value(noise).run()
    assert_denoised(at)


@pytest.mark.parametrize("noise", engine.PHOTO_NOISE_KINDS)
def test_photo_noise_kinds_levels_and_what_the_model_is_told(noise):
    at = open_denoising()
    at.selectbox(key="example").set_value(example_named("photo")).run()
    assert at.selectbox(key="noise_kind_photo").options == [logic.NOISE_LABELS[k] for k in engine.PHOTO_NOISE_KINDS]
    at.selectbox(key="noise_kind_photo").set_value(noise)
    at.slider(key="noise_level_photo").set_value(40).run()
    assert_denoised(at)
    names = list(at.dataframe[0].value["Image"])
    assert engine.NLM_NAME in names and len(at.image) == 5     # clean, noisy, best filter, NLM, autoencoder
    assert "the autoencoder was told" in page_text(at) and "/255" in page_text(at)
    at.toggle(key="told_true").set_value(True).run()
    assert_denoised(at)
    assert "was told **40.0/255**" in page_text(at)


def page_text(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)


def open_cleaning() -> AppTest:
    at = open_denoising()
    at.button_group(key="denoise_mode").set_value("clean").run()
    assert not at.exception
    return at


def assert_cleaned(at: AppTest) -> None:
    assert not at.exception and not at.error
    assert len(at.image) == 3 and at.download_button(key="clean_download")
    assert "Measured noise" in page_text(at)


def test_clean_my_photo_builtin_example_starts_at_the_estimate_and_follows_the_slider():
    at = open_cleaning()
    example = at.selectbox(key="clean_example").value
    assert "Gaussian" in example
    level = next(s for s in at.slider if s.key and s.key.startswith("clean_level_"))
    true_level = int(example.split("noise ")[1].split("/")[0])
    assert abs(level.value - true_level) <= 0.2 * true_level      # started at the estimate
    before = at.image[2].value
    level.set_value(0).run()
    assert_cleaned(at)
    assert at.image[2].value != before                             # told 0: hardly any smoothing
    assert at.toggle(key="clean_close_up").value
    at.toggle(key="clean_close_up").set_value(False).run()
    assert_cleaned(at)


def test_clean_my_photo_upload_keeps_the_upload_across_modes():
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:90, 0:131].astype(np.float32)       # an odd size
    photo = np.stack([rows * 2, cols * 1.5, 255 - cols * 1.5], axis=-1) + rng.normal(0, 20, (90, 131, 3))
    data = png_bytes(Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)))
    at = upload(open_cleaning(), "noisy.png", data)
    assert_cleaned(at)
    at.button_group(key="denoise_mode").set_value("measure").run()
    assert_denoised(at)                                            # the same upload, now as the clean original


def test_clean_my_photo_large_upload_is_downscaled_and_says_so():
    rows, cols = np.mgrid[0:1800, 0:2400]
    photo = np.stack([rows % 256, cols % 256, (rows + cols) % 256], axis=-1).astype(np.uint8)   # 4.3 MP
    at = upload(open_cleaning(), "big.png", png_bytes(Image.fromarray(photo)))
    assert_cleaned(at)
    assert "Your 2400x1800 image was scaled to" in page_text(at)


@pytest.mark.parametrize("name, make_data, message", [
    ("huge.png", huge_png, "million pixels"),
    ("thin.png", lambda: png_bytes(Image.new("RGB", (300, 9), (90, 120, 150))), "too small to measure"),
    ("x.png", lambda: b"not an image at all", "image"),
])
def test_clean_my_photo_bad_uploads_say_why(name, make_data, message):
    at = upload(open_cleaning(), name, make_data())
    assert not at.exception
    assert at.error and message in at.error[0].value.lower()
    assert not at.image


def test_seed_changes_the_noise_only():
    at = open_denoising()
    before = [image.value for image in at.image]
    at.number_input(key="noise_seed").increment().run()
    after = [image.value for image in at.image]
    assert not at.exception
    assert before[0] == after[0]  # the clean image
    assert before[1] != after[1]  # the noisy input


def test_upload_asks_for_a_file_first():
    at = open_denoising()
    at.radio(key="input_mode").set_value("Upload your own").run()
    assert not at.exception
    assert at.info
    assert not at.image


def test_uploaded_character():
    at = upload(open_denoising(), "seven.png", handwritten_seven())
    at.selectbox(key="treat_as").set_value("character").run()
    assert_denoised(at)


def test_uploaded_photo():
    rows, cols = np.mgrid[0:120, 0:160].astype(np.float32)
    photo = np.stack([rows * 2, cols * 1.5, 255 - cols * 1.5], axis=-1)  # smooth colour ramps
    photo[30:90, 40:120] = (200, 60, 90)  # a flat patch with sharp edges
    at = upload(open_denoising(), "photo.jpg", png_bytes(Image.fromarray(photo.astype(np.uint8))))
    at.selectbox(key="treat_as").set_value("photo").run()
    assert_denoised(at)


@pytest.mark.parametrize(
    "name, make_data",
    [
        ("x.png", lambda: b"this is a text file, not a picture\n" * 10),
        ("truncated.png", lambda: handwritten_seven()[:60]),
        ("empty.png", lambda: b""),
        ("huge.png", huge_png),
    ],
)
def test_bad_upload_shows_an_error(name, make_data):
    at = upload(open_denoising(), name, make_data())
    assert not at.exception
    assert at.error
    assert not at.image


def test_blank_character_shows_an_error():
    at = upload(open_denoising(), "blank.png", png_bytes(Image.new("L", (64, 64), 255)))
    at.selectbox(key="treat_as").set_value("character").run()
    assert not at.exception
    assert at.error


@pytest.mark.skipif(not engine.training.available(), reason="training needs PyTorch")
def test_a_model_trained_in_the_studio_serves_the_denoising_page():
    from types import SimpleNamespace

    digits = engine.builtin_digits("digits8").train          # any small images will do; resized below
    images = engine.prepare_images(list(digits[:64]), side=28)
    # One step (an epoch of one batch, validation off): any weights but the shipped ones will do.
    trained = engine.training.train_model("convolutional", images, epochs=1, batch_size=64, validation_fraction=0.0,
                                          threads=1)
    at = run_app()
    at.session_state["studio_runs"] = [SimpleNamespace(label="#1 tiny convolutional", result=trained)]
    at.switch_page(DENOISING).run()
    at.selectbox(key="example").set_value(example_named("character")).run()
    shipped = at.dataframe[0].value
    assert at.selectbox(key="char_model").options[0] == "The shipped model"
    at.selectbox(key="char_model").set_value("Training studio: #1 tiny convolutional").run()
    assert not at.exception and not at.error
    assert any("#1 tiny convolutional" in m.value for m in at.markdown)
    own = at.dataframe[0].value
    assert own["PSNR (dB)"].iloc[-1] != shipped["PSNR (dB)"].iloc[-1]       # another model answered
    assert own["PSNR (dB)"].iloc[0] == shipped["PSNR (dB)"].iloc[0]          # on the same noisy input
    at.selectbox(key="example").set_value(example_named("photo")).run()
    assert not at.exception and not [s for s in at.selectbox if s.key == "char_model"]  # photos: shipped only


def test_a_character_is_enlarged_and_a_photo_shown_whole_or_its_centre():
    character = np.array([[0.0, 1.0], [0.5, 1.5]], dtype=np.float32)
    shown = logic.for_display(character, "character", close_up=False)
    assert shown.shape == (12, 12) and shown[0, 6] == 1.0 and shown[11, 11] == 1.0  # each pixel 6x6, clipped
    photo = np.arange(16 * 8 * 3, dtype=np.float32).reshape(16, 8, 3)
    assert logic.for_display(photo, "photo", close_up=False) is photo
    assert (logic.for_display(photo, "photo", close_up=True) == photo[6:10, 3:5]).all()
    big = np.zeros((1060, 1414, 3), dtype=np.float32)      # a 1.5 MP working copy
    shown = logic.for_display(big, "photo", close_up=False)
    assert shown.shape[0] * shown.shape[1] <= logic.DISPLAY_PIXELS and shown.shape[0] > 600
    assert logic.for_display(big, "photo", close_up=True).shape == (265, 353, 3)    # the centre at full size


def test_an_upload_scaled_as_it_was_opened_is_said_so():
    from app_pages import display

    assert display.scaled_text(None, (100, 100), 10**6) == "" and display.scaled_text((100, 100), (100, 100, 3), 10**6) == ""
    text = display.scaled_text((4000, 3000), (1060, 1414, 3), 1_500_000)
    assert "4000x3000" in text and "1414x1060" in text and "1.5 MP" in text


def test_a_large_photo_shows_the_autoencoder_then_the_classical_methods():
    rng = np.random.default_rng(1)
    photo = (rng.random((1500, 2000, 3)) * 60 + np.linspace(0, 180, 2000)[None, :, None]).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="JPEG", quality=90)
    at = upload(open_denoising(), "phone.jpg", buffer.getvalue(), "image/jpeg")
    assert not at.exception and not at.error
    assert "Your 2000x1500 image was scaled to" in page_text(at)
    at.toggle(key="close_up").set_value(False).run()   # the whole photo: shown smaller still
    assert "0.6 megapixels" in page_text(at)
    # The autoencoder's answer is there before the classical methods, which run in the background
    # with a progress bar, unless they were done already (a fast machine).
    assert len(at.image) >= 3 and any(e.proto.text.startswith(("Running the classical", "The classical methods"))
                                       for e in at.get("progress")) != bool(at.dataframe)
    classical_done(at)
    assert len(at.image) == 5 and not at.get("progress")
    table = at.dataframe[0].value
    assert list(table["Image"])[-1] == "Autoencoder" and engine.NLM_NAME in list(table["Image"])
    assert list(table["Best"] == "★") == list(table["PSNR (dB)"] == table["PSNR (dB)"].max())   # the winner marked
    assert any(m.value.startswith(("**The autoencoder is best here**", f"**{table['Image'][table['PSNR (dB)'].idxmax()]}"))
               for m in at.markdown)
    assert any(name.startswith(("Gaussian blur", "Median")) for name in table["Image"])


def test_a_drawn_character_is_prepared_and_denoised(monkeypatch):
    from page_helpers import FakeCanvas

    from app_pages.parts import char_sources

    monkeypatch.setattr(char_sources, "canvas", FakeCanvas([[(20, 12), (55, 12), (32, 60)]]))
    at = open_denoising()
    at.radio(key="input_mode").set_value("Draw a character").run()
    assert not at.exception and not at.error
    assert_denoised(at)
    assert len(at.image) >= 4 + 2       # the four panels, and the drawing beside what the model sees


def test_a_photographed_page_with_no_character_says_so():
    blank = Image.new("RGB", (200, 150), (235, 235, 230))
    buffer = io.BytesIO()
    blank.save(buffer, "JPEG")
    at = open_denoising()
    at.radio(key="input_mode").set_value("Photograph a character").run()
    at.camera_input(key="denoise_camera").set_value(("shot.jpg", buffer.getvalue(), "image/jpeg")).run()
    assert not at.exception
    assert any("blank" in e.value for e in at.error)


def test_the_best_row_is_marked_and_a_classical_winner_named():
    rows = [{"Image": "Noisy input", "PSNR (dB)": 28.1, "SSIM": 0.5},
            {"Image": "Median filter (3x3)", "PSNR (dB)": 40.57, "SSIM": 0.9},
            {"Image": "Autoencoder", "PSNR (dB)": 39.58, "SSIM": 0.91}]
    assert [row["Best"] for row in logic.marked_best(rows)] == ["", "★", ""]
    assert logic.winner_text(rows).startswith("**Median filter (3x3) beats the autoencoder here**, by 0.99 dB")
    rows[2]["PSNR (dB)"] = 41.0
    assert [row["Best"] for row in logic.marked_best(rows)] == ["", "", "★"]
    assert logic.winner_text(rows) == "**The autoencoder is best here**, 0.43 dB ahead of Median filter (3x3)."
    assert logic.winner_text(rows[:1]) == "" and logic.marked_best([]) == []
