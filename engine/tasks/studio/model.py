"""The autoencoder family of the training studio, after the lecture notes' chapter on
autoencoders: undercomplete, sparse, stacked (optionally with tied weights), convolutional,
denoising and variational. Each is a small module with a dataclass config (saved next to its
weights), encode / decode methods, a forward that returns named outputs, and its whole
training objective in one `loss(outputs, target)` method; engine.nn.train.fit trains them all.

Input convention: a model takes a float32 batch shaped (N, *config.input_shape), pixels in
[0, 1]. Images are (N, 1, S, S) for grey images of side S (28 for MNIST-like digits, 8 for
scikit-learn's), so 784 and 64 numbers per image both work; the fully connected families
flatten inside, and also take plain vectors with input_shape (D,) (the 3-D points of the
PCA demonstration). forward returns at least "reconstruction" (the input's shape) and
"code" (N, code_size), and "logits" (before the sigmoid) for pixel outputs; the variational
family adds "mean" and "log_var". The loss of pixels is binary cross-entropy, as in the
notes; the studio judges every model by the mean squared error of its reconstructions.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from engine.core.imaging import add_noise
from engine.nn.layers import reparameterize, vae_terms

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu, "sigmoid": torch.sigmoid, "linear": lambda x: x}


LOSSES = ("bce", "mse")   # a pixel model's reconstruction loss: binary cross-entropy or mean squared error


def reconstruction_loss(outputs: dict[str, torch.Tensor], target: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """Binary cross-entropy per value for pixels in [0, 1] (outputs with "logits"; the notes'
    loss='binary_crossentropy', whose gradient does not vanish when a sigmoid saturates on
    the wrong side), mean squared error for unbounded values or when `kind` is "mse" (the
    TensorFlow tutorial's one-hidden-layer network)."""
    if "logits" in outputs and kind == "bce":
        return nn.functional.binary_cross_entropy_with_logits(outputs["logits"], target)
    return nn.functional.mse_loss(outputs["reconstruction"], target)


def _keras_init(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases for every dense and convolutional layer, the notes'
    (Keras') default; PyTorch's smaller default left a third of the ReLU code units dead."""
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)


@dataclass
class AutoencoderConfig:
    input_shape: tuple = (1, 28, 28)   # one sample: (1, S, S) grey images, or (D,) vectors
    code_size: int = 32
    output: str = "sigmoid"            # "sigmoid": values in [0, 1] (pixels); "linear": any value
    loss: str = "bce"                  # of sigmoid outputs: "bce" or "mse" (linear outputs: always MSE)

    def __post_init__(self) -> None:
        self.input_shape = tuple(self.input_shape)   # JSON gives lists back
        if self.output not in ("sigmoid", "linear"):
            raise ValueError(f"output must be 'sigmoid' or 'linear', got {self.output!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.code_size < 1:
            raise ValueError("code_size must be at least 1")

    @property
    def input_size(self) -> int:
        return math.prod(self.input_shape)


class Autoencoder(nn.Module):
    """What every family shares: encode, decode, a forward with named outputs, the loss, and
    the training corruption of the input (none but the denoising family's)."""

    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        self.config = config

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode_values(self, code: torch.Tensor) -> torch.Tensor:
        """The decoder's last values before the output activation: (N, *input_shape)."""
        raise NotImplementedError

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self._outputs(self.decode_values(code))["reconstruction"]

    def _outputs(self, values: torch.Tensor) -> dict[str, torch.Tensor]:
        values = values.reshape(-1, *self.config.input_shape)
        if self.config.output == "linear":
            return {"reconstruction": values}
        return {"reconstruction": torch.sigmoid(values), "logits": values}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        code = self.encode(x)
        return {**self._outputs(self.decode_values(code)), "code": code}

    def loss(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        return reconstruction_loss(outputs, target, self.config.loss)

    def corrupt(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The input the model sees in training for a clean batch (the target stays clean)."""
        return batch


@dataclass
class UndercompleteConfig(AutoencoderConfig):
    code_activation: str = "relu"      # "relu", "sigmoid" or "linear"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.code_activation not in ACTIVATIONS:
            raise ValueError(f"code_activation must be one of {sorted(ACTIVATIONS)}")


class Undercomplete(Autoencoder):
    """One hidden layer narrower than the input: x (D) -> code (K) -> x' (D). With K < D the
    network cannot copy its input and must keep what matters most."""

    def __init__(self, config: UndercompleteConfig):
        super().__init__(config)
        self.encoder = nn.Linear(config.input_size, config.code_size)
        self.decoder = nn.Linear(config.code_size, config.input_size)
        _keras_init(self)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return ACTIVATIONS[self.config.code_activation](self.encoder(x.flatten(1)))   # (N, K)

    def decode_values(self, code: torch.Tensor) -> torch.Tensor:
        return self.decoder(code)                                                     # (N, D)


@dataclass
class SparseConfig(UndercompleteConfig):
    penalty: str = "l1"                # "l1": weight * sum |code|; "kl": weight * sum KL(rho || mean code)
    weight: float | None = None        # None: the penalty's default (SPARSE_WEIGHTS)
    rho: float = 0.05                  # the KL penalty's target mean activation of each unit
    code_activation: str | None = None  # None: relu for l1, sigmoid for kl (KL needs codes in (0, 1))

    def __post_init__(self) -> None:
        if self.penalty not in SPARSE_WEIGHTS:
            raise ValueError(f"penalty must be one of {sorted(SPARSE_WEIGHTS)}, got {self.penalty!r}")
        if self.weight is None:
            self.weight = SPARSE_WEIGHTS[self.penalty]
        if self.code_activation is None:
            self.code_activation = "sigmoid" if self.penalty == "kl" else "relu"
        if self.penalty == "kl" and self.code_activation != "sigmoid":
            raise ValueError("the KL penalty needs sigmoid codes: a mean activation in (0, 1)")
        if not 0.0 < self.rho < 1.0:
            raise ValueError("rho must be between 0 and 1")
        super().__post_init__()


# Against a per-pixel cross-entropy of about 0.1 on digits: on the 28x28 digits at code size
# 32 they raise the share of resting units from about 12% to 45-50% (L1) and 40% (KL), for a
# reconstruction error about 13% (L1) and twice (KL, whose codes are bounded) the plain one.
SPARSE_WEIGHTS = {"l1": 3e-4, "kl": 1e-2}


class Sparse(Undercomplete):
    """The undercomplete network with a sparsity penalty on its code: an L1 activity
    regulariser (Keras' activity_regularizer=l1), or the KL divergence between a target mean
    activation rho and each unit's mean activation over the batch. Few units fire for any one
    image, so each unit comes to stand for a feature."""

    def penalty(self, code: torch.Tensor) -> torch.Tensor:
        if self.config.penalty == "l1":
            return code.abs().sum(1).mean()
        rho = self.config.rho
        mean = code.mean(0).clamp(1e-6, 1 - 1e-6)                                    # (K,)
        return (rho * torch.log(rho / mean) + (1 - rho) * torch.log((1 - rho) / (1 - mean))).sum()

    def loss(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        return super().loss(outputs, target) + self.config.weight * self.penalty(outputs["code"])


@dataclass
class StackedConfig(AutoencoderConfig):
    hidden: tuple = (128, 64)          # encoder widths before the code; the decoder mirrors them
    tied: bool = False                 # the decoder uses the encoder's weights transposed
    code_activation: str = "relu"

    def __post_init__(self) -> None:
        self.hidden = tuple(self.hidden)
        super().__post_init__()
        if self.code_activation not in ACTIVATIONS:
            raise ValueError(f"code_activation must be one of {sorted(ACTIVATIONS)}")


class TiedLinear(nn.Module):
    """A decoder layer that multiplies by an encoder layer's weight transposed: the very same
    Parameter (stored and trained once), with a bias of its own."""

    def __init__(self, mirror: nn.Linear):
        super().__init__()
        self.weight = mirror.weight                                  # shared, not copied
        self.bias = nn.Parameter(torch.zeros(mirror.in_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight.t(), self.bias)


class Stacked(Autoencoder):
    """Several hidden layers, symmetric about the code: D -> 128 -> 64 -> K -> 64 -> 128 -> D.
    Trains all at once, or layer by layer (layer_pair) and then fine-tuned whole."""

    def __init__(self, config: StackedConfig):
        super().__init__(config)
        sizes = (config.input_size, *config.hidden, config.code_size)
        self.encoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.decoder = nn.ModuleList(
            TiedLinear(layer) if config.tied else nn.Linear(layer.out_features, layer.in_features)
            for layer in reversed(self.encoder))
        _keras_init(self)

    @property
    def depth(self) -> int:
        return len(self.encoder)

    def _encoder_activation(self, i: int) -> Callable[[torch.Tensor], torch.Tensor]:
        return ACTIVATIONS[self.config.code_activation] if i == self.depth - 1 else torch.relu

    def encode_to(self, x: torch.Tensor, layers: int) -> torch.Tensor:
        """The activations after the first `layers` encoder layers: (N, sizes[layers])."""
        h = x.flatten(1)
        for i in range(layers):
            h = self._encoder_activation(i)(self.encoder[i](h))
        return h

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode_to(x, self.depth)                                          # (N, K)

    def decode_values(self, code: torch.Tensor) -> torch.Tensor:
        h = code
        for layer in self.decoder[:-1]:
            h = torch.relu(layer(h))
        return self.decoder[-1](h)                                                    # (N, D)

    def layer_pair(self, i: int) -> nn.Module:
        """Encoder layer i and its mirror in the decoder as a shallow autoencoder of the
        activations before layer i (greedy layer-wise pretraining); its parameters are the
        stack's own, so training the pair trains the stack."""
        return _LayerPair(self, i)


class _LayerPair(nn.Module):
    def __init__(self, stack: Stacked, i: int):
        super().__init__()
        self.encoder = stack.encoder[i]                     # the stack's own layers, shared
        self.decoder = stack.decoder[stack.depth - 1 - i]
        self.code_activation = stack._encoder_activation(i)
        self.stack_output = stack._outputs if i == 0 else None   # inner layers: ReLU, as in the stack
        self.kind = stack.config.loss

    def forward(self, h: torch.Tensor) -> dict[str, torch.Tensor]:
        code = self.code_activation(self.encoder(h.flatten(1)))
        values = self.decoder(code)
        outputs = self.stack_output(values) if self.stack_output else {"reconstruction": torch.relu(values)}
        return {**outputs, "code": code}

    def loss(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        return reconstruction_loss(outputs, target, self.kind)


CODE_LAYERS = ("dense", "maps")


@dataclass
class ConvolutionalConfig(AutoencoderConfig):
    channels: tuple = (16, 32)         # encoder feature maps ("dense": at 1/2 and 1/4 of the side)
    code_layer: str = "dense"          # "dense": a linear layer to code_size numbers; "maps": the code is
    #                                    the encoder's last feature maps, code_size set by them (the lecture's D, E)
    decoder_channels: tuple = ()       # "maps": the decoder's two convolutions' widths (empty: channels reversed)

    def __post_init__(self) -> None:
        self.channels, self.decoder_channels = tuple(self.channels), tuple(self.decoder_channels)
        if self.code_layer not in CODE_LAYERS:
            raise ValueError(f"code_layer must be one of {CODE_LAYERS}, got {self.code_layer!r}")
        if len(self.input_shape) != 3 or self.input_shape[1] != self.input_shape[2] \
                or self.input_shape[1] % 4:
            raise ValueError("the convolutional families take square images (C, S, S) with S a "
                             f"multiple of 4, got {self.input_shape}")
        if self.code_layer == "dense" and (len(self.channels) != 2 or self.decoder_channels):
            raise ValueError("a dense code takes two encoder widths and no decoder widths")
        if self.code_layer == "maps":
            self.decoder_channels = self.decoder_channels or tuple(reversed(self.channels[-2:]))
            if len(self.channels) < 2 or len(self.decoder_channels) != 2:
                raise ValueError("a code of feature maps takes at least two encoder widths and two decoder widths")
            self.code_size = self.channels[-1] * (self.input_shape[1] // 4) ** 2   # set by the layers
        super().__post_init__()


class Convolutional(Autoencoder):
    """Convolutions instead of dense layers: two stride-2 convolutions down to feature maps
    of a quarter of the side, a linear layer to the code, and the mirror image back up with
    transposed convolutions. Filters are shared over the image, so it needs far fewer
    parameters than a dense network and keeps strokes sharp. With code_layer="maps" it is the
    lecture's Keras network instead (models D and E): 3x3 convolutions ("same", ReLU) with a 2x2
    max-pooling after each of the first two, the last feature maps as the code, and back up by
    two 3x3 convolutions each followed by a 2x2 upsampling, then a 3x3 convolution to the pixels."""

    def __init__(self, config: ConvolutionalConfig):
        super().__init__(config)
        if config.code_layer == "maps":
            self._maps_layers(config)
            return
        channels, side = config.input_shape[0], config.input_shape[1]
        c1, c2 = config.channels
        q = side // 4
        self.features = nn.Sequential(
            nn.Conv2d(channels, c1, 3, stride=2, padding=1), nn.ReLU(),               # (N, c1, S/2, S/2)
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),                     # (N, c2, S/4, S/4)
            nn.Flatten())                                                             # (N, c2 * q * q)
        self.to_code = nn.Linear(c2 * q * q, self.code_outputs)
        self.decoder = nn.Sequential(
            nn.Linear(config.code_size, c2 * q * q), nn.ReLU(),
            nn.Unflatten(1, (c2, q, q)),                                              # (N, c2, S/4, S/4)
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),            # (N, c1, S/2, S/2)
            nn.ConvTranspose2d(c1, channels, 4, stride=2, padding=1))                 # (N, C, S, S)

    def _maps_layers(self, config: ConvolutionalConfig) -> None:
        channels, q = config.input_shape[0], config.input_shape[1] // 4
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip((channels, *config.channels), config.channels)):
            layers += [nn.Conv2d(a, b, 3, padding=1), nn.ReLU()]
            if i < 2:
                layers.append(nn.MaxPool2d(2))                                        # S/2, then S/4
        self.features = nn.Sequential(*layers, nn.Flatten())                         # (N, c * q * q): the code
        self.to_code = nn.Identity()
        d1, d2 = config.decoder_channels
        self.decoder = nn.Sequential(
            nn.Unflatten(1, (config.channels[-1], q, q)),
            nn.Conv2d(config.channels[-1], d1, 3, padding=1), nn.ReLU(), nn.Upsample(scale_factor=2),
            nn.Conv2d(d1, d2, 3, padding=1), nn.ReLU(), nn.Upsample(scale_factor=2),
            nn.Conv2d(d2, channels, 3, padding=1))                                   # (N, C, S, S)
        _keras_init(self)   # as the lecture trains them

    @property
    def code_outputs(self) -> int:
        return self.config.code_size

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_code(self.features(x))                                         # (N, K)

    def decode_values(self, code: torch.Tensor) -> torch.Tensor:
        return self.decoder(code)                                                     # (N, C, S, S)


@dataclass
class DenoisingConfig(ConvolutionalConfig):
    noise: str = "gaussian"            # "gaussian": x + factor * N(0, 1), clipped; "mask": pixels set to 0
    noise_factor: float = 0.5          # the gaussian noise's standard deviation (the notes' noise_factor)
    mask_fraction: float = 0.3         # the share of pixels masked

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.noise not in ("gaussian", "mask"):
            raise ValueError(f"noise must be 'gaussian' or 'mask', got {self.noise!r}")
        if not (0.0 <= self.noise_factor <= 1.0 and 0.0 <= self.mask_fraction <= 1.0):
            raise ValueError("noise_factor and mask_fraction must be between 0 and 1")


class Denoising(Convolutional):
    """The convolutional network taught to rebuild clean images from corrupted ones (gaussian
    noise, or randomly masked pixels). The corruption happens only in training, to each batch
    (corrupt); at inference the model gets the input as it is."""

    def corrupt(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        config = self.config
        amount = config.noise_factor if config.noise == "gaussian" else config.mask_fraction
        return add_noise(batch, config.noise, amount, seed=int(rng.integers(2**31)))


@dataclass
class VariationalConfig(ConvolutionalConfig):
    beta: float = 1.0                  # the KL term's weight (beta-VAE: > 1 for a smoother latent space)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.output != "sigmoid":
            raise ValueError("the variational family models pixels in [0, 1]: output must be 'sigmoid'")
        if self.code_layer != "dense":
            raise ValueError("the variational family's code is a dense layer (its mean and log variance)")


class Variational(Convolutional):
    """A variational autoencoder: the encoder gives the mean and log variance of a Gaussian
    q(z | x); training decodes a sample z = mean + sigma * eps (the reparameterization trick,
    so gradients flow through the sample), inference the mean. The loss is the negative ELBO:
    Bernoulli reconstruction + beta * KL(q(z | x) || N(0, I)), divided by the pixel count so
    its scale matches the other families'. The code is the mean."""

    @property
    def code_outputs(self) -> int:
        return 2 * self.config.code_size

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_var = self.to_code(self.features(x)).chunk(2, dim=1)              # (N, K) each
        return mean, log_var.clamp(-12.0, 8.0)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        mean, log_var = self.posterior(x)
        z = reparameterize(mean, log_var) if self.training else mean
        return {**self._outputs(self.decode_values(z)), "code": mean, "mean": mean, "log_var": log_var}

    def loss(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        reconstruction, kl = vae_terms(target, outputs["logits"], outputs["mean"], outputs["log_var"])
        return (reconstruction + self.config.beta * kl).mean() / self.config.input_size


FAMILIES: dict[str, tuple[type[Autoencoder], type[AutoencoderConfig], str]] = {
    "undercomplete": (Undercomplete, UndercompleteConfig,
                      "One hidden layer narrower than the input: the plainest autoencoder."),
    "sparse": (Sparse, SparseConfig,
               "One hidden layer with a sparsity penalty (L1 or KL) so few code units fire at once."),
    "stacked": (Stacked, StackedConfig,
                "Several dense layers symmetric about the code; optionally tied weights or "
                "layer-wise pretraining."),
    "convolutional": (Convolutional, ConvolutionalConfig,
                      "Convolutions down to a code and transposed convolutions back up."),
    "denoising": (Denoising, DenoisingConfig,
                  "The convolutional network trained to rebuild clean images from noisy or masked ones."),
    "variational": (Variational, VariationalConfig,
                    "A Gaussian latent code, sampled by reparameterization; loss = reconstruction + beta * KL."),
}


def make_model(family: str, **fields) -> Autoencoder:
    """A new, untrained model of `family` with its config fields (unknown fields raise)."""
    try:
        cls, config_cls, _ = FAMILIES[family]
    except KeyError:
        raise ValueError(f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}") from None
    return cls(config_cls(**fields))


def family_of(model: Autoencoder) -> str:
    return next(name for name, (cls, _, _) in FAMILIES.items() if type(model) is cls)


def parameter_count(model: nn.Module) -> int:
    """Trainable numbers, each shared Parameter (tied weights) counted once."""
    return sum(p.numel() for p in model.parameters())
