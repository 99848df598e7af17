"""Small stand-ins for Debian's Fashion-MNIST files, written by the tests (IDX, gzip-compressed as
Debian ships them): ten kinds of 'garment', each a bright block of its own shape on black."""
import gzip
import struct
from pathlib import Path

import numpy as np

from engine.core import fashion


def idx_bytes(array: np.ndarray) -> bytes:
    """uint8 data as an IDX file (type code 0x08)."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def garments(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(count, 28, 28) uint8 pictures and their kinds (0..9, in turn): kind k is a block k + 4
    pixels wide and 22 - k high, moved by a pixel or two, with a little noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    images = np.zeros((count, 28, 28), np.uint8)
    for image, kind in zip(images, labels):
        height, width = 22 - kind, kind + 4
        top, left = (28 - height) // 2 + rng.integers(-2, 3), (28 - width) // 2 + rng.integers(-2, 3)
        image[top:top + height, left:left + width] = rng.integers(150, 256)
    noise = rng.integers(0, 30, images.shape)
    return np.clip(images.astype(int) + noise * (images > 0), 0, 255).astype(np.uint8), labels.astype(np.uint8)


def write_fashion(folder: Path, train: int = 300, test: int = 200, compress: bool = True,
                  labels: dict[str, np.ndarray] | None = None) -> Path:
    """The four files of fashion.SPLITS in `folder` (`labels` replaces a split's labels)."""
    folder.mkdir(parents=True, exist_ok=True)
    for (split, (image_name, label_name)), count, seed in zip(fashion.SPLITS.items(), (train, test), (0, 1)):
        images, kinds = garments(count, seed)
        kinds = (labels or {}).get(split, kinds)
        for name, array in ((image_name, images), (label_name, kinds)):
            data = idx_bytes(array)
            (folder / (f"{name}.gz" if compress else name)).write_bytes(gzip.compress(data) if compress else data)
    return folder


def forget() -> None:
    """Drop what the engine and the pages keep of the Fashion-MNIST files read so far."""
    import streamlit as st

    from engine.tasks.studio import serve as studio

    fashion._read.cache_clear()
    studio._fashion.cache_clear()
    st.cache_resource.clear()
    st.cache_data.clear()
