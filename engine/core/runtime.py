"""onnxruntime sessions and the registry of pretrained models (pretrained/manifest.json).

Sessions verify the manifest's sha256 before loading, prefer CUDA and fall back to the CPU,
and are cached.

Threads: the sessions share one thread pool, sized from the CPUs this process may use.

Memory: the sessions share one onnxruntime CPU memory arena, so a run reuses the buffers of
the runs before instead of asking the kernel for fresh, zeroed pages (a third of the time of a
batch of 256 characters went there). One arena for all, not one per session: what it holds
between runs is the largest single run's need, not the sum over every model a page used. A run
whose input is larger than KEEP_ELEMENTS (a whole photo, hundreds of photo tiles) shrinks the
arena back at its end, so that bound is set by small runs, whatever size of photo comes in.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path

import numpy as np

PRETRAINED_DIR = Path(__file__).resolve().parents[2] / "pretrained"
MANIFEST_NAME = "manifest.json"


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


class ModelError(RuntimeError):
    """A model is missing, fails its checksum, or cannot be loaded."""


def cpu_count() -> int:
    """CPUs this process may run on: a container's share, not the host's core count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


_manifests: dict[tuple, dict] = {}  # (path, mtime_ns, size) -> parsed manifest


def load_manifest(directory: Path | None = None) -> dict:
    """The manifest, parsed once per version of the file (every model call looks it up).
    Shared: treat it as read-only."""
    path = Path(directory or PRETRAINED_DIR) / MANIFEST_NAME
    if not path.is_file():
        return {"models": {}}
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _manifests:
        _manifests.clear()
        _manifests[key] = json.loads(path.read_text())
    return _manifests[key]


def available_models() -> dict[str, dict]:
    """Name -> manifest entry for every shipped model."""
    return dict(load_manifest()["models"])


def model_info(name: str) -> dict:
    try:
        return dict(available_models()[name])
    except KeyError:
        raise ModelError(f"No pretrained model named {name!r}. Rebuild pretrained models with "
                         "`python -m engine train all`.") from None


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _providers() -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def device_name() -> str:
    """'CUDA' when onnxruntime can use a GPU here, else 'CPU'."""
    return "CUDA" if "CUDAExecutionProvider" in _providers() else "CPU"


KEEP_ELEMENTS = 1 << 20     # input floats (4 MB) up to which a run's buffers stay for the next run


class Session:
    """An onnxruntime InferenceSession that shrinks its memory arena after large runs; every
    other attribute is the wrapped session's."""

    def __init__(self, inner, arena: bool):
        self._inner, self._arena = inner, arena

    def run(self, output_names, feed: dict, run_options=None):
        if self._arena and run_options is None and sum(np.size(v) for v in feed.values()) > KEEP_ELEMENTS:
            run_options = _shrink_options()
        return self._inner.run(output_names, feed, run_options)

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


@functools.cache
def _shrink_options():
    """Run options that return the shared CPU arena's memory at the end of the run (the CUDA
    provider's own arena is left as it is)."""
    import onnxruntime as ort

    options = ort.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options


_prepared: dict[str, bool] = {}
_prepare_lock = threading.Lock()


def _prepare_onnxruntime() -> dict[str, bool]:
    """Once per process, before its first session: one thread pool and one CPU memory arena
    for every session. With a pool per session (two threads each, two dozen models) a page
    that calls several models in turn had each model's threads still spinning on the CPUs the
    next one needed: a batch of 256 through a small encoder took twice as long in a stream of
    other models as alone. Returns which of the two this onnxruntime offers."""
    with _prepare_lock:              # two pages may open their first sessions at once
        if _prepared:
            return _prepared
        import onnxruntime as ort

        pool = getattr(ort, "set_global_thread_pool_sizes", None)    # onnxruntime 1.21 and later
        if pool is not None:
            try:
                pool(cpu_count(), 1)
            except Exception as err:      # onnxruntime's untyped error: someone in this process made them first
                if "already been created" not in str(err):
                    raise
        info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
        ort.create_and_register_allocator(info, ort.OrtArenaCfg(0, -1, -1, -1))   # onnxruntime's defaults
        _prepared.update(pool=pool is not None)
        return _prepared


def session_options():
    """The options every session of this process is created with. Once the shared thread pool
    exists, onnxruntime refuses sessions with a pool of their own: make every session, even a
    passing one, with these options (`new_session`)."""
    import onnxruntime as ort

    shared = _prepare_onnxruntime()
    options = ort.SessionOptions()
    if shared["pool"]:
        options.use_per_session_threads = False      # the process's pool, sized from cpu_count()
    else:
        options.intra_op_num_threads = cpu_count()
        options.inter_op_num_threads = 1
    options.add_session_config_entry("session.use_env_allocators", "1")
    options.enable_cpu_mem_arena = True     # bounded by Session.run's shrinkage after large inputs
    options.enable_mem_pattern = False      # per-shape plans: slower here on most models, and shapes vary
    return options


def new_session(model: bytes | str, *, disable_optimizations: bool = False):
    """An uncached onnxruntime session on the CPU with the process's shared options (for
    checks and measurements; serving goes through `session`)."""
    import onnxruntime as ort

    options = session_options()
    if disable_optimizations:                     # the graph exactly as written
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


_lock = threading.Lock()
_MAX_SESSIONS = 32                           # every shipped graph stays loaded


_sessions: dict[str, Session] = {}           # sha256 of the ONNX bytes -> session


