"""The LSTM encoder-decoders of time series: a sequence autoencoder and a forecaster."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


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

    def loss(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the output sequence (the window rebuilt, or the forecast)."""
        return nn.functional.mse_loss(outputs[self.output_name], target)


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
