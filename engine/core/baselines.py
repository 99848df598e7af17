"""Classical baselines the pages show beside the autoencoders."""
from __future__ import annotations

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
    for sigma in _GAUSSIAN_SIGMAS:
        yield f"Gaussian blur σ={sigma:g}", ndimage.gaussian_filter(noisy, _spatial(noisy, sigma, 0))
    for size in _MEDIAN_SIZES:
        yield f"Median filter {size}x{size}", ndimage.median_filter(noisy, _spatial(noisy, size, 1))


def best_classical_filter(clean: np.ndarray, noisy: np.ndarray) -> tuple[str, np.ndarray]:
    """The Gaussian blur or median filter with the highest PSNR against the clean image: the
    strongest classical baseline, tuned per image with the answer in hand."""
    return max(classical_filters(noisy), key=lambda item: psnr(clean, item[1]))
