"""Results that are the same for every visitor, computed once at build time.

Rendering thousands of evaluation digits, encoding a built-in gallery, completing a built-in
table: a page would do this on its first visit in every fresh server process (a restart, a
hosted app waking up), for seconds. A function registered here with `stored` keeps its results
for a fixed list of arguments (its `variants`) in one small file in pretrained/precomputed/,
recorded in the manifest's "precomputed" section with its sha256 and a fingerprint of what the
results depend on: the store's version, the checksums of the shipped models it uses, the fonts
it renders with, and the numeric libraries' versions. `python -m engine train precomputed`
writes them all; every `python -m engine train TARGET` rewrites those its new models made stale.

A call with one of the variants' arguments returns the stored result. A file that is missing,
damaged (its checksum) or stale (its fingerprint) is not an error: the result is computed as it
would have been at build time, a warning goes to the log, and `not_precomputed()` tells the pages
which results and why, for a note. Calls with other arguments are computed as before; every
result is kept once per process either way.

Files are pickles compressed with lzma, unpickled only after their checksum matched the
manifest's: only a file this command wrote is ever read.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import io
import json
import logging
import lzma
import pickle
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.core import runtime

log = logging.getLogger(__name__)

SECTION = "precomputed"                    # the manifest's key for these entries
FOLDER = "precomputed"                     # under the models' folder
COMMAND = "python -m engine train precomputed"


@dataclass(frozen=True)
class Store:
    """One registered function: its results for `variants()`, and what they depend on."""
    name: str
    compute: Callable[..., Any]
    variants: Callable[[], Iterable[tuple]]
    models: tuple[str, ...]
    fonts: bool
    version: int
    summary: str
    libraries: tuple[str, ...] = ("numpy", "scikit-learn")

    @property
    def file(self) -> str:
        return f"{FOLDER}/{self.name}.pkl.xz"


STORES: dict[str, Store] = {}
_loaded: dict[str, dict[tuple, Any]] = {}     # name -> its variants' results, read or computed
_recomputed: dict[str, str] = {}              # name -> why its file was not used
_lock = threading.Lock()
_store_locks: dict[str, threading.Lock] = {}
_CACHES: list[Callable[[], None]] = []       # each stored function's memory, for forget()


def _library_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Major and minor versions of the libraries the results come from (read without importing
    them: scikit-learn alone takes a second to import)."""
    from importlib.metadata import PackageNotFoundError, version

    def major_minor(name: str) -> str:
        try:
            return ".".join(version(name).split(".")[:2])
        except PackageNotFoundError:
            return "missing"
    return {name: major_minor(name) for name in names}


def fingerprint(store: Store) -> str:
    """What `store`'s results depend on, hashed: its version, the served models' checksums, the
    fonts on this machine (for rendered characters) and numpy's and scikit-learn's versions."""
    models = runtime.load_manifest()["models"]
    parts: dict[str, Any] = {"version": store.version, "libraries": _library_versions(store.libraries),
                             "models": {m: models.get(m, {}).get("sha256", "missing") for m in store.models}}
    if store.fonts:
        from engine.core import datasets

        parts["fonts"] = datasets.fonts_fingerprint()
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def stored(name: str, *, variants: Callable[[], Iterable[tuple]] = lambda: [()], models: Iterable[str] = (),
           fonts: bool = False, version: int = 1, summary: str = "", torch: bool = False) -> Callable:
    """Register a function whose results for `variants()` (tuples of positional arguments; by
    default the call without arguments) are precomputed. Calls are matched on every argument,
    defaults filled in, so the arguments must be hashable. The returned function is a drop-in
    for the original that also keeps each result in memory. `torch`: the results come from
    training (PyTorch's version is part of the fingerprint)."""
    def register(compute: Callable) -> Callable:
        about = " ".join((summary or compute.__doc__ or "").split())
        libraries = ("numpy", "scikit-learn", "torch") if torch else ("numpy", "scikit-learn")
        store = Store(name, compute, variants, tuple(models), fonts, version, about, libraries)
        STORES[name] = store
        signature = inspect.signature(compute)

        keys: set[tuple] = set()

        @functools.lru_cache(maxsize=64)
        def cached(key: tuple) -> Any:
            if not keys:      # other calls never read (or compute) the stored variants
                keys.update(variant_keys(store))
            return _results(store)[key] if key in keys else compute(*key)

        @functools.wraps(compute)
        def call(*args: Any, **kwargs: Any) -> Any:
            return cached(_key(signature, args, kwargs))

        call.store = store            # type: ignore[attr-defined]
        _CACHES.append(cached.cache_clear)
        return call
    return register


def _key(signature: inspect.Signature, args: tuple, kwargs: dict) -> tuple:
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return tuple(bound.arguments.values())


