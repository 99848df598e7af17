"""Facts about an ONNX graph that the benchmark reports: the arithmetic it does per item.

`flops_per_item` runs the graph once on a batch of two random items with every intermediate
value exposed, and counts the multiply-adds (2 FLOPs each) of the operators that carry nearly
all the work: Conv, ConvTranspose, Gemm, MatMul and LSTM. A convolution counts its nonzero
weights only, so that a rewrite which pads kernels with zeros (`phase_decompose`) reports the
arithmetic the model needs, not the padding. Element-wise operators are left out; they are
memory-bound and a rounding error in FLOPs.

`phase_decompose` rewrites the character decoders' upsampling and `fold_into_gemm` the PCA
graphs' affine steps for onnxruntime's CPU kernels; the exporter applies both
(`rewrite_for_cpu`), and `python -m engine optimize` applies them to shipped files."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["flops_per_item", "phase_decompose", "fold_into_gemm", "rewrite_for_cpu", "random_feed", "largest_difference",
           "HEAVY_OPERATORS"]

HEAVY_OPERATORS = ("Conv", "ConvTranspose", "Gemm", "MatMul", "LSTM")
_BATCH = 2


def _node_flops(op: str, attrs: dict, shapes: list[tuple | None], out: tuple, nonzero: int | None) -> int:
    if op == "Conv":            # out (N, Co, *S); weight (Co, Ci/g, *k): each weight once per output position
        return 2 * out[0] * math.prod(out[2:]) * (nonzero if nonzero is not None else math.prod(shapes[1]))
    if op == "ConvTranspose":   # in (N, Ci, *S); weight (Ci, Co/g, *k): each weight once per input position
        return 2 * shapes[0][0] * math.prod(shapes[0][2:]) * (nonzero if nonzero is not None else math.prod(shapes[1]))
    if op == "Gemm":            # out (M, N); K from A (transposed when transA)
        k = shapes[0][0] if attrs.get("transA", 0) else shapes[0][-1]
        return 2 * math.prod(out) * k
    if op == "MatMul":
        return 2 * math.prod(out) * shapes[0][-1]
    if op == "LSTM":            # X (T, N, I) with layout 0; W (D, 4H, I); R (D, 4H, H)
        if attrs.get("layout", 0):
            n, t = shapes[0][0], shapes[0][1]
        else:
            t, n = shapes[0][0], shapes[0][1]
        d, four_h, i = shapes[1]
        return 2 * t * n * d * four_h * (i + shapes[2][2])
    return 0


def flops_per_item(model: bytes, shapes: list[tuple[int, ...]] | None = None) -> int:
    """FLOPs of one item through the graph in `model` (ONNX bytes), each input shaped
    `shapes[i]` without the batch axis (default: the graph's own sizes, 64 where dynamic)."""
    import onnx
    from onnx import helper, numpy_helper

    from engine.core.runtime import new_session

    proto = onnx.load_from_string(model)
    graph = proto.graph
    initial = {i.name: tuple(i.dims) for i in graph.initializer}
    nonzero = {i.name: int(np.count_nonzero(numpy_helper.to_array(i))) for i in graph.initializer}
    heavy = [n for n in graph.node if n.op_type in HEAVY_OPERATORS]
    wanted = {name for n in heavy for name in [*n.input, n.output[0]] if name and name not in initial}
    present = {o.name for o in graph.output}
    graph.output.extend(helper.make_empty_tensor_value_info(name) for name in sorted(wanted - present))
    graph.ClearField("value_info")
    session = new_session(proto.SerializeToString(), disable_optimizations=True)
    feed = random_feed(session, _BATCH, shapes)
    names = [o.name for o in session.get_outputs()]
    values = dict(zip(names, session.run(names, feed)))
    seen = {**initial, **{k: v.shape for k, v in values.items()}, **{k: v.shape for k, v in feed.items()}}
    total = 0
    for n in heavy:
        weight = n.input[1] if len(n.input) > 1 else ""
        total += _node_flops(n.op_type, _attributes(n), [seen.get(i) for i in n.input], seen[n.output[0]],
                             nonzero.get(weight))
    return total // _BATCH


# -- Rewrites that serve the CPU better, exact up to float rounding ------------------------------------------------

def _attributes(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _phase_taps(kernel: int, pad: int, phase: int) -> list[tuple[int, int]]:
    """(input offset, kernel tap) pairs that reach output phase `phase` of a stride-2 transposed
    convolution: output 2q + phase takes input q + offset through that tap."""
    taps = []
    for t in range(-kernel, kernel + 1):
        tap = 2 * t + (phase + pad) % 2
        if 0 <= tap < kernel:
            taps.append(((phase + pad) // 2 - t, tap))
    return taps


def _doubling_transposed_conv(node, weights: dict) -> bool:
    """A stride-2 ConvTranspose that exactly doubles height and width (kernel - 2 pad = 2)."""
    a = _attributes(node)
    if node.input[1] not in weights or (len(node.input) > 2 and node.input[2] not in weights):
        return False
    shape = weights[node.input[1]].shape
    pads = a.get("pads", [0, 0, 0, 0])
    return (len(shape) == 4 and shape[2] == shape[3] and a.get("strides") == [2, 2] and len(set(pads)) == 1
            and shape[2] - 2 * pads[0] == 2 and a.get("group", 1) == 1 and a.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET")
            and not any(a.get("output_padding", [0, 0])) and all(d == 1 for d in a.get("dilations", [1, 1])))


def _same_conv(node, weights: dict) -> bool:
    """A stride-1 Conv with an odd square kernel and 'same' zero padding."""
    a = _attributes(node)
    if node.input[1] not in weights or (len(node.input) > 2 and node.input[2] not in weights):
        return False
    shape = weights[node.input[1]].shape
    half = shape[2] // 2 if len(shape) == 4 else -1
    return (len(shape) == 4 and shape[2] == shape[3] and shape[2] % 2 == 1 and a.get("group", 1) == 1
            and a.get("strides", [1, 1]) == [1, 1] and a.get("pads", [0, 0, 0, 0]) == [half] * 4
            and a.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET") and all(d == 1 for d in a.get("dilations", [1, 1])))


def _phase_convolutions(node, weights: dict, prefix: str) -> tuple[list, list, str]:
    """The transposed convolution as four ordinary convolutions, one per output phase, each with
    only the kernel taps that reach it, concatenated phase-major: (nodes, initializers, output)."""
    from onnx import helper, numpy_helper

    w = weights[node.input[1]]                                   # (C_in, C_out, k, k)
    c_out, k = w.shape[1], w.shape[2]
    pad = _attributes(node).get("pads", [0])[0]
    bias = weights[node.input[2]] if len(node.input) > 2 else np.zeros(c_out, np.float32)
    taps = [_phase_taps(k, pad, r) for r in (0, 1)]
    nodes, inits, phases = [], [], []
    for ry in (0, 1):
        for rx in (0, 1):
            y0, y1 = min(d for d, _ in taps[ry]), max(d for d, _ in taps[ry])
            x0, x1 = min(d for d, _ in taps[rx]), max(d for d, _ in taps[rx])
            kernel = np.zeros((c_out, w.shape[0], y1 - y0 + 1, x1 - x0 + 1), np.float32)
            for dy, ty in taps[ry]:
                for dx, tx in taps[rx]:
                    kernel[:, :, dy - y0, dx - x0] = w[:, :, ty, tx].T
            name = f"{prefix}_phase{ry}{rx}"
            inits += [numpy_helper.from_array(kernel, name + "_w"), numpy_helper.from_array(bias.astype(np.float32), name + "_b")]
            nodes.append(helper.make_node("Conv", [node.input[0], name + "_w", name + "_b"], [name],
                                          kernel_shape=list(kernel.shape[2:]), pads=[-y0, -x0, y1, x1]))
            phases.append(name)
    nodes.append(helper.make_node("Concat", phases, [prefix + "_phases"], axis=1))
    return nodes, inits, prefix + "_phases"


def _conv_on_phases(conv, weights: dict, source: str, prefix: str) -> tuple[list, list]:
    """A 'same' convolution of a doubled image computed on its four phases (phase-major channels):
    one convolution from 4 C_in to 4 C_out channels at the lower resolution, then DepthToSpace."""
    from onnx import helper, numpy_helper

    w = weights[conv.input[1]]                                   # (C_out, C_in, K, K)
    c_out, c_in, k = w.shape[0], w.shape[1], w.shape[2]
    half = k // 2
    bias = weights[conv.input[2]] if len(conv.input) > 2 else np.zeros(c_out, np.float32)
    lo = min((r + d) // 2 for r in (0, 1) for d in range(-half, half + 1))
    hi = max((r + d) // 2 for r in (0, 1) for d in range(-half, half + 1))
    kernel = np.zeros((4 * c_out, 4 * c_in, hi - lo + 1, hi - lo + 1), np.float32)
    for ry in (0, 1):
        for rx in (0, 1):
            out = slice((2 * ry + rx) * c_out, (2 * ry + rx + 1) * c_out)
            for dy in range(-half, half + 1):
                for dx in range(-half, half + 1):
                    qy, qx = (ry + dy) % 2, (rx + dx) % 2                 # the phase the tap reads
                    src = slice((2 * qy + qx) * c_in, (2 * qy + qx + 1) * c_in)
                    kernel[out, src, (ry + dy) // 2 - lo, (rx + dx) // 2 - lo] += w[:, :, dy + half, dx + half]
    inits = [numpy_helper.from_array(kernel, prefix + "_w"),
             numpy_helper.from_array(np.tile(bias, 4).astype(np.float32), prefix + "_b")]
    nodes = [helper.make_node("Conv", [source, prefix + "_w", prefix + "_b"], [prefix], kernel_shape=[hi - lo + 1] * 2,
                              pads=[-lo, -lo, hi, hi]),
             helper.make_node("DepthToSpace", [prefix], [conv.output[0]], blocksize=2, mode="DCR")]
    return nodes, inits


def phase_decompose(proto) -> int:
    """Rewrite, in place, each chain ConvTranspose(stride 2, doubling) -> Relu -> Conv(same) of
    an ONNX model so that all three run at the lower resolution, on the four output phases
    of the transposed convolution (sub-pixel convolution), with one DepthToSpace at the end.

    The transposed convolution becomes four small convolutions with only the taps that reach
    each phase (no multiplications by inserted zeros, no scatter-add), and the full-resolution
    image between them is never interleaved in memory. onnxruntime's CPU convolutions are far
    faster than its ConvTranspose, which is why the character decoders gain about a quarter.
    The result equals the original up to float rounding. Returns the number of chains rewritten."""
    from onnx import numpy_helper

    graph = proto.graph
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    graph_outputs = {o.name for o in graph.output}
    replaced, removed = {}, set()
    for node in graph.node:
        if node.op_type != "ConvTranspose" or not _doubling_transposed_conv(node, weights):
            continue
        after = consumers.get(node.output[0], [])
        relu = after[0] if len(after) == 1 and after[0].op_type == "Relu" else None
        then = consumers.get(relu.output[0], []) if relu is not None else []
        conv = then[0] if len(then) == 1 and then[0].op_type == "Conv" else None
        if conv is None or not _same_conv(conv, weights) or {node.output[0], relu.output[0]} & graph_outputs:
            continue
        from onnx import helper

        prefix = f"{node.output[0]}_subpixel"
        nodes, inits, phases = _phase_convolutions(node, weights, prefix)
        nodes.append(helper.make_node("Relu", [phases], [phases + "_relu"]))
        tail, tail_inits = _conv_on_phases(conv, weights, phases + "_relu", prefix + "_conv")
        graph.initializer.extend(inits + tail_inits)
        replaced[id(node)] = nodes + tail
        removed.update({id(relu), id(conv)})
    if not replaced:
        return 0
    nodes = [new for node in graph.node if id(node) not in removed for new in replaced.get(id(node), [node])]
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return len(replaced)


def random_feed(session, batch: int, shapes: list[tuple[int, ...]] | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Uniform [0, 1) inputs for an onnxruntime session: each input shaped (batch, *shapes[i]),
    by default its own sizes with 64 where a size is dynamic (a photo's height and width)."""
    rng = np.random.default_rng(seed)
    inputs = session.get_inputs()
    if shapes is None:
        shapes = [tuple(d if isinstance(d, int) else 64 for d in i.shape[1:]) for i in inputs]
    return {i.name: rng.random((batch, *s), dtype=np.float32) for i, s in zip(inputs, shapes)}


def largest_difference(a: bytes, b: bytes, batch: int = 3) -> float:
    """The largest absolute difference between two ONNX graphs' outputs on the same random inputs."""
    from engine.core.runtime import new_session

    first, second = (new_session(m) for m in (a, b))
    feed = random_feed(first, batch)
    return max(float(np.abs(x - y).max()) for x, y in zip(first.run(None, feed), second.run(None, feed)))


def _is_matrix(name: str, producers: dict, weights: dict, graph_inputs: dict) -> bool:
    """Whether a value is known to be 2-D: a rank-2 graph input, a Reshape to two sizes, or the
    output of a Gemm."""
    if name in graph_inputs:
        return graph_inputs[name] == 2
    node = producers.get(name)
    if node is None:
        return False
    if node.op_type == "Gemm":
        return True
    return node.op_type == "Reshape" and node.input[1] in weights and weights[node.input[1]].size == 2


def fold_into_gemm(proto) -> int:
    """Rewrite, in place, the affine steps of PCA-like graphs into single Gemm nodes: a centring
    Sub(x, mean) feeding MatMul(., W) becomes Gemm(x, W, -mean W), and MatMul(x, W) followed
    by Add(., b) becomes Gemm(x, W, b). One pass over the data instead of two, and onnxruntime
    adds the bias inside its matrix product. Only where x is known to be 2-D and the constants
    are initializers. Returns the number of nodes folded."""
    from onnx import helper, numpy_helper

    graph = proto.graph
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    graph_inputs = {i.name: len(i.type.tensor_type.shape.dim) for i in graph.input}
    outputs = {o.name for o in graph.output}
    folded = 0
    changed = True
    while changed:                   # one fold may make another possible (a Gemm's output is 2-D)
        changed = False
        producers = {o: n for n in graph.node for o in n.output}
        consumers: dict[str, list] = {}
        for node in graph.node:
            for name in node.input:
                consumers.setdefault(name, []).append(node)
        for node in graph.node:
            if node.op_type != "MatMul" or node.input[1] not in weights or weights[node.input[1]].ndim != 2:
                continue
            w = weights[node.input[1]]
            source = producers.get(node.input[0])
            after = consumers.get(node.output[0], [])
            if (source is not None and source.op_type == "Sub" and source.input[1] in weights
                    and weights[source.input[1]].size == w.shape[0] and len(consumers[source.output[0]]) == 1
                    and source.output[0] not in outputs and _is_matrix(source.input[0], producers, weights, graph_inputs)):
                bias = -(weights[source.input[1]].reshape(1, -1) @ w).reshape(-1)       # x W - mean W
                new = helper.make_node("Gemm", [source.input[0], node.input[1], node.output[0] + "_bias"], [node.output[0]])
                drop = source
            elif (len(after) == 1 and after[0].op_type == "Add" and after[0].input[1] in weights
                  and weights[after[0].input[1]].size == w.shape[1] and node.output[0] not in outputs
                  and _is_matrix(node.input[0], producers, weights, graph_inputs)):
                bias = weights[after[0].input[1]].reshape(-1)
                new = helper.make_node("Gemm", [node.input[0], node.input[1], after[0].output[0] + "_bias"],
                                       [after[0].output[0]])
                drop = after[0]
            else:
                continue
            graph.initializer.append(numpy_helper.from_array(bias.astype(np.float32), new.input[2]))
            nodes = [new if n is node else n for n in graph.node if n is not drop]
            del graph.node[:]
            graph.node.extend(nodes)
            weights[new.input[2]] = bias
            folded += 1
            changed = True
            break
    used = {name for node in graph.node for name in node.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return folded


def rewrite_for_cpu(proto) -> int:
    """Every rewrite above, in place; the number of changes."""
    return phase_decompose(proto) + fold_into_gemm(proto)
