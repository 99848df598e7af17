"""The colorizer: Lab lightness in, a and b out."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class ColorizerConfig:
    width: int = 32            # channels at quarter resolution; doubled at each step down
    dropout: float = 0.1       # channel dropout at the deepest level while training: a few photos teach it


class Colorizer(nn.Module):
    """Fully convolutional colourization network: lightness in, colour out. Input: Lab
    lightness L / 100, (N, 1, H, W) with H and W multiples of 16. Output: the a and b channels
    / 100, (N, 2, H, W). Colour varies slowly, so the network works at a quarter of the
    resolution and below (an encoder to 1/16 with skip connections back to 1/4, a U-Net) and
    its colour is upsampled smoothly; the input's own lightness keeps every detail."""

    multiple = 16

    def __init__(self, config: ColorizerConfig):
        super().__init__()
        self.config = config
        w = config.width

        def block(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.ReLU()]

        self.enc1 = nn.Sequential(nn.PixelUnshuffle(4), *block(16, w), *block(w, w))      # 1/4
        self.enc2 = nn.Sequential(*block(w, 2 * w, 2), *block(2 * w, 2 * w))             # 1/8
        self.enc3 = nn.Sequential(*block(2 * w, 4 * w, 2), *block(4 * w, 4 * w),
                                  nn.Conv2d(4 * w, 4 * w, 3, padding=2, dilation=2), nn.ReLU(),
                                  nn.Dropout2d(config.dropout))                           # 1/16
        self.up3 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)                          # 1/8
        self.dec2 = nn.Sequential(*block(2 * w, 2 * w))
        self.up2 = nn.ConvTranspose2d(2 * w, w, 2, stride=2)                              # 1/4
        self.dec1 = nn.Sequential(*block(w, w), nn.Conv2d(w, 2, 3, padding=1))
        self.upsample = nn.Upsample(scale_factor=4, mode="bilinear", align_corners=False)

    def encode(self, lightness: torch.Tensor) -> tuple[torch.Tensor, ...]:
        e1 = self.enc1(lightness)
        e2 = self.enc2(e1)
        return self.enc3(e2), e2, e1

    def decode(self, code: torch.Tensor, e2: torch.Tensor, e1: torch.Tensor) -> torch.Tensor:
        d2 = self.dec2(self.up3(code) + e2)
        return self.upsample(self.dec1(self.up2(d2) + e1))

    def forward(self, lightness: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"ab": self.decode(*self.encode(lightness))}

    def loss(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the a and b (in hundreds): the loss that PSNR rewards."""
        return nn.functional.mse_loss(outputs["ab"], target)

