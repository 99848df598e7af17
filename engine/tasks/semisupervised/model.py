"""The classifier of semi-supervised learning: a character encoder with a linear head."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.nn.layers import conv_down


@dataclass
class CodeClassifierConfig:
    code_size: int = 64        # a CharAutoencoder's code: its encoder's weights load as they are
    channels: tuple = (32, 64)
    classes: int = 10


class CodeClassifier(nn.Module):
    """A CharAutoencoder's encoder with a linear head on its standardised code: the network that
    semi-supervised learning fine-tunes (encoder from a pretrained autoencoder, head from a
    linear probe) or trains from scratch, so both have the same architecture."""

    def __init__(self, config: CodeClassifierConfig):
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        self.encoder = nn.Sequential(*conv_down(c1, c2), nn.Linear(c2 * 49, config.code_size))
        self.register_buffer("code_mean", torch.zeros(config.code_size))
        self.register_buffer("code_scale", torch.ones(config.code_size))
        self.head = nn.Linear(config.code_size, config.classes)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        code = self.encoder(x)                                           # (N, code_size)
        logits = self.head((code - self.code_mean) / self.code_scale)    # (N, classes)
        return {"logits": logits, "probabilities": torch.softmax(logits, dim=1), "code": code}

    def loss(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the logits against the digit labels."""
        return nn.functional.cross_entropy(outputs["logits"], target)