_file_shas: dict[tuple, str] = {}            # (path, mtime_ns, size) -> sha256 already read


def _session_for(sha: str, data: bytes):
    import onnxruntime as ort

    with _lock:  # one session per model even when several pages ask at once
        if sha not in _sessions:
            try:
                options = session_options()
                sess = Session(ort.InferenceSession(data, sess_options=options, providers=_providers()),
                               arena=options.enable_cpu_mem_arena)
            except Exception as err:  # onnxruntime raises its own untyped errors
                raise ModelError(f"The model could not be loaded by onnxruntime: {err}") from err
            if len(_sessions) >= _MAX_SESSIONS:
                _sessions.pop(next(iter(_sessions)))
            _sessions[sha] = sess
        return _sessions[sha]


def _read(path: Path) -> tuple[str, bytes | None]:
    """The file's sha256, and its bytes unless an unchanged file was hashed before."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key in _file_shas and _file_shas[key] in _sessions:
        return _file_shas[key], None
    data = path.read_bytes()
    _file_shas[key] = sha256_of(data)
    return _file_shas[key], data


def served_precision(name: str, precision: str | None = None) -> str:
    """'int8' where the pretrained model `name` ships an int8 twin and the session runs on the CPU
    (or `precision` asks for it), else 'float'. On a GPU the float graph always serves."""
    if precision not in (None, "float", "int8"):
        raise ValueError(f"precision must be 'float' or 'int8', not {precision!r}")
    has_int8 = "int8" in model_info(name)
    if precision == "int8" and not has_int8:
        raise ModelError(f"{name} ships no int8 graph")
    return precision or ("int8" if has_int8 and device_name() == "CPU" else "float")


def session(model: str | os.PathLike | bytes, precision: str | None = None) -> Session:
    """An onnxruntime session for a pretrained model's name, an .onnx path or ONNX bytes.
    A pretrained model's bytes must match the sha256 in the manifest. A pretrained model with
    an int8 twin (manifest entry "int8", quantised where its quality held) serves it on the CPU,
    unless `precision` is 'float'."""
    if isinstance(model, (bytes, bytearray)):
        data = bytes(model)
        return _session_for(sha256_of(data), data)
    if isinstance(model, str) and not model.endswith(".onnx"):
        entry = model_info(model)
        if served_precision(model, precision) == "int8":
            entry = {**entry, **entry["int8"]}
        path = PRETRAINED_DIR / entry["file"]
        rebuild = entry.get("command", "python -m engine train all")
        if not path.is_file():
            raise ModelError(f"The model file {path.name} is missing. Rebuild it with `{rebuild}`.")
        sha, data = _read(path)
        if sha != entry["sha256"]:
            raise ModelError(f"The model file {path.name} does not match its checksum in "
                             f"{MANIFEST_NAME}: it is damaged or was changed. Rebuild it with "
                             f"`{rebuild}`.")
    else:
        path = Path(model)
        if not path.is_file():
            raise ModelError(f"No model file at {path}.")
        sha, data = _read(path)
    cached = _sessions.get(sha) if data is None else None
    return cached if cached is not None else _session_for(sha, data or path.read_bytes())


def model_bytes(entry: dict, directory: Path | None = None) -> bytes:
    """The ONNX bytes of a manifest entry (an int8 twin's sub-entry too), checked against its
    sha256: for tools that read a shipped graph rather than serve it."""
    path = Path(directory or PRETRAINED_DIR) / entry["file"]
    rebuild = entry.get("command", "python -m engine train all")
    if not path.is_file():
        raise ModelError(f"The model file {path.name} is missing. Rebuild it with `{rebuild}`.")
    data = path.read_bytes()
    if sha256_of(data) != entry["sha256"]:
        raise ModelError(f"The model file {path.name} does not match its checksum in {MANIFEST_NAME}: "
                         f"it is damaged or was changed. Rebuild it with `{rebuild}`.")
    return data


def checkpoint_bytes(name: str) -> bytes:
    """The torch checkpoint shipped beside a pretrained model (for fine-tuning), checked
    against its sha256 in the manifest."""
    entry = model_info(name)
    file, sha = entry.get("torch_file") or entry.get("checkpoint"), entry.get("torch_sha256") or entry.get("checkpoint_sha256")
    rebuild = entry.get("command", "python -m engine train all")
    path = PRETRAINED_DIR / str(file)
    if file is None or not path.is_file():
        raise ModelError(f"The checkpoint of {name} is missing. Rebuild it with `{rebuild}`.")
    data = path.read_bytes()
    if sha256_of(data) != sha:
        raise ModelError(f"The checkpoint {path.name} does not match its checksum in {MANIFEST_NAME}: "
                         f"it is damaged or was changed. Rebuild it with `{rebuild}`.")
    return data


def run(model: str | os.PathLike | bytes, inputs: np.ndarray, precision: str | None = None) -> np.ndarray:
    """Run a single-input, single-output model on a float32 batch (`precision`: see session)."""
    sess = session(model, precision)
    name = sess.get_inputs()[0].name
    return sess.run(None, {name: np.ascontiguousarray(inputs, dtype=np.float32)})[0]


def metadata(model: str | os.PathLike | bytes) -> dict[str, str]:
    """The metadata_props the exporter wrote (task, input layout, training data, metrics)."""
    return dict(session(model).get_modelmeta().custom_metadata_map)


model_metadata = metadata   # the public name: a model's own description of itself
