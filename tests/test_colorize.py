"""Colorization: Lab conversions, any size and mode through the shipped graph, the working
size, colour hints, baselines, parity of the ONNX graph with its checkpoint, fine-tuning, the build and eval."""
import numpy as np
import pytest
import torch

import engine
from engine import builds as builds
from engine.core import photo_corpus, runtime
from engine.core.imaging import resize
from engine.core.metrics import colourfulness
from engine.nn import recipes as recipes
from engine.nn.checkpoints import from_checkpoint
from engine.tasks.colorize import build as colorize_build, serve as colorize_serve
from engine.tasks.colorize.model import CHANNELS


def _photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth colour image: colour that varies with position, like a photo's."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w, 1)
    phases = rng.uniform(0, 6, 3)
    return (0.5 + 0.4 * np.sin(np.stack([3 * x + phases[0], 4 * y + phases[1], 2 * (x + y) + phases[2]], -1))
            ).astype(np.float32)


def test_lab_round_trip_and_grey_has_no_colour():
    rgb = np.random.default_rng(1).random((40, 30, 3)).astype(np.float32)
    lab = colorize_serve.to_lab(rgb)
    assert lab.shape == (40, 30, 3) and lab[..., 0].min() >= 0 and lab[..., 0].max() <= 100
    assert np.abs(colorize_serve.from_lab(lab) - rgb).max() < 1e-3
    grey = colorize_serve.to_lab(rgb.mean(axis=2))
    assert np.abs(grey[..., 1:]).max() < 0.01     # a and b run about -110..110
    assert np.abs(colorize_serve.from_lab(grey) - rgb.mean(axis=2)[..., None]).max() < 1e-3


def test_colourfulness_by_hand():
    assert colourfulness(np.full((8, 8, 3), 0.4)) == 0.0
    assert colourfulness(np.full((8, 8), 0.4)) == 0.0
    red = np.zeros((4, 4, 3))
    red[..., 0] = 1.0
    # rg = 255, yb = 127.5 everywhere: no spread, mean distance hypot(255, 127.5)
    assert colourfulness(red) == pytest.approx(0.3 * np.hypot(255, 127.5))
    half = np.zeros((2, 2, 3))
    half[0, :, 0] = 1.0   # top row red, bottom row black: rg and yb each spread by half their value
    assert colourfulness(half) == pytest.approx(np.hypot(127.5, 63.75) + 0.3 * np.hypot(127.5, 63.75))


@pytest.mark.parametrize("shape", [(1, 1), (3, 500), (1000, 7), (33, 47), (16, 16)])
def test_odd_sizes_keep_shape_and_lightness(shape):
    image = _photo(*shape, seed=sum(shape))
    out = colorize_serve.colorize_one(image)
    assert out.shape == (*shape, 3) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    # only colour is invented: the lightness is the input's (up to colours clipped into sRGB)
    assert np.abs(colorize_serve.lightness(out) - colorize_serve.lightness(image)).mean() < 1.5


def test_grey_rgba_and_batch_inputs():
    grey = _photo(40, 56).mean(axis=2)
    out = colorize_serve.colorize(grey[None])
    assert out.shape == (1, 40, 56, 3)
    rgba = np.concatenate([_photo(40, 56), np.zeros((40, 56, 1), np.float32)], axis=2)
    white = colorize_serve.colorize_one(rgba)          # fully transparent: white, as the decoder shows it
    assert white.shape == (40, 56, 3) and white.min() > 0.9
    mixed = colorize_serve.colorize([grey, _photo(20, 30)])
    assert [m.shape for m in mixed] == [(40, 56, 3), (20, 30, 3)]
    assert colorize_serve.colorize(np.zeros((0, 8, 8), np.float32)).shape == (0, 8, 8, 3)
    for bad in (np.zeros((4, 4, 2)), np.zeros((0, 5, 3)), np.zeros(7)):
        with pytest.raises(colorize_serve.ColorizeError):
            colorize_serve.colorize_one(bad)


