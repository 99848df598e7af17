"""Every shipped model's build, assembled from the tasks' recipes (engine/tasks/*/build.py):
`python -m engine train TARGET` builds in a staging folder and moves the files into place with
their manifest entries. Everything is seeded."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from engine.core import runtime
from engine.nn.recipes import BuildOptions
from engine.tasks.anomaly.build import TARGETS as ANOMALY
from engine.tasks.colorize.build import TARGETS as COLORIZE
from engine.tasks.denoise.build import INT8 as DENOISE_INT8, TARGETS as DENOISE
from engine.tasks.generate.build import TARGETS as GENERATE
from engine.tasks.impute.build import TARGETS as IMPUTE
from engine.tasks.search.build import INT8 as SEARCH_INT8, TARGETS as SEARCH
from engine.tasks.semisupervised.build import TARGETS as SEMISUPERVISED
from engine.tasks.sequence.build import TARGETS as SEQUENCE

BuildStep = Callable[[BuildOptions], dict]
BUILDS: dict[str, tuple[BuildStep, ...]] = {
    **DENOISE, **ANOMALY, **SEARCH, **GENERATE, **COLORIZE, **SEQUENCE, **SEMISUPERVISED, **IMPUTE}
# In dependency order: the photo search encoder reuses the photo denoiser's weights.
BUILDS["all"] = (*DENOISE["denoiser"], *ANOMALY["anomaly"], *SEARCH["search"], *GENERATE["vae"],
                 *COLORIZE["colorizer"], *SEQUENCE["sequence"], *SEMISUPERVISED["semisupervised"],
                 *IMPUTE["impute"])

# The int8 twins tried by `python -m engine quantize` (the other models gain nothing from int8 on a CPU
# without VNNI, or lose quality: see the README's Serving section; the colorizer sees at most
# 512x512 pixels, whatever the photo's size, and its colour points want the float graph's precision).
INT8_RECIPES = {**DENOISE_INT8, **SEARCH_INT8}


def update_manifest(out_dir: Path, entries: dict[str, dict]) -> None:
    manifest = {"models": dict(sorted({**runtime.load_manifest(out_dir)["models"], **entries}.items()))}
    runtime.atomic_write_bytes(Path(out_dir) / runtime.MANIFEST_NAME,
                               (json.dumps(manifest, indent=2) + "\n").encode())


@contextlib.contextmanager
def staged(out_dir: Path) -> Iterator[tuple[Path, dict[str, dict]]]:
    """A staging folder beside the shipped models, and the manifest entries to record. When the
    block ends without error its files move into place and the entries into the manifest
    together; a block that fails, or a process killed in it, leaves the shipped models as they
    were."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    entries: dict[str, dict] = {}
    try:
        yield staging, entries
        for path in staging.iterdir():
            os.replace(path, out_dir / path.name)
        update_manifest(out_dir, entries)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def optimize_shipped(out_dir: Path | None = None, tolerance: float = 1e-4) -> dict[str, int]:
    """Apply the exporter's CPU rewrites (`engine.core.graphs.rewrite_for_cpu`) to shipped ONNX
    files exported before them, without retraining: each rewritten graph must match the old one
    within `tolerance` on random inputs, then the files move into place with their new
    checksums in one manifest update. Returns, per model, the rewrites made (0: unchanged)."""
    import onnx

    from engine.core.graphs import largest_difference, rewrite_for_cpu

    out_dir = Path(out_dir or runtime.PRETRAINED_DIR)
    counts = {}
    with staged(out_dir) as (staging, entries):
        for name, entry in runtime.load_manifest(out_dir)["models"].items():
            old = runtime.model_bytes(entry, out_dir)
            proto = onnx.load_from_string(old)
            counts[name] = rewrite_for_cpu(proto)
            if counts[name]:
                onnx.checker.check_model(proto)
                new = proto.SerializeToString()
                difference = largest_difference(old, new)
                if difference > tolerance:
                    raise ValueError(f"the rewritten {name} differs from the shipped graph by {difference:.1e}")
                runtime.atomic_write_bytes(staging / entry["file"], new)
                entries[name] = {**entry, "sha256": runtime.sha256_of(new)}
    return counts


def quantize_shipped(out_dir: Path | None = None, models: list[str] | None = None,
                     progress: Callable[[str], None] = lambda _: None) -> dict[str, dict]:
    """Make the int8 twin of each model with a recipe (or only `models`), judge it against the
    float graph (every held-out figure within tolerance, faster on this machine) and ship it
    beside the float file where it passes; where it fails, the model serves in float. Files
    and manifest entries move into place together. Returns each model's judgement."""
    from engine.core.quantize import finest_convs, judge, quantize_int8

    out_dir = Path(out_dir or runtime.PRETRAINED_DIR)
    shipped, verdicts = runtime.load_manifest(out_dir)["models"], {}
    with staged(out_dir) as (staging, entries):
        for name in models or INT8_RECIPES:
            recipe, entry = INT8_RECIPES[name], shipped[name]
            source = runtime.model_bytes(entry, out_dir)
            progress(f"{name}: calibrating and quantising")
            keep = finest_convs(source) if recipe.keep_finest else []
            data = quantize_int8(source, recipe.calibrate(), nodes_to_exclude=keep)
            progress(f"{name}: judging against the float graph")
            verdicts[name] = verdict = judge(recipe, source, data)
            entry = {k: v for k, v in entry.items() if k != "int8"}
            if verdict["ships"]:
                file = Path(entry["file"]).with_suffix(".int8.onnx").name
                runtime.atomic_write_bytes(staging / file, data)
                entry["int8"] = {"file": file, "sha256": runtime.sha256_of(data), "command": "python -m engine quantize",
                                 "float_convolutions": keep, **verdict}
            entries[name] = entry
    return verdicts


def build(target: str, opts: BuildOptions, command: str) -> dict[str, dict]:
    """Build every model of `target` in a staging folder, then move the files into place and
    record them in the manifest: a build killed part way leaves the shipped models as they were."""
    opts.out_dir = Path(opts.out_dir)
    with staged(opts.out_dir) as (staging, entries):
        for step in BUILDS[target]:
            for name, entry in step(dataclasses.replace(opts, out_dir=staging)).items():
                entries[name] = {**entry, "command": command}
    return entries
