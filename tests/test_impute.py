"""Filling in missing values: masks, the baselines on hand-made matrices, that observed values are
never changed and errors count hidden values only, ONNX parity, and the shipped masking
autoencoder against mean filling and PCA completion on characters never trained on."""
import io

import numpy as np
import pytest
from page_helpers import png_bytes
from PIL import Image

import engine
from engine.core import datasets, runtime
from engine.tasks.denoise.evaluate import heldout_characters
from engine.tasks.impute.serve import BLOCK_SIDE, IMAGE_BASELINE, model_input


# --- Masks -----------------------------------------------------------------------------------
def test_random_pixel_masks_hide_the_fraction_asked_and_repeat_with_the_seed():
    mask = engine.random_mask((200, 28, 28), "pixels", 0.3, seed=4)
    assert mask.dtype == bool and mask.shape == (200, 28, 28)
    assert abs(mask.mean() - 0.3) < 0.01
    assert np.array_equal(mask, engine.random_mask((200, 28, 28), "pixels", 0.3, seed=4))
    assert not np.array_equal(mask, engine.random_mask((200, 28, 28), "pixels", 0.3, seed=5))
    assert not engine.random_mask((5, 28, 28), "pixels", 0.0, seed=1).any()
    assert engine.random_mask((5, 28, 28), "pixels", 1.0, seed=1).all()


def test_block_masks_are_whole_squares_covering_at_least_the_fraction():
    masks = engine.random_mask((30, 28, 28), "blocks", 0.25, seed=2)
    for mask in masks:
        assert mask.mean() >= 0.25
        # Every missing pixel lies in a fully missing BLOCK_SIDE x BLOCK_SIDE square.
        covered = np.zeros_like(mask)
        for top in range(28 - BLOCK_SIDE + 1):
            for left in range(28 - BLOCK_SIDE + 1):
                if mask[top:top + BLOCK_SIDE, left:left + BLOCK_SIDE].all():
                    covered[top:top + BLOCK_SIDE, left:left + BLOCK_SIDE] = True
        assert np.array_equal(covered, mask)
    with pytest.raises(ValueError, match="kind"):
        engine.random_mask((2, 28, 28), "stripes", 0.5)
    with pytest.raises(ValueError, match="fraction"):
        engine.random_mask((2, 28, 28), "pixels", 1.5)


def test_rectangle_mask_is_exactly_the_rectangle():
    mask = engine.rectangle_mask((3, 7), (20, 10))  # columns given in either order
    assert mask.sum() == 4 * 10 and mask[3:7, 10:20].all()
    assert not engine.rectangle_mask((5, 5), (0, 28)).any()
    with pytest.raises(ValueError):
        engine.rectangle_mask((0, 29), (0, 5))


def test_an_uploaded_mask_marks_its_light_pixels_missing():
    picture = Image.new("L", (280, 280), 0)
    picture.paste(255, (140, 0, 280, 140))  # the top right quarter painted white
    mask = engine.mask_from_image(png_bytes(picture))
    assert mask.shape == (28, 28) and mask[:14, 14:].all() and mask.sum() == 14 * 14
    with pytest.raises(engine.ImputeError, match="no pixel"):
        engine.mask_from_image(png_bytes(Image.new("L", (50, 50), 0)))
    with pytest.raises(engine.ImputeError, match="every pixel"):
        engine.mask_from_image(png_bytes(Image.new("L", (50, 50), 255)))
    with pytest.raises(engine.ImageError):
        engine.mask_from_image(b"not an image at all")


# --- Baselines on hand-made matrices ---------------------------------------------------------
def rank_one() -> tuple[np.ndarray, np.ndarray]:
    """Rows t * (1, 2, 3) for t = 1..4, the last entry hidden (truly 12)."""
    matrix = np.array([[1, 2, 3], [2, 4, 6], [3, 6, 9], [4, 8, -100]], dtype=np.float32)
    missing = np.zeros_like(matrix, dtype=bool)
    missing[3, 2] = True
    return matrix, missing


