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
    """Structural similarity of one image (H, W) or (H, W, 3) in [0, 1]; 1 is identical.
    Computed in single precision (twice as fast on a photo; the same to the 5th decimal)."""
    reference = np.asarray(reference, dtype=np.float32)
    image = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    channel_axis = -1 if reference.ndim == 3 else None
    win = min(7, *(s if s % 2 else s - 1 for s in reference.shape[:2]))
    return float(structural_similarity(reference, image, data_range=1.0,
                                       channel_axis=channel_axis, win_size=max(win, 3)))


def mean_psnr(references: np.ndarray, images: np.ndarray) -> float:
    """Mean per-image PSNR over a batch (the figure papers and our eval report)."""
    return float(np.mean([psnr(r, i) for r, i in zip(references, images)]))


def mean_ssim(references: np.ndarray, images: np.ndarray) -> float:
    return float(np.mean([ssim(r, i) for r, i in zip(references, images)]))


def colourfulness(image: np.ndarray) -> float:
    """Hasler and Suesstrunk's colourfulness of an RGB image in [0, 1], on their 0..255 scale:
    the spread of the opponent channels rg = R - G and yb = (R + G) / 2 - B plus 0.3 times
    their mean distance from grey. 0 for a grey image; about 40 is "moderately colourful"."""
    rgb = np.asarray(image, dtype=np.float64)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        return 0.0
    rgb = np.clip(rgb, 0.0, 1.0) * 255.0
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    spread = np.hypot(rg.std(), yb.std())
    mean = np.hypot(rg.mean(), yb.mean())
    return float(spread + 0.3 * mean)
