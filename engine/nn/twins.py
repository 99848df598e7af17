"""Eager torch twins of the shipped ONNX graphs: the same computation on the same weights, for
comparing onnxruntime with torch (`python -m engine bench`) on every shipped model.

A graph exported from a checkpoint gets the checkpoint's model wrapped as its build exported it
(`engine.nn.export._Serving` over the named outputs, around `VAEEncoder`/`VAEDecoder` for the
VAEs). A graph built without torch (the PCA baselines) gets a small interpreter of its nodes.
"""
from __future__ import annotations

import io

import onnx
import torch
from onnx import numpy_helper
from torch import nn

from engine.core import runtime
from engine.nn.checkpoints import from_checkpoint
from engine.nn.export import _Serving
from engine.tasks.generate.model import AAE, VAE, AAEEncoder, VAEDecoder, VAEEncoder

# The forward's outputs each graph serves, in the graph's order, as its task's build.py exported
# them: the graph keeps no record of which of the forward's outputs it was made from.
SERVED_OUTPUTS = {
    "anomaly_char": ("reconstruction",),
    "colorizer": ("ab", "base"),
    "denoiser_char": ("reconstruction",),
    "denoiser_photo": ("reconstruction",),
    "digit_classifier": ("probabilities",),
    "digit_judge_heldout": ("probabilities",),
    "embed_photo": ("code",),
    "fashion_judge": ("probabilities",),
    "impute_char": ("filled",),
    "impute_table_digits": ("filled",),
    "search_char": ("code",),
    "search_fashion": ("code",),
    "sequence_autoencoder": ("reconstruction",),
    "sequence_forecaster": ("forecast",),
}

_ELEMENTWISE = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "MatMul": torch.matmul}


class OnnxInterpreter(nn.Module):
    """Runs an ONNX graph's nodes in order with torch operations, its initializers as tensors.
    Knows only the operators of the PCA graphs: Add, Sub, Mul, MatMul, Gemm, Clip, Gather, Reshape."""

    known = (*_ELEMENTWISE, "Clip", "Gemm", "Gather", "Reshape")

    def __init__(self, proto: onnx.ModelProto):
        super().__init__()
        unknown = sorted({n.op_type for n in proto.graph.node} - set(self.known))
        if unknown:
            raise ValueError(f"no torch twin for the ONNX operators {', '.join(unknown)}; known: {', '.join(self.known)}")
        self.graph = proto.graph
        self.constants = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in proto.graph.initializer}

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        values = {**self.constants, **{i.name: x for i, x in zip(self.graph.input, inputs)}}
        for node in self.graph.node:
            args = [values[name] if name else None for name in node.input]   # "" is an omitted optional input
            values[node.output[0]] = self._run(node, args)
        return tuple(values[o.name] for o in self.graph.output)

    @staticmethod
    def _run(node: onnx.NodeProto, args: list[torch.Tensor | None]) -> torch.Tensor:
        if node.op_type in _ELEMENTWISE:
            return _ELEMENTWISE[node.op_type](*args)
        x = args[0]
        if node.op_type == "Clip":
            return torch.clamp(x, *args[1:])
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Gemm":
            a = x.T if attributes.get("transA", 0) else x
            b = args[1].T if attributes.get("transB", 0) else args[1]
            out = attributes.get("alpha", 1.0) * (a @ b)
            return out if len(args) < 3 or args[2] is None else out + attributes.get("beta", 1.0) * args[2]
        if node.op_type == "Gather":
            axis = attributes.get("axis", 0) % x.dim()
            return x[(slice(None),) * axis + (args[1],)]
        if attributes.get("allowzero", 0):
            raise ValueError("no torch twin for Reshape with allowzero")
        # ONNX's 0 keeps the input's size on that axis
        return x.reshape([x.shape[i] if s == 0 else s for i, s in enumerate(args[1].tolist())])


def torch_twin(name: str) -> nn.Module:
    """The eager torch module that computes what the shipped ONNX graph `name` computes, from the
    same weights: called with the graph's inputs as tensors in the graph's input order, it returns a
    tuple of tensors in the graph's output order.

    Parameters
    ----------
    name : str
        A shipped model (`engine.core.runtime.available_models()`).

    Returns
    -------
    torch.nn.Module
        In eval mode; the checkpoint or ONNX file it is made from is checked against the manifest.

    Raises
    ------
    ValueError
        When a graph without a checkpoint uses an operator the interpreter does not know, or a
        checkpoint's graph is not one this module knows how it was exported.
    """
    entry = runtime.model_info(name)
    if not ("torch_file" in entry or "checkpoint" in entry):
        return OnnxInterpreter(onnx.load_from_string(runtime.model_bytes(entry))).eval()
    model = from_checkpoint(torch.load(io.BytesIO(runtime.checkpoint_bytes(name)), weights_only=False))
    if isinstance(model, (VAE, AAE)):   # one checkpoint behind an encoder graph and a decoder graph
        if name.endswith("_encoder"):
            if isinstance(model, AAE):
                return _Serving(AAEEncoder(model), ("code",)).eval()
            return _Serving(VAEEncoder(model), ("mean", "log_var")).eval()
        if name.endswith("_decoder"):
            return _Serving(VAEDecoder(model), ("image",)).eval()
    if name not in SERVED_OUTPUTS:
        raise ValueError(f"no torch twin for {name}: which outputs of {type(model).__name__} its graph serves is not known")
    return _Serving(model, SERVED_OUTPUTS[name]).eval()

