"""VAE generation: encode/decode shapes and determinism, seeded sampling, the ELBO on known
cases, interpolation, parity of both shipped graphs with the torch checkpoint, the judge."""
import numpy as np
import pytest
import torch

import engine
from engine import builds as builds
from engine.core import datasets, runtime
from engine.nn import recipes as recipes
from engine.nn.checkpoints import from_checkpoint
from engine.tasks.generate import evaluate as generate_evaluate


@pytest.fixture(scope="module")
def digits():
    return engine.builtin_gallery("digits", count=20, seed=3)


def test_encode_and_decode_shapes_and_determinism(digits):
    chars = np.stack(digits.images)
    mean, log_var = engine.vae_encode(chars)
    assert mean.shape == log_var.shape == (20, 16)
    again = engine.vae_encode(chars)
    np.testing.assert_array_equal(mean, again[0])
    decoded = engine.vae_decode(mean)
    assert decoded.shape == (20, 28, 28) and 0 <= decoded.min() and decoded.max() <= 1
    np.testing.assert_array_equal(decoded, engine.vae_decode(mean))
    assert engine.vae_encode(chars[:3], "vae_2d")[0].shape == (3, 2)
    with pytest.raises(ValueError):
        engine.vae_decode(np.zeros((1, 3)))
    with pytest.raises(ValueError):
        engine.vae_encode(np.zeros((2, 20, 20)))


def test_sampling_is_reproducible_by_seed():
    a = engine.vae_sample(8, seed=5)
    np.testing.assert_array_equal(a, engine.vae_sample(8, seed=5))
    assert np.abs(a - engine.vae_sample(8, seed=6)).max() > 0.1
    flat = engine.vae_sample(4, seed=5, temperature=0.0)               # every sample is z = 0
    np.testing.assert_allclose(flat, np.repeat(flat[:1], 4, axis=0), atol=1e-6)


def test_negative_elbo_terms_on_known_cases():
    x = np.full((2, 28, 28), 0.5)
    recon, kl = engine.negative_elbo_terms(x, np.full((2, 28, 28), 0.5), np.array([[1.0, 0.0], [0.0, 0.0]]),
                                           np.array([[0.0, 0.0], [np.log(4.0), 0.0]]))
    np.testing.assert_allclose(recon, 784 * np.log(2))                 # cross-entropy of 1/2 vs 1/2
    np.testing.assert_allclose(kl, [0.5, 0.5 * (4 - 1 - np.log(4))])   # mean shift; variance 4
    perfect = engine.negative_elbo_terms(np.zeros((1, 28, 28)), np.zeros((1, 28, 28)),
                                         np.zeros((1, 2)), np.zeros((1, 2)))
    assert perfect[0][0] < 1e-3 and perfect[1][0] == 0


def test_heldout_elbo_adds_its_terms(digits):
    report = engine.heldout_elbo(np.stack(digits.images), samples=2)
    assert report.reconstruction > 0 and report.kl > 0
    assert report.negative_elbo == pytest.approx(report.reconstruction + report.kl)


def test_interpolation_paths():
    a, b = np.array([3.0, 0.0]), np.array([0.0, 3.0])
    line = engine.interpolate(a, b, 5)
    np.testing.assert_allclose(line[[0, -1]], [a, b])
    np.testing.assert_allclose(line[2], [1.5, 1.5])
    arc = engine.interpolate(a, b, 5, "spherical")
    np.testing.assert_allclose(arc[[0, -1]], [a, b], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(arc, axis=1), 3.0, rtol=1e-5)   # stays on the circle
    np.testing.assert_allclose(engine.interpolate(a, 2 * a, 3, "spherical"), engine.interpolate(a, 2 * a, 3))
    with pytest.raises(ValueError):
        engine.interpolate(a, b, 3, "cubic")


def test_latent_grid_runs_top_to_bottom():
    grid = engine.latent_grid(5)
    assert grid.shape == (25, 2)
    assert grid[0, 1] > 0 > grid[-1, 1] and grid[0, 0] < 0 < grid[4, 0]
    np.testing.assert_allclose(grid[:5, 1], grid[0, 1])                # one row shares z2


@pytest.mark.parametrize("model", list(engine.VAE_MODELS))
def test_both_graphs_match_the_torch_checkpoint(model, digits):
    entry = runtime.model_info(f"{model}_encoder")
    vae = from_checkpoint(torch.load(runtime.PRETRAINED_DIR / entry["checkpoint"], weights_only=False))
    chars = np.stack(digits.images[:6])
    labels = np.arange(6) if engine.is_conditional(model) else None
    one_hot = () if labels is None else (torch.from_numpy(np.eye(10, dtype=np.float32)[labels]),)
    mean, log_var = engine.vae_encode(chars, model, labels)
    z = np.random.default_rng(0).standard_normal(mean.shape).astype(np.float32)
    with torch.no_grad():
        want_mean, want_log_var = vae.encode(torch.from_numpy(chars[:, None]), *one_hot)
        want_images = vae.decode(torch.from_numpy(z), *one_hot)[:, 0]
    np.testing.assert_allclose(mean, want_mean.numpy(), atol=1e-4)
    np.testing.assert_allclose(log_var, want_log_var.numpy(), atol=1e-4)
    np.testing.assert_allclose(engine.vae_decode(z, model, labels), want_images.numpy(), atol=1e-4)


