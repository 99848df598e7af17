"""Torch pieces several tasks share: the convolutional encoder and decoder of 28x28
characters, the character autoencoder built from them, the reparameterization and the
KL term of every VAE, and keeping observed values as they are."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


def conv_down(c1: int, c2: int) -> list[nn.Module]:
    """(N, 1, 28, 28) -> (N, c2 * 49): two stride-2 convolutions, flattened."""
    return [nn.Conv2d(1, c1, 3, stride=2, padding=1), nn.ReLU(),         # (N, c1, 14, 14)
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),        # (N, c2, 7, 7)
            nn.Flatten()]


def conv_up(code: int, c1: int, c2: int) -> list[nn.Module]:
    """(N, code) -> (N, 1, 28, 28) logits: a linear layer to 7x7 maps, two transposed
    convolutions back to 28x28."""
    return [nn.Linear(code, c2 * 49), nn.ReLU(),
            nn.Unflatten(1, (c2, 7, 7)),                                 # (N, c2, 7, 7)
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),  # (N, c1, 14, 14)
            nn.ConvTranspose2d(c1, c1, 4, stride=2, padding=1), nn.ReLU(),  # (N, c1, 28, 28)
            nn.Conv2d(c1, 1, 3, padding=1)]                              # (N, 1, 28, 28)


@dataclass
class CharAutoencoderConfig:
    code_size: int = 64        # the bottleneck: the PCA baseline gets the same number of components
    channels: tuple = (32, 64)


class CharAutoencoder(nn.Module):
    """Convolutional autoencoder for 28x28 characters: conv encoder -> code -> conv decoder."""

    def __init__(self, config: CharAutoencoderConfig):
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        self.encoder = nn.Sequential(*conv_down(c1, c2), nn.Linear(c2 * 49, config.code_size))
        self.decoder = nn.Sequential(*conv_up(config.code_size, c1, c2))   # logits

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(code))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        code = self.encode(x)
        return {"reconstruction": self.decode(code), "code": code}

    def loss(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the reconstruction."""
        return nn.functional.mse_loss(outputs["reconstruction"], target)


def reparameterize(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """A sample of N(mean, exp(log_var)) that gradients flow through: mean + sigma * epsilon."""
    return mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)


def vae_terms(x: torch.Tensor, logits: torch.Tensor, mean: torch.Tensor,
              log_var: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two parts of the negative ELBO per image, in nats: the Bernoulli reconstruction
    term -log p(x | z) (binary cross-entropy summed over pixels) and KL(q(z | x) || N(0, I))."""
    reconstruction = nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    kl = -0.5 * (1 + log_var - mean ** 2 - log_var.exp()).sum(1)
    return reconstruction, kl


def keep_observed(values: torch.Tensor, observed: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
    """Observed entries exactly as given, predictions only where entries are missing."""
    return observed * values + (1 - observed) * predicted
