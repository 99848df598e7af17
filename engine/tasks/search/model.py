"""The pooled photo encoder of search: the photo denoiser's encoder with a code of fixed size."""
from __future__ import annotations

import torch

from engine.tasks.denoise.model import PhotoDenoiser, PhotoDenoiserConfig

__all__ = ["PhotoDenoiserConfig", "PhotoEmbedder"]   # the embedder's config is the denoiser's


class PhotoEmbedder(PhotoDenoiser):
    """The photo denoiser's encoder with its feature maps pooled over space: the mean and the
    standard deviation of each of the 2w deepest channels, a code of 4w numbers whatever the
    photo's size. The weights are the denoiser's; only forward differs."""

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features, _ = self.encode(x)                                     # (N, 2w, H/4, W/4)
        mean = features.mean(dim=(2, 3))
        spread = (features ** 2).mean(dim=(2, 3)) - mean ** 2
        return {"code": torch.cat([mean, torch.sqrt(torch.relu(spread) + 1e-6)], dim=1)}  # (N, 4w)
