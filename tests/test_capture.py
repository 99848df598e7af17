"""Characters in real captures (engine.core.capture): each capture condition, several characters
in reading order, and the pictures that hold no single character."""
import numpy as np
import pytest

from engine.core import capture, capture_corpus, datasets
from engine.core.capture import NotACharacterError, TooManyCharactersError
from engine.core.imaging import EmptyImageError, ImageError, prepare_character, prepare_characters, prepare_clean_character
from engine.tasks.generate.serve import classify_digits


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two prepared characters; 0 when one is empty (a refusal)."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def prepare_or_blank(image, how=prepare_character) -> np.ndarray:
    try:
        return how(image)
    except ImageError:       # refused: counts as a miss
        return np.zeros((28, 28), np.float32)


@pytest.mark.parametrize("condition", capture_corpus.CONDITIONS)
def test_each_capture_condition_gives_the_character(condition):
    """Eight digits captured with the condition on (others at random): prepared from the photo,
    the classifier reads them as well as from their clean renders, and the prepared input looks
    like the clean render's. Before captures were searched, the whole photo went into the MNIST
    steps: the same digits came out as grey blocks (checked too, so the test tells the two apart)."""
    captures = capture_corpus.capture_corpus(8, seed=100 + capture_corpus.CONDITIONS.index(condition),
                                             force={condition: True})
    assert all(condition in c.conditions for c in captures)
    labels = np.array([int(c.labels[0]) for c in captures])
    prepared = np.stack([prepare_or_blank(c.image) for c in captures])
    clean = np.stack([prepare_clean_character(c.glyphs[0]) for c in captures])
    assert (classify_digits(prepared).argmax(axis=1) == labels).sum() >= 7
    assert np.median([agreement(p, c) for p, c in zip(prepared, clean)]) > 0.6


def test_the_old_preparation_made_captures_into_blocks():
    """Before captures were searched, the whole photo went into the MNIST steps: the paper, its
    shadow and the table became "ink". The same captures, prepared now, match their clean renders."""
    captures = capture_corpus.capture_corpus(12, seed=3, force={"light_on_dark": False})
    clean = [prepare_clean_character(c.glyphs[0]) for c in captures]
    whole = [prepare_or_blank(c.image, prepare_clean_character) for c in captures]
    now = [prepare_or_blank(c.image) for c in captures]
    assert np.median([agreement(w, c) for w, c in zip(whole, clean)]) < 0.5
    assert np.median([agreement(n, c) for n, c in zip(now, clean)]) > 0.8


def test_several_characters_in_reading_order():
    rng = np.random.default_rng(5)
    first = capture_corpus.render_capture("47A", rng, force={"perspective": False, "rotation": False,
                                                           "paper_edge": False, "light_on_dark": False})
    second = capture_corpus.render_capture("05", rng, force={"perspective": False, "rotation": False,
                                                           "paper_edge": False, "light_on_dark": False})
    page = np.concatenate([first.image, second.image], axis=0)        # two lines, one above the other
    chars, boxes = prepare_characters(page)
    assert len(chars) == len(boxes) == 5
    tops = [b[0] for b in boxes]
    assert max(tops[:3]) < first.image.shape[0] <= min(tops[3:])      # the first line first
    assert boxes[0][1] < boxes[1][1] < boxes[2][1] and boxes[3][1] < boxes[4][1]   # each left to right
    digits = classify_digits(chars[[0, 1, 3, 4]]).argmax(axis=1)
    assert list(digits) == [4, 7, 0, 5]
    with pytest.raises(TooManyCharactersError, match="5 characters"):
        prepare_character(page)                                       # one is wanted there


def test_a_blank_sheet_is_refused_not_made_a_block():
    rng = np.random.default_rng(77)
    for force in ({}, {"ruled": True}, {"squared": True}, {"shadow": True, "paper_edge": True}):
        sheet = capture_corpus.render_capture("", rng, force=force)
        with pytest.raises(EmptyImageError, match="blank"):
            prepare_character(sheet.image)


