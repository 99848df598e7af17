"""Serving at the machine's speed: the sessions' memory arena and its bounds, the exporter's
phase decomposition of upsampling chains (exact, applied to every shipped decoder), FLOPs per
item, and the benchmark's fair timing. Speed figures live in `python -m engine bench`."""
import json
import shutil

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from engine.builds import optimize_shipped
from engine.core import runtime
from engine.core.graphs import flops_per_item, largest_difference, phase_decompose
from engine.core.report import paired_medians
from engine.nn.export import export_onnx


class _Upsampler(nn.Module):
    """A code -> image decoder ending like the character decoders: transposed convolution,
    ReLU, a 'same' convolution."""

    def __init__(self, kernel: int, pad: int, out_kernel: int, bias: bool = True):
        super().__init__()
        self.up = nn.ConvTranspose2d(6, 5, kernel, stride=2, padding=pad, bias=bias)
        self.out = nn.Conv2d(5, 2, out_kernel, padding=out_kernel // 2)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"reconstruction": torch.sigmoid(self.out(torch.relu(self.up(x))))}


def _plain_export(model: nn.Module, example: torch.Tensor) -> bytes:
    """The graph as torch exports it, before the engine's rewrite."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model.eval(), (example,), dynamo=True, input_names=["input"],
                                    dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False)
    return program.model_proto.SerializeToString()


class _Served(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)["reconstruction"]


@pytest.mark.parametrize("kernel,pad,out_kernel,bias", [(4, 1, 3, True), (2, 0, 3, False), (4, 1, 5, True),
                                                        (6, 2, 1, True)])
def test_phase_decomposition_is_exact_and_leaves_no_transposed_convolution(kernel, pad, out_kernel, bias):
    torch.manual_seed(kernel + out_kernel)
    model = _Upsampler(kernel, pad, out_kernel, bias)
    x = torch.rand(3, 6, 7, 5)
    data = export_onnx(model, None, example=x, parity_inputs=[np.random.default_rng(1).random((4, 6, 7, 5),
                                                                                            dtype=np.float32)],
                       tolerance=1e-5)                   # the exporter's own parity check against torch
    ops = [n.op_type for n in onnx.load_from_string(data).graph.node]
    assert "ConvTranspose" not in ops and ops.count("DepthToSpace") == 1
    plain = _plain_export(_Served(model), x)
    assert "ConvTranspose" in [n.op_type for n in onnx.load_from_string(plain).graph.node]
    assert largest_difference(plain, data) < 1e-5
    assert flops_per_item(plain, [(6, 7, 5)]) == flops_per_item(data, [(6, 7, 5)])   # zeros of the rewrite not counted


def test_chains_that_are_not_doublings_are_left_alone():
    torch.manual_seed(0)
    padded = _Wrap(nn.Sequential(nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
                                 nn.Conv2d(4, 1, 3, padding=1)))                # doubles only with output padding
    proto = onnx.load_from_string(_plain_export(_Served(padded), torch.rand(2, 4, 6, 6)))
    assert phase_decompose(proto) == 0 and "ConvTranspose" in [n.op_type for n in proto.graph.node]
    # a chain whose ReLU output is also read elsewhere (here: a graph output) must stay as it is
    proto = onnx.load_from_string(_plain_export(_Served(_Upsampler(4, 1, 3)), torch.rand(2, 6, 7, 5)))
    relu = next(n for n in proto.graph.node if n.op_type == "Relu")
    proto.graph.output.append(onnx.helper.make_empty_tensor_value_info(relu.output[0]))
    assert phase_decompose(proto) == 0 and "ConvTranspose" in [n.op_type for n in proto.graph.node]


class _Wrap(nn.Module):
    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"reconstruction": self.body(x)}


def test_every_shipped_decoder_is_already_decomposed(tmp_path, monkeypatch):
    copy = tmp_path / "pretrained"
    shutil.copytree(runtime.PRETRAINED_DIR, copy)
    before = (copy / runtime.MANIFEST_NAME).read_text()
    assert set(optimize_shipped(copy).values()) == {0}       # nothing left to rewrite
    assert (copy / runtime.MANIFEST_NAME).read_text() == before
    for name in ("denoiser_char", "anomaly_char", "vae_decoder", "cvae_decoder"):
        graph = onnx.load(str(copy / runtime.model_info(name)["file"])).graph
        assert "DepthToSpace" in [n.op_type for n in graph.node], name


def test_optimize_rewrites_an_old_export_and_its_checksum_together(tmp_path):
    torch.manual_seed(0)
    model = _Upsampler(4, 1, 3)
    old = _plain_export(_Served(model), torch.rand(2, 6, 7, 5))
    (tmp_path / "old.onnx").write_bytes(old)
    entry = {"file": "old.onnx", "sha256": runtime.sha256_of(old), "task": "test", "command": "python -m engine train x"}
    (tmp_path / runtime.MANIFEST_NAME).write_text(json.dumps({"models": {"old": entry}}))
    assert optimize_shipped(tmp_path) == {"old": 1}
    new = (tmp_path / "old.onnx").read_bytes()
    manifest = json.loads((tmp_path / runtime.MANIFEST_NAME).read_text())["models"]["old"]
    assert manifest["sha256"] == runtime.sha256_of(new) != entry["sha256"]
    assert largest_difference(old, new) < 1e-5
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".staging-")]


def test_optimize_refuses_a_damaged_file(tmp_path):
    (tmp_path / "m.onnx").write_bytes(b"not a model")
    entry = {"file": "m.onnx", "sha256": "0" * 64, "task": "test", "command": "python -m engine train x"}
    (tmp_path / runtime.MANIFEST_NAME).write_text(json.dumps({"models": {"m": entry}}))
    with pytest.raises(runtime.ModelError, match="checksum"):
        optimize_shipped(tmp_path)


def test_flops_of_a_known_graph():
    torch.manual_seed(0)
    model = _Wrap(nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 28 * 28, 10)))
    data = _plain_export(_Served(model), torch.rand(2, 1, 28, 28))
    assert flops_per_item(data) == 2 * 28 * 28 * 8 * 9 + 2 * 8 * 28 * 28 * 10


def test_sessions_share_one_arena_and_one_thread_pool():
    options = runtime.session_options()
    assert options.enable_cpu_mem_arena and options.get_session_config_entry("session.use_env_allocators") == "1"
    assert options.use_per_session_threads is False and runtime._prepare_onnxruntime() == {"pool": True}
    a, b = runtime.session("denoiser_char"), runtime.session("vae_decoder")     # both open and run on the one pool
    assert a.run(None, {"input": np.zeros((2, 1, 28, 28), np.float32)})[0].shape == (2, 1, 28, 28)
    assert b.run(None, {"z": np.zeros((2, 16), np.float32)})[0].shape == (2, 1, 28, 28)


def test_without_a_global_pool_each_session_sizes_its_own_from_the_cpus_we_may_use(monkeypatch):
    monkeypatch.setattr(runtime, "_prepared", {"pool": False})
    options = runtime.session_options()
    assert options.use_per_session_threads and options.intra_op_num_threads == runtime.cpu_count()


def test_large_inputs_shrink_the_arena_and_small_ones_keep_it(monkeypatch):
    seen = []

    class Inner:
        def run(self, names, feed, run_options=None):
            seen.append(run_options)
            return [feed["x"]]

    session = runtime.Session(Inner(), arena=True)
    session.run(None, {"x": np.zeros((256, 1, 28, 28), np.float32)})
    session.run(None, {"x": np.zeros((1, 3, 1024, 1024), np.float32)})
    assert seen[0] is None
    assert seen[1].get_run_config_entry("memory.enable_memory_arena_shrinkage").startswith("cpu:0")
    runtime.Session(Inner(), arena=False).run(None, {"x": np.zeros((1, 3, 1024, 1024), np.float32)})
    assert seen[2] is None                     # no arena, nothing to shrink (onnxruntime would refuse)


def test_a_large_photo_runs_through_the_shrinking_session():
    out = runtime.run("denoiser_photo", np.random.default_rng(0).random((1, 4, 640, 640), dtype=np.float32))
    assert out.shape == (1, 3, 640, 640) and np.isfinite(out).all()


def test_paired_medians_time_each_function():
    calls = {"a": 0, "b": 0}

    def a():
        calls["a"] += 1

    def b():
        calls["b"] += 1

    medians = paired_medians([a, b], 4, rounds=2)
    assert len(medians) == 2 and all(m >= 0 for m in medians)
    assert calls == {"a": 6, "b": 6}             # two blocks each: an untimed call, then two timed


INT8_SHIPPED = sorted(name for name, entry in runtime.available_models().items() if "int8" in entry)


def test_the_photo_models_ship_int8_twins_recorded_with_their_judgement():
    from engine.builds import INT8_RECIPES

    assert INT8_SHIPPED == sorted(INT8_RECIPES)          # every recipe passed its judgement when it was built
    for name in INT8_SHIPPED:
        twin = runtime.model_info(name)["int8"]
        assert runtime.sha256_of((runtime.PRETRAINED_DIR / twin["file"]).read_bytes()) == twin["sha256"]
        assert twin["quality_holds"] and twin["speedup"] >= 1.05 and twin["ships"]
        assert all(after >= before - twin["tolerance"] for before, after in twin["figures"].values())


def test_the_cpu_serves_the_int8_twin_and_a_gpu_or_a_request_the_float_graph(monkeypatch):
    name = INT8_SHIPPED[0]
    ops = {n.op_type for n in onnx.load(str(runtime.PRETRAINED_DIR / runtime.model_info(name)["int8"]["file"])).graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    assert runtime.served_precision(name) == "int8"
    assert runtime.session(name) is not runtime.session(name, precision="float")
    assert runtime.served_precision("denoiser_char") == "float"
    with pytest.raises(runtime.ModelError, match="no int8"):
        runtime.session("denoiser_char", precision="int8")
    with pytest.raises(ValueError, match="precision"):
        runtime.session(name, precision="fp16")
    monkeypatch.setattr(runtime, "device_name", lambda: "CUDA")
    assert runtime.served_precision(name) == "float"


def test_a_damaged_int8_twin_is_caught(tmp_path, monkeypatch):
    copy = tmp_path / "pretrained"
    shutil.copytree(runtime.PRETRAINED_DIR, copy)
    monkeypatch.setattr(runtime, "PRETRAINED_DIR", copy)
    name = INT8_SHIPPED[0]
    path = copy / runtime.model_info(name)["int8"]["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(runtime.ModelError, match="python -m engine quantize"):
        runtime.session(name)
    assert runtime.session(name, precision="float") is not None


@pytest.mark.slow
@pytest.mark.parametrize("name", INT8_SHIPPED)
def test_each_int8_twin_keeps_its_tasks_held_out_figures_within_tolerance(name):
    from engine.builds import INT8_RECIPES

    recipe = INT8_RECIPES[name]
    entry = runtime.model_info(name)
    before, after = recipe.quality(runtime.model_bytes(entry)), recipe.quality(runtime.model_bytes(entry["int8"]))
    assert before.keys() == after.keys() and before
    for figure in before:
        assert after[figure] >= before[figure] - recipe.tolerance, figure


def test_quantize_makes_a_twin_that_serves_and_keeps_the_finest_convolutions_in_float():
    from engine.core.quantize import finest_convs, quantize_int8

    torch.manual_seed(0)
    model = _Wrap(nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, stride=2, padding=1),
                                nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1)))
    data = _plain_export(_Served(model), torch.rand(2, 3, 16, 16))
    keep = finest_convs(data)
    assert len(keep) == 1                                  # the first convolution, at the input's resolution
    rng = np.random.default_rng(0)
    twin = quantize_int8(data, [{"input": rng.random((4, 3, 16, 16), dtype=np.float32)} for _ in range(4)],
                         nodes_to_exclude=keep)
    graph = onnx.load_from_string(twin).graph
    dequantized = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    weights = {n.name: n.input[1] for n in graph.node if n.op_type == "Conv"}
    assert weights[keep[0]] not in dequantized                    # float weights
    assert sum(w in dequantized for w in weights.values()) == 2   # the two others in int8
    assert largest_difference(data, twin) < 0.1                   # int8: close, not equal
    with pytest.raises(ValueError, match="calibration"):
        quantize_int8(data, [])


def test_pca_graphs_fold_their_affine_steps_into_gemm_exactly():
    from engine.core.graphs import fold_into_gemm
    from engine.nn.export import pca_to_onnx

    rng = np.random.default_rng(0)
    mean, components = rng.random(784, dtype=np.float32), np.linalg.qr(rng.standard_normal((784, 16)))[0].T
    for code_only in (False, True):
        data = pca_to_onnx(mean, components.astype(np.float32), (1, 28, 28), code_only=code_only)
        ops = [n.op_type for n in onnx.load_from_string(data).graph.node]
        assert "Sub" not in ops and "MatMul" not in ops and ops.count("Gemm") == (1 if code_only else 2)
        x = rng.random((5, 1, 28, 28), dtype=np.float32)
        code = (x.reshape(5, -1) - mean) @ components.T
        want = code if code_only else np.clip(code @ components + mean, 0, 1).reshape(5, 1, 28, 28)
        assert np.abs(runtime.new_session(data).run(None, {"input": x})[0] - want).max() < 1e-4
    # a MatMul whose input may not be 2-D is left alone (Gemm takes matrices only)
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Sub", ["x", "m"], ["c"]), onnx.helper.make_node("MatMul", ["c", "w"], ["y"])], "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["n", 3, 4])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["n", 3, 2])],
        [onnx.numpy_helper.from_array(np.ones((1, 4), np.float32), "m"),
         onnx.numpy_helper.from_array(np.ones((4, 2), np.float32), "w")])
    assert fold_into_gemm(onnx.helper.make_model(graph)) == 0