def test_strength_blends_from_grey_to_the_prediction():
    image = photo_corpus.load("coffee")[::4, ::4]
    grey = colorize_serve.colorize_one(image, strength=0.0)
    assert np.abs(colorize_serve.to_lab(grey)[..., 1:]).max() < 1.0
    full = colorize_serve.to_lab(colorize_serve.colorize_one(image, strength=1.0))[..., 1:]
    half = colorize_serve.to_lab(colorize_serve.colorize_one(image, strength=0.5))[..., 1:]
    assert np.abs(full).mean() > 2.0   # it does invent colour
    assert np.abs(half).mean() == pytest.approx(np.abs(full).mean() / 2, rel=0.15)


def test_large_photos_are_coloured_at_the_working_size_and_scaled_back():
    L = colorize_serve.lightness(photo_corpus.load("astronaut")[:300, :500])
    assert colorize_serve.working_shape((300, 500), 100) == (60, 100)
    assert colorize_serve.working_shape((30, 50), 100) == (30, 50)
    whole = colorize_serve.predict_ab(L, side=100)
    assert whole.shape == (300, 500, 2)
    small = colorize_serve.predict_ab(100 * resize(L / 100, (60, 100)), side=100)
    assert np.abs(colorize_serve._resize_planes(small, (300, 500)) - whole).max() < 1e-3


def test_onnx_parity_with_checkpoint_on_two_sizes():
    entry = runtime.model_info(colorize_serve.MODEL)
    model = from_checkpoint(torch.load(runtime.PRETRAINED_DIR / entry["torch_file"], weights_only=False))
    rng = np.random.default_rng(3)
    for shape in ((1, CHANNELS, 48, 80), (2, CHANNELS, 160, 224)):
        x = rng.random(shape, dtype=np.float32)
        with torch.no_grad():
            expected = model(torch.from_numpy(x))["ab"].numpy()
        got = runtime.run(colorize_serve.MODEL, x, precision="float")
        assert got.shape == (shape[0], 2, *shape[2:])
        assert np.abs(got - expected).max() < 1e-4


def test_comparison_measures_against_both_baselines():
    photo = photo_corpus.load("coffee")[::2, ::2]
    result = colorize_serve.compare_colorization(photo, strength=0.8)
    names = [r["Image"] for r in result.metrics]
    assert names == ["Original", "Grey input", "Mean colour (baseline)", "Autoencoder (strength 0.8)"]
    assert result.original is not None and result.colorized.shape == photo.shape
    assert result.metrics[0]["PSNR (dB)"] == float("inf") and result.metrics[1]["Colourfulness"] == 0.0
    grey = colorize_serve.compare_colorization(photo.mean(axis=2))
    assert grey.original is None and grey.metrics == [] and "grey" in grey.notes[0]
    assert grey.colorized.shape == (*photo.shape[:2], 3)


def test_large_photos_are_scaled_down_with_a_note(monkeypatch):
    monkeypatch.setattr(colorize_serve, "MAX_PIXELS", 10_000)
    result = colorize_serve.compare_colorization(_photo(200, 300))
    assert result.colorized.shape[0] * result.colorized.shape[1] <= 10_000
    assert "Scaled down from 300x200" in result.notes[0]


def test_examples_are_held_out_photos():
    examples = colorize_serve.colorize_examples()
    assert set(colorize_serve.EXAMPLES.values()) - {"camera"} <= set(photo_corpus.available(held_out=True))
    assert not set(colorize_serve.EXAMPLES.values()) & {p.name for p in photo_corpus.PHOTOS if not p.held_out}
    assert all(im.ndim in (2, 3) for im in examples.values())


def test_patches_are_lab_with_flips_and_small_photos_padded():
    patches = colorize_build.LabPatches([_photo(50, 40), _photo(300, 200, 1)], size=64, jitter=False)
    L, ab = patches.sample(np.random.default_rng(0), 12)
    assert L.shape == (12, 1, 64, 64) and ab.shape == (12, 2, 64, 64)
    assert 0 <= L.min() and L.max() <= 1 and np.abs(ab).max() < 1.3
    assert patches.mean_ab().shape == (2,)
    with pytest.raises(colorize_serve.ColorizeError):
        colorize_build.LabPatches([])


