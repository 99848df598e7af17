"""VAE generation: encode/decode shapes and determinism, seeded sampling, the ELBO on known
cases, interpolation, parity of both shipped graphs with the torch checkpoint, the judge, the
learned prior and the clothing models."""
import json

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


def test_a_learned_prior_draws_its_parts_by_weight():
    prior = engine.LearnedPrior(np.array([0.25, 0.75]), np.array([[-10.0, 0.0], [10.0, 0.0]]),
                                np.stack([np.eye(2), 2 * np.eye(2)]))
    points = prior.sample(4000, seed=1)
    assert points.shape == (4000, 2) and points.dtype == np.float32
    right = points[:, 0] > 0
    assert right.mean() == pytest.approx(0.75, abs=0.03)
    assert points[right].std(axis=0) == pytest.approx([2, 2], rel=0.1)       # that part's spread, L L^T = 4 I
    assert points[~right].std(axis=0) == pytest.approx([1, 1], rel=0.1)
    np.testing.assert_array_equal(points, prior.sample(4000, seed=1))
    assert not np.array_equal(points, prior.sample(4000, seed=2))
    centres = prior.sample(10, seed=1, temperature=0.0)
    assert {tuple(c) for c in centres} <= {(-10.0, 0.0), (10.0, 0.0)}


def test_the_shipped_vae_carries_a_learned_prior_that_draws_clearer_digits():
    prior = engine.learned_prior("vae")
    parts, size = prior.means.shape
    assert size == 16 and parts >= 2 and prior.cholesky.shape == (parts, size, size)
    assert prior.weights.sum() == pytest.approx(1.0) and (prior.weights > 0).all()
    learned = engine.vae_sample(200, seed=5, prior="learned")
    np.testing.assert_array_equal(learned, engine.vae_sample(200, seed=5, prior="learned"))
    standard = engine.vae_sample(200, seed=5)
    assert np.abs(learned - standard).max() > 0.1
    # Its codes lie where real codes lie: the judge is sure of more of its samples.
    assert engine.judge_samples(learned).confident > engine.judge_samples(standard).confident
    assert not engine.has_learned_prior("cvae")
    with pytest.raises(ValueError, match="no learned prior"):
        engine.vae_sample(2, model="cvae", labels=3, prior="learned")
    with pytest.raises(ValueError, match="unknown prior"):
        engine.vae_sample(2, prior="uniform")


def test_the_clothing_vaes_draw_clothes():
    samples = engine.vae_sample(100, seed=0, model="fashion_vae", prior="learned")
    assert samples.shape == (100, 28, 28)
    judged = engine.judge_samples(samples, engine.FASHION_JUDGE)
    assert judged.shares.shape == (10,) and judged.confident > 0.3
    asked = engine.judge_samples(engine.vae_sample(50, seed=0, model="fashion_cvae", labels=7), engine.FASHION_JUDGE)
    assert (asked.predicted == 7).mean() > 0.6                   # sneakers when asked for sneakers
    assert engine.latent_size("fashion_vae_2d") == 2
    with pytest.raises(ValueError, match="unknown VAE"):
        engine.vae_sample(2, model="fashion")


def test_the_adversarial_autoencoder_gives_codes_that_fill_the_prior(digits):
    chars = np.stack(digits.images)
    codes = engine.code_of(chars, "aae")
    assert codes.shape == (20, 16)
    np.testing.assert_array_equal(codes, engine.code_of(chars, "aae"))
    np.testing.assert_array_equal(engine.code_of(chars), engine.vae_encode(chars)[0])    # a VAE's code is its mean
    with pytest.raises(ValueError, match="code_of"):
        engine.vae_encode(chars, "aae")                  # no distribution to give
    many = engine.code_of(engine.builtin_gallery("digits", count=300).images, "aae")
    assert np.abs(many.mean(axis=0)).mean() < 0.5 and 0.5 < many.std(axis=0).mean() < 1.5   # about N(0, I)
    samples = engine.vae_sample(50, seed=2, model="aae")
    assert samples.shape == (50, 28, 28) and engine.judge_samples(samples).confident > 0.3
    nats, squared = engine.reconstruction_error(chars, "aae")
    vae_nats, _ = engine.reconstruction_error(chars, "vae")
    assert 0 < nats < 2 * vae_nats and 0 < squared < 0.1
    assert engine.latent_size("aae_2d") == 2


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


