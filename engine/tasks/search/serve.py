"""Image search: encode a gallery once, encode the query, return its nearest neighbours in code
space. Characters go through an autoencoder taught to undo distortions (so its code keeps what
the character is and drops how it was drawn); photos through the photo denoiser's encoder,
pooled over space to a code of fixed size. Raw pixels and PCA of the same size are the
baselines. Numpy in, numpy out."""
from __future__ import annotations

import hashlib
import io
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from engine.core import datasets, fashion, precomputed, runtime
from engine.core.imaging import (
    ImageError,
    PixelBudget,
    PixelBudgetError,
    decode_image,
    fit_within,
    prepare_character,
    resize,
    to_grey,
)
from engine.core.index import METRICS, SearchIndex
from engine.core.loaders import MAX_FOLDER_PIXELS, DatasetError, load_image_folder
from engine.core.progress import Progress
from engine.tasks.denoise.serve import denoise_target

CHAR_MODEL = "search_char"
CHAR_PCA = "search_pca"
FASHION_MODEL = "search_fashion"
FASHION_PCA = "search_fashion_pca"
PHOTO_MODEL = "embed_photo"
# The encoder and its PCA twin for each kind of 28x28 gallery.
ENCODERS = {"character": (CHAR_MODEL, CHAR_PCA), "clothing": (FASHION_MODEL, FASHION_PCA)}


# Code spaces for each kind of gallery; "autoencoder-grey" feeds the encoder the grey image, so
# a search ignores colour (the source documents' suggestion for colour-blind searches).
SPACES = {
    "character": ("autoencoder", "pca", "pixels"),
    "clothing": ("autoencoder", "pca", "pixels"),
    "photo": ("autoencoder", "autoencoder-grey", "pca", "pixels"),
}


SPACE_NAMES = {"autoencoder": "Autoencoder code", "autoencoder-grey": "Autoencoder code, colour-blind",
               "pca": "PCA, same size", "pixels": "Raw pixels"}


PHOTO_SIDE = 128          # photos are embedded with their longer side at this size
PHOTO_STORE_PIXELS = 160 * 160   # and kept (for display and embedding) no larger than this
PIXEL_THUMB = 16          # the raw-pixel space of photos: 16x16 RGB
TSNE_LIMIT = 2000         # t-SNE takes tens of seconds on a CPU above this
MAX_GALLERY = 5000        # characters (3 KB each)
MAX_PHOTO_GALLERY = 1000  # photos (up to 300 KB each as float32): bounds a gallery near 300 MB
BUILTIN_GALLERIES = {
    "digits": ("Digits", datasets.DIGITS),
    "digits-capitals": ("Digits and capital letters", datasets.DIGITS + datasets.LETTERS[:26]),
}


class GalleryError(ValueError):
    """A gallery that cannot be searched: no readable images, or too many."""


def _photo_rgb(image: np.ndarray, side: int) -> np.ndarray:
    """(H, W) or (H, W, 3) -> (h, w, 3) with the longer side `side` (aspect kept, each side a
    multiple of 4, as the encoder needs)."""
    rgb = _as_rgb(image)
    h, w = rgb.shape[:2]
    scale = side / max(h, w)
    shape = (max(4, round(h * scale / 4) * 4), max(4, round(w * scale / 4) * 4))
    return resize(rgb, shape)


def _embed_photos(images: list[np.ndarray], grey: bool, model: str) -> np.ndarray:
    """Photos of any sizes through the pooled encoder, batched by shape after resizing."""
    prepared = [_photo_rgb(to_grey(im) if grey else im, PHOTO_SIDE) for im in images]
    codes: list[np.ndarray | None] = [None] * len(prepared)
    by_shape: dict[tuple, list[int]] = {}
    for i, im in enumerate(prepared):
        by_shape.setdefault(im.shape, []).append(i)
    for members in by_shape.values():
        for start in range(0, len(members), 64):
            part = members[start:start + 64]
            batch = np.stack([prepared[i] for i in part]).transpose(0, 3, 1, 2)  # (B, 3, h, w)
            for i, code in zip(part, runtime.run(model, np.ascontiguousarray(batch))):
                codes[i] = code
    return np.stack(codes).astype(np.float32)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image