def test_conditional_vae_needs_valid_labels():
    assert engine.is_conditional("cvae") and not engine.is_conditional("vae")
    with pytest.raises(ValueError, match="conditional"):
        engine.vae_sample(2, model="cvae")
    with pytest.raises(ValueError):
        engine.vae_sample(2, model="cvae", labels=10)
    with pytest.raises(ValueError):
        engine.vae_sample(2, model="no_such_vae")


def test_the_judge_reads_real_digits_and_most_samples(digits):
    judged = engine.judge_samples(np.stack(digits.images))
    assert (judged.predicted == digits.labels.astype(int)).mean() >= 0.85
    assert engine.judge_samples(engine.vae_sample(200, seed=1)).confident > 0.7
    sevens = engine.vae_sample(50, seed=2, model="cvae", labels=7)
    assert (engine.judge_samples(sevens).predicted == 7).mean() > 0.9


def test_a_larger_beta_trades_reconstruction_for_a_smaller_kl(digits):
    chars = np.stack(digits.images)
    beta1, beta4 = (engine.heldout_elbo(chars, m, samples=2) for m in ("vae", "vae_beta4"))
    assert beta4.kl < 0.7 * beta1.kl and beta4.reconstruction > beta1.reconstruction


def test_sharpness_and_roughness_measure_what_they_say():
    sharp = np.zeros((2, 28, 28))
    sharp[:, 8:20, 8:20] = 1.0
    blurred = np.stack([np.convolve(row, np.ones(5) / 5, mode="same") for row in sharp.reshape(-1, 28)]).reshape(2, 28, 28)
    assert engine.sharpness(sharp) > engine.sharpness(blurred) > 0
    assert engine.path_roughness("vae", pairs=5) >= 1.0


@pytest.mark.slow
def test_eval_vae_at_a_small_scale():
    elbo, samples, judge = generate_evaluate.eval_vae(count=40)["tables"]
    assert len(elbo["rows"]) == 2 * len(engine.VAE_MODELS) and all(r[4] > 0 for r in elbo["rows"])
    assert [r[0] for r in samples["rows"]] == list(engine.VAE_MODELS.values())
    assert all(0 <= r[1] <= 1 and 0 <= r[2] <= 1 for r in samples["rows"])   # both judges' confident shares
    assert {r[0] for r in judge["rows"]} == {"digit classifier", "held-out-font judge"}
    held_out_judge = [r for r in judge["rows"] if r[0] == "held-out-font judge"]
    assert len(held_out_judge) == 3 and all(r[2] > 0.5 for r in held_out_judge)   # it reads digits it never saw


@pytest.mark.slow
def test_tiny_vae_builds_export_both_graphs(tmp_path):
    entries = builds.build("cvae", recipes.BuildOptions(out_dir=tmp_path, scale=0.005), "cmd")
    assert set(entries) == {"cvae_encoder", "cvae_decoder"}
    encoder = runtime.session(str(tmp_path / "cvae_encoder.onnx"))
    assert [i.name for i in encoder.get_inputs()] == ["input", "label"]
    assert [o.name for o in encoder.get_outputs()] == ["mean", "log_var"]
    decoder = runtime.session(str(tmp_path / "cvae_decoder.onnx"))
    image = decoder.run(None, {"z": np.zeros((3, 16), np.float32), "label": np.eye(10, dtype=np.float32)[:3]})[0]
    assert image.shape == (3, 1, 28, 28)
    assert (tmp_path / "cvae.pt").exists()


@pytest.mark.slow
def test_tiny_held_out_font_judge_build(tmp_path):
    entries = builds.build("digit-judge", recipes.BuildOptions(out_dir=tmp_path, scale=0.005), "cmd")
    assert set(entries) == {"digit_judge_heldout"}
    note = entries["digit_judge_heldout"]["training_data"]
    assert "held-out fonts" in note and "no training font" in note
    held_out = {f.family for f in datasets.font_split(held_out=True)}
    assert all(family in note for family in held_out)
    probabilities = runtime.run(str(tmp_path / "digit_judge_heldout.onnx"), np.zeros((3, 1, 28, 28), np.float32))
    assert probabilities.shape == (3, 10) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