@pytest.mark.parametrize("model", [*engine.VAE_MODELS, *engine.FASHION_VAE_MODELS, *engine.AAE_MODELS])
def test_both_graphs_match_the_torch_checkpoint(model, digits):
    entry = runtime.model_info(f"{model}_encoder")
    vae = from_checkpoint(torch.load(runtime.PRETRAINED_DIR / entry["checkpoint"], weights_only=False))
    chars = np.stack(digits.images[:6])
    labels = np.arange(6) if engine.is_conditional(model) else None
    one_hot = () if labels is None else (torch.from_numpy(np.eye(10, dtype=np.float32)[labels]),)
    mean = engine.code_of(chars, model, labels)
    z = np.random.default_rng(0).standard_normal(mean.shape).astype(np.float32)
    with torch.no_grad():
        encoded = vae.encode(torch.from_numpy(chars[:, None]), *one_hot)
        want_images = vae.decode(torch.from_numpy(z), *one_hot)[:, 0]
    if model in engine.AAE_MODELS:            # one code, no spread
        encoded = (encoded, None)
    else:
        np.testing.assert_allclose(engine.vae_encode(chars, model, labels)[1], encoded[1].numpy(), atol=1e-4)
    np.testing.assert_allclose(mean, encoded[0].numpy(), atol=1e-4)
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
    elbo, rebuilt, samples, judge = generate_evaluate.eval_vae(count=40)["tables"]
    assert len(elbo["rows"]) == 2 * len(engine.VAE_MODELS) and all(r[4] > 0 for r in elbo["rows"])
    models = {**engine.VAE_MODELS, **engine.AAE_MODELS}
    assert [r[0] for r in rebuilt["rows"]] == [title for title in models.values() for _ in range(2)]
    assert all(r[2] > 0 and 0 < r[3] < 0.25 for r in rebuilt["rows"])
    expected = [(title, prior) for model, title in models.items()
                for prior in (("N(0, I)", "learned prior") if engine.has_learned_prior(model) else ("N(0, I)",))]
    assert [(r[0], r[1]) for r in samples["rows"]] == expected
    assert ("VAE, 16-number code, beta 1", "learned prior") in expected     # the default model has one
    assert all(0 <= r[2] <= 1 and 0 <= r[3] <= 1 for r in samples["rows"])   # both judges' confident shares
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


@pytest.mark.slow
def test_an_unconditional_vae_build_fits_its_learned_prior(tmp_path):
    entries = builds.build("vae-2d", recipes.BuildOptions(out_dir=tmp_path, scale=0.005), "cmd")
    assert "learned prior" in entries["vae_2d_decoder"]["summary"]
    stored = json.loads(runtime.metadata(str(tmp_path / "vae_2d_decoder.onnx"))["learned_prior"])
    parts = len(stored["weights"])
    assert parts >= 2 and sum(stored["weights"]) == pytest.approx(1.0, abs=1e-4)
    assert np.array(stored["means"]).shape == (parts, 2) and np.array(stored["cholesky"]).shape == (parts, 2, 2)
    assert "learned_prior" not in runtime.metadata(str(tmp_path / "vae_2d_encoder.onnx"))