def test_mean_fill_uses_the_observed_entries_of_each_column():
    matrix, missing = rank_one()
    filled = engine.mean_fill(matrix, missing)
    assert filled[3, 2] == pytest.approx(6.0)           # mean of 3, 6, 9; the -100 is never read
    assert np.array_equal(filled[~missing], matrix[~missing])
    missing[:, 0] = True                                # a column with nothing observed gets 0
    assert np.all(engine.mean_fill(matrix, missing)[:, 0] == 0)
    two = np.array([[1.0, 10.0], [3.0, 20.0], [5.0, 0.0]], dtype=np.float32)
    hidden = np.array([[False, False], [False, False], [False, True]])
    assert engine.mean_fill(two, hidden)[2, 1] == pytest.approx(15.0)


def test_pca_completion_recovers_a_rank_one_matrix():
    matrix, missing = rank_one()
    assert engine.iterative_pca_fill(matrix, missing, rank=1, iterations=500)[3, 2] == pytest.approx(12.0, abs=1e-3)
    one_round = engine.iterative_pca_fill(matrix, missing, rank=1, iterations=1)[3, 2]
    assert 6.0 < one_round < 12.0                       # each round moves from the mean towards the answer
    with pytest.raises(ValueError, match="rank"):
        engine.iterative_pca_fill(matrix, missing, rank=3)


@pytest.mark.slow
def test_the_baseline_settings_never_look_at_the_hidden_values():
    table = engine.load_table("digits")
    matrix = table.values[:400].copy()
    missing = engine.random_mask(matrix.shape, "pixels", 0.3, seed=1)
    chosen = engine.choose_pca_settings(matrix, missing, seed=0)
    matrix[missing] = np.random.default_rng(0).uniform(-1000, 1000, missing.sum())
    assert engine.choose_pca_settings(matrix, missing, seed=0) == chosen
    assert engine.iterative_pca_fill(matrix, missing, *chosen)[~missing].tolist() == matrix[~missing].tolist()


# --- Observed values untouched, hidden values judged -----------------------------------------
def test_hidden_rmse_counts_only_the_missing_entries():
    truth = np.array([[0.0, 1.0], [0.5, 0.5]])
    filled = np.array([[9.0, 0.0], [0.5, 1.0]])         # a wild observed value, two hidden errors
    missing = np.array([[False, True], [False, True]])
    assert engine.hidden_rmse(truth, filled, missing) == pytest.approx(np.sqrt((1.0 + 0.25) / 2))
    with pytest.raises(engine.ImputeError):
        engine.hidden_rmse(truth, filled, np.zeros((2, 2), dtype=bool))


@pytest.fixture(scope="module")
def heldout() -> np.ndarray:
    """Characters never trained on: 300 in held-out fonts, the 300 held-out handwritten digits."""
    return np.concatenate([heldout_characters(300, 99), datasets.handwritten_digits(held_out=True)[0]])


def test_every_method_keeps_observed_pixels_and_ignores_what_was_under_the_holes(heldout):
    chars = heldout[::20]
    missing = engine.random_mask(chars.shape, "pixels", 0.5, seed=3)
    garbage = np.where(missing, np.random.default_rng(1).random(chars.shape, dtype=np.float32), chars)
    result = engine.compare_character_filling(chars, missing)
    again = engine.compare_character_filling(garbage, missing)
    for method, filled in result.fills.items():
        assert np.array_equal(filled[~missing], chars[~missing]), method
        assert np.array_equal(filled, again.fills[method]), method       # the hidden values never leak in
        assert not np.array_equal(filled[missing], chars[missing]), method
        assert result.rmse[method] == pytest.approx(engine.hidden_rmse(chars, filled, missing))
    table = engine.load_table("digits")
    rows = table.heldout[:50]
    hidden = engine.random_mask(rows.shape, "pixels", 0.4, seed=2)
    filled = engine.fill_table(rows, hidden, table.model)
    assert np.array_equal(filled[~hidden], rows[~hidden])
    assert np.array_equal(filled, engine.fill_table(np.where(hidden, 99.0, rows), hidden, table.model))