def _photo_pixels(images: list[np.ndarray]) -> np.ndarray:
    """Each photo squeezed to 16x16 RGB, flattened (768 numbers)."""
    return np.stack([resize(_as_rgb(im), (PIXEL_THUMB, PIXEL_THUMB)).reshape(-1) for im in images])


def embed(images, space: str = "autoencoder", model: str | None = None, kind: str = "character") -> np.ndarray:
    """Codes (N, D) for search. A batch (N, 28, 28) is characters, through the character encoder
    (or its PCA or raw-pixel baselines), or with kind="clothing" Fashion-MNIST-like pictures,
    through the encoder trained on Fashion-MNIST; anything else is taken as photos of any size,
    grey or colour, a list or a batch. `model` names another encoder for the "autoencoder"
    spaces. PCA of photos is fit per gallery: use Gallery.codes for it."""
    if isinstance(images, np.ndarray) and images.ndim == 3 and images.shape[1:] == (28, 28):
        if kind not in ENCODERS:
            raise ValueError(f"unknown kind {kind!r} of 28x28 pictures; choose one of {tuple(ENCODERS)}")
        chars = np.asarray(images, dtype=np.float32)
        if space == "autoencoder":
            return runtime.run(model or ENCODERS[kind][0], chars[:, None])
        if space == "pca":
            return runtime.run(ENCODERS[kind][1], chars[:, None])
        if space == "pixels":
            return chars.reshape(len(chars), -1).copy()
        raise ValueError(f"unknown code space {space!r} for 28x28 pictures; choose one of {SPACES[kind]}")
    photos = [np.asarray(im, dtype=np.float32) for im in images]
    if space in ("autoencoder", "autoencoder-grey"):
        return _embed_photos(photos, space == "autoencoder-grey", model or PHOTO_MODEL)
    if space == "pixels":
        return _photo_pixels(photos)
    raise ValueError(f"unknown code space {space!r} for photos (PCA is fit per gallery: "
                     "use Gallery.codes)")


def content_key(images: list[np.ndarray]) -> str:
    """A hash of the images' pixels and shapes: the same gallery gets the same key."""
    digest = hashlib.sha256()
    for im in images:
        digest.update(str(im.shape).encode())
        digest.update(np.ascontiguousarray(im, dtype=np.float32).tobytes())
    return digest.hexdigest()[:16]