def test_a_page_of_text_is_refused():
    page = datasets.render_text_page(400, 400, fonts=datasets.font_split(held_out=True), seed=3)
    with pytest.raises(TooManyCharactersError, match="page of text"):
        prepare_character(page)


@pytest.mark.parametrize("name", ["chelsea", "astronaut", "grass"])
def test_a_photo_of_something_else_is_refused(name):
    from skimage import data

    with pytest.raises(NotACharacterError, match="photo"):
        prepare_character(getattr(data, name)())


def test_light_on_dark_and_colour_ink_agree_with_dark_ink():
    """The same glyph on the same scene, once in black ink, once in chalk on a board."""
    font = datasets.font_split(held_out=True)[0]
    results = []
    for force in ({"light_on_dark": False, "colour_ink": False}, {"light_on_dark": True}, {"colour_ink": True,
                                                                                      "light_on_dark": False}):
        c = capture_corpus.render_capture("3", np.random.default_rng(8), fonts=(font,), force=force)
        results.append(prepare_character(c.image))
    assert agreement(results[0], results[1]) > 0.7 and agreement(results[0], results[2]) > 0.7


def test_clean_pictures_keep_the_old_preparation():
    """A render, a drawing or a scan with plain paper is prepared exactly as before (the shipped
    models were trained on that preparation)."""
    glyph = np.zeros((112, 112), np.float32)
    glyph[20:90, 50:62] = 1.0
    glyph[20:32, 35:62] = 1.0
    assert capture.is_clean(glyph)
    np.testing.assert_array_equal(prepare_character(glyph), prepare_clean_character(glyph))
    noisy = np.clip(glyph + np.random.default_rng(0).normal(0, 0.05, glyph.shape), 0, 1)
    assert not capture.is_clean(noisy)


def test_thin_pens_are_thickened_towards_mnist_strokes():
    canvas = np.ones((300, 300), np.float32)
    canvas[60:240, 148:151] = 0.1          # a tall "1" drawn with a 3-pixel pen
    canvas += np.random.default_rng(1).normal(0, 0.02, canvas.shape).astype(np.float32)
    char = prepare_character(np.clip(canvas, 0, 1))
    mass = char.sum(axis=1)                        # the stroke's width in pixels, row by row
    assert np.median(mass[mass > 0]) >= 1.2        # without thickening: 3 px * 20/180, about 0.3


@pytest.mark.slow
def test_eval_captures_at_a_small_scale():
    from engine.tasks.anomaly.evaluate import eval_captures

    result = eval_captures(count=24, seed=5)
    captures, refusals = result["tables"]
    rows = {row[0].split(",")[0] + (" now" if "now" in row[0] else ""): row for row in captures["rows"]}
    clean, before, now = rows["clean renders of the same characters"], rows["captures"], rows["captures now"]
    assert now[1] > before[1] + 0.3          # digit accuracy: the search makes the difference
    assert now[2] > before[2]                # and so does the AUROC
    assert clean[4] == 1.0 and clean[5] == 0.0
    for name, count, refused, _how in refusals["rows"]:
        assert refused >= count - 1, name    # (one photo of scikit-image's, a coffee cup, passes)


def test_single_character_takes_the_one_much_larger_or_refuses():
    from engine.core.imaging import single_character

    chars = np.stack([np.full((28, 28), v, np.float32) for v in (0.1, 0.2)])
    assert single_character(chars[:1], [(0, 0, 5, 5)])[0, 0] == np.float32(0.1)
    assert single_character(chars, [(0, 0, 5, 5), (0, 10, 20, 30)])[0, 0] == np.float32(0.2)   # 400 vs 25
    with pytest.raises(TooManyCharactersError, match="2 characters"):
        single_character(chars, [(0, 0, 10, 10), (0, 20, 12, 30)])                           # 100 vs 120
