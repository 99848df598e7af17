"""The PyTorch modules. Each model has a dataclass config saved next to its weights, small
encode / decode methods, and a forward that returns named outputs."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


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
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 3, stride=2, padding=1), nn.ReLU(),        # (N, c1, 14, 14)
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),       # (N, c2, 7, 7)
            nn.Flatten(), nn.Linear(c2 * 49, config.code_size),          # (N, code)
        )
        self.decoder = nn.Sequential(
            nn.Linear(config.code_size, c2 * 49), nn.ReLU(),
            nn.Unflatten(1, (c2, 7, 7)),                                 # (N, c2, 7, 7)
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),  # (N, c1, 14, 14)
            nn.ConvTranspose2d(c1, c1, 4, stride=2, padding=1), nn.ReLU(),  # (N, c1, 28, 28)
            nn.Conv2d(c1, 1, 3, padding=1),                              # (N, 1, 28, 28) logits
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(code))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        code = self.encode(x)
        return {"reconstruction": self.decode(code), "code": code}


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


MODEL_CLASSES = {"CharAutoencoder": (CharAutoencoder, CharAutoencoderConfig),
                 "PhotoDenoiser": (PhotoDenoiser, PhotoDenoiserConfig)}


def checkpoint(model: nn.Module) -> dict:
    """What is saved next to the ONNX file: the class, its config and the weights."""
    return {"class": type(model).__name__, "config": asdict(model.config),
            "state_dict": model.state_dict()}


def from_checkpoint(data: dict) -> nn.Module:
    cls, config_cls = MODEL_CLASSES[data["class"]]
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in data["config"].items()}
    model = cls(config_cls(**config))
    model.load_state_dict(data["state_dict"])
    return model.eval()