@dataclass
class Gallery:
    """Images to search, with their names and (when known) labels. Codes, PCA fits and indexes
    are built on first use and kept, once per code space and metric."""
    images: list[np.ndarray]              # characters (28, 28), or photos (H, W[, 3]) for display
    names: list[str]
    kind: str                             # "character", "clothing" (28x28, Fashion-MNIST's) or "photo"
    labels: np.ndarray | None = None      # (N,) str, or None for an unlabelled gallery
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (name, reason) not loaded
    key: str = ""
    builtin: str | None = None            # the name of a built-in gallery (its maps and scores are stored)
    _codes: dict = field(default_factory=dict, repr=False)
    _indexes: dict = field(default_factory=dict, repr=False)
    _pca: object = field(default=None, repr=False)

    def __post_init__(self):
        if not self.images:
            raise GalleryError("The gallery has no images to search.")
        self.key = self.key or content_key(self.images)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def spaces(self) -> tuple[str, ...]:
        return SPACES[self.kind]

    @property
    def labelled(self) -> bool:
        return self.labels is not None

    def _check_space(self, space: str) -> None:
        if space not in self.spaces:
            raise ValueError(f"unknown code space {space!r} for a {self.kind} gallery; "
                             f"choose one of {self.spaces}")

    def _input(self, images) -> np.ndarray | list[np.ndarray]:
        return np.stack(images) if self.kind in ENCODERS else list(images)

    def _photo_pca(self):
        """PCA of the photos' raw pixels, with as many components as the autoencoder's code
        (fewer when the gallery is smaller than that), fit on this gallery."""
        if self._pca is None:
            from sklearn.decomposition import PCA

            pixels = self.codes("pixels")
            size = min(self.codes("autoencoder").shape[1], len(pixels), pixels.shape[1])
            self._pca = PCA(n_components=size, random_state=0).fit(pixels)
        return self._pca

    def codes(self, space: str = "autoencoder") -> np.ndarray:
        """The gallery's codes (N, D) in a code space, computed once."""
        self._check_space(space)
        if space not in self._codes:
            if self.kind == "photo" and space == "pca":
                codes = self._photo_pca().transform(self.codes("pixels")).astype(np.float32)
            else:
                codes = embed(self._input(self.images), space, kind=self.kind)
            self._codes[space] = codes
        return self._codes[space]

    def embed_queries(self, images: list[np.ndarray], space: str) -> np.ndarray:
        """Codes for new images, prepared like the gallery's (characters are centred first)."""
        self._check_space(space)
        if self.kind in ENCODERS:
            prepare = prepare_character if self.kind == "character" else fashion.prepare_clothing
            images = [im if im.shape == (28, 28) else prepare(im) for im in images]
        if self.kind == "photo" and space == "pca":
            return self._photo_pca().transform(embed(images, "pixels")).astype(np.float32)
        return embed(self._input(images), space, kind=self.kind)

    def __getstate__(self) -> dict:
        """A stored built-in gallery: characters as bytes, codes as half floats, no indexes (built
        again on first use); the rounding is the one `builtin_gallery` applies. Other galleries
        pickle as they are (without their indexes)."""
        if self.builtin is None:
            return {**self.__dict__, "_indexes": {}}
        return {**self.__dict__, "_indexes": {}, "_codes": {s: c.astype(np.float16) for s, c in self._codes.items()},
                "images": precomputed.pack_bytes(np.stack(self.images))}

    def __setstate__(self, state: dict) -> None:
        codes = {s: np.asarray(c, dtype=np.float32) for s, c in state["_codes"].items()}
        images = state["images"]
        if isinstance(images, np.ndarray):
            images = list(precomputed.unpack_bytes(images))
        self.__dict__.update({**state, "_codes": codes, "images": images})

    def index(self, space: str = "autoencoder", metric: str = "cosine") -> SearchIndex:
        if (space, metric) not in self._indexes:
            self._indexes[space, metric] = SearchIndex(self.codes(space), metric)
        return self._indexes[space, metric]


@dataclass
class SearchResult:
    indices: np.ndarray          # (k,) gallery positions, nearest first
    distances: np.ndarray        # (k,)
    names: list[str]
    labels: list[str] | None     # the neighbours' labels, for a labelled gallery
    query_label: str | None
    space: str
    metric: str

    @property
    def precision(self) -> float | None:
        """Share of the neighbours that carry the query's label (None when it is unknown)."""
        if self.labels is None or self.query_label is None or not self.labels:
            return None
        return float(np.mean([label == self.query_label for label in self.labels]))


def search(gallery: Gallery, query: int | np.ndarray, *, space: str = "autoencoder",
           metric: str = "cosine", k: int = 10) -> SearchResult:
    """The k nearest gallery images to `query`: a gallery position (which is left out of its own
    answer) or a new image."""
    index = gallery.index(space, metric)
    if isinstance(query, (int, np.integer)):
        position = int(query)
        if not 0 <= position < len(gallery):
            raise IndexError(f"gallery position {position} is outside 0..{len(gallery) - 1}")
        distances, indices = index.query(gallery.codes(space)[position:position + 1], k + 1)
        keep = indices[0] != position
        distances, indices = distances[0][keep][:k], indices[0][keep][:k]
        query_label = str(gallery.labels[position]) if gallery.labelled else None
    else:
        distances, indices = index.query(gallery.embed_queries([np.asarray(query, np.float32)], space), k)
        distances, indices = distances[0], indices[0]
        query_label = None
    labels = [str(gallery.labels[i]) for i in indices] if gallery.labelled else None
    return SearchResult(indices, distances, [gallery.names[i] for i in indices], labels, query_label,
                        space, metric)


