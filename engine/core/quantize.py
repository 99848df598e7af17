"""int8 twins of served graphs, made with onnxruntime's own tools (`onnxruntime.quantization`),
and the rule that decides whether one ships: `python -m engine quantize`.

Static QDQ quantisation from calibration feeds: weights per output channel, activations scaled
from the ranges the feeds produce; onnxruntime fuses each DequantizeLinear -> Conv ->
QuantizeLinear into an integer QLinearConv when the session is made. The settings are those a
study of every shipped model on this project's AVX2 CPU without VNNI found best: unsigned
8-bit activations, signed 8-bit weights with the range reduced to 7 bits (AVX2's u8 x s8
instruction adds pairs of products in 16 bits and saturates on full-range weights), only Conv
quantised (onnxruntime has no integer ConvTranspose), and
where a recipe says so, the convolutions at the network's finest level kept in float: they
carry the fine detail that 8 bits blur (the photo denoiser loses 2 dB on a held-out photo
when they are quantised too).

A twin ships only where every one of its task's own held-out figures stays within the tolerance
of the float graph's and it is faster on this machine (`Int8Recipe`, `judge`); on a GPU the
float graph serves (engine.core.runtime.served_precision). The study found no gain for the
character models (most of their time is ConvTranspose) and none that holds at batch 1 for
the digit classifier, so only the photo models have recipes."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Int8Recipe", "feeds_of", "finest_convs", "judge", "quantize_int8"]

MIN_SPEEDUP = 1.05       # below this a twin is not worth a second file (timings on a shared machine)


@dataclass
class Int8Recipe:
    """How one shipped model's int8 twin is made and judged.

    calibrate: real inputs from the model's training sources (never held-out data), as feeds;
    quality: the task's held-out figures (higher is better) for a graph given as ONNX bytes,
    through the task code; each must stay within `tolerance` of the float graph's;
    timing_shape: the input the speed is judged on (a photo as the page serves it);
    keep_finest: leave the convolutions at the network's finest resolution in float."""
    calibrate: Callable[[], list[dict[str, np.ndarray]]]
    quality: Callable[[bytes], dict[str, float]]
    tolerance: float
    timing_shape: tuple[int, ...]
    keep_finest: bool = True


def feeds_of(images: np.ndarray, batch: int) -> list[dict[str, np.ndarray]]:
    """Calibration feeds of a one-input graph (its input named "input"): `images` in batches."""
    return [{"input": images[i:i + batch]} for i in range(0, len(images), batch)]


class _Feeds:
    """A CalibrationDataReader over a list of feeds."""

    def __init__(self, feeds: Sequence[dict[str, np.ndarray]]):
        self._feeds = [{k: np.ascontiguousarray(v, dtype=np.float32) for k, v in f.items()} for f in feeds]
        self._next = iter(self._feeds)

    def get_next(self):
        return next(self._next, None)

    def rewind(self) -> None:
        self._next = iter(self._feeds)


def finest_convs(onnx_bytes: bytes) -> list[str]:
    """Names of the Conv nodes at the finest resolution any Conv of the graph works at (on a
    64 x 64 input): the first and last layers of an encoder-decoder."""
    import onnx
    from onnx import helper

    from engine.core.graphs import random_feed
    from engine.core.runtime import new_session

    proto = onnx.load_from_string(onnx_bytes)
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    proto.graph.output.extend(helper.make_empty_tensor_value_info(n.output[0]) for n in convs)
    session = new_session(proto.SerializeToString())
    feed = random_feed(session, 1)
    heights = [out.shape[2] for out in session.run([n.output[0] for n in convs], feed)]
    return [n.name for n, h in zip(convs, heights) if h == max(heights)]


