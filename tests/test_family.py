"""The autoencoder family: every model trains with the one loop and exports with parity;
tied weights are shared; noise is for training only; fit's validation and early stopping."""
import numpy as np
import pytest
import torch

from engine.nn import checkpoints as checkpoints
from engine.nn.export import export_onnx
from engine.nn.train import TrainConfig, fit
from engine.tasks.studio import model as studio_model, serve as studio_serve

VARIANTS = [("undercomplete", {}), ("sparse", {"penalty": "l1"}), ("sparse", {"penalty": "kl"}),
            ("stacked", {}), ("stacked", {"tied": True}), ("convolutional", {}),
            ("denoising", {"noise": "gaussian"}), ("denoising", {"noise": "mask"}), ("variational", {})]


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return studio_serve.builtin_digits("digits8").train[:300, None]                        # (300, 1, 8, 8)


def _batches(model, data):
    def batch(step, rng):
        clean = data[rng.integers(len(data), size=32)]
        return model.corrupt(clean, rng), clean
    return batch


@pytest.mark.slow
@pytest.mark.parametrize("name,options", VARIANTS, ids=[f"{n}-{'-'.join(map(str, o.values()))}" for n, o in VARIANTS])
def test_each_family_learns_with_fit_and_exports_with_parity(digits, name, options):
    model = studio_model.make_model(name, input_shape=(1, 8, 8), code_size=8, **options)
    losses = fit(model, _batches(model, digits), TrainConfig(steps=60, batch_size=32, lr=3e-3, threads=1),
                 loss_fn=model.loss)
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    outputs = model(torch.from_numpy(digits[:5]))
    assert outputs["reconstruction"].shape == (5, 1, 8, 8) and outputs["code"].shape == (5, 8)
    assert torch.equal(model.decode(model.encode(torch.from_numpy(digits[:5]))), outputs["reconstruction"])
    onnx = export_onnx(model, None, example=torch.from_numpy(digits[:2]), output=("reconstruction", "code"),
                       parity_inputs=[digits[:1], digits[:7]])
    recon, code = studio_serve.reconstruct_and_encode(onnx, digits[:9, 0])
    with torch.no_grad():
        expected = model(torch.from_numpy(digits[:9]))
    assert np.abs(recon - expected["reconstruction"].numpy()[:, 0]).max() < 1e-4
    assert np.abs(code - expected["code"].numpy()).max() < 1e-4


def test_tied_weights_are_one_parameter_shared_by_encoder_and_decoder():
    tied = studio_model.make_model("stacked", input_shape=(64,), code_size=8, tied=True)
    untied = studio_model.make_model("stacked", input_shape=(64,), code_size=8)
    for encoder_layer, decoder_layer in zip(tied.encoder, reversed(tied.decoder)):
        assert decoder_layer.weight is encoder_layer.weight
    shared = sum(layer.weight.numel() for layer in tied.encoder)
    assert studio_model.parameter_count(untied) - studio_model.parameter_count(tied) == shared
    with torch.no_grad():
        tied.encoder[0].weight[0, 0] = 7.0
    assert tied.decoder[-1].weight[0, 0] == 7.0
    x = torch.rand(3, 64)
    loss = tied.loss(tied(x), x)
    loss.backward()    # one gradient, from both uses
    assert tied.encoder[0].weight.grad is tied.decoder[-1].weight.grad
    restored = checkpoints.from_checkpoint(checkpoints.checkpoint(tied))
    assert restored.decoder[0].weight is restored.encoder[-1].weight
    assert torch.equal(restored.encoder[0].weight, tied.encoder[0].weight)


def test_layer_pairs_train_the_stacks_own_parameters():
    stack = studio_model.make_model("stacked", input_shape=(1, 8, 8), code_size=4, hidden=(16, 8))
    own = {id(p) for p in stack.parameters()}
    for i in range(stack.depth):
        pair = stack.layer_pair(i)
        assert {id(p) for p in pair.parameters()} <= own
        assert len(list(pair.parameters())) == 4
    first = stack.layer_pair(0)(torch.rand(2, 1, 8, 8))
    inner = stack.layer_pair(1)(torch.rand(2, 16))
    assert first["reconstruction"].shape == (2, 1, 8, 8) and first["code"].shape == (2, 16)
    assert inner["reconstruction"].shape == (2, 16) and inner["code"].shape == (2, 8)


