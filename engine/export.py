"""PyTorch -> one self-contained ONNX file, with metadata and a parity check against torch."""
from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn


class ParityError(RuntimeError):
    """onnxruntime's output differs from torch's beyond tolerance."""


class _Serving(nn.Module):
    """Exposes one named output of a model's forward as the graph's only output."""

    def __init__(self, model: nn.Module, output: str):
        super().__init__()
        self.model, self.output = model, output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[self.output]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename: a killed process never
    leaves a half-written file where a model is expected."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes files private; models are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_onnx(model: nn.Module, path: Path, *, example: torch.Tensor, output: str = "reconstruction",
                spatial_multiple: int | None = None, metadata: dict | None = None,
                parity_inputs: list[np.ndarray] | None = None, tolerance: float = 1e-4) -> bytes:
    """Export `model` (its forward's `output`) to `path` as one ONNX file with a dynamic batch
    axis, and dynamic height and width (multiples of `spatial_multiple`) when that is given.
    Checks onnxruntime against torch on `parity_inputs` before the file is written.
    Returns the file's bytes."""
    model = model.eval().to("cpu")
    serving = _Serving(model, output)
    if example.shape[0] < 2:
        raise ValueError("export with a batch of at least 2, or the batch axis is fixed")
    dims = {0: torch.export.Dim("batch")}
    if spatial_multiple:
        dims[2] = spatial_multiple * torch.export.Dim("h_blocks")
        dims[3] = spatial_multiple * torch.export.Dim("w_blocks")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(serving, (example,), dynamo=True, input_names=["input"],
                                    output_names=["output"], dynamic_shapes={"x": dims},
                                    external_data=False, verbose=False)
    proto = program.model_proto
    _finish(proto, metadata)
    data = proto.SerializeToString()
    check_parity(serving, data, parity_inputs or [example.numpy()], tolerance)
    atomic_write_bytes(path, data)
    return data


def _finish(proto: onnx.ModelProto, metadata: dict | None) -> None:
    """Set metadata_props (non-strings as JSON; a key given again replaces the old value) and
    validate the model."""
    metadata = metadata or {}
    kept = [p for p in proto.metadata_props if p.key not in metadata]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)
    onnx.checker.check_model(proto)


def check_parity(module: nn.Module, onnx_bytes: bytes, inputs: list[np.ndarray],
                 tolerance: float) -> float:
    """Largest absolute difference between torch and onnxruntime over `inputs`."""
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    worst = 0.0
    with torch.no_grad():
        for x in inputs:
            expected = module(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()
            got = session.run(None, {"input": x.astype(np.float32)})[0]
            if got.shape != expected.shape:
                raise ParityError(f"shape {got.shape} != torch's {expected.shape} for input {x.shape}")
            worst = max(worst, float(np.abs(got - expected).max()))
    if worst > tolerance:
        raise ParityError(f"onnxruntime differs from torch by {worst:.2e} (> {tolerance:.0e})")
    return worst


def pca_to_onnx(mean: np.ndarray, components: np.ndarray, image_shape: tuple[int, ...],
                metadata: dict | None = None) -> bytes:
    """PCA as a linear autoencoder in ONNX: code = (x - mean) W^T, x' = code W + mean,
    clipped to [0, 1]. Input and output (N, *image_shape); no torch needed."""
    from onnx import TensorProto, helper, numpy_helper

    k, d = components.shape
    batch_shape = ["batch", *image_shape]
    nodes = [
        helper.make_node("Reshape", ["input", "flat_shape"], ["flat"]),
        helper.make_node("Sub", ["flat", "mean"], ["centred"]),
        helper.make_node("MatMul", ["centred", "encoder"], ["code"]),                # (N, k)
        helper.make_node("MatMul", ["code", "decoder"], ["decoded"]),                # (N, d)
        helper.make_node("Add", ["decoded", "mean"], ["restored"]),
        helper.make_node("Clip", ["restored", "zero", "one"], ["clipped"]),
        helper.make_node("Reshape", ["clipped", "image_shape"], ["output"]),
    ]
    f32 = np.float32
    inits = [
        numpy_helper.from_array(np.array([-1, d], dtype=np.int64), "flat_shape"),
        numpy_helper.from_array(np.array([-1, *image_shape], dtype=np.int64), "image_shape"),
        numpy_helper.from_array(mean.astype(f32).reshape(1, d), "mean"),
        numpy_helper.from_array(np.ascontiguousarray(components.T, dtype=f32), "encoder"),
        numpy_helper.from_array(np.ascontiguousarray(components, dtype=f32), "decoder"),
        numpy_helper.from_array(np.array(0, dtype=f32), "zero"),
        numpy_helper.from_array(np.array(1, dtype=f32), "one"),
    ]
    graph = helper.make_graph(
        nodes, "pca", [helper.make_tensor_value_info("input", TensorProto.FLOAT, batch_shape)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, batch_shape)], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="engine.export.pca_to_onnx")
    proto.ir_version = 8
    _finish(proto, metadata)
    return proto.SerializeToString()


def with_metadata(onnx_bytes: bytes, metadata: dict) -> bytes:
    """The same model with more metadata_props (for figures known only after export, such as
    a calibrated threshold)."""
    proto = onnx.load_from_string(onnx_bytes)
    _finish(proto, metadata)
    return proto.SerializeToString()
