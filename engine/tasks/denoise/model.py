"""The photo denoiser: a noise-level-aware fully convolutional encoder-decoder for photos of any
size (after FFDNet, Zhang et al. 2018, and the U-Net of DRUNet, Zhang et al. 2021, at the size
a CPU serves in a second). The character denoiser is the shared CharAutoencoder of
engine.nn.layers."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

CHANNELS = 4   # R, G, B in [0, 1], and the noise level map: sigma on the 0-1 scale at every pixel


@dataclass
class PhotoDenoiserConfig:
    width: int = 32            # channels at half resolution; doubled at each coarser scale
    blocks: tuple[int, int, int] = (1, 1, 2)  # residual blocks at 1/2, 1/4 and 1/8 resolution


class ResBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, width, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class PhotoDenoiser(nn.Module):
    """RGB plus a noise level map in, the clean RGB out, for H and W multiples of 8 (the task
    pads). The image is pixel-unshuffled first, so every convolution runs at half resolution
    or below; an encoder of residual blocks at 1/2, 1/4 and 1/8 resolution gives a receptive
    field of about 100 pixels, and the decoder adds each scale's features back. The network
    predicts the noise (a residual output), which is easier to learn than the image, and the
    noise level map tells it how strongly to smooth (one network for sigma 0 to 55/255, and
    the user can turn it up or down)."""

    multiple = 8

    def __init__(self, config: PhotoDenoiserConfig):
        super().__init__()
        self.config = config
        w, (b1, b2, b3) = config.width, config.blocks
        self.head = nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(4 * CHANNELS, w, 3, padding=1))
        self.enc1 = nn.Sequential(*(ResBlock(w) for _ in range(b1)))
        self.down1 = nn.Conv2d(w, 2 * w, 2, stride=2)
        self.enc2 = nn.Sequential(*(ResBlock(2 * w) for _ in range(b2)))
        self.down2 = nn.Conv2d(2 * w, 4 * w, 2, stride=2)
        self.body = nn.Sequential(*(ResBlock(4 * w) for _ in range(b3)))
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.dec2 = nn.Sequential(*(ResBlock(2 * w) for _ in range(b2)))
        self.up1 = nn.ConvTranspose2d(2 * w, w, 2, stride=2)
        self.dec1 = nn.Sequential(*(ResBlock(w) for _ in range(b1)))
        self.tail = nn.Sequential(nn.Conv2d(w, 12, 3, padding=1), nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        s1 = self.enc1(self.head(x))
        s2 = self.enc2(self.down1(s1))
        code = self.body(self.down2(s2))
        y = self.dec2(self.up2(code) + s2)
        noise = self.tail(self.dec1(self.up1(y) + s1))
        return {"reconstruction": x[:, :3] - noise, "noise": noise, "level": x[:, 3, 0, 0]}

    def loss(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the reconstruction."""
        return nn.functional.mse_loss(outputs["reconstruction"], target)


def level_balanced_loss(outputs: dict[str, torch.Tensor], target: torch.Tensor,
                        floor: float = 2 / 255) -> torch.Tensor:
    """Each crop's mean squared error divided by (its noise level + floor) squared. Plain MSE is
    ruled by the noisiest crops (their error is the largest), so a network trained on it serves
    sigma 50 better than sigma 15; dividing by the level squared makes every level count alike
    in PSNR terms. The floor keeps clean crops from ruling in turn."""
    error = ((outputs["reconstruction"] - target) ** 2).mean(dim=(1, 2, 3))
    weight = 1.0 / (outputs["level"] + floor) ** 2
    return (weight * error).sum() / weight.sum()
