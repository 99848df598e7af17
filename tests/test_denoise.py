"""The denoising task with the shipped models: numpy in, numpy out, on held-out inputs."""
import numpy as np
import pytest

import engine
from engine.core import datasets
from engine.core.metrics import mean_psnr
from engine.tasks.denoise.evaluate import heldout_characters


@pytest.fixture(scope="module")
def held_out_chars():
    return heldout_characters(64, seed=3)


def test_character_denoiser_beats_noise_and_pca_on_unseen_fonts(held_out_chars):
    noisy = engine.add_noise(held_out_chars, "gaussian", 0.5, seed=0)
    out = engine.denoise(noisy)
    assert out.shape == held_out_chars.shape and out.dtype == np.float32
    from engine.core import runtime
    pca = runtime.run("pca_char", noisy[:, None])[:, 0]
    assert mean_psnr(held_out_chars, out) > mean_psnr(held_out_chars, noisy) + 8
    assert mean_psnr(held_out_chars, out) > mean_psnr(held_out_chars, pca) + 2


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 5, 7), (2, 33, 45), (1, 33, 45, 3), (1, 64, 64, 3)])
def test_photo_denoiser_takes_any_size(shape):
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    out = engine.denoise(x)
    assert out.shape == x.shape and np.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1


def test_photo_denoiser_removes_noise_on_a_held_out_photo():
    clean = datasets.load_photo("camera")[128:384, 128:384]
    noisy = engine.add_noise(clean, "gaussian", 25 / 255, seed=1)
    out = engine.denoise(noisy[None])[0]
    assert engine.psnr(clean, out) > engine.psnr(clean, noisy) + 5


def test_denoise_rejects_bad_shapes():
    with pytest.raises(ValueError):
        engine.denoise(np.zeros((28, 28), np.float32))
    with pytest.raises(ValueError):
        engine.denoise(np.zeros((1, 8, 8, 4), np.float32))
    assert engine.denoise(np.zeros((0, 28, 28), np.float32)).shape == (0, 28, 28)


def test_compare_denoising_character():
    result = engine.compare_denoising(np.pad(np.ones((12, 4), np.float32), 8), kind="gaussian",
                                      amount=0.5, seed=0)
    assert result.target == "character" and result.model_id == "denoiser_char"
    assert result.clean.shape == result.noisy.shape == result.denoised.shape == (28, 28)
    names = [row["Image"] for row in result.metrics]
    assert names == ["Noisy input", result.baseline_name, "Autoencoder"]
    assert result.baseline_name.startswith("PCA")
    psnrs = [row["PSNR (dB)"] for row in result.metrics]
    assert psnrs[2] > psnrs[0]
    assert "autoencoder" in result.model_summary.lower()


@pytest.mark.slow
def test_compare_denoising_photo_downscales_big_images_and_says_so():
    big = np.random.default_rng(0).random((1300, 1400), dtype=np.float32)
    result = engine.compare_denoising(big, kind="salt_pepper", amount=0.1, seed=0)
    assert result.target == "photo" and result.model_id == "denoiser_photo"
    assert result.clean.size <= 1_500_000 and result.denoised.shape == result.clean.shape
    assert any("Downscaled" in note for note in result.notes)
    assert result.baseline_name.startswith(("Gaussian blur", "Median filter"))


def test_compare_denoising_is_seeded_and_validates():
    image = datasets.load_photo("coffee")[:64, :64]
    a = engine.compare_denoising(image, amount=0.2, seed=4, treat_as="photo")
    b = engine.compare_denoising(image, amount=0.2, seed=4, treat_as="photo")
    np.testing.assert_array_equal(a.noisy, b.noisy)
    with pytest.raises(ValueError):
        engine.compare_denoising(image, treat_as="video")
    with pytest.raises(engine.EmptyImageError):
        engine.compare_denoising(np.zeros((20, 20), np.float32), treat_as="character")


def test_examples_cover_characters_photos_and_text():
    examples = engine.denoise_examples()
    shapes = [im.shape for im in examples.values()]
    assert (28, 28) in shapes and any(len(s) == 3 for s in shapes) and len(examples) >= 6
    assert any("text" in name.lower() for name in examples)
    for image in examples.values():
        assert image.dtype == np.float32 and 0 <= image.min() and image.max() <= 1


def test_denoise_target_picks_the_model_by_size_unless_told():
    assert engine.denoise_target(np.zeros((28, 28))) == "character"
    assert engine.denoise_target(np.zeros((64, 40, 3))) == "character"
    assert engine.denoise_target(np.zeros((65, 40))) == "photo"
    assert engine.denoise_target(np.zeros((500, 500)), "character") == "character"
    assert engine.denoise_target(np.zeros((20, 20)), "photo") == "photo"
    with pytest.raises(ValueError):
        engine.denoise_target(np.zeros((20, 20)), "both")
    assert set(engine.DEFAULT_NOISE_AMOUNT) == {"character", "photo"}


def test_another_character_model_can_stand_in_but_not_a_photo_model():
    from engine.core import runtime

    char_bytes = (runtime.PRETRAINED_DIR / "anomaly_char.onnx").read_bytes()   # any 28x28 autoencoder
    photo_bytes = (runtime.PRETRAINED_DIR / "denoiser_photo.onnx").read_bytes()
    assert engine.takes_characters(char_bytes) and not engine.takes_characters(photo_bytes)
    clean = engine.denoise_examples()
    character = next(im for im in clean.values() if im.shape == (28, 28))
    shipped = engine.compare_denoising(character, seed=3)
    other = engine.compare_denoising(character, seed=3, char_model=("Digits-only model", char_bytes))
    assert other.model_name == "Digits-only model" and other.model_id == "session"
    assert np.array_equal(other.noisy, shipped.noisy) and not np.allclose(other.denoised, shipped.denoised)
    with pytest.raises(engine.ModelError, match="does not take 28x28"):
        engine.compare_denoising(character, char_model=("Photo model", photo_bytes))
