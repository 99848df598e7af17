"""Every shipped model's build, assembled from the tasks' recipes (engine/tasks/*/build.py):
`python -m engine train TARGET` builds in a staging folder and moves the files into place with
their manifest entries. Everything is seeded."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from engine.core import runtime
from engine.nn.recipes import BuildOptions
from engine.tasks.anomaly.build import TARGETS as ANOMALY
from engine.tasks.colorize.build import TARGETS as COLORIZE
from engine.tasks.denoise.build import TARGETS as DENOISE
from engine.tasks.generate.build import TARGETS as GENERATE
from engine.tasks.impute.build import TARGETS as IMPUTE
from engine.tasks.search.build import TARGETS as SEARCH
from engine.tasks.semisupervised.build import TARGETS as SEMISUPERVISED
from engine.tasks.sequence.build import TARGETS as SEQUENCE

BuildStep = Callable[[BuildOptions], dict]
BUILDS: dict[str, tuple[BuildStep, ...]] = {
    **DENOISE, **ANOMALY, **SEARCH, **GENERATE, **COLORIZE, **SEQUENCE, **SEMISUPERVISED, **IMPUTE}
# In dependency order: the photo search encoder reuses the photo denoiser's weights.
BUILDS["all"] = (*DENOISE["denoiser"], *ANOMALY["anomaly"], *SEARCH["search"], *GENERATE["vae"],
                 *COLORIZE["colorizer"], *SEQUENCE["sequence"], *SEMISUPERVISED["semisupervised"],
                 *IMPUTE["impute"])


def update_manifest(out_dir: Path, entries: dict[str, dict]) -> None:
    manifest = {"models": dict(sorted({**runtime.load_manifest(out_dir)["models"], **entries}.items()))}
    runtime.atomic_write_bytes(Path(out_dir) / runtime.MANIFEST_NAME,
                               (json.dumps(manifest, indent=2) + "\n").encode())


def optimize_shipped(out_dir: Path | None = None, tolerance: float = 1e-4) -> dict[str, int]:
    """Apply the exporter's CPU rewrites (`engine.core.graphs.phase_decompose`) to shipped ONNX
    files exported before them, without retraining: each rewritten graph must match the old one
    within `tolerance` on random inputs, then the files move into place with their new
    checksums in one manifest update. Returns, per model, the chains rewritten (0: unchanged)."""
    import onnx

    from engine.core.graphs import largest_difference, phase_decompose

    out_dir = Path(out_dir or runtime.PRETRAINED_DIR)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    try:
        counts, entries = {}, {}
        for name, entry in runtime.load_manifest(out_dir)["models"].items():
            old = (out_dir / entry["file"]).read_bytes()
            if runtime.sha256_of(old) != entry["sha256"]:
                raise runtime.ModelError(f"{entry['file']} does not match its checksum; rebuild it with `{entry['command']}`")
            proto = onnx.load_from_string(old)
            counts[name] = phase_decompose(proto)
            if counts[name]:
                onnx.checker.check_model(proto)
                new = proto.SerializeToString()
                difference = largest_difference(old, new)
                if difference > tolerance:
                    raise ValueError(f"the rewritten {name} differs from the shipped graph by {difference:.1e}")
                runtime.atomic_write_bytes(staging / entry["file"], new)
                entries[name] = {**entry, "sha256": runtime.sha256_of(new)}
        for path in staging.iterdir():
            os.replace(path, out_dir / path.name)
        update_manifest(out_dir, entries)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return counts


def build(target: str, opts: BuildOptions, command: str) -> dict[str, dict]:
    """Build every model of `target` in a staging folder, then move the files into place and
    record them in the manifest: a build killed part way leaves the shipped models as they were."""
    opts.out_dir = Path(opts.out_dir)
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=opts.out_dir))
    try:
        entries: dict[str, dict] = {}
        for step in BUILDS[target]:
            for name, entry in step(dataclasses.replace(opts, out_dir=staging)).items():
                entries[name] = {**entry, "command": command}
        for path in staging.iterdir():
            os.replace(path, opts.out_dir / path.name)
        update_manifest(opts.out_dir, entries)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return entries
