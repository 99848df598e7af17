"""The build pipeline end to end at a tiny scale: train, export, parity, manifest, CLI."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from engine import builds as builds
from engine.core import runtime
from engine.nn import recipes as recipes
from engine.nn.layers import CharAutoencoder, CharAutoencoderConfig
from engine.nn.train import TrainConfig, fit


@pytest.mark.slow
def test_training_loop_lowers_the_loss_and_reports_progress():
    rng = np.random.default_rng(0)
    data = (rng.random((300, 1, 28, 28)) > 0.8).astype(np.float32)
    seen = []
    model = CharAutoencoder(CharAutoencoderConfig(code_size=16, channels=(8, 16)))
    losses = fit(model, lambda step, r: (data[r.integers(300, size=32)],) * 2,
                 TrainConfig(steps=60, batch_size=32, lr=3e-3), progress=seen.append, report_every=20)
    assert len(losses) == 60 and np.mean(losses[-10:]) < np.mean(losses[:10]) * 0.8
    assert [p.step for p in seen] == [20, 40, 60] and not model.training


@pytest.mark.slow
def test_tiny_char_build_writes_models_and_manifest(tmp_path):
    opts = recipes.BuildOptions(out_dir=tmp_path, scale=0.005)
    entries = builds.build("denoiser-char", opts, "python -m engine train denoiser-char")
    assert set(entries) == {"denoiser_char", "pca_char"}
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    for _name, entry in manifest["models"].items():
        assert runtime.sha256_of((tmp_path / entry["file"]).read_bytes()) == entry["sha256"]
        assert entry["command"] == "python -m engine train denoiser-char"
    checkpoint = torch.load(tmp_path / "denoiser_char.pt", weights_only=False)
    assert checkpoint["class"] == "CharAutoencoder" and checkpoint["config"]["code_size"] == 64
    out = runtime.run(str(tmp_path / "pca_char.onnx"), np.zeros((2, 1, 28, 28), np.float32))
    assert out.shape == (2, 1, 28, 28)


@pytest.mark.slow
def test_cli_bench_and_eval_print_json():
    bench = subprocess.run([sys.executable, "-m", "engine", "bench", "--json", "--repeats", "1", "--load-rounds", "2",
                            "--models", "denoiser_char", "denoiser_photo", "pca_char", "--no-baselines"],
                           capture_output=True, text=True, check=True, timeout=600)
    result = json.loads(bench.stdout)
    latency, tasks, serving, load = result["tables"]
    rows = latency["rows"]
    assert {r[0] for r in rows} == {"denoiser_char", "denoiser_photo", "pca_char"} and len(rows) == 6
    assert all(r[3] > 0 and r[5] > 0 and r[7] > 0 for r in rows)          # onnxruntime, torch, MFLOP
    assert [r[2] for r in rows] == ["float"] * 6                           # no int8 twin among these
    assert all((r[4] is not None) == (r[2] == "int8") for r in rows)      # the float graph beside an int8 twin
    assert all(r[8] > 0 for r in rows if r[1].startswith("256x")) and result["peak_gflops"] > 0
    assert [r[0] for r in tasks["rows"]] == ["denoise (photo)"]
    models, resident_mb, torch_imported = serving["rows"][0]
    assert models == len(runtime.available_models()) and resident_mb > 50 and torch_imported is False
    assert [len(r) for r in load["rows"]] == [6, 6] and all(r[4] > 50 for r in load["rows"])
    table = subprocess.run([sys.executable, "-m", "engine", "eval", "anomaly", "--count", "100"],
                           capture_output=True, text=True, check=True, timeout=600)
    assert "AUROC letters" in table.stdout and "PCA, 16 components" in table.stdout


def test_a_build_that_dies_leaves_the_shipped_models_alone(tmp_path, monkeypatch):
    (tmp_path / "manifest.json").write_text('{"models": {}}')
    (tmp_path / "old.onnx").write_bytes(b"old")

    def dies_after_writing(opts):
        (opts.out_dir / "old.onnx").write_bytes(b"half-written")
        raise KeyboardInterrupt

    monkeypatch.setitem(builds.BUILDS, "dying", (dies_after_writing,))
    try:
        builds.build("dying", recipes.BuildOptions(out_dir=tmp_path), "python -m engine train dying")
    except KeyboardInterrupt:
        pass
    assert (tmp_path / "old.onnx").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "old.onnx"]


@pytest.mark.slow
def test_tiny_anomaly_build_carries_its_calibration(tmp_path):
    from engine.tasks.anomaly.serve import ANOMALY_DEFAULT_SCORING, threshold_for

    entries = builds.build("anomaly", recipes.BuildOptions(out_dir=tmp_path, scale=0.005),
                           "python -m engine train anomaly")
    calibration = entries["anomaly_char"]["calibration"]
    scores = calibration["scores"][ANOMALY_DEFAULT_SCORING]
    assert len(scores) == 1300 and calibration["false_positive_rate"] == 0.05
    meta = runtime.metadata(str(tmp_path / "anomaly_char.onnx"))
    assert float(meta["threshold"]) == threshold_for(scores, 0.05)
    assert set(entries) == {"anomaly_char", "anomaly_pca"}
    for entry in entries.values():
        assert runtime.sha256_of((tmp_path / entry["file"]).read_bytes()) == entry["sha256"]


# --- Kills at every step of a build ------------------------------------------------------------
def scaling_model(factor: float) -> bytes:
    """A one-node ONNX graph: y = factor * x, for a batch of 2-vectors."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "factor"], ["y"])], "scale",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor("factor", TensorProto.FLOAT, [1], [factor])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8).SerializeToString()


