"""The denoising task with the shipped models: numpy in, numpy out, on held-out inputs."""
import json

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
    out = engine.denoise(x, sigma=0.1)
    assert out.shape == x.shape and np.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1
    if min(shape[1:3]) < 16:           # too few patches to measure the noise: the user must say
        with pytest.raises(engine.ImageTooSmallError, match="Set the noise level by hand"):
            engine.denoise(x)
    else:
        assert engine.denoise(x).shape == x.shape


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
    result = engine.compare_denoising(big, kind="camera", amount=0.1, seed=0)
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
    with pytest.raises(ValueError, match="kinds"):      # the photo denoiser learnt Gaussian and camera noise
        engine.compare_denoising(image, kind="salt_pepper", treat_as="photo")
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


# --- the noise level: estimated, told, and the kinds of noise -------------------------------

@pytest.mark.parametrize("sigma", [5, 15, 25, 50])
def test_estimate_noise_reads_known_noise_on_a_held_out_photo(sigma):
    clean = engine.denoise_examples()["Photo: astronaut (colour, held out)"][:256, :256]
    noisy = engine.add_noise(clean, "gaussian", sigma / 255, seed=sigma)
    assert engine.estimate_noise(noisy) == pytest.approx(sigma / 255, rel=0.15)
    grey = noisy.mean(axis=2)                 # averaging three channels divides the noise by sqrt(3)
    if sigma >= 15:                           # fainter noise than that hides behind the photo's own grain
        assert engine.estimate_noise(grey) == pytest.approx(sigma / 255 / np.sqrt(3), rel=0.15)


def test_estimate_noise_reads_grey_in_colour_as_grey_and_a_clean_image_as_nearly_clean():
    rng = np.random.default_rng(0)
    grey = np.clip(np.linspace(0.2, 0.8, 96)[None, :] + rng.normal(0, 0.05, (80, 96)), 0, 1).astype(np.float32)
    as_rgb = np.repeat(grey[..., None], 3, axis=2)
    assert engine.estimate_noise(as_rgb) == pytest.approx(engine.estimate_noise(grey)) == pytest.approx(0.05, rel=0.15)
    assert engine.estimate_noise(np.repeat(np.linspace(0, 1, 64, dtype=np.float32)[None], 64, axis=0)) < 0.005
    with pytest.raises(ValueError):
        engine.estimate_noise(np.zeros((32, 32, 4), np.float32))


def test_camera_noise_is_seeded_signal_dependent_and_saved_as_8_bit_jpeg():
    from engine.core.imaging import camera_noise

    ramp = np.repeat(np.linspace(0.05, 0.95, 128, dtype=np.float32)[None], 128, axis=0)
    a = engine.add_noise(ramp, "camera", 0.1, seed=3)
    assert np.array_equal(a, engine.add_noise(ramp, "camera", 0.1, seed=3))
    assert np.allclose(a * 255, np.round(a * 255), atol=1e-3)                  # 8-bit values
    raw = camera_noise(ramp, 0.1, np.random.default_rng(0), quality=None)     # before the JPEG
    dark, bright = (np.std(raw[:, s] - ramp[:, s]) for s in (slice(0, 40), slice(80, 120)))
    assert bright > 1.3 * dark                                                # shot noise grows with light


def test_the_photo_denoiser_smooths_as_much_as_it_is_told():
    clean = datasets.load_photo("coffee")[100:228, 200:328]
    noisy = engine.add_noise(clean, "gaussian", 25 / 255, seed=0)
    light, right, heavy = (engine.denoise(noisy[None], sigma=s / 255)[0] for s in (5, 25, 55))
    assert np.std(noisy - light) < np.std(noisy - right) < np.std(noisy - heavy)
    assert engine.psnr(clean, right) > max(engine.psnr(clean, light), engine.psnr(clean, noisy)) + 2
    blind = engine.denoise(noisy[None])[0]                                     # told its own estimate
    assert abs(engine.psnr(clean, blind) - engine.psnr(clean, right)) < 0.3
    with pytest.raises(ValueError):
        engine.denoise(noisy[None], sigma=float("nan"))