@pytest.mark.slow
def test_the_clothing_build_trains_on_fashion_mnist_and_refuses_without_it(tmp_path, fake_fashion):
    entries = builds.build("vae-fashion", recipes.BuildOptions(out_dir=tmp_path, scale=0.005), "cmd")
    assert set(entries) == {"fashion_judge", *(f"{m}_{part}" for m in engine.FASHION_VAE_MODELS
                                               for part in ("encoder", "decoder"))}
    assert {e["task"] for e in entries.values()} == {"vae-fashion", "vae-fashion-judge"}
    assert all("Fashion-MNIST" in e["training_data"] for e in entries.values())
    assert "learned_prior" in runtime.metadata(str(tmp_path / "fashion_vae_decoder.onnx"))
    assert "learned_prior" not in runtime.metadata(str(tmp_path / "fashion_cvae_decoder.onnx"))
    probabilities = runtime.run(str(tmp_path / "fashion_judge.onnx"), np.zeros((2, 1, 28, 28), np.float32))
    assert probabilities.shape == (2, 10)


def test_the_clothing_build_says_how_to_add_the_data_set(tmp_path, no_fashion):
    from engine.core.fashion import FashionUnavailable

    with pytest.raises(FashionUnavailable, match="dataset-fashion-mnist"):
        builds.build("fashion-judge", recipes.BuildOptions(out_dir=tmp_path, scale=0.005), "cmd")


@pytest.mark.slow
def test_eval_vae_fashion_judges_samples_beside_real_pictures(fake_fashion):
    elbo, samples = generate_evaluate.eval_vae_fashion(count=30)["tables"]
    assert [r[0] for r in elbo["rows"]] == list(engine.FASHION_VAE_MODELS.values()) and all(r[3] > 0 for r in elbo["rows"])
    reference, *drawn = samples["rows"]
    assert reference[0].startswith("Real test pictures") and 0 <= reference[5] <= 1
    assert ("VAE of clothing, 16-number code, beta 1", "learned prior") in [(r[0], r[1]) for r in drawn]
    conditional = [r for r in drawn if r[0].startswith("Conditional")]
    assert len(conditional) == 1 and conditional[0][4] > 0.5     # draws the kind it is asked for


def test_the_aae_loss_trains_the_discriminator_and_the_encoder_each_on_its_own_term():
    from engine.tasks.generate.model import AAE, AAEConfig

    torch.manual_seed(0)
    model = AAE(AAEConfig(latent_size=2, channels=(4, 8), critic_width=8))
    x = torch.rand(6, 1, 28, 28)
    outputs = model(x)
    model.loss(outputs, x).backward()
    critic_grads = [p.grad.clone() for p in model.critic.parameters()]
    encoder_grads = [p.grad.clone() for p in model.encoder.parameters()]
    assert all(g.abs().sum() > 0 for g in critic_grads + encoder_grads)

    def critic_gradients(weight: float) -> list[torch.Tensor]:
        model.zero_grad()
        model.config.adversarial = weight
        torch.manual_seed(2)                       # the same prior samples each time
        model.loss(model(x), x).backward()
        return [p.grad.clone() for p in model.critic.parameters()]

    # The discriminator's gradient is its own cross-entropy's alone: the encoder's term (judged
    # through detached weights) leaves it as it is, whatever the term's weight.
    heavy = critic_gradients(50.0)
    for a, b in zip(heavy, critic_gradients(0.0), strict=True):
        torch.testing.assert_close(a, b)
    assert not torch.equal(encoder_grads[0], model.encoder[0].weight.grad)   # the encoder's does depend on it


@pytest.mark.slow
def test_a_tiny_adversarial_autoencoder_build(tmp_path):
    entries = builds.build("aae-2d", recipes.BuildOptions(out_dir=tmp_path, scale=0.005), "cmd")
    assert set(entries) == {"aae_2d_encoder", "aae_2d_decoder"} and all(e["task"] == "vae" for e in entries.values())
    encoder = runtime.session(str(tmp_path / "aae_2d_encoder.onnx"))
    assert [o.name for o in encoder.get_outputs()] == ["output"]          # one output: the exporter names it so
    decoder = runtime.session(str(tmp_path / "aae_2d_decoder.onnx"))
    assert decoder.run(None, {"z": np.zeros((3, 2), np.float32)})[0].shape == (3, 1, 28, 28)
    assert "learned_prior" not in runtime.metadata(str(tmp_path / "aae_2d_decoder.onnx"))
