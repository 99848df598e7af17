"""Colour hints: checked points, their planes for the network, the spread they cause (near them,
and not across a strong edge), hints in training batches, the nearest-hint baseline, and what the
page makes of clicks and points files."""
import json

import numpy as np
import pytest

import engine
from app_pages.logic import colorize as logic
from engine.core import photo_corpus
from engine.core.metrics import psnr
from engine.tasks.colorize import build as colorize_build, evaluate as colorize_eval, serve as colorize_serve

BLUE = (0.1, 0.25, 0.9)


def _two_regions(h: int = 128, w: int = 256) -> np.ndarray:
    """A grey picture in two regions split by a strong vertical edge, each with a little texture."""
    rng = np.random.default_rng(0)
    grey = np.where(np.arange(w)[None, :] < w // 2, 0.25, 0.8) + rng.normal(0, 0.02, (h, w))
    return np.clip(grey, 0, 1).astype(np.float32)


def test_hints_are_checked_and_bad_ones_named():
    good = colorize_serve.check_hints([(0, 0, (1, 0, 0)), (9.5, 19, [0, 0.5, 1])], (10, 20))
    assert good.shape == (2, 5) and good[1].tolist() == [9.5, 19, 0, 0.5, 1]
    assert colorize_serve.check_hints(None, (10, 20)).shape == (0, 5)
    assert colorize_serve.check_hints([], (10, 20)).shape == (0, 5)
    assert np.array_equal(colorize_serve.check_hints(good, (10, 20)), good)   # a (K, 5) array too
    bad = {
        "outside": [(10, 0, (1, 0, 0))], "negative": [(0, -1, (1, 0, 0))], "nan": [(np.nan, 3, (1, 0, 0))],
        "nan colour": [(1, 3, (1, np.nan, 0))], "no colour": [(1, 2)], "two values": [(1, 2, (0.5, 0.5))],
        "colour above 1": [(1, 2, (255, 0, 0))], "not numbers": [("a", 2, (1, 0, 0))],
    }
    for hints in bad.values():
        with pytest.raises(colorize_serve.ColorizeError, match="hint 1"):
            colorize_serve.check_hints(hints, (10, 20))
    with pytest.raises(colorize_serve.ColorizeError, match="sequence"):
        colorize_serve.check_hints(5, (10, 20))


def test_colorize_takes_one_sequence_of_hints_per_image():
    images = np.stack([_two_regions(32, 48)] * 2)
    out = engine.colorize(images, hints=[[(5, 5, BLUE)], None])
    assert out.shape == (2, 32, 48, 3)
    assert not np.allclose(out[0], out[1])       # the hinted one differs from the automatic one
    assert np.allclose(out[1], engine.colorize(images[1:])[0])
    with pytest.raises(engine.ColorizeError, match="one sequence of points per image"):
        engine.colorize(images, hints=[[(5, 5, BLUE)]])
    with pytest.raises(engine.ColorizeError, match="outside"):
        engine.colorize(images, hints=[[(50, 5, BLUE)], []])
    assert [o.shape for o in engine.colorize([images[0], images[1][:20]], hints=[[], [(19, 47, BLUE)]])] == \
        [(32, 48, 3), (20, 48, 3)]


def test_hint_planes_put_the_colour_at_its_pixel():
    points = colorize_serve.check_hints([(2, 3, BLUE), (0, 0, (0.5, 0.5, 0.5))], (4, 6))
    ab = colorize_serve.hint_ab(points)
    assert ab[0, 1] < -40 and np.abs(ab[1]).max() < 0.01          # blue has a low b; grey none
    planes = colorize_serve.hint_planes(points[:, :2].astype(int), ab, (4, 6))
    assert planes.shape == (3, 4, 6) and planes[2].sum() == 2 and planes[2, 2, 3] == 1
    assert planes[1, 2, 3] == pytest.approx(ab[0, 1] / 100)


def test_hints_colour_their_own_regions_and_stop_at_a_strong_edge():
    """A blue point far left and an orange point far right of a strong edge: the columns just
    right of the edge are nearer the blue point, yet take the orange (their region's point)."""
    grey = _two_regions()
    ORANGE = (0.95, 0.6, 0.1)
    auto = colorize_serve.to_lab(engine.colorize_one(grey))[..., 2]
    b = colorize_serve.to_lab(engine.colorize_one(grey, hints=[(64, 20, BLUE), (64, 250, ORANGE)]))[..., 2]
    assert b[:, :60].mean() < auto[:, :60].mean() - 30                   # blue (b down) in the left region
    assert b[:, 100:126].mean() < -20                                    # up to the edge
    assert b[:, 130:140].mean() > 20 and b[:, 200:].mean() > 30          # orange from just past the edge on
    one = colorize_serve.to_lab(engine.colorize_one(grey, hints=[(64, 20, BLUE)]))[..., 2]
    assert one[:, :60].mean() < auto[:, :60].mean() - 30                 # a single point colours its region


def test_comparison_with_hints_adds_a_row_and_scales_points_with_the_photo(monkeypatch):
    photo = photo_corpus.megapixel_photo()[::8, ::8]                 # 128x128 astronaut, held out
    hints = colorize_eval.random_hints(photo, 20, 0)
    result = colorize_serve.compare_colorization(photo, hints=hints)
    names = [r["Image"] for r in result.metrics]
    assert names[-1] == colorize_serve.hinted_label(20) == "Autoencoder + your 20 hints"
    assert result.hinted.shape == photo.shape and result.hints.shape == (20, 5) and result.shape == (128, 128)
    assert result.metrics[-1]["PSNR (dB)"] > result.metrics[1]["PSNR (dB)"]          # above grey
    monkeypatch.setattr(colorize_serve, "MAX_PIXELS", 32 * 32)
    corner = colorize_serve.compare_colorization(photo, hints=[(127, 127, BLUE)])
    assert corner.hinted.shape == (32, 32, 3) and corner.hints[0, :2].tolist() == [31, 31]   # scaled, kept inside
    assert corner.shape == (128, 128)


def test_random_hints_carry_the_true_colour():
    photo = np.random.default_rng(2).random((30, 40, 3)).astype(np.float32)
    hints = colorize_eval.random_hints(photo, 12, 5)
    assert len(hints) == 12 and hints == colorize_eval.random_hints(photo, 12, 5)
    assert all(np.allclose(rgb, photo[y, x]) for y, x, rgb in hints)


def test_nearest_hint_baseline_is_a_voronoi_map_of_the_hints():
    grey = np.full((20, 40), 0.5, np.float32)
    out = colorize_eval.nearest_hint_colour(grey, [(10, 2, (0.8, 0.3, 0.3)), (10, 37, (0.3, 0.3, 0.8))])
    assert out[:, :18, 0].mean() > out[:, :18, 2].mean() + 0.2      # red on the left
    assert out[:, 22:, 2].mean() > out[:, 22:, 0].mean() + 0.2      # blue on the right


def test_training_hints_are_true_colours_some_patches_none():
    n, s = 200, 64
    ab = np.zeros((n, 2, s, s), np.float32)
    ab[:, 0], ab[:, 1] = 0.3, -0.2
    planes = colorize_build.sample_hints(ab, np.random.default_rng(0))
    counts = planes[:, 2].sum(axis=(1, 2))
    assert planes.shape == (n, 3, s, s) and set(np.unique(planes[:, 2])) <= {0.0, 1.0}
    assert 0.05 < np.mean(counts == 0) < 0.6 and counts.max() >= 2
    where = planes[:, 2] == 1
    assert np.allclose(planes[:, 0][where], 0.3) and np.allclose(planes[:, 1][where], -0.2)
    assert not planes[:, :2][np.broadcast_to(~where[:, None], planes[:, :2].shape)].any()
    assert colorize_build.sample_hints(ab[:5], np.random.default_rng(0), none_share=1.0).sum() == 0


# --- The page's side: clicks, markers and points files --------------------------------------------
def test_a_click_maps_to_the_photo_pixel_at_any_display_size():
    assert logic.click_pixel({"x": 50, "y": 25, "width": 100, "height": 50}, (400, 800)) == (200, 400)
    assert logic.click_pixel({"x": 99.9, "y": 49.9, "width": 100, "height": 50}, (400, 800)) == (399, 799)
    for bad in (None, {}, {"x": 1, "y": 1, "width": 0, "height": 5}, {"x": 120, "y": 1, "width": 100, "height": 50}):
        assert logic.click_pixel(bad, (400, 800)) is None


def test_colours_convert_and_markers_show_the_point_colour():
    assert logic.rgb_of("#ff8000") == (1.0, 128 / 255, 0.0) and logic.hex_of([255, 128, 0]) == "#ff8000"
    for bad in ("red", "#12345", "#gg0000", 7):
        with pytest.raises(ValueError):
            logic.rgb_of(bad)
    picture = np.full((50, 100, 3), 128, np.uint8)
    marked = logic.with_marks(picture, [logic.Hint(100, 200, "#00ff00")], (200, 400))
    assert marked[25, 50].tolist() == [0, 255, 0] and marked[0, 0].tolist() == [128, 128, 128]
    assert picture[25, 50].tolist() == [128, 128, 128]                   # the input is not drawn on
    assert logic.colour_at(marked, 100, 200, (200, 400)) == "#00ff00"
    big = np.zeros((2000, 1000, 3), np.uint8)
    assert max(logic.click_base(big).shape[:2]) <= logic.CLICK_SIDE


def test_points_files_round_trip_scale_and_refuse_bad_content():
    hints = [logic.Hint(10, 20, "#ff0000"), logic.Hint(99, 0, "#0000ff")]
    data = logic.hints_file(hints, "photo.png", (100, 200))
    assert json.loads(data)["photo"] == "photo.png"
    assert logic.load_hints(data, (100, 200)) == hints
    assert logic.load_hints(data, (50, 100)) == [logic.Hint(5, 10, "#ff0000"), logic.Hint(49, 0, "#0000ff")]
    bad = {
        b"not json": "not a file of colour points", b'{"height": 10}': "not a file of colour points",
        json.dumps({"height": 10, "width": 10, "points": [{"y": 10, "x": 1, "colour": "#000000"}]}).encode(): "outside",
        json.dumps({"height": 10, "width": 10, "points": [{"y": 1, "x": 1, "colour": "blue"}]}).encode(): "point 1",
        json.dumps({"height": 10, "width": 10, "points": [{"y": 1, "x": 1}]}).encode(): "point 1",
        json.dumps({"height": 0, "width": 10, "points": []}).encode(): "not a size",
        json.dumps({"height": 9, "width": 9, "points": [{"y": 1, "x": 1, "colour": "#000000"}] * 201}).encode(): "at most",
        b"\xff\xfe": "not a file of colour points",
    }
    for content, message in bad.items():
        with pytest.raises(ValueError, match=message):
            logic.load_hints(content, (100, 200))


def test_hints_help_on_a_held_out_photo():
    photo = photo_corpus.megapixel_photo()[::4, ::4]
    grey = psnr(photo, engine.colorize_one(photo, strength=0.0))
    hinted = psnr(photo, engine.colorize_one(photo, hints=colorize_eval.random_hints(photo, 50, 1)))
    assert hinted > grey + 2
