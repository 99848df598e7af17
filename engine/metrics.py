"""Image quality metrics (scikit-image's implementations, one place to call them from)."""
from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def psnr(reference: np.ndarray, image: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1]; higher is better."""
    reference = np.asarray(reference, dtype=np.float64)
    image = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
    if np.array_equal(reference, image):
        return float("inf")
    return float(peak_signal_noise_ratio(reference, image, data_range=1.0))


def ssim(reference: np.ndarray, image: np.ndarray) -> float:
    """Structural similarity of one image (H, W) or (H, W, 3) in [0, 1]; 1 is identical."""
    reference = np.asarray(reference, dtype=np.float64)
    image = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
    channel_axis = -1 if reference.ndim == 3 else None
    win = min(7, *(s if s % 2 else s - 1 for s in reference.shape[:2]))
    return float(structural_similarity(reference, image, data_range=1.0,
                                       channel_axis=channel_axis, win_size=max(win, 3)))


def mean_psnr(references: np.ndarray, images: np.ndarray) -> float:
    """Mean per-image PSNR over a batch (the figure papers and our eval report)."""
    return float(np.mean([psnr(r, i) for r, i in zip(references, images)]))


def mean_ssim(references: np.ndarray, images: np.ndarray) -> float:
    return float(np.mean([ssim(r, i) for r, i in zip(references, images)]))