def test_large_photos_go_through_in_tiles_that_join_without_seams(monkeypatch):
    from engine.tasks.denoise import serve

    clean = datasets.load_photo("coffee")[:200, :260]
    noisy = engine.add_noise(clean, "gaussian", 25 / 255, seed=1)
    whole = engine.denoise(noisy[None], sigma=25 / 255)[0]
    monkeypatch.setattr(serve, "TILE", 96)
    monkeypatch.setattr(serve, "TILE_OVERLAP", 24)
    assert len(serve._tiles(200)) == 5 and serve._tiles(200)[-1][1] == 200
    tiled = engine.denoise(noisy[None], sigma=25 / 255)[0]
    assert tiled.shape == whole.shape
    assert abs(engine.psnr(clean, tiled) - engine.psnr(clean, whole)) < 0.3
    assert np.abs(tiled - whole).mean() < 0.01


def test_clean_photo_takes_the_upload_as_the_noisy_image():
    clean = datasets.load_photo("coffee")[:160, :200]
    noisy = engine.add_noise(clean, "gaussian", 20 / 255, seed=2)
    result = engine.clean_photo(noisy)
    assert result.noisy.shape == result.cleaned.shape == result.nlm.shape == noisy.shape
    assert result.estimated_level == pytest.approx(20 / 255, rel=0.15) and result.told_level == result.estimated_level
    assert engine.psnr(clean, result.cleaned) > engine.psnr(clean, noisy) + 5
    assert engine.psnr(clean, result.cleaned) > engine.psnr(clean, result.nlm)
    told = engine.clean_photo(noisy, sigma=0.5)                               # beyond what it learnt
    assert told.told_level == engine.MAX_SIGMA and any("learnt noise up to" in n for n in told.notes)
    given = engine.clean_photo(noisy, estimated=result.estimated_level)       # measured once, by the caller
    assert given.estimated_level == result.estimated_level and np.array_equal(given.cleaned, result.cleaned)
    grey = engine.clean_photo(noisy.mean(axis=2))
    assert grey.cleaned.shape == noisy.shape[:2]
    with pytest.raises(engine.ImageTooSmallError):
        engine.clean_photo(noisy[:10])


def test_compare_denoising_photo_has_non_local_means_and_the_levels():
    clean = datasets.load_photo("coffee")[:128, :128]
    result = engine.compare_denoising(clean, amount=25 / 255, seed=0, treat_as="photo")
    assert [r["Image"] for r in result.metrics][2] == engine.NLM_NAME and result.nlm.shape == clean.shape
    assert result.estimated_level == pytest.approx(25 / 255, rel=0.2) and result.told_level == result.estimated_level
    told = engine.compare_denoising(clean, amount=25 / 255, seed=0, treat_as="photo", sigma=25 / 255)
    assert told.told_level == pytest.approx(25 / 255) and np.array_equal(told.noisy, result.noisy)


def test_compare_denoising_photo_leaves_the_measurements_to_the_classical_methods():
    clean = datasets.load_photo("coffee")[:128, :128]
    first = engine.compare_denoising(clean, amount=25 / 255, seed=0, treat_as="photo", baselines=False)
    assert first.baseline is None and first.metrics == []          # the autoencoder's answer, at once
    full = engine.add_classical_baselines(first)
    assert [r["Image"] for r in full.metrics] == ["Noisy input", full.baseline_name, engine.NLM_NAME, "Autoencoder"]
    assert full.metrics == engine.compare_denoising(clean, amount=25 / 255, seed=0, treat_as="photo").metrics


def test_the_best_classical_filter_chosen_on_tiles_is_as_good_as_trying_every_one():
    from engine.core.baselines import TILE, TILE_GRID, best_classical_filter, classical_filters

    rng = np.random.default_rng(3)
    clean = np.tile(datasets.load_photo("coffee"), (2, 2, 1))[: 2 * TILE_GRID * TILE + 40]   # large enough for tiles
    for sigma in (10, 40):
        noisy = np.clip(clean + rng.normal(0, sigma / 255, clean.shape), 0, 1).astype(np.float32)
        every = {name: engine.psnr(clean, image) for name, image in classical_filters(noisy)}
        name, image = best_classical_filter(clean, noisy, on_tiles=True)
        assert image.shape == clean.shape and engine.psnr(clean, image) == pytest.approx(every[name])
        assert every[name] > max(every.values()) - 0.3     # within 0.3 dB of the exhaustive choice
    small = clean[:100, :100]
    assert best_classical_filter(small, small, on_tiles=True)[0] == best_classical_filter(small, small)[0]


