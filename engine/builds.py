"""Every shipped model's build, assembled from the tasks' recipes (engine/tasks/*/build.py):
`python -m engine train TARGET` builds in a staging folder and switches the shipped models to the
new files in one atomic rename of the manifest (see `staged`). Everything is seeded."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from engine.core import precomputed, runtime
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
BUILDS["precomputed"] = ()   # no models: `write_precomputed` after any build (see engine/__main__.py)
BUILDS["all"] = (*DENOISE["denoiser"], *ANOMALY["anomaly"], *SEARCH["search"], *GENERATE["vae"], *GENERATE["vae-fashion"],
                 *COLORIZE["colorizer"], *SEQUENCE["sequence"], *SEMISUPERVISED["semisupervised"],
                 *IMPUTE["impute"])

# The int8 twins tried by `python -m engine quantize` (the other models gain nothing from int8 on a CPU
# without VNNI, or lose quality: see the README's Serving section; the colorizer sees at most
# 512x512 pixels, whatever the photo's size, and its colour points want the float graph's precision).
INT8_RECIPES = {**DENOISE_INT8, **SEARCH_INT8}


STAGING_PREFIX = ".staging-"
# A new file waiting beside the one it replaces, under a name no manifest used before the switch.
SWITCHING = re.compile(r"^\.switch-(?P<token>[a-z0-9_]+)-(?P<name>.+)$")
FILE_FIELDS = ("file", "torch_file", "checkpoint")       # the fields of an entry (or its "int8") that name files
_LEFT_BEHIND = re.compile(r"^\..+\.(?:[a-z0-9_]{8}|switch)\.tmp$")   # temporaries of atomic writes and links


def _read_models(out_dir: Path) -> dict[str, dict]:
    """The manifest's entries as the file holds them now (runtime.load_manifest may keep a parse
    of an earlier version written within the same clock tick)."""
    path = Path(out_dir) / runtime.MANIFEST_NAME
    return json.loads(path.read_text())["models"] if path.is_file() else {}


def _write_models(out_dir: Path, models: dict[str, dict], precomputed_entries: dict[str, dict] | None = None) -> None:
    """Write the manifest's models (and its precomputed results, when given; else as they are)."""
    path = Path(out_dir) / runtime.MANIFEST_NAME
    sections = json.loads(path.read_text()) if path.is_file() else {}
    manifest = {"models": dict(sorted(models.items()))}
    if precomputed_entries is None:
        precomputed_entries = sections.get(precomputed.SECTION, {})
    if precomputed_entries:
        manifest[precomputed.SECTION] = dict(sorted(precomputed_entries.items()))
    runtime.atomic_write_bytes(Path(out_dir) / runtime.MANIFEST_NAME, (json.dumps(manifest, indent=2) + "\n").encode())


def update_manifest(out_dir: Path, entries: dict[str, dict]) -> None:
    """Add or replace manifest entries that name no new files (metrics, say)."""
    with _locked(Path(out_dir)):
        _write_models(out_dir, {**_read_models(out_dir), **entries})


def _files_of(entry: dict) -> set[str]:
    """The files a manifest entry names: its model, checkpoint and int8 twin."""
    files = {entry[field] for field in FILE_FIELDS if isinstance(entry.get(field), str)}
    for value in entry.values():
        if isinstance(value, dict):
            files |= _files_of(value)
    return files


def _renamed(entry: dict, names: dict[str, str]) -> dict:
    """A copy of `entry` naming names[f] wherever it named a file f of `names`."""
    return {key: (names.get(value, value) if key in FILE_FIELDS and isinstance(value, str)
                  else _renamed(value, names) if isinstance(value, dict) else value)
            for key, value in entry.items()}


@contextlib.contextmanager
def _locked(folder: Path, wait: bool = True) -> Iterator[bool]:
    """An exclusive lock on `folder` while the block runs (the system drops it when the process
    dies): True once held; False at once when `wait` is False and another holds it, or where
    there are no such locks (no fcntl: Windows). Builds lock the models' folder to tidy it and
    to switch, and each its own staging folder for its whole life, so that builds running side
    by side (one per core) tell a live staging folder from one left by a killed build."""
    try:
        import fcntl
    except ImportError:
        yield wait
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)          # and the lock with it


def _link_or_copy(source: Path, target: Path) -> None:
    """`target` made the same file as `source` in one rename (a hard link where the file system
    has them, else a copy), so that it is never half there."""
    temporary = target.with_name(f".{target.name}.switch.tmp")
    temporary.unlink(missing_ok=True)
    try:
        os.link(source, temporary)
    except OSError:
        shutil.copyfile(source, temporary)
        os.chmod(temporary, 0o644)
    os.replace(temporary, target)


