"""Classical baselines the pages show beside the autoencoders."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from engine.core.metrics import psnr

# (name, filter) pairs tried for the photo baseline; the best for each image is shown.
_GAUSSIAN_SIGMAS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
_MEDIAN_SIZES = (3, 5)


def _spatial(image: np.ndarray, value: float, across_channels: float) -> tuple:
    """Filter over height and width only, never across colour channels."""
    return (value, value, across_channels) if image.ndim == 3 else (value, value)


def classical_filters(noisy: np.ndarray):
    """Yield (name, filtered image) for each Gaussian blur and median filter we try."""
    for name, apply in _candidates():
        yield name, apply(noisy)


def _candidates() -> list[tuple[str, Callable[[np.ndarray], np.ndarray]]]:
    """(name, filter function) of each Gaussian blur and median filter we try."""
    blurs = [(f"Gaussian blur σ={sigma:g}",
              lambda image, sigma=sigma: ndimage.gaussian_filter(image, _spatial(image, sigma, 0)))
             for sigma in _GAUSSIAN_SIGMAS]
    medians = [(f"Median filter {size}x{size}",
                lambda image, size=size: ndimage.median_filter(image, _spatial(image, size, 1)))
               for size in _MEDIAN_SIZES]
    return blurs + medians


# Choosing on tiles: a grid of TILE-pixel squares (each filtered with MARGIN pixels of its
# surroundings, so that no tile sees an edge the photo does not have) covering about a tenth of
# a large photo: every candidate runs on the tiles and only the winner on the whole photo.
TILE, MARGIN, TILE_GRID = 96, 8, 4


def _tiles(shape: tuple[int, ...]) -> list[tuple[slice, slice, slice, slice]]:
    """(rows, cols) of each tile with its margin, and of the tile inside that crop."""
    height, width = shape[:2]
    boxes = []
    for top in np.linspace(0, height - TILE, TILE_GRID).astype(int):
        for left in np.linspace(0, width - TILE, TILE_GRID).astype(int):
            r0, c0 = max(top - MARGIN, 0), max(left - MARGIN, 0)
            r1, c1 = min(top + TILE + MARGIN, height), min(left + TILE + MARGIN, width)
            boxes.append((slice(r0, r1), slice(c0, c1), slice(top - r0, top - r0 + TILE),
                          slice(left - c0, left - c0 + TILE)))
    return boxes


def best_classical_filter(clean: np.ndarray, noisy: np.ndarray, *, on_tiles: bool = False) -> tuple[str, np.ndarray]:
    """The Gaussian blur or median filter with the highest PSNR against the clean image: the
    strongest classical baseline, tuned per image with the answer in hand. `on_tiles` (for a
    page, where seconds count) chooses by the squared error on TILE_GRID x TILE_GRID tiles spread
    over a photo at least 2 * TILE_GRID tiles wide and high, then filters the whole photo with the
    winner only; the evaluation tries every filter on the whole photo."""
    if not on_tiles or min(noisy.shape[:2]) < 2 * TILE_GRID * TILE:
        return max(classical_filters(noisy), key=lambda item: psnr(clean, item[1]))
    boxes = _tiles(noisy.shape)

    def tile_error(apply) -> float:
        return sum(float(np.sum((apply(noisy[rows, cols])[inner_rows, inner_cols]
                                 - clean[rows, cols][inner_rows, inner_cols]) ** 2))
                   for rows, cols, inner_rows, inner_cols in boxes)

    name, apply = min(_candidates(), key=lambda item: tile_error(item[1]))
    return name, apply(noisy)


def non_local_means(noisy: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """scikit-image's non-local means on an (H, W) or (H, W, 3) image in [0, 1], with the noise
    level estimated from the image when `sigma` is None (the photographer's free classical
    choice: no clean image needed). The parameters are the ones scikit-image's gallery gives
    for its fast mode: 5x5 patches searched within 6 pixels, h = 0.8 sigma."""
    from skimage.restoration import denoise_nl_means

    from engine.core.noise import estimate_noise

    sigma = estimate_noise(noisy) if sigma is None else float(sigma)
    channel_axis = -1 if noisy.ndim == 3 else None
    out = denoise_nl_means(noisy, h=0.8 * sigma, sigma=sigma, fast_mode=True, patch_size=5,
                           patch_distance=6, channel_axis=channel_axis)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def bm3d_denoise(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """BM3D (the `bm3d` package, Mäkinen, Azzari and Foi) told the noise level: CBM3D in its
    opponent colour space for colour, plain BM3D for grey. Slow (about 20 s for a 512x512
    colour photo on two cores), so it runs in `python -m engine eval denoise` and the bench,
    not on the page. Needs the training requirements (`bm3d` is not a serving dependency)."""
    import bm3d

    noisy = np.asarray(noisy, dtype=np.float32)
    out = bm3d.bm3d_rgb(noisy, float(sigma)) if noisy.ndim == 3 else bm3d.bm3d(noisy, float(sigma))
    return np.clip(out, 0.0, 1.0).astype(np.float32)