def test_noisy_photo_examples_are_held_out_and_noisy():
    from engine.core import photo_corpus

    examples = engine.noisy_photo_examples()
    assert len(examples) >= 2
    for name, image in examples.items():
        assert name.split(",")[0].lower() in photo_corpus.available(held_out=True)
        assert engine.estimate_noise(image) > 0 and image.dtype == np.float32


# --- how it is built: the corpus, with the held-out photos kept out ---------------------------

def test_the_photo_denoiser_trains_on_no_held_out_photo(fake_opencv, monkeypatch):
    from engine.core import photo_corpus
    from engine.tasks.denoise import build

    loaded = []
    real_load = photo_corpus.load

    def spy(name):
        loaded.append(name)
        return real_load(name)

    spy.cache_clear = real_load.cache_clear
    monkeypatch.setattr(photo_corpus, "load", spy)
    images = build.photo_training_images(0)
    assert loaded and not set(loaded) & set(photo_corpus.available(held_out=True))
    assert set(loaded) == set(photo_corpus.available(held_out=False))
    assert all(min(im.shape[:2]) >= build.PATCH for im in images)
    inputs, targets = build.noisy_batch(datasets.random_patches(images, 8, 32, seed=0)[0], np.random.default_rng(0))
    assert inputs.shape == (8, 4, 32, 32) and targets.shape == (8, 3, 32, 32)
    assert np.all(inputs[:, 3] == inputs[:, 3, :1, :1]) and 0 <= inputs[:, 3].min() <= inputs[:, 3].max() <= build.MAX_SIGMA


def test_the_third_stage_draws_its_levels_from_the_focus(monkeypatch):
    from engine.tasks.denoise import build

    patches = datasets.random_patches([np.random.default_rng(1).random((40, 40, 3), dtype=np.float32)], 64, 16)[0]
    monkeypatch.setattr(build, "CAMERA_SHARE", 0.0)   # Gaussian only: the map holds the drawn level
    everywhere = build.noisy_batch(patches, np.random.default_rng(0))[0][:, 3, 0, 0]
    focused = build.noisy_batch(patches, np.random.default_rng(0), focus=(0.10, 0.12))[0][:, 3, 0, 0]
    inside = (focused >= 0.10) & (focused <= 0.12)
    assert everywhere.max() > 0.15 and everywhere.min() < 0.05 and np.mean((everywhere >= 0.10) & (everywhere <= 0.12)) < 0.2
    assert 0.3 < inside.mean() < 0.7 and focused[~inside].max() > 0.15    # FOCUS_SHARE of them, the rest anywhere
    monkeypatch.setattr(build, "FOCUS_SHARE", 1.0)
    assert np.all(build.noisy_batch(patches, np.random.default_rng(0), focus=(0.10, 0.12))[0][:, 3] >= 0.10)


def test_the_level_balanced_loss_weighs_every_noise_level_alike():
    import torch

    from engine.tasks.denoise.model import PhotoDenoiser, PhotoDenoiserConfig, level_balanced_loss

    target = torch.zeros(2, 3, 8, 8)
    levels = torch.tensor([5 / 255, 50 / 255])

    def loss(errors):
        recon = target + torch.tensor(errors).sqrt()[:, None, None, None]
        return float(level_balanced_loss({"reconstruction": recon, "level": levels}, target))

    # the same PSNR on both crops: each one's error scaled by its level squared
    low, high = (levels + 2 / 255) ** 2 * 1e-2
    base = loss([float(low), float(high)])
    # a given rise in error counts far more on the quiet crop than on the noisy one
    assert loss([float(low) * 2, float(high)]) - base > 10 * (loss([float(low), float(high) + float(low)]) - base)
    # plain MSE would not tell them apart, and the model's own loss is plain MSE
    model = PhotoDenoiser(PhotoDenoiserConfig(width=4, blocks=(1, 1, 1)))
    x = torch.rand(2, 4, 16, 16)
    x[:, 3] = levels[:, None, None]
    out = model(x)
    assert torch.allclose(out["level"], levels)
    assert float(level_balanced_loss(out, x[:, :3]).detach()) > 0