def _settle(out_dir: Path) -> None:
    """Finish a switch: each new file the manifest names by its waiting name is linked under its
    usual name (the usual name is no entry's until the next step), the manifest names the usual
    names, and the waiting files go, with any that no manifest ever named."""
    models = _read_models(out_dir)
    usual = {}
    for name in set().union(*map(_files_of, models.values())):
        if (match := SWITCHING.match(name)) and (out_dir / name).is_file():
            _link_or_copy(out_dir / name, out_dir / match["name"])
            usual[name] = match["name"]
    if usual:
        models = {model: _renamed(entry, usual) for model, entry in models.items()}
        _write_models(out_dir, models)
    named = set().union(*map(_files_of, models.values()))
    for path in sorted(out_dir.iterdir()):
        if SWITCHING.match(path.name) and path.name not in named:
            path.unlink()


def tidy(out_dir: Path) -> None:
    """What builds killed part way left in `out_dir`: a switch the manifest made is finished, the
    new files of one it never made are removed, and so are the staging folders no live build
    holds and the temporaries of atomic writes. Run with `out_dir` locked, at the start of
    every build."""
    _settle(out_dir)
    for path in sorted(out_dir.iterdir()):
        if path.name.startswith(STAGING_PREFIX) and path.is_dir():
            with _locked(path, wait=False) as orphaned:
                if orphaned:
                    shutil.rmtree(path)
        elif _LEFT_BEHIND.match(path.name) and path.is_file():
            path.unlink()


def _switch(out_dir: Path, staging: Path, entries: dict[str, dict]) -> None:
    """The staged files into place and their entries into the manifest, so that at every moment
    the manifest names files that are there and match their checksums, all old or all new:
    the new files first wait beside the old ones under names no manifest has used, then one
    atomic rename of the manifest switches every entry to them, then `_settle` gives them their
    usual names."""
    token = staging.name.removeprefix(STAGING_PREFIX)
    named = set().union(*map(_files_of, entries.values()))
    staged_files = sorted(path.name for path in staging.iterdir())
    waiting = {name: f".switch-{token}-{name}" for name in staged_files if name in named}
    for name, waiting_name in waiting.items():
        os.replace(staging / name, out_dir / waiting_name)
    _write_models(out_dir, {**_read_models(out_dir),
                            **{model: _renamed(entry, waiting) for model, entry in entries.items()}})
    for name in staged_files:            # files no entry names are no model's: they move in as they are
        if name not in waiting:
            os.replace(staging / name, out_dir / name)
    _settle(out_dir)


@contextlib.contextmanager
def staged(out_dir: Path) -> Iterator[tuple[Path, dict[str, dict]]]:
    """A staging folder beside the shipped models, and the manifest entries to record. When the
    block ends without error the files and their entries switch in together (`_switch`); a
    block that fails, or a process killed anywhere, leaves the runtime a consistent set of
    models, old or new, and the next build first tidies up what was left (`tidy`). Builds may
    run side by side in one folder: each switches in turn."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as held:
        with _locked(out_dir):
            tidy(out_dir)
            staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir))
            held.enter_context(_locked(staging))      # ours from the start: no other build's tidy takes it
            held.callback(shutil.rmtree, staging, ignore_errors=True)     # at the end, still locked
        entries: dict[str, dict] = {}
        yield staging, entries
        with _locked(out_dir):
            _switch(out_dir, staging, entries)


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
        for name, entry in _read_models(out_dir).items():
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
    verdicts = {}
    with staged(out_dir) as (staging, entries):
        shipped = _read_models(out_dir)       # read after `staged` has tidied up
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


def write_precomputed(out_dir: Path | None = None, names: list[str] | None = None,
                      progress: Callable[[str], None] | None = None) -> dict[str, dict]:
    """Compute the precomputed results (engine.core.precomputed) of `names`, by default every
    store whose file in `out_dir` is missing, damaged or stale, write their files and record
    them in the manifest, one by one in the order they were registered (a store may use one
    before it). Their models are the shipped ones: run it after the models' build."""
    out_dir = Path(out_dir or runtime.PRETRAINED_DIR)
    stores = precomputed.register_all()
    wanted = set(precomputed.stale(out_dir, stores) if names is None else names)
    entries = {}
    for name in [n for n in stores if n in wanted]:
        if progress is not None:
            progress(name)
        data, entry = precomputed.payload(stores[name])
        path = out_dir / entry["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        runtime.atomic_write_bytes(path, data)
        entries[name] = {**entry, "bytes": len(data)}
        with _locked(out_dir):
            manifest = out_dir / runtime.MANIFEST_NAME
            current = json.loads(manifest.read_text()).get(precomputed.SECTION, {}) if manifest.is_file() else {}
            _write_models(out_dir, _read_models(out_dir), {**current, name: entries[name]})
        precomputed.forget()      # the next store reads this one from its file
    return entries