@pytest.mark.slow
def test_the_table_comparison_judges_hidden_entries_only():
    result = engine.compare_table_filling("digits", 0.5, seed=3, rows=60)
    assert result.truth.shape == (60, 64) and abs(result.missing.mean() - 0.5) < 0.05
    for method, filled in result.fills.items():
        assert np.array_equal(filled[~result.missing], result.truth[~result.missing]), method
        assert result.rmse[method] == pytest.approx(engine.hidden_rmse(result.truth, filled, result.missing))
    assert result.rmse["autoencoder"] < result.rmse["mean"]


# --- The shipped models ----------------------------------------------------------------------
@pytest.mark.parametrize("kind, fraction", [("pixels", 0.5), ("blocks", 0.25)])
def test_the_masking_autoencoder_beats_mean_filling_and_pca_completion(heldout, kind, fraction):
    missing = engine.random_mask(heldout.shape, kind, fraction, seed=7)
    result = engine.compare_character_filling(heldout, missing)
    assert result.rmse["autoencoder"] < result.rmse["pca"] < result.rmse["mean"], result.rmse
    hand = slice(300, None)  # and on the handwritten digits alone
    assert engine.hidden_rmse(heldout[hand], result.fills["autoencoder"][hand], missing[hand]) < min(
        engine.hidden_rmse(heldout[hand], result.fills[m][hand], missing[hand]) for m in ("mean", "pca"))


def _initializers(name: str) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    proto = onnx.load_from_string((runtime.PRETRAINED_DIR / runtime.model_info(name)["file"]).read_bytes())
    return {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}


def test_the_pca_completion_graph_computes_the_documented_rounds(heldout):
    weights = _initializers(IMAGE_BASELINE)
    rounds = int(runtime.metadata(IMAGE_BASELINE)["iterations"])
    chars = heldout[::30]
    missing = engine.random_mask(chars.shape, "blocks", 0.3, seed=5)
    x, m = chars.reshape(len(chars), -1).astype(np.float64), missing.reshape(len(chars), -1)
    mean, encoder, decoder = weights["mean"], weights["encoder"], weights["decoder"]
    fill = np.where(m, mean, x)
    expected_mean = fill.copy()
    for _ in range(rounds):
        fill = np.where(m, np.clip((fill - mean) @ encoder @ decoder + mean, 0, 1), x)
    got = engine.character_baselines(chars, missing)
    assert np.abs(got["mean"].reshape(x.shape) - expected_mean).max() < 1e-6
    assert np.abs(got["pca"].reshape(x.shape) - fill).max() < 1e-4


@pytest.mark.parametrize("name, shape", [("impute_char", (28, 28)), ("impute_table_digits", (64,))])
def test_onnx_matches_torch_for_the_shipped_masking_autoencoders(name, shape):
    torch = pytest.importorskip("torch")
    from engine.nn.checkpoints import from_checkpoint

    entry = runtime.model_info(name)
    model = from_checkpoint(torch.load(io.BytesIO(runtime.checkpoint_bytes(name)), weights_only=False))
    rng = np.random.default_rng(0)
    for n in (1, 5):
        values = rng.random((n, *shape), dtype=np.float32) * (16 if name.endswith("digits") else 1)
        feed = model_input(values, rng.random((n, *shape)) < 0.5)
        with torch.no_grad():
            expected = model(torch.from_numpy(feed))["filled"].numpy()
        got = runtime.run(name, feed)
        assert got.shape == expected.shape and np.abs(got - expected).max() < 1e-4, entry["file"]