def _lightness_coded(seed: int) -> np.ndarray:
    """Photos whose colour follows lightness in a way no built-in photo does: dark is blue,
    light is yellow; fine-tuning can learn it fast."""
    L = np.clip(_photo(96, 96, seed).mean(axis=2) * 100, 5, 95)
    lab = np.stack([L, np.zeros_like(L), (L - 50) * 1.2], axis=-1)
    return colorize_serve.from_lab(lab)


@pytest.mark.slow
def test_fine_tuning_lowers_the_loss_and_never_touches_the_shipped_model():
    shipped = (runtime.PRETRAINED_DIR / "colorizer.onnx").read_bytes()
    photos = [_lightness_coded(s) for s in range(3)]
    seen = []
    result = colorize_build.fine_tune_colorizer(photos, steps=40, size=64, batch_size=4, lr=1e-3, progress=seen.append)
    assert result.steps == 40 and len(result.losses) == 40 and result.photos == 3 and seen

    def error(model) -> float:
        return float(np.mean([np.mean((colorize_serve.colorize_one(p, model) - p) ** 2) for p in photos]))

    assert error(result.onnx) < error(colorize_serve.MODEL) * 0.8
    assert (runtime.PRETRAINED_DIR / "colorizer.onnx").read_bytes() == shipped
    assert runtime.metadata(result.onnx)["task"] == "colorize"
    base = colorize_serve.calibration()     # full automatic strength; the hints keep the shipped blend
    assert colorize_serve.calibration(result.onnx) == colorize_serve.Calibration(1.0, base.trust, base.nearest)


@pytest.mark.slow
def test_fine_tuning_stops_when_asked_and_refuses_grey_photos():
    calls = []
    result = colorize_build.fine_tune_colorizer([_photo(64, 64)], steps=50, size=64, batch_size=2,
                           stop=lambda: calls.append(1) or len(calls) > 5)
    assert result.steps == 5
    with pytest.raises(colorize_serve.ColorizeError, match="colour photos"):
        colorize_build.fine_tune_colorizer([_photo(64, 64).mean(axis=2)], steps=5)


@pytest.mark.slow
def test_tiny_build_and_eval(tmp_path, fake_opencv, monkeypatch):
    entries = builds.build("colorizer", recipes.BuildOptions(out_dir=tmp_path, scale=0.005),
                           "python -m engine train colorizer")
    entry = entries["colorizer"]
    assert runtime.sha256_of((tmp_path / "colorizer.onnx").read_bytes()) == entry["sha256"]
    meta = runtime.metadata(str(tmp_path / "colorizer.onnx"))
    assert len(colorize_serve.mean_ab(str(tmp_path / "colorizer.onnx"))) == 2 and meta["task"] == "colorize"
    assert all(0 <= float(meta[k]) <= 1 for k in ("auto_strength", "hint_trust", "hint_nearest"))
    assert "automatic strength" in entry["training_data"]
    assert not set(photo_corpus.CALIBRATION) & set(entry["training_data"].split("(")[1].split(")")[0].split(", "))
    out = runtime.run(str(tmp_path / "colorizer.onnx"), np.zeros((1, CHANNELS, 32, 48), np.float32))
    assert out.shape == (1, 2, 32, 48)

    from engine.tasks.colorize import evaluate

    monkeypatch.setattr(evaluate, "DRAWS", 1)
    tables = evaluate.eval_colorize()["tables"]
    rows = tables[0]["rows"]
    assert [r[0] for r in rows] == [*photo_corpus.available(held_out=True), "mean"]
    assert all(r[2] < 100 for r in rows) and len(tables[1]["rows"]) == len(rows)
    assert [r[0] for r in tables[2]["rows"]] == ["1024x1024 photo, automatic", "1024x1024 photo, 50 hints"]


