"""Filling in missing values: a masking denoising autoencoder completes characters with missing
pixels and tables with missing entries, against mean filling and PCA-based iterative completion.

A mask here is a boolean array, True where a value is missing. The shipped autoencoders take
the values with missing entries set to 0 and the mask (1 observed, 0 missing) as a second
channel, so a missing pixel and a dark one differ; they return every observed value exactly as
given and their own guess only where a value is missing. Errors are measured on the hidden
values only: the observed ones are copied, so counting them would flatter every method alike.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import numpy as np

from engine.core import datasets, precomputed, runtime
from engine.core.imaging import UPLOAD_PIXELS, decode_image, resize, to_grey

IMAGE_MODEL = "impute_char"          # the masking autoencoder for characters
IMAGE_BASELINE = "impute_pca"        # mean filling and iterative PCA completion, one graph
MASK_KINDS = {"pixels": "Random pixels", "blocks": "Random 7x7 blocks"}
BLOCK_SIDE = 7
IMPUTE_METHODS = {"mean": "Mean filling", "pca": "PCA completion", "autoencoder": "Masking autoencoder"}
SIDE = 28


class ImputeError(ValueError):
    """A mask or a table the imputation cannot use; the message is fit for the user."""


def random_mask(shape: tuple[int, ...], kind: str = "pixels", fraction: float = 0.5,
                seed: int | None = None) -> np.ndarray:
    """A missing-value mask (True = missing) for arrays of `shape`. "pixels": each value is
    missing with probability `fraction`; "blocks": random BLOCK_SIDE x BLOCK_SIDE squares are
    cut out of each image (the last two axes) until at least `fraction` of it is missing."""
    if kind not in MASK_KINDS:
        raise ValueError(f"kind must be one of {tuple(MASK_KINDS)}, got {kind!r}")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    rng = np.random.default_rng(seed)
    if kind == "pixels":
        return rng.random(shape) < fraction
    if len(shape) < 2 or min(shape[-2:]) < BLOCK_SIDE:
        raise ValueError(f"blocks need images of at least {BLOCK_SIDE}x{BLOCK_SIDE}, got shape {shape}")
    height, width = shape[-2:]
    missing = np.zeros((int(np.prod(shape[:-2], dtype=int)), height, width), dtype=bool)
    for image in missing:
        while image.mean() < fraction:
            top = int(rng.integers(0, height - BLOCK_SIDE + 1))
            left = int(rng.integers(0, width - BLOCK_SIDE + 1))
            image[top:top + BLOCK_SIDE, left:left + BLOCK_SIDE] = True
    return missing.reshape(shape)


def rectangle_mask(rows: tuple[int, int], columns: tuple[int, int], side: int = SIDE) -> np.ndarray:
    """(side, side) mask missing the rectangle rows[0] <= r < rows[1], columns[0] <= c < columns[1]
    (the page's two range sliders)."""
    (top, bottom), (left, right) = (sorted(map(int, rows)), sorted(map(int, columns)))
    if not (0 <= top <= bottom <= side and 0 <= left <= right <= side):
        raise ValueError(f"the rectangle must lie within 0..{side}, got rows {rows}, columns {columns}")
    missing = np.zeros((side, side), dtype=bool)
    missing[top:bottom, left:right] = True
    return missing


def mask_from_image(data, side: int = SIDE) -> np.ndarray:
    """A mask painted in any image editor: the image is made grey and scaled to side x side, and
    its light pixels (above half brightness) mark the missing ones. Raises ImageError for a file
    that is not an image, ImputeError for a mask with nothing or everything missing."""
    image = decode_image(data, fit_pixels=UPLOAD_PIXELS)
    grey = to_grey(image) if image.ndim == 3 else image
    missing = resize(np.asarray(grey, dtype=np.float32), (side, side)) > 0.5
    if not missing.any():
        raise ImputeError("The mask marks no pixel as missing: paint the missing region white on black.")
    if missing.all():
        raise ImputeError("The mask marks every pixel as missing: leave some black to be observed.")
    return missing


def hidden_rmse(truth: np.ndarray, filled: np.ndarray, missing: np.ndarray) -> float:
    """Root mean squared error over the missing entries only."""
    missing = np.broadcast_to(np.asarray(missing, dtype=bool), np.shape(truth))
    if not missing.any():
        raise ImputeError("no value is missing, so there is nothing to judge")
    diff = np.asarray(filled, dtype=np.float64)[missing] - np.asarray(truth, dtype=np.float64)[missing]
    return float(np.sqrt(np.mean(diff ** 2)))


def _checked(values: np.ndarray, missing: np.ndarray, ndim: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(values, dtype=np.float32)
    missing = np.asarray(missing, dtype=bool)
    if values.ndim != ndim:
        raise ValueError(f"expected {what}, got shape {values.shape}")
    return values, np.broadcast_to(missing, values.shape)


def model_input(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """(N, ...) values and mask -> (N, 2, ...): values with missing entries 0, and the mask
    with 1 where observed."""
    observed = (~missing).astype(np.float32)
    return np.ascontiguousarray(np.stack([np.where(missing, 0.0, values), observed], axis=1), dtype=np.float32)


def fill_characters(chars: np.ndarray, missing: np.ndarray, model: str = IMAGE_MODEL) -> np.ndarray:
    """Characters (N, 28, 28) with `missing` pixels (True) filled in by the masking
    autoencoder; observed pixels are returned exactly as given."""
    chars, missing = _checked(chars, missing, 3, "characters (N, 28, 28)")
    out = runtime.run(model, model_input(chars, missing))[:, 0]
    return np.where(missing, out, chars)


def character_baselines(chars: np.ndarray, missing: np.ndarray, model: str = IMAGE_BASELINE) -> dict[str, np.ndarray]:
    """Mean filling (each missing pixel gets that pixel's mean over the training characters)
    and iterative PCA completion (start from the means, project onto the training
    characters' principal components, put the observed pixels back, repeat), as one graph."""
    chars, missing = _checked(chars, missing, 3, "characters (N, 28, 28)")
    mean, pca = runtime.session(model).run(None, {"input": model_input(chars, missing)})
    return {"mean": np.where(missing, mean[:, 0], chars), "pca": np.where(missing, pca[:, 0], chars)}


@dataclass
class Filling:
    """Every method's completion of the same values with the same missing entries."""
    truth: np.ndarray
    missing: np.ndarray
    fills: dict[str, np.ndarray]                         # method -> completed values
    rmse: dict[str, float]                               # method -> error on the hidden values
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> list[dict]:
        return [{"Method": IMPUTE_METHODS[m], "RMSE on hidden values": round(self.rmse[m], 4),
                 "Milliseconds": round(1000 * self.seconds.get(m, 0.0), 1)} for m in self.fills]


def _timed(fn, *args):
    start = time.perf_counter()
    return fn(*args), time.perf_counter() - start


def compare_character_filling(chars: np.ndarray, missing: np.ndarray) -> Filling:
    """Mean filling, PCA completion and the masking autoencoder on the same characters."""
    chars, missing = _checked(chars, missing, 3, "characters (N, 28, 28)")
    if not missing.any():
        raise ImputeError("No pixel is missing: choose a larger fraction or a bigger rectangle.")
    baselines, base_s = _timed(character_baselines, chars, missing)
    filled, ae_s = _timed(fill_characters, chars, missing)
    fills = {**baselines, "autoencoder": filled}
    return Filling(chars, missing, fills, {m: hidden_rmse(chars, f, missing) for m, f in fills.items()},
                   {"mean": base_s, "pca": base_s, "autoencoder": ae_s})  # one graph serves both baselines


@precomputed.stored("impute_examples", fonts=True)
def impute_examples(count: int = 8, seed: int = 11) -> dict[str, np.ndarray]:
    """Characters never trained on: digits and letters in held-out fonts, and held-out
    handwritten digits, named for a select box."""
    fonts = datasets.font_split(held_out=True)
    chars, labels = datasets.render_characters(datasets.DIGITS + datasets.LETTERS, count // 2, fonts=fonts,
                                               seed=seed, distortion=datasets.EVAL_DISTORTION)
    hand, hand_labels = datasets.handwritten_digits(held_out=True)
    out = {f"'{label}', held-out font #{i + 1}": c for i, (c, label) in enumerate(zip(chars, labels))}
    out.update({f"handwritten {label} #{i + 1}": c for i, (c, label) in enumerate(zip(hand[:count - count // 2],
                                                                                     hand_labels))})
    return out


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    values: np.ndarray            # (N, D) float32
    columns: tuple[str, ...]
    training_rows: int            # the first rows train the autoencoder; the rest are held out
    model: str                    # its shipped masking autoencoder

    @property
    def heldout(self) -> np.ndarray:
        return self.values[self.training_rows:]


TABLE_TITLES = {"digits": "scikit-learn handwritten digits: 1,797 rows, 64 pixel counts (0 to 16)"}


def _digits_table() -> Table:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return Table("digits", TABLE_TITLES["digits"],
                 digits.data.astype(np.float32), tuple(f"pixel {r},{c}" for r in range(8) for c in range(8)),
                 len(digits.data) - 300, "impute_table_digits")


TABLES = {"digits": _digits_table}


@functools.lru_cache(maxsize=4)
def load_table(name: str = "digits") -> Table:
    """A built-in numeric table (ships with scikit-learn; nothing is downloaded)."""
    if name not in TABLES:
        raise ValueError(f"unknown table {name!r}; choose one of {tuple(TABLES)}")
    return TABLES[name]()


def mean_fill(matrix: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Each missing entry gets the mean of its column's observed entries (0 for a column with
    none observed)."""
    matrix, missing = _checked(matrix, missing, 2, "a matrix (N, D)")
    observed = ~missing
    counts = observed.sum(axis=0)
    means = np.where(observed, matrix, 0.0).sum(axis=0) / np.maximum(counts, 1)
    return np.where(missing, means[None, :], matrix).astype(np.float32)


def _pca_steps(matrix: np.ndarray, missing: np.ndarray, rank: int, iterations: int):
    """The filled matrix after each iteration of iterative PCA completion: fill with column
    means, fit a rank-`rank` PCA to the whole filled matrix, reconstruct, replace only the
    missing entries, repeat."""
    if not 1 <= rank < min(matrix.shape):
        raise ValueError(f"rank must be between 1 and {min(matrix.shape) - 1}, got {rank}")
    filled = mean_fill(matrix, missing).astype(np.float64)
    for _ in range(iterations):
        mean = filled.mean(axis=0)
        u, s, vt = np.linalg.svd(filled - mean, full_matrices=False)
        filled[missing] = ((u[:, :rank] * s[:rank]) @ vt[:rank] + mean)[missing]
        yield filled


def iterative_pca_fill(matrix: np.ndarray, missing: np.ndarray, rank: int, iterations: int = 30) -> np.ndarray:
    """Iterative PCA completion (hard impute) with a rank-`rank` PCA for `iterations` rounds.
    More rounds fit the observed entries ever closer and, at a high rank, overfit them: the
    number of rounds is a setting like the rank (see choose_pca_settings)."""
    matrix, missing = _checked(matrix, missing, 2, "a matrix (N, D)")
    filled = mean_fill(matrix, missing)
    for filled in _pca_steps(matrix, missing, rank, iterations):  # noqa: B007  (the last step is the answer)
        pass
    return np.asarray(filled, dtype=np.float32)


PCA_RANKS = (1, 2, 4, 8, 16, 32)
PCA_MAX_ITERATIONS = 50


def choose_pca_settings(matrix: np.ndarray, missing: np.ndarray, seed: int = 0,
                        share: float = 0.1) -> tuple[int, int]:
    """The rank and the number of rounds of iterative PCA completion that best complete a
    further `share` of the observed entries, hidden for the choice only: the baseline gets its
    best settings without peeking at the hidden values. Returns (rank, iterations)."""
    matrix, missing = _checked(matrix, missing, 2, "a matrix (N, D)")
    probe = ~missing & (np.random.default_rng(seed).random(matrix.shape) < share)
    best = (np.inf, 1, 1)
    for rank in (r for r in PCA_RANKS if r < min(matrix.shape)):
        for rounds, filled in enumerate(_pca_steps(matrix, missing | probe, rank, PCA_MAX_ITERATIONS), 1):
            best = min(best, (hidden_rmse(matrix, filled, probe), rank, rounds))
    return best[1], best[2]


def fill_table(values: np.ndarray, missing: np.ndarray, model: str) -> np.ndarray:
    """Rows (N, D) with missing entries filled in by a table's masking autoencoder; observed
    entries are returned exactly as given."""
    values, missing = _checked(values, missing, 2, "table rows (N, D)")
    out = runtime.run(model, model_input(values, missing))
    return np.where(missing, out, values)


@dataclass
class TableFilling(Filling):
    table: Table | None = None
    pca_rank: int = 0             # the baseline's settings, chosen on observed entries
    pca_iterations: int = 0
    pca_settings_seed: int | None = None    # the seed of another draw of holes they were chosen on


# The page's choices of hidden share (0.1 to 0.9) for every built-in table with the first seed.
TABLE_FRACTIONS = tuple(round(0.1 * k, 1) for k in range(1, 10))


@precomputed.stored("impute_tables", variants=lambda: [(n, f) for n in TABLES for f in TABLE_FRACTIONS],
                    models=tuple(f"impute_table_{n}" for n in TABLES))
def compare_table_filling(name: str = "digits", fraction: float = 0.5, seed: int = 0,
                          rows: int | None = None) -> TableFilling:
    """Hide a random `fraction` of the entries of the table's held-out rows (the first `rows`
    of them, or all) and complete them. The baselines see the whole matrix, the training rows
    complete and the held-out rows with holes, as in matrix completion; the autoencoder, trained
    on the training rows, sees each held-out row alone. Errors on the hidden entries only.
    Another draw (`seed`) of a built-in share reuses the first draw's (stored) table and PCA
    settings: choosing them takes seconds."""
    first = compare_table_filling(name, fraction, 0) if seed != 0 and rows is None and fraction in TABLE_FRACTIONS else None
    table = load_table(name) if first is None else first.table
    truth = table.heldout[:rows]
    missing = random_mask(truth.shape, "pixels", fraction, seed)
    if not missing.any():
        raise ImputeError("No entry is missing: choose a larger fraction.")
    matrix = np.concatenate([table.values[:table.training_rows], truth])
    full_missing = np.concatenate([np.zeros((table.training_rows, truth.shape[1]), dtype=bool), missing])
    start = time.perf_counter()
    mean = mean_fill(matrix, full_missing)[table.training_rows:]
    mean_s = time.perf_counter() - start
    start = time.perf_counter()
    settings_seed = None
    if first is not None:    # settings chosen on one draw of holes serve another as well
        rank, rounds, settings_seed = first.pca_rank, first.pca_iterations, 0
    else:
        rank, rounds = choose_pca_settings(matrix, full_missing, seed)
    pca = iterative_pca_fill(matrix, full_missing, rank, rounds)[table.training_rows:]
    pca_s = time.perf_counter() - start
    ae, ae_s = _timed(fill_table, truth, missing, table.model)
    fills = {"mean": mean, "pca": pca, "autoencoder": ae}
    return TableFilling(truth, missing, fills, {m: hidden_rmse(truth, f, missing) for m, f in fills.items()},
                        {"mean": mean_s, "pca": pca_s, "autoencoder": ae_s}, table=table, pca_rank=rank,
                        pca_iterations=rounds, pca_settings_seed=settings_seed)