def _results(store: Store) -> dict[tuple, Any]:
    """The stored results of `store`, read once per process; when its file cannot be used, the
    variants computed now (a warning in the log, a note for the pages)."""
    with _lock:
        lock = _store_locks.setdefault(store.name, threading.Lock())
    with lock:       # one computation per store, while other stores are read
        if store.name not in _loaded:
            data, why = _check(store)
            results = None
            if data is not None:
                try:
                    results = pickle.loads(lzma.decompress(data))
                except Exception as error:  # noqa: BLE001 - a file that passed its checksum but will not load
                    why = f"could not be read ({type(error).__name__})"
            if results is None:
                _recomputed[store.name] = str(why)
                log.warning("Precomputed %s %s: computing it now (rebuild it with `%s`).", store.name, why, COMMAND)
                results = compute_all(store)
            _loaded[store.name] = results
        return _loaded[store.name]


def _check(store: Store, directory: Path | None = None) -> tuple[bytes | None, str | None]:
    """The bytes of `store`'s file when the manifest vouches for them, else None and why not."""
    entry = runtime.load_manifest(directory).get(SECTION, {}).get(store.name)
    if entry is None:
        return None, "is not in the manifest"
    try:
        data = (Path(directory or runtime.PRETRAINED_DIR) / entry["file"]).read_bytes()
    except OSError:
        return None, "is missing"
    if runtime.sha256_of(data) != entry.get("sha256"):
        return None, "does not match its checksum (damaged or changed)"
    if entry.get("fingerprint") != fingerprint(store):
        return None, "was made for other models, fonts or library versions"
    return data, None


def variant_keys(store: Store) -> list[tuple]:
    """Every variant's arguments, defaults filled in: the keys calls are matched on."""
    signature = inspect.signature(store.compute)
    return [_key(signature, tuple(args), {}) for args in store.variants()]


def compute_all(store: Store) -> dict[tuple, Any]:
    """Every variant of `store` computed now, keyed as calls are."""
    return {key: store.compute(*key) for key in variant_keys(store)}


def payload(store: Store) -> tuple[bytes, dict]:
    """The file of `store` (every variant computed now) and its manifest entry."""
    buffer = io.BytesIO()
    pickle.dump(compute_all(store), buffer, protocol=pickle.HIGHEST_PROTOCOL)
    data = lzma.compress(buffer.getvalue(), preset=6)
    return data, {"file": store.file, "sha256": runtime.sha256_of(data), "fingerprint": fingerprint(store),
                  "summary": store.summary, "command": COMMAND}


def stale(directory: Path | None = None, stores: dict[str, Store] | None = None) -> dict[str, str]:
    """Name -> why, for the stores (by default every registered one) whose file in `directory`
    cannot be used."""
    stores = STORES if stores is None else stores
    return {name: why for name, store in stores.items() if (why := _check(store, directory)[1]) is not None}


def not_precomputed() -> dict[str, str]:
    """Name -> why, for every store whose file this process could not use."""
    return dict(_recomputed)


def forget() -> None:
    """Drop what this process read or computed (tests; after a rebuild)."""
    with _lock:
        _loaded.clear()
        _recomputed.clear()
    for clear in _CACHES:
        clear()


def register_all() -> dict[str, Store]:
    """Import every task that registers stores, so that STORES is complete (for the build)."""
    import importlib
    import importlib.util

    for module in ("anomaly", "denoise", "impute", "search", "semisupervised", "sequence"):
        importlib.import_module(f"engine.tasks.{module}.serve")
    if importlib.util.find_spec("torch") is not None:     # the studio's lecture figures are trained
        importlib.import_module("engine.tasks.studio.build")
    return STORES


# Stored results are kept small by storing images as bytes and codes as half floats. So that a
# result read from its file equals the one computed when the file cannot be used, the functions
# round their results the same way before returning them (`as_bytes`, `as_half`), and their
# classes pickle the rounded arrays packed (`pack_bytes`, float16), which unpack exactly.
_SCALE = np.float32(255)


def as_bytes(images: np.ndarray) -> np.ndarray:
    """Images in [0, 1] rounded to the 256 levels a byte holds (float32)."""
    return unpack_bytes(pack_bytes(images))


def pack_bytes(images: np.ndarray) -> np.ndarray:
    return np.round(np.clip(images, 0.0, 1.0) * _SCALE).astype(np.uint8)


def unpack_bytes(packed: np.ndarray) -> np.ndarray:
    return packed.astype(np.float32) / _SCALE


def packed_if_rounded(images: np.ndarray) -> np.ndarray:
    """Images as bytes (pack_bytes) when they are rounded to bytes already (as_bytes), so that
    nothing is lost; any others as they are. unpacked() reads either back."""
    packed = pack_bytes(images)
    return packed if np.array_equal(unpack_bytes(packed), images) else images


def halved_if_rounded(values: np.ndarray) -> np.ndarray:
    """Values as half floats when they are rounded to half precision already (as_half); any
    others as they are. unpacked() reads either back."""
    halved = np.asarray(values, dtype=np.float16)
    return halved if np.array_equal(halved.astype(values.dtype), values) else values


def unpacked(stored: np.ndarray) -> np.ndarray:
    """What packed_if_rounded or halved_if_rounded kept, as float32 again."""
    return unpack_bytes(stored) if stored.dtype == np.uint8 else stored.astype(np.float32)


def as_half(values: np.ndarray) -> np.ndarray:
    """Values rounded to half precision (float32): codes keep three significant digits."""
    return np.asarray(values, dtype=np.float16).astype(np.float32)
