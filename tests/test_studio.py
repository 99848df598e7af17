"""The training studio: training with validation, early stopping and a stop button, layer-wise
pretraining, sparsity, export, users' images, PCA against autoencoders, and the CLI."""
import io
import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

import engine
from engine import builds as builds
from engine.core import runtime
from engine.nn import checkpoints as checkpoints
from engine.tasks.studio import build as studio_build, model as studio_model, serve as studio_serve


@pytest.fixture(scope="module")
def digits() -> studio_serve.StudioData:
    return studio_serve.builtin_digits("digits8")


def test_training_reports_every_epoch_and_exports_a_model_that_matches_torch(digits):
    seen = []
    result = studio_build.train_model("undercomplete", digits.train[:400], code_size=8, epochs=3, batch_size=50,
                                heldout=digits.heldout[:60], data_note="400 digits", progress=seen.append,
                                threads=1)
    assert [round(p.epoch) for p in result.history] == [1, 2, 3] and seen == result.history
    assert all(p.validation is not None and p.phase == "training" for p in result.history)
    assert len(result.validation_losses) == 3 and result.validation_losses[-1] < result.validation_losses[0]
    assert result.history[-1].step == result.history[-1].steps == 24       # 360 training images / 50 a batch
    assert result.heldout.shape == result.reconstructions.shape == (60, 8, 8) and result.codes.shape == (60, 8)
    assert result.heldout_mse == pytest.approx(float(np.mean((result.reconstructions - digits.heldout[:60]) ** 2)))
    assert result.parameters == 64 * 8 + 8 + 8 * 64 + 64 and not result.stopped and not result.stopped_early
    recon, codes = studio_serve.reconstruct_and_encode(result.onnx, digits.heldout[:60])
    assert np.abs(recon - result.reconstructions).max() < 1e-4 and np.abs(codes - result.codes).max() < 1e-4
    meta = runtime.metadata(result.onnx)
    assert meta["family"] == "undercomplete" and json.loads(meta["config"])["code_size"] == 8
    assert json.loads(meta["settings"])["epochs"] == 3 and meta["training_data"] == "400 digits"


@pytest.mark.slow
def test_sparse_codes_are_sparser_than_plain_ones_on_the_same_data(digits):
    # The default weights suit the 28x28 digits' 784 pixels; 64-pixel digits need stronger ones.
    shared = dict(code_size=32, epochs=20, batch_size=64, heldout=digits.heldout, export=False, threads=1)
    plain = studio_build.train_model("undercomplete", digits.train, **shared)
    l1 = studio_build.train_model("sparse", digits.train, options={"penalty": "l1", "weight": 3e-3}, **shared)
    kl = studio_build.train_model("sparse", digits.train, options={"penalty": "kl", "weight": 0.3}, **shared)
    assert l1.code_stats.near_zero_share > plain.code_stats.near_zero_share + 0.1
    assert kl.code_stats.near_zero_share > plain.code_stats.near_zero_share + 0.1
    assert l1.code_stats.mean_activation < plain.code_stats.mean_activation


def test_layer_wise_pretraining_then_fine_tuning_in_the_same_step_budget(digits):
    result = studio_build.train_model("stacked", digits.train[:512], code_size=8, epochs=4, batch_size=64,
                                method="layer-wise", export=False, threads=1)
    phases = [p.phase for p in result.history]
    assert phases[0] == "pretraining layer 1 of 3" and "pretraining layer 3 of 3" in phases
    assert phases[-1] == "fine-tuning" and result.history[-1].step == result.history[-1].steps == 4 * 8
    assert all(p.validation is None for p in result.history if p.phase.startswith("pretraining"))
    assert np.isfinite(result.heldout_mse) and result.heldout_mse < 0.2
    with pytest.raises(ValueError, match="stacked"):
        studio_build.train_model("convolutional", digits.train[:64], method="layer-wise")