def precision_at_k(gallery: Gallery, space: str = "autoencoder", metric: str = "cosine",
                   ks: tuple[int, ...] = (1, 5, 10)) -> dict[int, float]:
    """Leave-one-out precision@k over a labelled gallery: every image queries all the others;
    the share of its k nearest that share its label, averaged."""
    if not gallery.labelled:
        raise ValueError("precision@k needs a labelled gallery")
    k_max = min(max(ks), len(gallery) - 1)
    _, indices = gallery.index(space, metric).query(gallery.codes(space), k_max + 1)
    positions = np.arange(len(gallery))[:, None]
    # Drop each image from its own answer (it is usually first, but ties may move it).
    others = np.array([row[row != p][:k_max] for row, p in zip(indices, positions[:, 0])])
    hits = gallery.labels[others] == gallery.labels[:, None]                # (N, k_max)
    return {k: float(hits[:, :min(k, k_max)].mean()) for k in ks}


def compare_spaces(gallery: Gallery, metric: str = "cosine",
                   ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, dict[int, float]]:
    """precision@k for every code space of a labelled gallery, side by side (stored at build
    time for the built-in galleries)."""
    if gallery.builtin is not None and tuple(ks) == (1, 5, 10):
        return builtin_space_comparison(gallery.builtin, metric)
    return {space: precision_at_k(gallery, space, metric, ks) for space in gallery.spaces}


