"""The photo denoiser: a fully convolutional encoder-decoder for photos of any size. (The
character denoiser is the shared CharAutoencoder of engine.nn.layers.)"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class PhotoDenoiserConfig:
    width: int = 48            # channels at half resolution; doubled at quarter resolution


class PhotoDenoiser(nn.Module):
    """Fully convolutional encoder-decoder for RGB images of any size (H and W multiples of
    4; the task pads). Pixel-unshuffle first, so every convolution runs at half resolution or
    below (a 1-megapixel photo stays fast on a CPU), one skip connection, and a residual
    output: the network predicts the noise, which is easier to learn than the image."""

    multiple = 4

    def __init__(self, config: PhotoDenoiserConfig):
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

    def decode(self, code: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.dec(self.up(code) + skip)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        code, skip = self.encode(x)
        noise = self.decode(code, skip)
        return {"reconstruction": x - noise, "noise": noise}

    def loss(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the reconstruction."""
        return nn.functional.mse_loss(outputs["reconstruction"], target)

