"""How the filling-in models and their PCA completion are built: `python -m engine train impute`."""
from __future__ import annotations

import numpy as np
import torch

from engine.core import datasets
from engine.core.runtime import atomic_write_bytes
from engine.nn.export import export_onnx
from engine.nn.recipes import BuildOptions, manifest_entry, write_model
from engine.nn.train import TrainConfig, fit

IMPUTE_STEPS = 3000
IMPUTE_TABLE_STEPS = 3000
IMPUTE_PCA_RANKS = (16, 32, 64, 128)
IMPUTE_PCA_MAX_ITERATIONS = 50


def impute_training_masks(rng: np.random.Generator, count: int) -> np.ndarray:
    """Missing-pixel masks (True = missing) for training the masking autoencoder: per image,
    random pixels (10-90% missing), random 7x7 blocks (10-60%) or one random rectangle, so all
    the page's kinds are in its experience."""
    from engine.tasks.impute.serve import random_mask, rectangle_mask

    masks = np.empty((count, 28, 28), dtype=bool)
    for i in range(count):
        pick, seed = rng.random(), int(rng.integers(2**31))
        if pick < 0.5:
            masks[i] = random_mask((28, 28), "pixels", float(rng.uniform(0.1, 0.9)), seed)
        elif pick < 0.8:
            masks[i] = random_mask((28, 28), "blocks", float(rng.uniform(0.1, 0.6)), seed)
        else:
            top, left = rng.integers(0, 24, size=2)
            height, width = rng.integers(4, 21, size=2)
            masks[i] = rectangle_mask((top, min(28, top + height)), (left, min(28, left + width)))
    return masks


def pca_completion_to_onnx(mean: np.ndarray, components: np.ndarray, iterations: int,
                           metadata: dict | None = None) -> bytes:
    """Mean filling and iterative PCA completion of 28x28 characters as one ONNX graph (no
    torch). Input (N, 2, 28, 28): channel 0 the character with missing pixels 0, channel 1 the
    mask (1 observed). Outputs "mean_fill" (missing pixels get the training mean) and
    "pca_fill": from the mean fill, `iterations` rounds of f <- m x + (1 - m) clip(mean +
    (f - mean) W^T W, 0, 1), unrolled."""
    from onnx import TensorProto, helper, numpy_helper

    from engine.nn.export import finish_model

    k, d = components.shape
    f32 = np.float32
    inits = [numpy_helper.from_array(np.array(v, dtype=dtype), name) for name, v, dtype in (
        ("flat_shape", [-1, d], np.int64), ("image_shape", [-1, 1, 28, 28], np.int64),
        ("zero_index", 0, np.int64), ("one_index", 1, np.int64), ("zero", 0, f32), ("one", 1, f32))]
    inits += [numpy_helper.from_array(mean.astype(f32).reshape(1, d), "mean"),
              numpy_helper.from_array(np.ascontiguousarray(components.T, dtype=f32), "encoder"),
              numpy_helper.from_array(np.ascontiguousarray(components, dtype=f32), "decoder")]
    nodes = [
        helper.make_node("Gather", ["input", "zero_index"], ["values_2d"], axis=1),      # (N, 28, 28)
        helper.make_node("Gather", ["input", "one_index"], ["observed_2d"], axis=1),
        helper.make_node("Reshape", ["values_2d", "flat_shape"], ["values"]),            # (N, 784)
        helper.make_node("Reshape", ["observed_2d", "flat_shape"], ["observed"]),
        helper.make_node("Sub", ["one", "observed"], ["missing"]),
        helper.make_node("Mul", ["observed", "values"], ["kept"]),
        helper.make_node("Mul", ["missing", "mean"], ["mean_part"]),
        helper.make_node("Add", ["kept", "mean_part"], ["fill_0"]),
        helper.make_node("Reshape", ["fill_0", "image_shape"], ["mean_fill"]),
    ]
    for t in range(iterations):
        nodes += [
            helper.make_node("Sub", [f"fill_{t}", "mean"], [f"centred_{t}"]),
            helper.make_node("MatMul", [f"centred_{t}", "encoder"], [f"code_{t}"]),         # (N, k)
            helper.make_node("MatMul", [f"code_{t}", "decoder"], [f"decoded_{t}"]),         # (N, 784)
            helper.make_node("Add", [f"decoded_{t}", "mean"], [f"restored_{t}"]),
            helper.make_node("Clip", [f"restored_{t}", "zero", "one"], [f"clipped_{t}"]),
            helper.make_node("Mul", ["missing", f"clipped_{t}"], [f"guess_{t}"]),
            helper.make_node("Add", ["kept", f"guess_{t}"], [f"fill_{t + 1}"]),
        ]
    nodes.append(helper.make_node("Reshape", [f"fill_{iterations}", "image_shape"], ["pca_fill"]))
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", 1, 28, 28])
               for n in ("mean_fill", "pca_fill")]
    graph = helper.make_graph(nodes, "pca_completion",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 2, 28, 28])],
                              outputs, inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="engine.builds.pca_completion_to_onnx")
    proto.ir_version = 8
    finish_model(proto, metadata)
    return proto.SerializeToString()