def project(gallery: Gallery, space: str = "autoencoder", method: str = "pca", seed: int = 0, *,
            progress: Callable[[Progress], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> np.ndarray | None:
    """The gallery's codes in 2-D (N, 2) for a map: PCA, or t-SNE up to TSNE_LIMIT images
    (stored at build time for the built-in galleries). A t-SNE reports each of its TSNE_STAGES
    to `progress` and ends after the stage at which `should_stop()` answers True, with None."""
    if projection_stored(gallery, seed):
        return builtin_projection(gallery.builtin, space, method)
    return _project(gallery.codes(space), method, seed, progress, should_stop)


def projection_stored(gallery: Gallery, seed: int = 0) -> bool:
    """Whether `project` reads this gallery's maps from what the build stored (a built-in
    gallery) instead of computing them."""
    return gallery.builtin is not None and seed == 0


# t-SNE runs in stages, so that a page can show its progress and stop it: the first stage is
# scikit-learn's exploration with early exaggeration (250 iterations), each of the others 250
# more without, from where the last one ended; 1000 iterations in all, scikit-learn's default. The
# learning rate is the one scikit-learn's "auto" gives the whole run (N / 12 / 4, at least 50).
TSNE_STAGES = 4
TSNE_STAGE_ITERATIONS = 250
TSNE_EARLY_EXAGGERATION = 12.0


def _project(codes: np.ndarray, method: str, seed: int, progress: Callable[[Progress], None] | None = None,
             should_stop: Callable[[], bool] | None = None) -> np.ndarray | None:
    if len(codes) < 3:
        return np.pad(codes[:, :2], ((0, 0), (0, max(0, 2 - codes.shape[1]))))
    if method == "pca":
        from sklearn.decomposition import PCA
        return PCA(n_components=2, random_state=seed).fit_transform(codes).astype(np.float32)
    if method == "tsne":
        if len(codes) > TSNE_LIMIT:
            raise ValueError(f"t-SNE is offered up to {TSNE_LIMIT} images; this gallery has {len(codes)}")
        return _tsne(codes, seed, progress, should_stop)
    raise ValueError(f"unknown projection {method!r}; choose 'pca' or 'tsne'")


def _tsne(codes: np.ndarray, seed: int, progress: Callable[[Progress], None] | None,
          should_stop: Callable[[], bool] | None) -> np.ndarray | None:
    from sklearn.manifold import TSNE

    started = time.perf_counter()
    settings = {"n_components": 2, "perplexity": float(min(30.0, (len(codes) - 1) / 3)), "random_state": seed,
                "metric": "cosine", "max_iter": TSNE_STAGE_ITERATIONS,
                "learning_rate": max(len(codes) / TSNE_EARLY_EXAGGERATION / 4, 50.0)}
    points: np.ndarray | str = "pca"
    for stage in range(TSNE_STAGES):
        tsne = TSNE(init=points, early_exaggeration=TSNE_EARLY_EXAGGERATION if stage == 0 else 1.0, **settings)
        points = tsne.fit_transform(codes)
        if progress is not None:
            progress(Progress(step=stage + 1, steps=TSNE_STAGES, loss=float(tsne.kl_divergence_),
                              seconds=time.perf_counter() - started, phase="t-SNE"))
        if should_stop is not None and should_stop() and stage + 1 < TSNE_STAGES:
            return None
    return np.asarray(points, dtype=np.float32)


# What the built-in galleries depend on: the character encoder and its PCA twin, and the fonts.
_BUILTIN_MODELS = (CHAR_MODEL, CHAR_PCA)
_STORED_SPACES = ("autoencoder", "pca")        # "pixels" are the images themselves


@precomputed.stored("search_galleries", variants=lambda: [(n,) for n in BUILTIN_GALLERIES], models=_BUILTIN_MODELS,
                    fonts=True)
def builtin_gallery(name: str = "digits", count: int = 1000, seed: int = 2024) -> Gallery:
    """Labelled characters for search, rendered from the held-out fonts with distortions wider
    than training: no image here, and no font, was seen by the encoder. Images rounded to bytes,
    codes computed and rounded to half floats (stored at build time)."""
    if name not in BUILTIN_GALLERIES:
        raise ValueError(f"unknown gallery {name!r}; choose one of {tuple(BUILTIN_GALLERIES)}")
    images, labels = datasets.render_characters(BUILTIN_GALLERIES[name][1], count,
                                                fonts=datasets.font_split(held_out=True), seed=seed,
                                                distortion=datasets.EVAL_DISTORTION)
    builtin = (count, seed) == (1000, 2024)
    gallery = Gallery(list(precomputed.as_bytes(images)), [f"{label} #{i}" for i, label in enumerate(labels)],
                      "character", labels, builtin=name if builtin else None)
    for space in _STORED_SPACES if builtin else ():
        gallery._codes[space] = precomputed.as_half(gallery.codes(space))
    return gallery


@precomputed.stored("search_maps", models=_BUILTIN_MODELS, fonts=True, version=2, variants=lambda: [
    (n, s, m) for n in BUILTIN_GALLERIES for s in SPACES["character"] for m in ("pca", "tsne")])
def builtin_projection(name: str, space: str, method: str) -> np.ndarray:
    """`project` of a built-in gallery (seed 0), stored at build time: t-SNE takes a minute."""
    return _project(builtin_gallery(name).codes(space), method, 0)


@precomputed.stored("search_scores", models=_BUILTIN_MODELS, fonts=True,
                    variants=lambda: [(n, m) for n in BUILTIN_GALLERIES for m in METRICS])
def builtin_space_comparison(name: str, metric: str) -> dict[str, dict[int, float]]:
    """`compare_spaces` of a built-in gallery at k = 1, 5, 10, stored at build time."""
    gallery = builtin_gallery(name)
    return {space: precision_at_k(gallery, space, metric, (1, 5, 10)) for space in gallery.spaces}


FASHION_GALLERY = 2000   # pictures of Fashion-MNIST's test set in its gallery: 200 of each kind


def fashion_gallery(count: int = FASHION_GALLERY, seed: int = 0) -> Gallery:
    """"Find similar clothes": `count` pictures of Fashion-MNIST's official test set (as many of
    each kind, chosen at random), which the clothing encoder never trained on, labelled by kind.
    Read from the machine's copy of the data set (engine.core.fashion): raises
    FashionUnavailable (a DatasetError, with a message saying how to add it) without one."""
    images, labels = fashion.load_fashion_mnist("test")
    rng = np.random.default_rng(seed)
    per_kind = max(1, count // len(fashion.FASHION_CLASSES))
    picks = np.sort(np.concatenate([rng.choice(np.flatnonzero(labels == k), min(per_kind, int((labels == k).sum())),
                                               replace=False) for k in np.unique(labels)]))
    kinds = np.array([fashion.FASHION_CLASSES[labels[i]] for i in picks])
    return Gallery([images[i] for i in picks], [f"{kind} #{i}" for kind, i in zip(kinds, picks)], "clothing", kinds)


def _folder_labels(names: list[str]) -> np.ndarray | None:
    """Labels from the first folder of each name ("cats/1.jpg" -> "cats") when every image sits
    in a folder and there are at least two folders; otherwise None."""
    parts = [n.replace("\\", "/").split("/") for n in names]
    if any(len(p) < 2 for p in parts):
        return None
    labels = np.array([p[-2] for p in parts])
    return labels if len(set(labels)) >= 2 else None


def load_gallery(files: list[tuple[str, bytes]], treat_as: str = "auto") -> Gallery:
    """A gallery from uploaded files: images, and zip archives of images (folders inside a zip
    become labels). Unreadable files, and in a character gallery images with no character, are
    skipped and listed in `skipped`. Images all small enough to be characters (treat_as="auto")
    are centred as characters; otherwise photos, each shrunk to PHOTO_STORE_PIXELS as soon as
    it is decoded. Raises GalleryError when nothing is left to search, or too much."""
    images: list[np.ndarray] = []
    names: list[str] = []
    paths: list[str] = []           # inside its zip, for folder labels
    skipped: list[tuple[str, str]] = []
    budget = PixelBudget(MAX_FOLDER_PIXELS)    # all the files together, zips and single images

    def add(name: str, path: str, image: np.ndarray) -> None:
        images.append(fit_within(image, PHOTO_STORE_PIXELS))   # a character is far smaller
        names.append(name)
        paths.append(path)
        if len(images) > MAX_GALLERY:
            raise GalleryError(f"A gallery holds at most {MAX_GALLERY:,} images; these files have more.")

    for name, data in files:
        if name.lower().endswith(".zip") or data[:4] == b"PK\x03\x04":
            try:
                folder = load_image_folder(io.BytesIO(data), max_files=MAX_GALLERY, fit_pixels=PHOTO_STORE_PIXELS,
                                           budget=budget)
            except (DatasetError, zipfile.LargeZipFile) as err:
                skipped.append((name, str(err)))
                continue
            for member, image in zip(folder.names, folder.images):
                add(f"{name}/{member}", member, image)
            skipped += [(f"{name}/{n}", reason) for n, reason in folder.skipped]
        else:
            try:
                add(name, name, decode_image(data, fit_pixels=PHOTO_STORE_PIXELS, budget=budget))
            except PixelBudgetError as err:
                raise GalleryError(str(err)) from None
            except ImageError as err:
                skipped.append((name, str(err)))
    kind = "character" if treat_as == "character" or (
        treat_as == "auto" and images and all(denoise_target(im) == "character" for im in images)) else "photo"
    if kind == "character":
        kept = []
        for i, image in enumerate(images):
            try:
                kept.append((i, prepare_character(image)))
            except ImageError as err:                               # blank: nothing to centre
                skipped.append((names[i], str(err)))
        images = [image for _, image in kept]
        names, paths = [names[i] for i, _ in kept], [paths[i] for i, _ in kept]
    elif len(images) > MAX_PHOTO_GALLERY:
        raise GalleryError(f"A gallery of photos holds at most {MAX_PHOTO_GALLERY:,} images; these "
                           f"files have {len(images):,}.")
    if not images:
        reasons = "; ".join(f"{n}: {r}" for n, r in skipped[:3])
        raise GalleryError("None of these files could be read as an image" + (f" ({reasons})." if reasons else "."))
    return Gallery(images, names, kind, _folder_labels(paths), skipped)
