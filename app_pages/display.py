"""What several pages show alike: enlarged characters, mosaics, inline thumbnails, 8-bit
pixels. Plain numpy (no streamlit), so tests import it like any module."""
from __future__ import annotations

import base64

import numpy as np

import engine

CHARACTER_SCALE = 6  # 28x28 is too small to see; nearest-neighbour keeps the pixels honest


def enlarge(image: np.ndarray, scale: int = CHARACTER_SCALE) -> np.ndarray:
    """Each pixel as a scale x scale block (nearest neighbour), grey (H, W) or colour (H, W, C),
    clipped to [0, 1]."""
    return np.clip(image, 0, 1).repeat(scale, axis=0).repeat(scale, axis=1)


def mosaic(images: np.ndarray, columns: int, gap: int = 2) -> np.ndarray:
    """Characters (N, S, S) tiled row by row with grey gaps, as one image."""
    rows = -(-len(images) // columns)
    side = images.shape[1]
    canvas = np.full((rows * (side + gap) - gap, columns * (side + gap) - gap), 0.5, dtype=np.float32)
    for index, image in enumerate(images):
        top, left = (index // columns) * (side + gap), (index % columns) * (side + gap)
        canvas[top:top + side, left:left + side] = image
    return canvas


def data_uri(image: np.ndarray) -> str:
    """A PNG data URI of an image in [0, 1], for thumbnails inside tables and charts."""
    return "data:image/png;base64," + base64.b64encode(engine.encode_png(image)).decode("ascii")


def to_uint8(image: np.ndarray) -> np.ndarray:
    """An image in [0, 1] as 8-bit pixels (a quarter of the float's memory)."""
    return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


def scaled_text(original: tuple[int, int] | None, shape: tuple[int, ...], limit: int) -> str:
    """What to say of an upload scaled as it was opened to at most `limit` pixels: (width,
    height) it had, the shape it has now; "" when it was not scaled (or its size is unknown)."""
    if original is None or original[0] * original[1] <= shape[0] * shape[1]:
        return ""
    return (f"Your {original[0]}x{original[1]} image was scaled to {shape[1]}x{shape[0]} pixels "
            f"({shape[0] * shape[1] / 1e6:.1f} MP) as it was opened: the page works on at most "
            f"{limit / 1e6:.1f} megapixels, to answer fast.")