def test_growing_the_photo_denoiser_keeps_what_it_computes_and_trains_the_new_blocks():
    import torch

    from engine.tasks.denoise import build
    from engine.tasks.denoise.model import PhotoDenoiser, PhotoDenoiserConfig

    torch.manual_seed(0)
    small = PhotoDenoiser(PhotoDenoiserConfig(width=4, blocks=(1, 1, 2))).eval()
    for p in small.parameters():       # a trained-looking network: no zero weights anywhere
        p.data.normal_(0, 0.3)
    big = build.grown(small, (2, 1, 2)).eval()
    assert big.config.blocks == (2, 1, 2) and len(big.enc1) == 2 and len(big.dec1) == 2
    x = torch.rand(2, 4, 16, 24)
    with torch.no_grad():
        assert torch.allclose(big(x)["reconstruction"], small(x)["reconstruction"], atol=1e-6)
    # the new blocks learn: one step moves the output away from the small network's
    big.train()
    loss = (big(x)["reconstruction"] - x[:, :3]).pow(2).mean()
    loss.backward()
    assert float(big.dec1[1].body[2].weight.grad.abs().sum()) > 0
    torch.optim.SGD(big.parameters(), lr=0.5).step()
    with torch.no_grad():
        assert not torch.allclose(big.eval()(x)["reconstruction"], small(x)["reconstruction"], atol=1e-4)
    with pytest.raises(ValueError, match="only add"):
        build.grown(big, (1, 1, 2))


def test_the_photo_denoiser_refuses_to_train_without_the_corpus(monkeypatch):
    from engine.core import photo_corpus
    from engine.tasks.denoise import build

    monkeypatch.setattr(photo_corpus, "missing", lambda: ("lake",))
    with pytest.raises(FileNotFoundError, match="opencv-doc"):
        build.photo_training_images(0)


@pytest.mark.slow
def test_tiny_photo_denoiser_build(tmp_path, fake_opencv):
    from engine import builds
    from engine.core import runtime
    from engine.nn import recipes
    from engine.tasks.denoise import build

    entries = builds.build("denoiser-photo", recipes.BuildOptions(out_dir=tmp_path, scale=0.002),
                           "python -m engine train denoiser-photo")
    entry = entries["denoiser_photo"]
    assert runtime.sha256_of((tmp_path / "denoiser_photo.onnx").read_bytes()) == entry["sha256"]
    config = json.loads(runtime.metadata(str(tmp_path / "denoiser_photo.onnx"))["config"])
    assert config["blocks"] == list(build.GROWN_BLOCKS)
    out = engine.denoise(np.random.default_rng(0).random((1, 40, 52, 3), dtype=np.float32),
                         model=str(tmp_path / "denoiser_photo.onnx"), sigma=0.1)
    assert out.shape == (1, 40, 52, 3) and np.isfinite(out).all()


@pytest.mark.slow
def test_eval_denoise_tables_at_a_small_scale(monkeypatch):
    from engine.core import photo_corpus
    from engine.tasks.denoise import evaluate

    crops = {name: photo_corpus.load(name)[96:160, 96:160] for name in ("astronaut", "coffee")}
    monkeypatch.setattr(photo_corpus, "available", lambda held_out: tuple(crops) if held_out else ())
    monkeypatch.setattr(photo_corpus, "load", crops.__getitem__)
    monkeypatch.setattr(evaluate, "megapixel_photo", lambda: crops["coffee"])
    tables = evaluate.eval_denoise(count=40)["tables"]
    summary = next(t for t in tables if t["title"].startswith("Summary over the 2 held-out photos"))
    assert [r[0] for r in summary["rows"]] == list(evaluate.PHOTO_SIGMAS)
    for row in summary["rows"]:
        noisy, best, nlm, bm3d, blind, told = row[1:7]
        assert min(best, nlm, bm3d, blind, told) > noisy
        assert row[7] == pytest.approx(blind - bm3d, abs=0.011) and row[8] == pytest.approx(blind - nlm, abs=0.011)
    from app_pages.logic import denoising as page_logic

    monkeypatch.setattr(engine, "model_info", lambda name: {"metrics": {t["title"]: t for t in tables}})
    text = page_logic.heldout_summary()
    assert "sigma 15" in text and "BM3D" in text and "non-local means" in text
    camera = next(t for t in tables if "camera-like" in t["title"])
    assert [r[0] for r in camera["rows"]] == ["astronaut", "coffee", "mean"]
    speed = tables[-1]["rows"]
    assert [r[0].split(" ")[0] for r in speed] == ["Autoencoder", "Non-local", "BM3D"] and all(r[1] > 0 for r in speed)
