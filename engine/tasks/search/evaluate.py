"""`python -m engine eval search`: precision@k per code space, and query latency."""
from __future__ import annotations

import time

import numpy as np

from engine.core import datasets, fashion, runtime
from engine.core.report import result_table


def photo_crops(names: tuple[str, ...], per_photo: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Random square crops (a quarter to a half of the shorter side, flipped at random) of
    built-in photos, labelled by the photo they came from: a search gallery whose right answer
    is "the same photo"."""
    from engine.core.imaging import resize

    rng = np.random.default_rng(seed)
    crops, labels = [], []
    for name in names:
        photo = datasets.load_photo(name)
        short = min(photo.shape[:2])
        for _ in range(per_photo):
            side = int(rng.integers(short // 4, short // 2 + 1))
            y = int(rng.integers(0, photo.shape[0] - side + 1))
            x = int(rng.integers(0, photo.shape[1] - side + 1))
            crop = resize(photo[y:y + side, x:x + side], (96, 96))
            crops.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
            labels.append(name)
    return crops, np.array(labels)


def _latency_rows(dim: int, sizes: tuple[int, ...], seed: int) -> list[list]:
    """Build time, query latency and recall@10 (against exact search) on random codes."""
    from engine.core.index import SearchIndex

    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        codes = rng.standard_normal((n, dim), dtype=np.float32)
        queries = rng.standard_normal((20, dim), dtype=np.float32)
        start = time.perf_counter()
        index = SearchIndex(codes, "cosine")
        built = time.perf_counter() - start
        times = []
        for q in queries:
            t = time.perf_counter()
            index.query(q[None], 10)
            times.append(time.perf_counter() - t)
        recall = 1.0
        if index.approximate:
            exact = SearchIndex(codes, "cosine", approximate=False).query(queries, 10)[1]
            found = index.query(queries, 10)[1]
            recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, found)]))
        rows.append([f"{n:,}", "faiss IVF (approximate)" if index.approximate else "numpy (exact)",
                     round(built, 2), round(float(np.median(times)) * 1000, 2),
                     round(float(np.percentile(times, 95)) * 1000, 2), round(recall, 3)])
    return rows


def photo_precision(model: bytes | str | None = None, seed: int = 2024) -> dict[str, float]:
    """Precision@10 of the photo encoder `model` on the evaluation's photo galleries, each code
    space and distance: the int8 twin's judge."""
    from engine.core.index import METRICS
    from engine.tasks.search.serve import Gallery, embed, precision_at_k

    out = {}
    for title, names in (("held-out photos", datasets.HELD_OUT_PHOTOS), ("all photos", tuple(datasets.PHOTOS))):
        crops, labels = photo_crops(names, 40, seed)
        gallery = Gallery(crops, [str(i) for i in range(len(crops))], "photo", labels)
        for space in ("autoencoder", "autoencoder-grey"):
            gallery._codes[space] = embed(crops, space, model=model)     # this encoder's codes, not the shipped one's
            for metric in METRICS:
                out[f"P@10 {title}, {space}, {metric}"] = precision_at_k(gallery, space, metric)[10]
    return out


def eval_search(count: int = 1000, seed: int = 2024,
                latency_sizes: tuple[int, ...] = (1_000, 100_000, 1_000_000)) -> dict:
    from engine.core.index import METRICS
    from engine.tasks.search.serve import BUILTIN_GALLERIES, SPACE_NAMES, Gallery, builtin_gallery, compare_spaces

    galleries = [(f"{BUILTIN_GALLERIES[name][0]}, {count} in held-out fonts",
                  builtin_gallery(name, count, seed)) for name in BUILTIN_GALLERIES]
    handwritten, labels = datasets.handwritten_digits(held_out=True)
    galleries.append(("Handwritten digits, the 300 held out",
                      Gallery(list(handwritten), [str(i) for i in range(len(labels))], "character", labels)))
    for title, names in (("Crops of the 4 held-out photos", datasets.HELD_OUT_PHOTOS),
                         (f"Crops of all {len(datasets.PHOTOS)} built-in photos", tuple(datasets.PHOTOS))):
        crops, crop_labels = photo_crops(names, 40, seed)
        galleries.append((f"{title}, 40 each", Gallery(crops, [str(i) for i in range(len(crops))],
                                                        "photo", crop_labels)))
    rows = []
    if fashion.fashion_available():   # the official test set, whole: the clothing encoder trained on the other 60,000
        test, kinds = fashion.load_fashion_mnist("test")
        galleries.append((f"Fashion-MNIST's official test set ({len(test):,})",
                          Gallery(list(test), [str(i) for i in range(len(test))], "clothing", kinds)))

    for title, gallery in galleries:
        for metric in METRICS:
            for space, p in compare_spaces(gallery, metric).items():
                rows.append([title, SPACE_NAMES[space], gallery.codes(space).shape[1], metric,
                             round(p[1], 3), round(p[5], 3), round(p[10], 3)])
    dim = galleries[0][1].codes("autoencoder").shape[1]
    return {"command": "eval search", "device": runtime.device_name(), "tables": [
        result_table("Leave-one-out precision@k: every image queries the rest of its gallery. Characters "
               "in fonts never seen in training, with wider distortions; photo crops labelled by "
               "their photo; Fashion-MNIST's test pictures by their kind"
               + ("" if fashion.fashion_available() else f" ({fashion.fashion_missing_note()})"),
               ["Gallery", "Code space", "Size", "Distance", "P@1", "P@5", "P@10"], rows),
        result_table(f"Query latency, one query for its 10 nearest among random {dim}-number codes "
               "(cosine), 20 queries", ["Codes", "Index", "Build (s)", "Median (ms)", "p95 (ms)",
                                         "Recall@10"], _latency_rows(dim, latency_sizes, seed)),
    ]}


EVALS = {"search": eval_search}