def pair_step(factor: float):
    """A build step that makes two models that belong together (an encoder and decoder, say)
    and the checkpoint they share, all of version `factor`."""
    def step(opts):
        a, b, checkpoint = scaling_model(factor), scaling_model(-factor), f"checkpoint {factor}".encode()
        for name, data in (("a.onnx", a), ("b.onnx", b), ("pair.pt", checkpoint)):
            runtime.atomic_write_bytes(opts.out_dir / name, data)
        shared = {"task": "test", "torch_file": "pair.pt", "torch_sha256": runtime.sha256_of(checkpoint)}
        return {"pair_a": {"file": "a.onnx", "sha256": runtime.sha256_of(a), **shared},
                "pair_b": {"file": "b.onnx", "sha256": runtime.sha256_of(b), **shared}}
    return step


class Killed(BaseException):
    """The process dies here: no except or finally clause of the build runs any more."""


class Killer:
    """Stands in for the file system's changes (renames, links, removals): the one numbered
    `at` and every one after it raise Killed, as if the process had been killed there."""
    OPS = ("replace", "rename", "link", "unlink", "remove", "rmdir")

    def __init__(self, monkeypatch, at: int | None = None):
        self.at, self.count, self.dead, self.real = at, 0, False, {name: getattr(os, name) for name in self.OPS}
        for name in self.OPS:
            monkeypatch.setattr(os, name, self.wrap(self.real[name]))

    def wrap(self, real):
        def op(*args, **kwargs):
            if self.dead or self.count == self.at:
                self.dead = True
                raise Killed
            self.count += 1
            return real(*args, **kwargs)
        return op

    def restore(self, monkeypatch):
        for name in self.OPS:
            monkeypatch.setattr(os, name, self.real[name])


def build_pair(folder, factor: float, monkeypatch) -> None:
    monkeypatch.setitem(builds.BUILDS, "pair", (pair_step(factor),))
    builds.build("pair", recipes.BuildOptions(out_dir=folder), "python -m engine train pair")


def served_version(folder, monkeypatch) -> float:
    """What the runtime serves from `folder`: both models and their checkpoint, which must be of
    one version, with every checksum right; returns that version."""
    monkeypatch.setattr(runtime, "PRETRAINED_DIR", folder)
    runtime._manifests.clear()             # parsed manifests are keyed by mtime, which a fast test can repeat
    x = np.ones((2, 2), np.float32)
    a, b = runtime.run("pair_a", x)[0, 0], runtime.run("pair_b", x)[0, 0]
    assert a == -b, "the two models come from different builds"
    for name in ("pair_a", "pair_b"):
        assert runtime.checkpoint_bytes(name) == f"checkpoint {float(a)}".encode()
    return float(a)


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_build_killed_at_any_step_leaves_a_consistent_set_and_the_next_build_tidies_up(tmp_path, monkeypatch):
    build_pair(tmp_path / "count", 1.0, monkeypatch)
    counter = Killer(monkeypatch)                # counts the file system changes a rebuild makes
    build_pair(tmp_path / "count", 2.0, monkeypatch)
    counter.restore(monkeypatch)
    seen = set()
    for at in range(counter.count):
        folder = tmp_path / f"killed-{at}"
        build_pair(folder, 1.0, monkeypatch)
        killer = Killer(monkeypatch, at)
        with pytest.raises(Killed):
            build_pair(folder, 2.0, monkeypatch)
        killer.restore(monkeypatch)
        seen.add(served_version(folder, monkeypatch))          # old or new, never a mix, never a bad checksum
        build_pair(folder, 3.0, monkeypatch)                   # the next build
        assert served_version(folder, monkeypatch) == 3.0
        assert leftovers(folder) == [], at                     # no staging folder, waiting file or temporary
        assert sorted(p.name for p in folder.iterdir()) == ["a.onnx", "b.onnx", "manifest.json", "pair.pt"]
        assert builds._read_models(folder)["pair_a"]["file"] == "a.onnx"
    assert seen == {1.0, 2.0}       # some kills came before the switch, some after it


def test_the_next_build_removes_what_killed_builds_left_but_not_a_live_builds_staging(tmp_path, monkeypatch):
    build_pair(tmp_path, 1.0, monkeypatch)
    (tmp_path / ".staging-k1ll3d00").mkdir()                               # killed while training
    (tmp_path / ".staging-k1ll3d00" / "a.onnx").write_bytes(b"half a model")
    (tmp_path / ".switch-k1ll3d11-b.onnx").write_bytes(b"never switched to")  # killed before its switch
    (tmp_path / ".manifest.json.x7_k2p0q.tmp").write_bytes(b"{")              # killed while writing
    (tmp_path / ".keep").write_bytes(b"")                                     # not a build's
    assert served_version(tmp_path, monkeypatch) == 1.0                       # none of it is served

    def other_step(opts):
        data = scaling_model(5.0)
        runtime.atomic_write_bytes(opts.out_dir / "c.onnx", data)
        return {"other": {"file": "c.onnx", "sha256": runtime.sha256_of(data), "task": "test"}}

    def with_another_build_meanwhile(opts):     # as two builds on two cores: the other one starts, tidies, ends
        first = pair_step(2.0)(opts)
        monkeypatch.setitem(builds.BUILDS, "other", (other_step,))
        builds.build("other", recipes.BuildOptions(out_dir=tmp_path), "python -m engine train other")
        assert leftovers(tmp_path) == [".keep", opts.out_dir.name]            # this build's staging is left alone
        return first

    monkeypatch.setitem(builds.BUILDS, "pair", (with_another_build_meanwhile,))
    builds.build("pair", recipes.BuildOptions(out_dir=tmp_path), "python -m engine train pair")
    assert served_version(tmp_path, monkeypatch) == 2.0
    assert builds._read_models(tmp_path)["other"]["file"] == "c.onnx"
    assert leftovers(tmp_path) == [".keep"]
