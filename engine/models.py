"""The PyTorch modules. Each model has a dataclass config saved next to its weights, small
encode / decode methods, and a forward that returns named outputs."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


def _conv_down(c1: int, c2: int) -> list[nn.Module]:
    """(N, 1, 28, 28) -> (N, c2 * 49): two stride-2 convolutions, flattened."""
    return [nn.Conv2d(1, c1, 3, stride=2, padding=1), nn.ReLU(),         # (N, c1, 14, 14)
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),        # (N, c2, 7, 7)
            nn.Flatten()]


def _conv_up(code: int, c1: int, c2: int) -> list[nn.Module]:
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
        self.encoder = nn.Sequential(*_conv_down(c1, c2), nn.Linear(c2 * 49, config.code_size))
        self.decoder = nn.Sequential(*_conv_up(config.code_size, c1, c2))   # logits

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


class PhotoEmbedder(PhotoDenoiser):
    """The photo denoiser's encoder with its feature maps pooled over space: the mean and the
    standard deviation of each of the 2w deepest channels, a code of 4w numbers whatever the
    photo's size. The weights are the denoiser's; only forward differs."""

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features, _ = self.encode(x)                                     # (N, 2w, H/4, W/4)
        mean = features.mean(dim=(2, 3))
        spread = (features ** 2).mean(dim=(2, 3)) - mean ** 2
        return {"code": torch.cat([mean, torch.sqrt(torch.relu(spread) + 1e-6)], dim=1)}  # (N, 4w)


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
        self.features = nn.Sequential(*_conv_down(c1, c2))                # (N, c2 * 49)
        self.to_stats = nn.Linear(c2 * 49 + config.classes, 2 * config.latent_size)
        self.from_code = nn.Sequential(*_conv_up(config.latent_size + config.classes, c1, c2))

    @staticmethod
    def _join(features: torch.Tensor, label: torch.Tensor | None) -> torch.Tensor:
        return features if label is None else torch.cat([features, label], dim=1)

    def encode(self, x: torch.Tensor, label: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        stats = self.to_stats(self._join(self.features(x), label))
        mean, log_var = stats.chunk(2, dim=1)                            # (N, latent) each
        return mean, log_var.clamp(-12.0, 8.0)

    @staticmethod
    def reparameterize(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
        return mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)

    def decode_logits(self, z: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        return self.from_code(self._join(z, label))

    def decode(self, z: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z, label))

    def forward(self, x: torch.Tensor, label: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        mean, log_var = self.encode(x, label)
        z = self.reparameterize(mean, log_var) if self.training else mean
        logits = self.decode_logits(z, label)
        return {"reconstruction": torch.sigmoid(logits), "logits": logits, "mean": mean, "log_var": log_var}


def vae_terms(x: torch.Tensor, logits: torch.Tensor, mean: torch.Tensor,
              log_var: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two parts of the negative ELBO per image, in nats: the Bernoulli reconstruction
    term -log p(x | z) (binary cross-entropy summed over pixels) and KL(q(z | x) || N(0, I))."""
    reconstruction = nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    kl = -0.5 * (1 + log_var - mean ** 2 - log_var.exp()).sum(1)
    return reconstruction, kl


class DigitClassifier(nn.Module):
    """A small convolutional classifier of 28x28 digits, used only to judge generated ones."""

    def __init__(self, config: "DigitClassifierConfig"):
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


@dataclass
class DigitClassifierConfig:
    channels: tuple = (32, 64)
    classes: int = 10


# ------------------------------------------------------------------ sequence autoencoders (time series)

@dataclass
class SequenceAutoencoderConfig:
    features: int = 3          # load, temperature (z-scores) and 1 where temperature is known
    window: int = 24           # hours in
    output_steps: int = 24     # hours out: the window itself (reconstruction)
    hidden: int = 64
    code_size: int = 8         # the bottleneck: too small to copy a window, big enough for its shape


