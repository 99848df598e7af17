"""The variational autoencoders of digits and the classifier that judges their samples."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.nn.layers import conv_down, conv_up, reparameterize, vae_terms


@dataclass
class VAEConfig:
    latent_size: int = 16
    channels: tuple = (32, 64)
    classes: int = 0           # > 0: a conditional VAE, given a one-hot label of this many classes
    beta: float = 1.0          # the weight of the KL term in the loss


class VAE(nn.Module):
    """Variational autoencoder for 28x28 characters. The encoder gives the mean and the log
    variance of q(z | x); training samples z from it, inference uses the mean. The decoder's
    pixels are Bernoulli probabilities. A conditional VAE also takes a one-hot label in both
    encoder and decoder, so the decoder draws the label it is given."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        self.features = nn.Sequential(*conv_down(c1, c2))                # (N, c2 * 49)
        self.to_stats = nn.Linear(c2 * 49 + config.classes, 2 * config.latent_size)
        self.from_code = nn.Sequential(*conv_up(config.latent_size + config.classes, c1, c2))

    @staticmethod
    def _join(features: torch.Tensor, label: torch.Tensor | None) -> torch.Tensor:
        return features if label is None else torch.cat([features, label], dim=1)

    def encode(self, x: torch.Tensor, label: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        stats = self.to_stats(self._join(self.features(x), label))
        mean, log_var = stats.chunk(2, dim=1)                            # (N, latent) each
        return mean, log_var.clamp(-12.0, 8.0)

    def decode_logits(self, z: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        return self.from_code(self._join(z, label))

    def decode(self, z: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z, label))

    def forward(self, x: torch.Tensor, label: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        mean, log_var = self.encode(x, label)
        z = reparameterize(mean, log_var) if self.training else mean
        logits = self.decode_logits(z, label)
        return {"reconstruction": torch.sigmoid(logits), "logits": logits, "mean": mean, "log_var": log_var}

    def loss(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """The negative ELBO with the KL term weighted by beta, averaged over the batch."""
        reconstruction, kl = vae_terms(target, outputs["logits"], outputs["mean"], outputs["log_var"])
        return (reconstruction + self.config.beta * kl).mean()


@dataclass
class AAEConfig:
    latent_size: int = 16
    channels: tuple = (32, 64)
    critic_width: int = 256      # the discriminator's hidden layers
    adversarial: float = 1.0     # how hard the encoder is pushed to fool the discriminator


class AAE(nn.Module):
    """Adversarial autoencoder (Makhzani et al., 2015) for 28x28 characters: a deterministic
    encoder and a decoder of Bernoulli pixels, as the VAE's, and a discriminator that tells the
    codes of a batch from samples of the prior N(0, I). Instead of a KL term, the encoder is
    trained to fool the discriminator, so that the codes of all pictures together (the aggregate
    posterior) take the prior's shape. One loss trains all three in each step of one optimizer:
    the discriminator learns from codes it cannot move (detached), the encoder from a frozen copy
    of the discriminator's judgement (the non-saturating loss of GANs)."""

    def __init__(self, config: AAEConfig):
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        self.encoder = nn.Sequential(*conv_down(c1, c2), nn.Linear(c2 * 49, config.latent_size))
        self.from_code = nn.Sequential(*conv_up(config.latent_size, c1, c2))
        width = config.critic_width
        self.critic = nn.Sequential(nn.Linear(config.latent_size, width), nn.LeakyReLU(0.2),
                                    nn.Linear(width, width), nn.LeakyReLU(0.2), nn.Linear(width, 1))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.from_code(z))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        code = self.encode(x)
        logits = self.from_code(code)
        return {"reconstruction": torch.sigmoid(logits), "logits": logits, "code": code}

    def loss(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Reconstruction (-log p(x | z), Bernoulli, summed over pixels), plus the discriminator's
        cross-entropy on prior samples (label 1) and codes (label 0), plus, weighted by
        `adversarial`, the encoder's: its codes judged real. Averaged over the batch. (A weight of 10
        let the codes collapse onto a few digits in trials; 1 keeps them near N(0, I).)"""
        reconstruction = nn.functional.binary_cross_entropy_with_logits(
            outputs["logits"], target, reduction="none").flatten(1).sum(1).mean()
        code = outputs["code"]
        bce = nn.functional.binary_cross_entropy_with_logits
        real, fake = self.critic(torch.randn_like(code)), self.critic(code.detach())
        critic = bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake))
        frozen = {name: value.detach() for name, value in self.critic.named_parameters()}
        fooled = torch.func.functional_call(self.critic, frozen, (code,))
        encoder = bce(fooled, torch.ones_like(fooled))      # the encoder's codes, judged real
        return reconstruction + critic + self.config.adversarial * encoder


class DigitClassifier(nn.Module):
    """A small convolutional classifier of 28x28 digits, used only to judge generated ones."""

    def __init__(self, config: DigitClassifierConfig):
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        self.layers = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),      # (N, c1, 14, 14)
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # (N, c2, 7, 7)
            nn.Flatten(), nn.Dropout(0.2), nn.Linear(c2 * 49, 128), nn.ReLU(),
            nn.Linear(128, config.classes),
        )

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.layers(x)
        return {"logits": logits, "probabilities": torch.softmax(logits, dim=1)}

    def loss(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the logits against the digit labels."""
        return nn.functional.cross_entropy(outputs["logits"], target)


@dataclass
class DigitClassifierConfig:
    channels: tuple = (32, 64)
    classes: int = 10


class VAEEncoder(torch.nn.Module):
    """The encoder alone, as served: (x[, one-hot label]) -> mean, log_var."""

    def __init__(self, vae: VAE):
        super().__init__()
        self.vae = vae

    def forward(self, x: torch.Tensor, *label: torch.Tensor) -> dict[str, torch.Tensor]:
        mean, log_var = self.vae.encode(x, *label)
        return {"mean": mean, "log_var": log_var}


class VAEDecoder(torch.nn.Module):
    """The decoder alone, as served: (z[, one-hot label]) -> pixel probabilities."""

    def __init__(self, vae: VAE):
        super().__init__()
        self.vae = vae

    def forward(self, z: torch.Tensor, *label: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"image": self.vae.decode(z, *label)}


class AAEEncoder(torch.nn.Module):
    """The adversarial autoencoder's encoder alone, as served: x -> code."""

    def __init__(self, aae: AAE):
        super().__init__()
        self.aae = aae

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"code": self.aae.encode(x)}
