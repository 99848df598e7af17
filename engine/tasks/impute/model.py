"""The masking denoising autoencoders that fill in missing values: characters and table rows."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.nn.layers import keep_observed


@dataclass
class MaskedCharAutoencoderConfig:
    code_size: int = 64
    channels: tuple = (32, 64)


class MaskedCharAutoencoder(nn.Module):
    """A masking denoising autoencoder that fills in missing pixels of 28x28 characters.
    Input (N, 2, 28, 28): channel 0 the character with missing pixels set to 0, channel 1 the
    mask, 1 where a pixel is observed and 0 where it is missing (so a dark pixel and a missing
    one differ). The encoder squeezes both into a code; the decoder redraws the character,
    with skip connections at 14x14 and 28x28 so that thin strokes around small holes survive
    while the code supplies the shape of large ones. Output "filled" keeps every observed
    pixel and takes the decoder's pixels only where the mask is 0."""

    def __init__(self, config: MaskedCharAutoencoderConfig):
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        self.enc0 = nn.Sequential(nn.Conv2d(2, c1, 3, padding=1), nn.ReLU())               # (N, c1, 28, 28)
        self.enc1 = nn.Sequential(nn.Conv2d(c1, c1, 3, stride=2, padding=1), nn.ReLU())    # (N, c1, 14, 14)
        self.enc2 = nn.Sequential(nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),    # (N, c2, 7, 7)
                                  nn.Flatten(), nn.Linear(c2 * 49, config.code_size))
        self.dec2 = nn.Sequential(nn.Linear(config.code_size, c2 * 49), nn.ReLU(), nn.Unflatten(1, (c2, 7, 7)),
                                  nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU())  # (N, c1, 14, 14)
        self.dec1 = nn.Sequential(nn.ConvTranspose2d(c1, c1, 4, stride=2, padding=1), nn.ReLU())  # (N, c1, 28, 28)
        self.out = nn.Conv2d(c1, 1, 3, padding=1)                                          # (N, 1, 28, 28)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        full = self.enc0(x)
        half = self.enc1(full)
        return self.enc2(half), half, full

    def decode(self, code: torch.Tensor, half: torch.Tensor, full: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.out(self.dec1(self.dec2(code) + half) + full))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        code, half, full = self.encode(x)
        reconstruction = self.decode(code, half, full)
        return {"filled": keep_observed(x[:, :1], x[:, 1:], reconstruction),
                "reconstruction": reconstruction, "code": code}

    def loss(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the filled-in character."""
        return nn.functional.mse_loss(outputs["filled"], target)


@dataclass
class MaskedTableAutoencoderConfig:
    features: int = 64
    hidden: int = 256
    code_size: int = 32


class MaskedTableAutoencoder(nn.Module):
    """A masking denoising autoencoder for the rows of a numeric table. Input (N, 2, D): row 0
    the values with missing entries set to 0, row 1 the mask, 1 where observed, 0 where missing.
    Values are standardised inside (the training rows' column means and spreads are buffers),
    so missing entries enter as the column mean; an MLP encodes values and mask to a code and
    decodes every entry. Output "filled" (N, D) in the table's units keeps observed entries."""

    def __init__(self, config: MaskedTableAutoencoderConfig):
        super().__init__()
        self.config = config
        d, h = config.features, config.hidden
        self.register_buffer("column_mean", torch.zeros(d))
        self.register_buffer("column_scale", torch.ones(d))
        self.encoder = nn.Sequential(nn.Linear(2 * d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(),
                                     nn.Linear(h, config.code_size))
        self.decoder = nn.Sequential(nn.Linear(config.code_size, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(),
                                     nn.Linear(h, d))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        values, observed = x[:, 0], x[:, 1]                                 # (N, D) each
        standard = (values - self.column_mean) / self.column_scale * observed
        code = self.encoder(torch.cat([standard, observed], dim=1))       # (N, code_size)
        reconstruction = self.decoder(code) * self.column_scale + self.column_mean
        return {"filled": keep_observed(values, observed, reconstruction),
                "reconstruction": reconstruction, "code": code}

    def loss(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the filled-in row."""
        return nn.functional.mse_loss(outputs["filled"], target)

