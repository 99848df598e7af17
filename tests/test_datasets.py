"""Built-in data: fonts split by whole family, seeded rendering, photos split by whole photo."""
import numpy as np
import pytest

from engine.core import datasets


def test_fonts_are_found_and_split_by_whole_family():
    train, held_out = datasets.font_split(False), datasets.font_split(True)
    assert len(train) >= 5 and len(held_out) >= 2
    assert not {f.family for f in train} & {f.family for f in held_out}
    assert {f.name for f in train} | {f.name for f in held_out} == {f.name for f in datasets.available_fonts()}
    # Streamlit's own fonts and Pillow's are always there, even on a bare host.
    assert any(f.family.startswith("KaTeX_Main") for f in train)
    assert any(f.path is None for f in held_out)


def test_symbol_fonts_are_left_out():
    families = {f.family for f in datasets.available_fonts()}
    assert not any(f.startswith(("Material Symbols", "KaTeX_AMS", "KaTeX_Size")) for f in families)


def test_render_characters_is_seeded_and_mnist_like():
    fonts = datasets.font_split(False)[:3]
    a, la = datasets.render_characters("0123456789", 24, fonts=fonts, seed=5)
    b, lb = datasets.render_characters("0123456789", 24, fonts=fonts, seed=5)
    c, _ = datasets.render_characters("0123456789", 24, fonts=fonts, seed=6)
    assert a.shape == (24, 28, 28) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert list(la) == list(lb) and set(la) <= set("0123456789")
    assert not np.array_equal(a, c)
    # light strokes on a dark ground, at most 20 pixels across, centred by mass like MNIST
    from scipy import ndimage
    for image in a:
        rows, cols = np.nonzero(image.max(axis=1) > 0)[0], np.nonzero(image.max(axis=0) > 0)[0]
        assert np.ptp(rows) < 20 and np.ptp(cols) < 20
        assert np.allclose(ndimage.center_of_mass(image), 13.5, atol=1.0)
    assert (a.max(axis=(1, 2)) > 0.8).all() and np.median(a) == 0


def test_eval_distortions_reach_past_training():
    t, e = datasets.TRAIN_DISTORTION, datasets.EVAL_DISTORTION
    assert e.rotation > t.rotation and e.shear > t.shear and e.aspect > t.aspect and e.blur > t.blur


def test_render_characters_needs_fonts():
    with pytest.raises(ValueError):
        datasets.render_characters("0", 1, fonts=())


def test_handwritten_digits_split():
    train, train_labels = datasets.handwritten_digits(held_out=False)
    test, test_labels = datasets.handwritten_digits(held_out=True)
    assert train.shape == (1497, 28, 28) and test.shape == (300, 28, 28)
    assert set(test_labels) == set("0123456789")


def test_photos_split_by_whole_photo():
    held = datasets.photo_names(True)
    assert set(held) == set(datasets.HELD_OUT_PHOTOS)
    assert not set(held) & set(datasets.photo_names(False))
    cam, ast = datasets.load_photo("camera"), datasets.load_photo("astronaut")
    assert cam.ndim == 2 and ast.shape[2] == 3
    assert 0 <= cam.min() and cam.max() <= 1 and cam.dtype == np.float32


def test_text_page_is_dark_text_on_light_paper():
    page = datasets.render_text_page(120, 160, fonts=datasets.font_split(False)[:2], seed=1)
    assert page.shape == (120, 160)
    assert np.median(page) > 0.6 and page.min() < 0.35  # mostly paper, with ink


def test_random_patches_flags_grey_sources():
    grey, colour = np.full((40, 40), 0.25, np.float32), np.full((40, 40, 3), 0.75, np.float32)
    patches, is_grey = datasets.random_patches([grey, colour], 50, 16, seed=0)
    assert patches.shape == (50, 16, 16, 3)
    np.testing.assert_allclose(patches[is_grey], 0.25)
    np.testing.assert_allclose(patches[~is_grey], 0.75)
    assert 0 < is_grey.sum() < 50