def _choose_image_pca(clean: np.ndarray, validation: np.ndarray, seed: int) -> tuple[object, int]:
    """The PCA (its rank) and the rounds of completion that fill validation characters best
    (mean error over 50% random pixels and 25% blocks missing): the baseline at its best."""
    from sklearn.decomposition import PCA

    from engine.tasks.impute.serve import hidden_rmse, random_mask

    flat, x = clean.reshape(len(clean), -1), validation.reshape(len(validation), -1)
    masks = [random_mask(validation.shape, kind, fraction, seed).reshape(x.shape)
             for kind, fraction in (("pixels", 0.5), ("blocks", 0.25))]
    best = (np.inf, None, 0)
    for rank in IMPUTE_PCA_RANKS:
        pca = PCA(n_components=rank, random_state=seed).fit(flat)
        errors = np.zeros(IMPUTE_PCA_MAX_ITERATIONS)
        for missing in masks:
            fill = np.where(missing, pca.mean_, x)
            for t in range(IMPUTE_PCA_MAX_ITERATIONS):
                restored = np.clip((fill - pca.mean_) @ pca.components_.T @ pca.components_ + pca.mean_, 0, 1)
                fill = np.where(missing, restored, x)
                errors[t] += hidden_rmse(x, fill, missing) / len(masks)
        if errors.min() < best[0]:
            best = (float(errors.min()), pca, int(np.argmin(errors)) + 1)
    return best[1], best[2]


