"""Nearest neighbours over codes: exact brute force in numpy up to BRUTE_FORCE_LIMIT codes, an
approximate faiss index above it, both behind one interface that saves and loads."""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from engine.core.runtime import atomic_write_bytes

METRICS = ("cosine", "euclidean")
BRUTE_FORCE_LIMIT = 100_000   # exact search answers a query in a few ms up to here
_CHUNK_ELEMENTS = 1 << 24     # bounds the (queries x gallery) distance block held at once
_IVF_PROBE_SHARE = 8       # search 1/8 of the lists: recall@10 0.83 even on structureless random codes


class SearchIndexError(ValueError):
    """Codes of the wrong shape, an unknown metric, or a file that is not a saved index."""


def _as_codes(codes: np.ndarray, dim: int | None = None) -> np.ndarray:
    codes = np.ascontiguousarray(codes, dtype=np.float32)
    if codes.ndim != 2 or (dim is not None and codes.shape[1] != dim):
        want = f"(N, {dim})" if dim else "(N, D)"
        raise SearchIndexError(f"expected codes of shape {want}, got {codes.shape}")
    if not np.isfinite(codes).all():
        raise SearchIndexError("codes contain NaN or infinity")
    return codes


def _unit(codes: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (a zero row stays zero: it is equally far from everything)."""
    norms = np.linalg.norm(codes, axis=1, keepdims=True)
    return codes / np.maximum(norms, 1e-12)


class SearchIndex:
    """k-nearest-neighbour search over a fixed set of codes (N, D) by cosine distance
    (1 - cosine similarity) or euclidean distance. Exact below `BRUTE_FORCE_LIMIT` codes;
    above it (or with approximate=True) a faiss inverted-file index answers instead."""

    def __init__(self, codes: np.ndarray, metric: str = "cosine", *, approximate: bool | None = None):
        if metric not in METRICS:
            raise SearchIndexError(f"unknown metric {metric!r}; choose one of {METRICS}")
        self.metric = metric
        self.codes = _as_codes(codes)
        self._search = _unit(self.codes) if metric == "cosine" else self.codes
        self._norms = (self._search ** 2).sum(axis=1)
        if approximate is None:
            approximate = len(self.codes) > BRUTE_FORCE_LIMIT
        self._ann = self._build_ann() if approximate and len(self.codes) else None

    @property
    def approximate(self) -> bool:
        return self._ann is not None

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def dim(self) -> int:
        return self.codes.shape[1]

    def _build_ann(self):
        import faiss

        n, d = self._search.shape
        nlist = int(min(max(1, 4 * np.sqrt(n)), n // 39 or 1))  # faiss wants ~39 points per list
        quantizer = faiss.IndexFlatIP(d) if self.metric == "cosine" else faiss.IndexFlatL2(d)
        kind = faiss.METRIC_INNER_PRODUCT if self.metric == "cosine" else faiss.METRIC_L2
        index = faiss.IndexIVFFlat(quantizer, d, nlist, kind)
        sample = np.random.default_rng(0).choice(n, size=min(n, 64 * nlist), replace=False)
        index.train(self._search[np.sort(sample)])
        index.add(self._search)
        index.nprobe = max(1, nlist // _IVF_PROBE_SHARE)
        return index

    def query(self, codes: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest gallery codes to each query code: (distances (Q, k), indices (Q, k)),
        nearest first. k is capped at the gallery size."""
        queries = _as_codes(codes, self.dim)
        k = min(int(k), len(self))
        if k < 1:
            return np.empty((len(queries), 0), np.float32), np.empty((len(queries), 0), np.int64)
        if self.metric == "cosine":
            queries = _unit(queries)
        if self._ann is not None:
            scores, indices = self._ann.search(queries, k)
            return self._distances(scores), indices
        step = max(1, _CHUNK_ELEMENTS // len(self))
        parts = [self._exact(queries[i:i + step], k) for i in range(0, len(queries), step)]
        if not parts:
            return np.empty((0, k), np.float32), np.empty((0, k), np.int64)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _exact(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        sims = queries @ self._search.T                                   # (Q, N)
        # Ranking by -2 q.x + |x|^2 is ranking by euclidean distance (|q|^2 is the same per row).
        keys = -sims if self.metric == "cosine" else self._norms[None] - 2 * sims
        part = np.argpartition(keys, k - 1, axis=1)[:, :k] if k < keys.shape[1] else \
            np.broadcast_to(np.arange(keys.shape[1]), keys.shape).copy()
        order = np.take_along_axis(keys, part, axis=1).argsort(axis=1, kind="stable")
        indices = np.take_along_axis(part, order, axis=1)
        chosen = np.take_along_axis(sims, indices, axis=1)
        if self.metric == "euclidean":         # |q - x|^2 = |q|^2 - 2 q.x + |x|^2
            chosen = (queries ** 2).sum(axis=1)[:, None] - 2 * chosen + self._norms[indices]
        return self._distances(chosen), indices

    def _distances(self, scores: np.ndarray) -> np.ndarray:
        """Cosine similarities, or squared euclidean distances, to distances."""
        if self.metric == "cosine":
            return np.clip(1.0 - scores, 0.0, 2.0).astype(np.float32)
        return np.sqrt(np.maximum(scores, 0.0)).astype(np.float32)

    def save(self, path: str | os.PathLike) -> None:
        """Write the index to one .npz file (codes, metric and, when approximate, the faiss
        index's bytes); nothing is pickled."""
        arrays = {"codes": self.codes, "metric": np.array(self.metric)}
        if self._ann is not None:
            import faiss
            arrays["ann"] = faiss.serialize_index(self._ann)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        atomic_write_bytes(Path(path), buffer.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike) -> SearchIndex:
        try:
            with np.load(path, allow_pickle=False) as data:
                codes, metric = data["codes"], str(data["metric"])
                ann = data["ann"] if "ann" in data.files else None
        except (OSError, ValueError, KeyError) as err:
            raise SearchIndexError(f"{path} is not a saved search index: {err}") from err
        index = cls(codes, metric, approximate=False)
        if ann is not None:
            import faiss
            index._ann = faiss.deserialize_index(ann)
            index._ann.nprobe = max(1, index._ann.nlist // _IVF_PROBE_SHARE)
        return index