@pytest.mark.slow
def test_stop_ends_training_early_with_a_usable_result(digits):
    asked = []
    result = studio_build.train_model("convolutional", digits.train[:400], code_size=8, epochs=50, batch_size=32,
                                stop=lambda: len(asked) > 30 or asked.append(1), threads=1)
    assert result.stopped and result.history[-1].step < result.history[-1].steps
    assert np.all(np.isfinite(result.reconstructions)) and result.onnx
    assert studio_serve.reconstruct_and_encode(result.onnx, digits.heldout[:3])[0].shape == (3, 8, 8)
    pretraining = studio_build.train_model("stacked", digits.train[:400], code_size=8, epochs=6, batch_size=32,
                                     method="layer-wise", export=False, stop=lambda: True, threads=1)
    assert pretraining.stopped and pretraining.history == [] and np.isfinite(pretraining.heldout_mse)


def test_early_stopping_triggers_after_patience_epochs_without_improvement(digits):
    result = studio_build.train_model("undercomplete", digits.train[:300], code_size=8, epochs=20, batch_size=100,
                                lr=0.0, patience=2, export=False, threads=1)   # lr 0: the validation error never improves
    assert result.stopped_early and len(result.history) == 3 and not result.stopped
    with pytest.raises(ValueError, match="validation"):
        studio_build.train_model("undercomplete", digits.train[:300], validation_fraction=0.0, patience=2)


def test_compare_family_has_a_row_per_variant_and_pca(digits):
    rows = studio_build.compare_family(digits.train[:300], digits.heldout[:50], code_size=8, epochs=1,
                                 families=("undercomplete", "stacked-tied"), threads=1)
    assert [r["variant"] for r in rows] == ["undercomplete", "stacked-tied", "PCA-8"]
    assert all(r["code_size"] == 8 and r["heldout_mse"] > 0 and r["noisy_mse"] > 0 for r in rows)
    assert list(rows[0]) == ["variant", "code_size", "parameters", "heldout_mse", "noisy_mse",
                             "near_zero_share", "seconds"] and len(studio_serve.COMPARISON_COLUMNS) == len(rows[0])
    assert rows[-1]["parameters"] == 8 * 64 + 64


def test_pca_rebuilds_a_plane_exactly_but_an_autoencoder_wins_on_a_curved_surface():
    fits = studio_build.plane_and_curve(n=400, epochs=60, threads=1)
    plane, curve = fits["plane"], fits["curve"]
    assert plane.pca_mse < 1e-20
    assert curve.autoencoder_mse < curve.pca_mse / 5
    assert curve.points.shape == curve.autoencoder_reconstruction.shape == (400, 3)
    assert plane.pca_codes.shape == plane.autoencoder_codes.shape == (400, 2)


def test_digits_projection_gives_labelled_points_in_3d():
    projection = studio_build.digits_projection(dims=3, epochs=3, threads=1)
    assert projection.pca.shape == projection.autoencoder.shape == (1797, 3)
    assert projection.labels.shape == (1797,) and projection.held_out.sum() == 300
    assert 0 < projection.pca_mse < 1 and 0 <= projection.autoencoder_neighbour_agreement <= 1


@pytest.mark.slow
def test_builtin_digits28_holds_out_fonts_and_handwriting(monkeypatch):
    monkeypatch.setattr(studio_serve, "DIGITS28_SCALE", 0.01)                    # 200 rendered digits
    studio_serve._digits28.cache_clear()
    try:
        data = studio_serve.builtin_digits("digits28", heldout_count=20)
    finally:
        studio_serve._digits28.cache_clear()
    assert data.train.shape == (200 + 1497, 28, 28) and data.heldout.shape == (20 + 300, 28, 28)
    assert len(data.train_labels) == len(data.train) and set(data.heldout_labels) <= set(range(10))
    eight = studio_serve.builtin_digits("digits8")
    assert eight.train.shape == (1497, 8, 8) and eight.heldout.shape == (300, 8, 8)
    assert eight.train.max() <= 1.0
    with pytest.raises(ValueError, match="digits28"):
        studio_serve.builtin_digits("mnist")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_users_images_of_any_size_and_mode_become_the_input_size():
    rng = np.random.default_rng(0)
    uploads = [Image.fromarray(rng.integers(0, 255, (37, 23, 4), dtype=np.uint8), "RGBA"),
               Image.fromarray(rng.integers(0, 255, (5, 9), dtype=np.uint8), "L"),
               Image.fromarray(rng.integers(0, 255, (300, 200, 3), dtype=np.uint8)).convert("P"),
               Image.new("I;16", (17, 40), 65535)]
    decoded = [engine.decode_image(_png(im)) for im in uploads]
    arrays = [rng.integers(0, 255, (31, 64, 3), dtype=np.uint8), rng.random((3, 3)).astype(np.float64)]
    images = studio_serve.prepare_images(decoded + arrays, side=28)
    assert images.shape == (6, 28, 28) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    assert np.allclose(images[3], 1.0)                                       # white stays white
    assert studio_serve.prepare_images(decoded, side=8).shape == (4, 8, 8)
    with pytest.raises(ValueError, match="no images"):
        studio_serve.prepare_images([])


