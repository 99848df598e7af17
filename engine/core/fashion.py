"""Fashion-MNIST (Zalando's 70,000 grey 28x28 pictures of ten kinds of clothing: 60,000 to
train on, an official test set of 10,000), read from Debian's package dataset-fashion-mnist
when the machine has it. Nothing is downloaded: without the package the playground offers
digits only and says how to add it. Pictures are float32 in [0, 1], light on a dark ground,
the convention of the playground's characters."""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from engine.core.loaders import DatasetError, load_idx

FOLDER = "/usr/share/datasets/fashion-mnist"   # where the Debian package puts the IDX files
FOLDER_VARIABLE = "FASHION_MNIST"              # names another folder holding the same four files
INSTALL = "sudo apt-get install dataset-fashion-mnist"
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
SPLITS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),      # 60,000 pictures
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}          # 10,000: the official test set


class FashionUnavailable(DatasetError):
    """Fashion-MNIST is not on this machine (its message says how to add it)."""


def folder() -> Path:
    """The folder read: $FASHION_MNIST when set, else the Debian package's."""
    return Path(os.environ.get(FOLDER_VARIABLE) or FOLDER)


def _path(name: str) -> Path | None:
    """The file `name` in the folder, plain or gzip-compressed (.gz, as Debian ships it)."""
    for candidate in (folder() / f"{name}.gz", folder() / name):
        if candidate.is_file():
            return candidate
    return None


def fashion_available() -> bool:
    """Whether all four files are there (their contents are checked when read)."""
    return all(_path(name) is not None for images, labels in SPLITS.values() for name in (images, labels))


def fashion_missing_note() -> str:
    """What a page says when the data set is not there."""
    return (f"Fashion-MNIST is not on this machine. On Debian or Ubuntu, `{INSTALL}` adds it (to {FOLDER}); "
            f"or set {FOLDER_VARIABLE} to a folder holding its four IDX files. Then restart the app.")


def load_fashion_mnist(split: str = "train", count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The pictures (N, 28, 28) float32 in [0, 1] and their labels (N,) int64 (indices into
    FASHION_CLASSES) of a split, "train" or "test": all of them, or the first `count`. Raises
    FashionUnavailable without the files and DatasetError for files that are not Fashion-MNIST's
    (wrong shapes, labels out of range, a label file that does not match). The files are read
    once per process and kept as bytes (47 MB for the training set, where its floats would take
    188 MB); each call returns new floats of the pictures asked for."""
    images, labels = (a[:count] for a in _read(split))
    return images.astype(np.float32) / np.float32(255.0), labels.copy()


@functools.lru_cache(maxsize=2)
def _read(split: str) -> tuple[np.ndarray, np.ndarray]:
    """A split's pictures as uint8 and labels as int64, checked, read-only: see load_fashion_mnist."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {tuple(SPLITS)}")
    image_name, label_name = SPLITS[split]
    image_path, label_path = _path(image_name), _path(label_name)
    if image_path is None or label_path is None:
        raise FashionUnavailable(fashion_missing_note())
    images, labels = load_idx(image_path), load_idx(label_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise DatasetError(f"{image_path.name} holds {images.dtype} of shape {images.shape}, not 28x28 bytes")
    if labels.shape != (len(images),) or labels.dtype != np.uint8 or (labels.size and labels.max() >= len(FASHION_CLASSES)):
        raise DatasetError(f"{label_path.name} does not hold one label from 0 to 9 for each of the "
                           f"{len(images):,} pictures of {image_path.name}")
    if not len(images):
        raise DatasetError(f"{image_path.name} holds no pictures")
    classes = labels.astype(np.int64)
    images.setflags(write=False)   # cached: shared by every caller
    classes.setflags(write=False)
    return images, classes


def prepare_clothing(image) -> np.ndarray:
    """A picture of one garment prepared the way Fashion-MNIST's were made: grey, light on a dark
    ground (a picture on a light ground is inverted and its ground taken to black), cropped to
    the garment, its longer side scaled to 28 pixels and centred in 28x28. Accepts what
    engine.as_float_image does (any size, grey, RGB or RGBA). Returns float32 (28, 28); raises
    EmptyImageError when the picture is one flat colour."""
    from engine.core.imaging import EmptyImageError, as_float_image, resize, to_grey

    values = as_float_image(image)
    grey = to_grey(values)
    edge = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    ground = float(np.median(edge))
    if ground > 0.5:                  # dark on light: a product photo on white, say
        grey, ground = 1.0 - grey, 1.0 - ground
    garment = np.clip((grey - ground) / max(1.0 - ground, 1e-6), 0.0, 1.0)
    rows, cols = np.nonzero(garment > 0.1 * garment.max()) if garment.max() > 0.02 else ((), ())
    if not len(rows):
        raise EmptyImageError("The picture is one flat colour: there is no garment to find.")
    crop = garment[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    height, width = crop.shape
    scale = 28 / max(height, width)
    shape = (max(1, round(height * scale)), max(1, round(width * scale)))
    small = resize(crop.astype(np.float32), shape)
    out = np.zeros((28, 28), np.float32)
    top, left = (28 - shape[0]) // 2, (28 - shape[1]) // 2
    out[top:top + shape[0], left:left + shape[1]] = small
    return out
