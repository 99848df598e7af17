"""PyTorch -> one self-contained ONNX file, with metadata and a parity check against torch."""
from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from engine.core.graphs import rewrite_for_cpu
from engine.core.runtime import atomic_write_bytes

# torch's exporter warns on every export that torchvision's operators cannot be registered; we use
# none of them, so the four lines per model only bury what the build prints.
logging.getLogger("torch.onnx._internal.exporter._registration").addFilter(
    lambda record: "torchvision is not installed" not in record.getMessage())


class ParityError(RuntimeError):
    """onnxruntime's output differs from torch's beyond tolerance."""


class _Serving(nn.Module):
    """Exposes named outputs of a model's forward (a dict) as the graph's outputs, in order."""

    def __init__(self, model: nn.Module, outputs: tuple[str, ...]):
        super().__init__()
        self.model, self.outputs = model, outputs

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        named = self.model(*inputs)
        return tuple(named[name] for name in self.outputs)


def export_onnx(model: nn.Module, path: Path | None, *, example: torch.Tensor | tuple[torch.Tensor, ...],
                output: str | tuple[str, ...] = "reconstruction", input_names: tuple[str, ...] = ("input",),
                spatial_multiple: int | None = None, metadata: dict | None = None,
                parity_inputs: list | None = None, tolerance: float = 1e-4) -> bytes:
    """Export `model` (the named `output`s of its forward) to `path` as one ONNX file with a
    dynamic batch axis on every input, and dynamic height and width of the first input
    (multiples of `spatial_multiple`) when that is given. One output keeps the name "output";
    several keep their own names. Checks onnxruntime against torch on `parity_inputs` (arrays,
    or tuples of arrays for several inputs) before the file is written. Returns the bytes
    (with `path` None, nothing is written: a model kept in memory). Upsampling chains and
    affine steps are rewritten for the CPU (`engine.core.graphs.rewrite_for_cpu`) before the
    parity check."""
    model = model.eval().to("cpu")
    outputs = (output,) if isinstance(output, str) else tuple(output)
    examples = (example,) if isinstance(example, torch.Tensor) else tuple(example)
    if len(examples) != len(input_names):
        raise ValueError(f"{len(examples)} example inputs for {len(input_names)} input names")
    serving = _Serving(model, outputs)
    if examples[0].shape[0] < 2:
        raise ValueError("export with a batch of at least 2, or the batch axis is fixed")
    batch = torch.export.Dim("batch")
    dims = [{0: batch} for _ in examples]
    if spatial_multiple:
        dims[0][2] = spatial_multiple * torch.export.Dim("h_blocks")
        dims[0][3] = spatial_multiple * torch.export.Dim("w_blocks")
    output_names = ["output"] if len(outputs) == 1 else list(outputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(serving, examples, dynamo=True, input_names=list(input_names),
                                    output_names=output_names, dynamic_shapes=(tuple(dims),),
                                    external_data=False, verbose=False)
    proto = program.model_proto
    rewrite_for_cpu(proto)        # the forms onnxruntime's CPU kernels run fastest; parity below checks them
    finish_model(proto, metadata)
    data = proto.SerializeToString()
    check_parity(serving, data, parity_inputs or [tuple(e.numpy() for e in examples)], tolerance)
    if path is not None:
        atomic_write_bytes(path, data)
    return data


def finish_model(proto: onnx.ModelProto, metadata: dict | None) -> None:
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


def check_parity(module: nn.Module, onnx_bytes: bytes, inputs: list, tolerance: float) -> float:
    """Largest absolute difference between torch and onnxruntime over `inputs` (each an array,
    or a tuple of arrays for a model with several inputs), over every output."""
    from engine.core.runtime import new_session

    session = new_session(onnx_bytes)
    names = [i.name for i in session.get_inputs()]
    worst = 0.0
    with torch.no_grad():
        for x in inputs:
            arrays = [np.ascontiguousarray(a, dtype=np.float32) for a in (x if isinstance(x, tuple) else (x,))]
            expected = module(*(torch.from_numpy(a) for a in arrays))
            got = session.run(None, dict(zip(names, arrays)))
            for want, have in zip(expected, got):
                if have.shape != tuple(want.shape):
                    raise ParityError(f"shape {have.shape} != torch's {tuple(want.shape)} for input "
                                      f"{[a.shape for a in arrays]}")
                worst = max(worst, float(np.abs(have - want.numpy()).max()))
    if worst > tolerance:
        raise ParityError(f"onnxruntime differs from torch by {worst:.2e} (> {tolerance:.0e})")
    return worst


def pca_to_onnx(mean: np.ndarray, components: np.ndarray, image_shape: tuple[int, ...],
                metadata: dict | None = None, code_only: bool = False) -> bytes:
    """PCA as a linear autoencoder in ONNX: code = (x - mean) W^T, x' = code W + mean,
    clipped to [0, 1]. Input and output (N, *image_shape), or with code_only the code (N, k)
    as output (an encoder, for search); no torch needed."""
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
    if code_only:
        nodes = nodes[:2] + [helper.make_node("MatMul", ["centred", "encoder"], ["output"])]
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
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", k] if code_only else batch_shape)],
        [i for i in inits if not code_only or i.name in ("flat_shape", "mean", "encoder")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="engine.export.pca_to_onnx")
    proto.ir_version = 8
    rewrite_for_cpu(proto)        # centring and projection folded into Gemm nodes
    finish_model(proto, metadata)
    return proto.SerializeToString()


def with_metadata(onnx_bytes: bytes, metadata: dict) -> bytes:
    """The same model with more metadata_props (for figures known only after export, such as
    a calibrated threshold)."""
    proto = onnx.load_from_string(onnx_bytes)
    finish_model(proto, metadata)
    return proto.SerializeToString()