def test_cli_trains_a_family_model_from_a_folder_of_pngs(tmp_path, capsys):
    from engine.__main__ import main

    folder = tmp_path / "pictures"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(24):
        pixels = np.zeros((30 + i, 20 + 2 * i), dtype=np.uint8)
        pixels[5:-5, 3 + i % 5:12 + i % 5] = 255
        Image.fromarray(pixels).save(folder / f"bar{i}.png")
    (folder / "notes.png").write_bytes(b"not an image")
    out = tmp_path / "studio" / "bars.onnx"
    assert main(["train", "stacked", "--data", str(folder), "--epochs", "3", "--code-size", "4",
                 "--side", "12", "--batch-size", "8", "--option", "hidden=[32]", "--option", "tied=true",
                 "--threads", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "skipped notes.png" in printed and "epoch" in printed and "held-out MSE" in printed
    meta = runtime.metadata(str(out))
    assert meta["family"] == "stacked" and json.loads(meta["config"])["tied"] is True
    images = studio_serve.prepare_images([rng.random((40, 40))], side=12)
    recon, code = studio_serve.reconstruct_and_encode(str(out), images)
    assert recon.shape == (1, 12, 12) and code.shape == (1, 4)
    model = checkpoints.from_checkpoint(torch.load(out.with_suffix(".pt"), weights_only=False))
    assert model.config.hidden == (32,) and model.decoder[0].weight is model.encoder[-1].weight
    assert main(["train", "convolutional", "--data", str(tmp_path / "missing")]) == 2
    assert main(["train", "undercomplete", "--data", str(folder), "--option", "colour=red"]) == 2


def test_cli_family_names_leave_the_build_targets_alone(monkeypatch, tmp_path):
    from engine.__main__ import main

    assert not set(builds.BUILDS) & set(studio_model.FAMILIES)
    built = []
    monkeypatch.setattr(builds, "build", lambda target, opts, command: built.append(target) or {})
    assert main(["train", "denoiser", "--out", str(tmp_path), "--no-eval"]) == 0
    assert built == ["denoiser"]


def test_import_engine_and_the_studio_data_stay_torch_free():
    code = ("import sys, engine; engine.prepare_images; engine.builtin_digits; engine.reconstruct_and_encode; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def _run_script(script: str, folder, *args: str) -> float:
    """Run a generated script in `folder` as a user would; the held-out MSE it prints."""
    import os
    import re
    from pathlib import Path

    path = folder / "reproduce.py"
    path.write_text(script)
    root = str(Path(engine.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, str(path), *args], cwd=folder, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return float(re.search(r"held-out MSE ([0-9.]+)", done.stdout).group(1))


def test_the_reproduce_script_trains_the_same_model_on_the_built_in_digits(tmp_path):
    train, heldout, note = engine.builtin_training_set("digits8", 300)
    assert len(train) == 300 and "300 chosen at random" in note
    result = studio_build.train_model("sparse", train, code_size=8, epochs=2, lr=1e-2, batch_size=64, patience=1,
                                      options={"penalty": "l1", "weight": 1e-3}, heldout=heldout, export=False)
    script = engine.reproduce_script(result.settings, builtin="digits8", count=300, title="run #1")
    assert "train_model('sparse'" in script and "'penalty': 'l1'" in script and "patience=1" in script
    assert abs(_run_script(script, tmp_path) - result.heldout_mse) <= 1e-4 * max(1.0, result.heldout_mse) + 1e-6
    assert (tmp_path / "sparse_autoencoder.onnx").stat().st_size > 1000


def test_the_reproduce_script_takes_a_folder_of_the_users_images(tmp_path):
    rng = np.random.default_rng(3)
    folder = tmp_path / "mine"
    folder.mkdir()
    for i in range(30):
        Image.fromarray((rng.random((20, 20)) * 255).astype(np.uint8)).save(folder / f"{i:02d}.png")
    pictures = [engine.decode_image((folder / f"{i:02d}.png").read_bytes()) for i in range(30)]
    train, heldout = engine.split_heldout(engine.prepare_images(pictures, 8))
    assert len(heldout) == 3 and len(train) == 27
    result = studio_build.train_model("undercomplete", train, code_size=4, epochs=1, batch_size=16, heldout=heldout,
                                      export=False)
    script = engine.reproduce_script(result.settings, side=8)
    assert abs(_run_script(script, tmp_path, str(folder)) - result.heldout_mse) <= 1e-4 * result.heldout_mse + 1e-6


def test_snapshots_watch_the_held_out_images_learn_at_every_epoch():
    train, heldout, _ = engine.builtin_training_set("digits8", 400)
    seen = []
    result = studio_build.train_model("undercomplete", train, code_size=6, epochs=3, lr=1e-2, batch_size=64, heldout=heldout,
                                      export=False, watch=100, on_snapshot=seen.append)
    assert seen == result.snapshots and [s.step for s in seen] == [0, *(p.step for p in result.history)]
    assert [round(s.epoch) for s in seen] == [0, 1, 2, 3]
    first, last = seen[0], seen[-1]
    assert last.reconstructions.shape == (engine.SNAPSHOT_RECONSTRUCTIONS, 8, 8)
    assert last.codes.shape == (100, 6) and last.map.shape == (100, 2)
    assert np.allclose(last.codes, result.codes[:100], atol=1e-5)   # the last snapshot is the model returned

    def error(s):
        return float(np.mean((s.reconstructions - heldout[:engine.SNAPSHOT_RECONSTRUCTIONS]) ** 2))

    assert error(last) < 0.9 * error(first)   # it learnt, and the snapshots show it
    assert studio_build.train_model("undercomplete", train[:50], epochs=1, export=False).snapshots == []


def test_a_paused_run_shows_each_single_step_and_leaves_its_pauses_out_of_its_time():
    train, heldout, _ = engine.builtin_training_set("digits8", 300)
    gate, seen, out = engine.PauseGate(), [], {}
    gate.pause()
    thread = threading.Thread(target=lambda: out.update(result=studio_build.train_model(
        "undercomplete", train, code_size=6, epochs=2, lr=1e-2, batch_size=64, heldout=heldout, export=False,
        watch=50, on_snapshot=seen.append, pause=gate)))
    thread.start()
    deadline = time.monotonic() + 60
    while not gate.held:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert [s.step for s in seen] == [0]   # held before the first step: the start is already shown
    for step in (1, 2, 3):
        assert gate.step(timeout=60)
        assert seen[-1].step == step and seen[-1].epoch == step / 5   # each single step is shown
    assert not np.array_equal(seen[-1].reconstructions, seen[0].reconstructions)
    time.sleep(0.3)
    gate.resume()
    thread.join(60)
    result = out["result"]
    assert [s.step for s in result.snapshots] == [0, 1, 2, 3, 5, 10]   # then every epoch's end
    assert gate.held_seconds > 0.3 and result.seconds < gate.held_seconds   # the pauses are not training time


def test_the_code_map_is_the_code_itself_in_two_numbers_and_keeps_its_axes():
    codes = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    assert np.array_equal(engine.code_map(codes), codes)
    assert engine.code_map(codes[:, :1]).shape == (50, 2)
    wide = np.random.default_rng(1).normal(size=(50, 5)) * [5, 2, 1, 0.5, 0.1]
    first = engine.code_map(wide)
    assert np.allclose(np.abs(first[:, 0]), np.abs(wide[:, 0] - wide[:, 0].mean()), atol=0.6)   # the widest axis first
    assert np.allclose(engine.code_map(-wide, previous=first), first, atol=1e-5)   # a flipped code keeps the map's axes
    assert engine.code_map(wide[:1]).shape == (1, 2)   # one image watched (a user's small upload)


def test_random_data_cannot_be_compressed_and_the_spring_is_one_number():
    fits = studio_build.compression_lessons(n=400, epochs=40)
    random, spring = fits["random"], fits["spring"]
    assert random.explained[0] < 0.2 and spring.explained[0] > 0.95   # flat, against one direction
    assert random.pca_mse / random.variance > 0.7 and random.autoencoder_mse / random.variance > 0.7
    assert spring.pca_mse / spring.variance < 0.03 and spring.autoencoder_mse / spring.variance < 0.1
    assert engine.truth_agreement(spring.pca_code, spring.truth) > 0.99
    assert engine.truth_agreement(spring.autoencoder_code, spring.truth) > 0.95
    views, truth = engine.spring_views(50, seed=3)
    assert views.shape == (50, 2 * engine.SPRING_CAMERAS) and truth.shape == (50,)
    assert np.allclose(engine.random_points(5, seed=1), engine.random_points(5, seed=1))


def test_presets_build_the_source_documents_networks_exactly(monkeypatch):
    from torch import nn

    from engine.nn import train as nn_train

    def layers(name: str) -> list[tuple[int, int]]:
        preset = engine.STUDIO_PRESETS[name]
        model = studio_model.make_model(preset.family, input_shape=(1, 28, 28), code_size=preset.code_size,
                                        **preset.options)
        return [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)], model

    sizes, model = layers("tutorial")
    assert sizes == [(784, 256), (256, 784)]
    assert model.config.code_activation == "sigmoid" and model.config.output == "sigmoid" and model.config.loss == "mse"
    sizes, model = layers("undercomplete")
    assert sizes == [(784, 32), (32, 784)] and model.config.code_activation == "relu" and model.config.loss == "bce"
    sizes, model = layers("sparse")
    assert sizes == [(784, 32), (32, 784)] and (model.config.penalty, model.config.weight) == ("l1", 1e-6)
    sizes, _ = layers("stacked")
    assert sizes == [(784, 128), (128, 64), (64, 32), (32, 64), (64, 128), (128, 784)]
    tutorial = engine.STUDIO_PRESETS["tutorial"]
    assert (tutorial.optimizer, tutorial.lr, tutorial.batch_size, tutorial.epochs) == ("rmsprop", 0.01, 100, 20)
    assert {n: p.optimizer for n, p in engine.STUDIO_PRESETS.items() if p.optimizer != "adam"} == {
        "tutorial": "rmsprop", "conv_maps": "adadelta", "conv_denoising": "adadelta"}
    # the lecture's convolutional networks, layer by layer as Keras' summary prints them
    for name, parameters, code in (("conv_maps", 3145, 392), ("conv_denoising", 28353, 1568)):
        preset = engine.STUDIO_PRESETS[name]
        model = studio_model.make_model(preset.family, input_shape=(1, 28, 28), code_size=32, **preset.options)
        assert studio_model.parameter_count(model) == parameters and model.config.code_size == preset.code_size == code
        assert (preset.lr, preset.batch_size, model.config.loss) == (1.0, 128, "bce")
        shapes, x = [], torch.zeros(1, 1, 28, 28)
        for layer in (*model.features, *model.decoder):
            x = layer(x)
            if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.Upsample)):
                shapes.append((type(layer).__name__, tuple(x.shape[1:])))
        assert model.encode(torch.zeros(2, 1, 28, 28)).shape == (2, code)
        assert torch.all(model(torch.rand(2, 1, 28, 28))["reconstruction"] >= 0)
        if name == "conv_maps":
            assert shapes == [("Conv2d", (16, 28, 28)), ("MaxPool2d", (16, 14, 14)), ("Conv2d", (8, 14, 14)),
                              ("MaxPool2d", (8, 7, 7)), ("Conv2d", (8, 7, 7)), ("Conv2d", (8, 7, 7)),
                              ("Upsample", (8, 14, 14)), ("Conv2d", (8, 14, 14)), ("Upsample", (8, 28, 28)),
                              ("Conv2d", (1, 28, 28))]
        else:
            assert shapes == [("Conv2d", (32, 28, 28)), ("MaxPool2d", (32, 14, 14)), ("Conv2d", (32, 14, 14)),
                              ("MaxPool2d", (32, 7, 7)), ("Conv2d", (32, 7, 7)), ("Upsample", (32, 14, 14)),
                              ("Conv2d", (32, 14, 14)), ("Upsample", (32, 28, 28)), ("Conv2d", (1, 28, 28))]
            assert (model.config.noise, model.config.noise_factor) == ("gaussian", 0.5)
    with pytest.raises(ValueError, match="dense layer"):
        studio_model.make_model("variational", input_shape=(1, 28, 28), code_layer="maps", channels=(8, 8))
    with pytest.raises(ValueError, match="code_layer must be"):
        studio_model.make_model("convolutional", input_shape=(1, 28, 28), code_layer="pixels")

    # the preset's optimiser and a constant rate are what trains
    made = []
    real = nn_train.OPTIMIZERS["rmsprop"]
    monkeypatch.setitem(nn_train.OPTIMIZERS, "rmsprop", lambda params, c: made.append(c) or real(params, c))
    train, heldout, _ = engine.builtin_training_set("digits8", 200)
    result = studio_build.train_model(tutorial.family, train, code_size=16, epochs=1, lr=tutorial.lr,
                                      batch_size=tutorial.batch_size, options=dict(tutorial.options), heldout=heldout,
                                      optimizer="rmsprop", schedule="constant", export=False)
    assert [(c.optimizer, c.lr, c.batch_size, c.schedule) for c in made] == [("rmsprop", 0.01, 100, "constant")]
    assert (result.settings.optimizer, result.settings.schedule) == ("rmsprop", "constant")
    with pytest.raises(ValueError, match="loss must be one of"):
        studio_model.make_model("undercomplete", input_shape=(64,), loss="hinge")


def test_a_code_of_feature_maps_trains_exports_and_has_the_size_its_layers_give():
    train, heldout, _ = engine.builtin_training_set("digits8", 300)
    options = {"code_layer": "maps", "channels": (16, 8, 8), "decoder_channels": (8, 8)}
    result = studio_build.train_model("convolutional", train, code_size=4, epochs=2, lr=1.0, batch_size=32,
                                      options=options, heldout=heldout, optimizer="adadelta", schedule="constant")
    assert result.settings.code_size == 8 * 2 * 2 == result.codes.shape[1]   # 8 maps of 2x2 on 8x8 digits
    reconstructions, codes = engine.reconstruct_and_encode(result.onnx, heldout)
    assert codes.shape == (len(heldout), 32) and np.allclose(reconstructions, result.reconstructions, atol=1e-4)
    assert result.heldout_mse < float(np.mean((heldout - heldout.mean()) ** 2))   # it learnt more than the mean
    assert "'code_layer': 'maps'" in engine.reproduce_script(result.settings, builtin="digits8", count=300)


def test_the_mse_loss_of_sigmoid_outputs_is_mean_squared_error():
    recon = torch.tensor([[0.2, 0.9]])
    outputs = {"reconstruction": recon, "logits": torch.logit(recon)}
    target = torch.tensor([[0.0, 1.0]])
    assert torch.isclose(studio_model.reconstruction_loss(outputs, target, "mse"), torch.tensor((0.04 + 0.01) / 2))
    assert studio_model.reconstruction_loss(outputs, target, "bce") > studio_model.reconstruction_loss(outputs, target, "mse")