def quantize_int8(onnx_bytes: bytes, calibration: Sequence[dict[str, np.ndarray]], *,
                  op_types: Sequence[str] = ("Conv",), nodes_to_exclude: Sequence[str] = (),
                  per_channel: bool = True, reduce_range: bool = True) -> bytes:
    """The static QDQ int8 twin of a float graph (ONNX bytes), calibrated on `calibration`
    feeds, with the float graph's metadata.

    The quantiser runs in a child process: its calibration opens onnxruntime sessions with
    options of its own, which onnxruntime refuses in a process whose sessions share one
    thread pool (engine.core.runtime)."""
    import onnx

    if not calibration:
        raise ValueError("static quantisation needs calibration inputs")
    folder = Path(tempfile.mkdtemp(prefix="quantize-"))
    try:
        (folder / "float.onnx").write_bytes(onnx_bytes)
        np.savez(folder / "calibration.npz", **{f"{i}:{name}": value for i, feed in enumerate(calibration)
                                                 for name, value in feed.items()})
        settings = {"op_types": list(op_types), "nodes_to_exclude": list(nodes_to_exclude),
                    "per_channel": per_channel, "reduce_range": reduce_range}
        (folder / "settings.json").write_text(json.dumps(settings))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                            os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run([sys.executable, "-c", "import sys; from engine.core.quantize import _quantize_folder; "
                               "_quantize_folder(sys.argv[1])", str(folder)], capture_output=True, text=True, env=env)
        if done.returncode:
            raise RuntimeError(f"quantisation failed: {done.stderr.strip().splitlines()[-1:]}")
        result = onnx.load(str(folder / "int8.onnx"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    kept = {p.key for p in result.metadata_props}
    for prop in onnx.load_from_string(onnx_bytes).metadata_props:
        if prop.key not in kept:
            result.metadata_props.add(key=prop.key, value=prop.value)
    return result.SerializeToString()


def _quantize_folder(folder: str) -> None:
    """The child process of quantize_int8: float.onnx, calibration.npz, settings.json -> int8.onnx."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    class Reader(_Feeds, CalibrationDataReader):
        pass

    path = Path(folder)
    settings = json.loads((path / "settings.json").read_text())
    stored = np.load(path / "calibration.npz")
    feeds: dict[int, dict[str, np.ndarray]] = {}
    for key in stored.files:
        index, name = key.split(":", 1)
        feeds.setdefault(int(index), {})[name] = stored[key]
    source, prepared = path / "float.onnx", path / "prepared.onnx"
    try:    # shape inference and basic optimisation first; the photo graphs' dynamic sides defeat the symbolic kind
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    except Exception:  # the quantiser also works on the graph as exported
        prepared = source
    quantize_static(str(prepared), str(path / "int8.onnx"), Reader([feeds[i] for i in sorted(feeds)]),
                    quant_format=QuantFormat.QDQ, op_types_to_quantize=settings["op_types"],
                    per_channel=settings["per_channel"], reduce_range=settings["reduce_range"],
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=settings["nodes_to_exclude"] or None)


def judge(recipe: Int8Recipe, float_bytes: bytes, int8_bytes: bytes, repeats: int = 15) -> dict:
    """The task's figures for both graphs and their speed on the recipe's input, alternating
    runs: {"figures": {name: [float, int8]}, "worst", "tolerance", "quality_holds", "float_ms",
    "int8_ms", "speedup", "ships"}."""
    from engine.core.report import paired_medians
    from engine.core.runtime import new_session

    before, after = recipe.quality(float_bytes), recipe.quality(int8_bytes)
    worst = min(before, key=lambda k: after[k] - before[k])
    holds = all(after[k] >= before[k] - recipe.tolerance for k in before)
    sessions = [new_session(m) for m in (float_bytes, int8_bytes)]
    feed = {sessions[0].get_inputs()[0].name: np.random.default_rng(0).random(recipe.timing_shape, dtype=np.float32)}
    float_s, int8_s = paired_medians([lambda s=s: s.run(None, feed) for s in sessions], repeats)
    return {"figures": {k: [round(before[k], 4), round(after[k], 4)] for k in before}, "worst": worst,
            "tolerance": recipe.tolerance, "quality_holds": bool(holds),
            "float_ms": round(float_s * 1000, 2), "int8_ms": round(int8_s * 1000, 2),
            "speedup": round(float_s / int8_s, 2), "ships": bool(holds and float_s / int8_s >= MIN_SPEEDUP)}