def test_denoising_noise_is_applied_to_training_batches_only(digits):
    rng = np.random.default_rng(0)
    gaussian = studio_model.make_model("denoising", input_shape=(1, 8, 8), code_size=8)
    noisy = gaussian.corrupt(digits, rng)
    assert noisy.shape == digits.shape and 0.2 < np.abs(noisy - digits).mean() < 0.5
    masked = studio_model.make_model("denoising", input_shape=(1, 8, 8), code_size=8, noise="mask",
                               mask_fraction=0.5).corrupt(digits, rng)
    hit = masked != digits
    assert np.all(masked[hit] == 0) and 0.4 < hit.sum() / np.count_nonzero(digits) < 0.6
    x = torch.from_numpy(digits[:4])
    gaussian.train()
    assert torch.equal(gaussian(x)["reconstruction"], gaussian(x)["reconstruction"])   # no noise in forward
    plain = studio_model.make_model("convolutional", input_shape=(1, 8, 8), code_size=8)
    assert plain.corrupt(digits, rng) is digits


def test_variational_samples_in_training_and_uses_the_mean_at_inference(digits):
    vae = studio_model.make_model("variational", input_shape=(1, 8, 8), code_size=4, beta=2.0)
    x = torch.from_numpy(digits[:4])
    vae.train()
    assert not torch.equal(vae(x)["reconstruction"], vae(x)["reconstruction"])
    vae.eval()
    outputs = vae(x)
    assert torch.equal(outputs["reconstruction"], vae(x)["reconstruction"])
    assert torch.equal(outputs["code"], outputs["mean"]) and torch.isfinite(vae.loss(outputs, x))


def test_configs_check_what_they_are_given():
    assert studio_model.SparseConfig(penalty="kl").code_activation == "sigmoid"
    assert studio_model.SparseConfig().code_activation == "relu"
    assert studio_model.SparseConfig(penalty="kl").weight == studio_model.SPARSE_WEIGHTS["kl"]
    with pytest.raises(ValueError, match="sigmoid"):
        studio_model.SparseConfig(penalty="kl", code_activation="relu")
    with pytest.raises(ValueError, match="penalty"):
        studio_model.SparseConfig(penalty="l2")
    with pytest.raises(ValueError, match="multiple of 4"):
        studio_model.make_model("convolutional", input_shape=(1, 30, 30))
    with pytest.raises(ValueError, match="square images"):
        studio_model.make_model("variational", input_shape=(64,))
    with pytest.raises(ValueError, match="unknown family"):
        studio_model.make_model("recurrent")
    with pytest.raises(TypeError):
        studio_model.make_model("undercomplete", tied=True)
    assert set(studio_model.FAMILIES) == {"undercomplete", "sparse", "stacked", "convolutional", "denoising",
                                    "variational"}
    assert all(isinstance(description, str) for _, _, description in studio_model.FAMILIES.values())


# ------------------------------------------------------------------ fit: validation, early stopping, stop

def _tiny_fit(validate=None, patience=None, stop=None, steps=40):
    data = np.random.default_rng(0).random((64, 16), dtype=np.float32)
    model = studio_model.make_model("undercomplete", input_shape=(16,), code_size=4)
    history = fit(model, lambda step, rng: (data[rng.integers(64, size=8)],) * 2,
                  TrainConfig(steps=steps, batch_size=8, threads=1), loss_fn=model.loss, report_every=5,
                  validate=validate, patience=patience, stop=stop)
    return model, history


def test_fit_reports_validation_at_every_report():
    calls = []
    _, history = _tiny_fit(validate=lambda m: calls.append(m.training) or 0.5)
    assert len(history) == 40 and [r.step for r in history.reports] == list(range(5, 41, 5))
    assert calls == [False] * 8 and all(r.validation == 0.5 for r in history.reports)
    assert not history.stopped and not history.stopped_early


def test_early_stopping_waits_patience_reports_and_restores_the_best_weights():
    scores = iter([3.0, 2.0, 1.0, 1.5, 1.2, 1.1, 0.1, 0.1])
    weights = []

    def validate(model):
        weights.append(model.encoder.weight.detach().clone())
        return next(scores)

    model, history = _tiny_fit(validate=validate, patience=3)
    assert history.stopped_early and len(history.reports) == 6 and len(history) == 30
    assert history.best.step == 15 and history.best.validation == 1.0
    assert torch.equal(model.encoder.weight, weights[2])


def test_stop_ends_fit_with_the_steps_done():
    asked = []
    model, history = _tiny_fit(stop=lambda: len(asked) > 12 or asked.append(1))
    assert history.stopped and len(history) == 13 and not model.training
    with pytest.raises(ValueError, match="validate"):
        _tiny_fit(patience=2)