def build_impute(opts: BuildOptions) -> dict[str, dict]:
    """The masking autoencoder for characters and its baselines (mean filling and PCA
    completion, one graph), and the masking autoencoder for the digits table."""
    from engine.tasks.impute.model import (
        MaskedCharAutoencoder,
        MaskedCharAutoencoderConfig,
        MaskedTableAutoencoder,
        MaskedTableAutoencoderConfig,
    )
    from engine.tasks.impute.serve import IMAGE_BASELINE, IMAGE_MODEL, load_table, model_input

    count = max(200, int(8000 * opts.scale))
    fonts = datasets.font_split(held_out=False)
    rendered, _ = datasets.render_characters(datasets.DIGITS + datasets.LETTERS, count, fonts=fonts, seed=opts.seed)
    handwritten, _ = datasets.handwritten_digits(held_out=False)
    clean = np.concatenate([rendered, handwritten, handwritten])   # handwritten twice: a rarer style
    data_note = (f"{len(clean)} characters: {count} digits and letters rendered from {len(fonts)} training "
                 "fonts with random distortions, and 1,497 scikit-learn handwritten digits (twice)")
    train_config = TrainConfig(steps=max(20, int(IMPUTE_STEPS * opts.scale)), batch_size=64, lr=2e-3,
                               seed=opts.seed, threads=1)

    def batch(step: int, rng: np.random.Generator):
        targets = clean[rng.integers(len(clean), size=train_config.batch_size)]
        return model_input(targets, impute_training_masks(rng, len(targets))), targets[:, None]

    model = MaskedCharAutoencoder(MaskedCharAutoencoderConfig())
    fit(model, batch, train_config, progress=opts.progress)
    rng = np.random.default_rng(opts.seed + 1)
    parity = [model_input(rng.random((n, 28, 28), dtype=np.float32), impute_training_masks(rng, n)) for n in (1, 2, 7)]
    layout = ("(N, 2, 28, 28) float32: channel 0 the character (light on dark, in [0, 1]) with missing "
              "pixels set to 0, channel 1 the mask, 1 where observed and 0 where missing")
    meta = {"task": "impute", "input": layout, "output": "(N, 1, 28, 28) observed pixels kept, missing ones filled",
            "preprocessing": "engine.prepare_character", "training_data": data_note,
            "masks": "random pixels 10-90%, random 7x7 blocks 10-60%, or one random rectangle",
            "config": model.config.__dict__}
    onnx_bytes = export_onnx(model, opts.out_dir / f"{IMAGE_MODEL}.onnx", example=torch.from_numpy(parity[1]),
                             output="filled", metadata=meta, parity_inputs=parity)
    entries = {IMAGE_MODEL: write_model(model, IMAGE_MODEL, onnx_bytes, manifest_entry(
        IMAGE_MODEL, onnx_bytes, task="impute", name="Masking denoising autoencoder (characters)",
        summary=("A convolutional autoencoder that reads a character with missing pixels and its mask "
                 "(a second channel) and fills in the missing pixels; observed ones are kept. Trained on "
                 f"{data_note}, with random masks."), training_data=data_note, input=layout), opts)}

    validation, _ = datasets.render_characters(datasets.DIGITS + datasets.LETTERS, max(100, int(1000 * opts.scale)),
                                               fonts=fonts, seed=opts.seed + 31)
    pca, rounds = _choose_image_pca(clean, validation, opts.seed)
    baseline_note = (f"PCA with {pca.n_components_} components fit on the same {len(clean)} characters; "
                     f"{rounds} rounds (rank and rounds chosen on {len(validation)} validation characters "
                     "of the training fonts)")
    baseline = pca_completion_to_onnx(pca.mean_, pca.components_, rounds, metadata={
        "task": "impute-baseline", "input": layout, "training_data": data_note, "rank": pca.n_components_,
        "iterations": rounds, "outputs": "mean_fill, pca_fill: (N, 1, 28, 28)"})
    atomic_write_bytes(opts.out_dir / f"{IMAGE_BASELINE}.onnx", baseline)
    entries[IMAGE_BASELINE] = manifest_entry(IMAGE_BASELINE, baseline, task="impute-baseline",
                                     name="Mean filling and PCA completion (characters)",
                                     summary=f"Missing pixels filled with the training mean, and by iterative "
                                             f"{baseline_note}.", training_data=data_note, input=layout)

    table = load_table("digits")
    rows = table.values[:table.training_rows]
    scale = rows.std(axis=0)
    table_model = MaskedTableAutoencoder(MaskedTableAutoencoderConfig(features=rows.shape[1]))
    with torch.no_grad():
        table_model.column_mean.copy_(torch.from_numpy(rows.mean(axis=0)))
        table_model.column_scale.copy_(torch.from_numpy(np.where(scale > 1e-6, scale, 1.0).astype(np.float32)))
    table_config = TrainConfig(steps=max(20, int(IMPUTE_TABLE_STEPS * opts.scale)), batch_size=128, lr=2e-3,
                               seed=opts.seed, threads=1)

    def table_batch(step: int, rng: np.random.Generator):
        values = rows[rng.integers(len(rows), size=table_config.batch_size)]
        missing = rng.random(values.shape) < rng.uniform(0.1, 0.9, size=(len(values), 1))
        return model_input(values, missing), values

    fit(table_model, table_batch, table_config, progress=opts.progress)
    table_note = f"the first {table.training_rows} rows of {table.title}"
    table_layout = ("(N, 2, 64) float32: row 0 the values (0 to 16) with missing entries set to 0, row 1 the "
                    "mask, 1 where observed and 0 where missing")
    parity = [model_input(table.values[:n], rng.random((n, rows.shape[1])) < 0.5) for n in (1, 2, 9)]
    table_bytes = export_onnx(table_model, opts.out_dir / f"{table.model}.onnx", example=torch.from_numpy(parity[1]),
                              output="filled", metadata={"task": "impute", "input": table_layout,
                                                         "output": "(N, 64) observed entries kept, missing ones filled",
                                                         "training_data": table_note,
                                                         "config": table_model.config.__dict__},
                              parity_inputs=parity)
    entries[table.model] = write_model(table_model, table.model, table_bytes, manifest_entry(
        table.model, table_bytes, task="impute", name="Masking denoising autoencoder (digits table)",
        summary=(f"An MLP autoencoder that reads a table row with missing entries and its mask and fills "
                 f"them in; trained on {table_note}, with 10-90% of each row hidden at random."),
        training_data=table_note, input=table_layout), opts)
    return entries


# `python -m engine train NAME`: the build steps of each target
TARGETS = {"impute": (build_impute,)}
