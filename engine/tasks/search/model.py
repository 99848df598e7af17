"""The pooled photo encoder of search: a fully convolutional encoder-decoder trained as a photo
denoiser (the playground's first photo denoiser, before the noise-level-aware one of
engine.tasks.denoise took its place on the Denoising page), whose encoder's feature maps,
pooled over space, make a code of fixed size."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class PhotoEncoderConfig:
    width: int = 48            # channels at half resolution; doubled at quarter resolution


class PhotoAutoencoder(nn.Module):
    """Fully convolutional encoder-decoder for RGB images of any size (H and W multiples of
    4). Pixel-unshuffle first, so every convolution runs at half resolution or below, one skip
    connection, and a residual output: trained to predict the noise of a noisy photo, so that
    its encoder learns what photos are made of."""

    multiple = 4

    def __init__(self, config: PhotoEncoderConfig):
        super().__init__()
        self.config = config
        w = config.width
        self.enc1 = nn.Sequential(
            nn.PixelUnshuffle(2),                                        # (N, 12, H/2, W/2)
            nn.Conv2d(12, w, 3, padding=1), nn.ReLU(),
            nn.Conv2d(w, w, 3, padding=1), nn.ReLU(),                    # (N, w, H/2, W/2)
        )
        self.enc2 = nn.Sequential(
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.ReLU(),      # (N, 2w, H/4, W/4)
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(),
        )
        self.up = nn.ConvTranspose2d(2 * w, w, 2, stride=2)              # (N, w, H/2, W/2)
        self.dec = nn.Sequential(
            nn.Conv2d(w, w, 3, padding=1), nn.ReLU(),
            nn.Conv2d(w, w, 3, padding=1), nn.ReLU(),
            nn.Conv2d(w, 12, 3, padding=1),
            nn.PixelShuffle(2),                                          # (N, 3, H, W)
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skip = self.enc1(x)
        return self.enc2(skip), skip

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        code, skip = self.encode(x)
        noise = self.dec(self.up(code) + skip)
        return {"reconstruction": x - noise, "noise": noise}

    def loss(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the reconstruction."""
        return nn.functional.mse_loss(outputs["reconstruction"], target)


class PhotoEmbedder(PhotoAutoencoder):
    """The encoder with its feature maps pooled over space: the mean and the standard deviation
    of each of the 2w deepest channels, a code of 4w numbers whatever the photo's size. The
    weights are the autoencoder's; only forward differs."""

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features, _ = self.encode(x)                                     # (N, 2w, H/4, W/4)
        mean = features.mean(dim=(2, 3))
        spread = (features ** 2).mean(dim=(2, 3)) - mean ** 2
        return {"code": torch.cat([mean, torch.sqrt(torch.relu(spread) + 1e-6)], dim=1)}  # (N, 4w)