class SequenceAutoencoder(nn.Module):
    """An LSTM encoder-decoder: the encoder reads the window hour by hour and its last state
    becomes the code; the code is repeated once per output hour and an LSTM decoder turns the
    repeated code into the output sequence (the lecture's LSTM -> RepeatVector -> LSTM ->
    TimeDistributed(Dense)). This one rebuilds the window's load: its error scores anomalies."""
    output_name = "reconstruction"

    def __init__(self, config: SequenceAutoencoderConfig):
        super().__init__()
        self.config = config
        self.encoder = nn.LSTM(config.features, config.hidden, batch_first=True)
        self.to_code = nn.Linear(config.hidden, config.code_size)
        self.decoder = nn.LSTM(config.code_size, config.hidden, batch_first=True)
        self.head = nn.Linear(config.hidden, 1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        _, (state, _) = self.encoder(x)                      # x (N, window, features); state (1, N, hidden)
        return self.to_code(state[-1])                       # (N, code_size)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        repeated = code[:, None].expand(-1, self.config.output_steps, -1)   # (N, steps, code_size)
        hidden, _ = self.decoder(repeated)                   # (N, steps, hidden)
        return self.head(hidden)[..., 0]                     # (N, steps)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        code = self.encode(x)
        return {self.output_name: self.decode(code), "code": code}


@dataclass
class SequenceForecasterConfig(SequenceAutoencoderConfig):
    window: int = 6            # the lecture's six hours of load and temperature in
    output_steps: int = 3      # and the next three hours of load out
    hidden: int = 64
    code_size: int = 32


class SequenceForecaster(SequenceAutoencoder):
    """The same encoder-decoder decoding the next hours instead of the window. The decoder
    predicts the change from the last hour seen, so an untrained network starts from the
    persistence forecast and learns the daily shape on top of it."""
    output_name = "forecast"

    def decode_from(self, code: torch.Tensor, last_load: torch.Tensor) -> torch.Tensor:
        return last_load[:, None] + self.decode(code)        # (N, output_steps)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        code = self.encode(x)
        return {self.output_name: self.decode_from(code, x[:, -1, 0]), "code": code}


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
        self.encoder = nn.Sequential(*_conv_down(c1, c2), nn.Linear(c2 * 49, config.code_size))
        self.register_buffer("code_mean", torch.zeros(config.code_size))
        self.register_buffer("code_scale", torch.ones(config.code_size))
        self.head = nn.Linear(config.code_size, config.classes)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        code = self.encoder(x)                                           # (N, code_size)
        logits = self.head((code - self.code_mean) / self.code_scale)    # (N, classes)
        return {"logits": logits, "probabilities": torch.softmax(logits, dim=1), "code": code}


def _keep_observed(values: torch.Tensor, observed: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
    """Observed entries exactly as given, predictions only where entries are missing."""
    return observed * values + (1 - observed) * predicted


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
        return {"filled": _keep_observed(x[:, :1], x[:, 1:], reconstruction),
                "reconstruction": reconstruction, "code": code}


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
        return {"filled": _keep_observed(values, observed, reconstruction),
                "reconstruction": reconstruction, "code": code}


MODEL_CLASSES = {"CharAutoencoder": (CharAutoencoder, CharAutoencoderConfig),
                 "PhotoDenoiser": (PhotoDenoiser, PhotoDenoiserConfig),
                 "PhotoEmbedder": (PhotoEmbedder, PhotoDenoiserConfig),
                 "VAE": (VAE, VAEConfig),
                 "Colorizer": (Colorizer, ColorizerConfig),
                 "DigitClassifier": (DigitClassifier, DigitClassifierConfig),
                 "SequenceAutoencoder": (SequenceAutoencoder, SequenceAutoencoderConfig),
                 "SequenceForecaster": (SequenceForecaster, SequenceForecasterConfig),
                 "CodeClassifier": (CodeClassifier, CodeClassifierConfig),
                 "MaskedCharAutoencoder": (MaskedCharAutoencoder, MaskedCharAutoencoderConfig),
                 "MaskedTableAutoencoder": (MaskedTableAutoencoder, MaskedTableAutoencoderConfig)}


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
