"""What the Denoising page shows of an image: a character enlarged, a photo whole or its centre.
Plain numpy (no streamlit)."""
from __future__ import annotations

import numpy as np

from app_pages import display


def for_display(image: np.ndarray, target: str, close_up: bool) -> np.ndarray:
    """A character ("character" target) enlarged; a photo as it is, or with `close_up` the
    centre quarter of each side, where noise and detail are visible."""
    if target == "character":
        return display.enlarge(image)
    if close_up:
        h, w = image.shape[:2]
        return image[3 * h // 8 : 5 * h // 8, 3 * w // 8 : 5 * w // 8]
    return image