def test_fine_tuning_refuses_a_damaged_checkpoint(monkeypatch):
    entry = dict(runtime.model_info(colorize_serve.MODEL), torch_sha256="0" * 64)
    monkeypatch.setattr(runtime, "model_info", lambda name: entry)
    with pytest.raises(runtime.ModelError, match="does not match its checksum"):
        colorize_build.fine_tune_colorizer([_photo(64, 64)], steps=2)
    monkeypatch.setattr(runtime, "model_info", lambda name: dict(entry, torch_file="gone.pt"))
    with pytest.raises(runtime.ModelError, match="missing"):
        colorize_build.fine_tune_colorizer([_photo(64, 64)], steps=2)


def test_calibration_picks_the_best_blend_on_photos_it_did_not_train_on(monkeypatch):
    photos = [_photo(24, 32, seed) for seed in range(3)]
    truth = {colorize_serve.lightness(p).tobytes(): colorize_serve.to_lab(p)[..., 1:] for p in photos}

    def parts(L, points, model):    # a network twice as sure as it should be, a grey spread, no nearest hint
        ab = truth[np.asarray(L, np.float32).tobytes()]
        return (2 * ab if not len(points) else 1.5 * ab), np.zeros_like(ab), np.zeros_like(ab)

    monkeypatch.setattr(colorize_serve, "colour_parts", parts)
    chosen = colorize_build.calibrate(b"graph", photos)
    assert chosen.strength == 0.5 and abs((1 - chosen.nearest) * 1.5 * chosen.trust - 1) < 0.06   # brought back to 1x
    monkeypatch.setattr(colorize_serve, "colour_parts", lambda L, points, model: (
        3 * truth[np.asarray(L, np.float32).tobytes()], np.zeros_like(truth[np.asarray(L, np.float32).tobytes()]),
        truth[np.asarray(L, np.float32).tobytes()]))                  # now the nearest hint is right
    assert colorize_build.calibrate(b"graph", photos).nearest == 1.0


def test_the_shipped_calibration_is_recorded_and_applied():
    chosen = colorize_serve.calibration()
    assert all(0 <= v <= 1 for v in (chosen.strength, chosen.trust, chosen.nearest))
    assert chosen.strength == engine.automatic_strength()
    meta = runtime.metadata(colorize_serve.MODEL)
    assert [float(meta[k]) for k in ("auto_strength", "hint_trust", "hint_nearest")] == \
        [chosen.strength, chosen.trust, chosen.nearest]
    L = colorize_serve.lightness(_photo(48, 64))
    colour, spread, nearest = colorize_serve.colour_parts(L, np.zeros((0, 5), np.float32), colorize_serve.MODEL)
    assert np.ptp(spread.reshape(-1, 2), axis=0).max() < 1e-3   # no hints: nothing spread, a learnt offset only
    assert not nearest.any()
    assert np.allclose(colorize_serve.predict_ab(L), chosen.strength * colour, atol=1e-4)
    assert np.allclose(colorize_serve.predict_ab(L, strength=1.0), colour, atol=1e-4)       # the full guess
    hints = [(10, 20, (0.2, 0.4, 0.9)), (40, 60, (0.9, 0.4, 0.2))]
    colour, spread, nearest = colorize_serve.colour_parts(L, colorize_serve.check_hints(hints, L.shape),
                                                          colorize_serve.MODEL)
    assert np.abs(spread).max() > 5 and np.allclose(nearest[10, 20], colorize_serve.hint_ab(
        colorize_serve.check_hints(hints[:1], L.shape))[0], atol=1e-3)
    assert set(map(tuple, nearest.reshape(-1, 2).round(2))) == set(map(tuple, colorize_serve.hint_ab(
        colorize_serve.check_hints(hints, L.shape)).round(2)))           # each pixel takes one point's colour
    served = chosen.nearest * nearest + (1 - chosen.nearest) * (spread + chosen.trust * (colour - spread))
    assert np.allclose(colorize_serve.predict_ab(L, hints), served, atol=1e-4)
