"""The colorizer: Lab lightness and the user's colour hints in, a and b out (user-guided
colorization after Zhang et al. 2017, "Real-Time User-Guided Image Colorization with Learned
Deep Priors", at the size a CPU can train and serve)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

CHANNELS = 4   # L / 100, hinted a / 100, hinted b / 100, 1 where a hint is (0 elsewhere)
SPREAD_SIGMAS = (1.0, 4.0, 16.0)   # hint spreads, in quarter-resolution pixels (4, 16 and 64 pixels of the input)


class HintSpread(nn.Module):
    """The hints spread without regard for edges, as a starting point the network corrects:
    at quarter resolution, for each width in SPREAD_SIGMAS, the Gaussian-weighted mean of the
    nearby hints' a and b (normalized convolution) and how much hint weight is near (0 to 1),
    plus the mean colour of all hints and whether there are any. Fixed weights, no training:
    a handful of points at single pixels is too sparse a signal for a small network to find
    on its own from a few photos (a first network trained without this ignored its hints)."""

    def __init__(self, sigmas: tuple[float, ...] = SPREAD_SIGMAS):
        super().__init__()
        self.sigmas = sigmas
        for i, sigma in enumerate(sigmas):
            radius = int(3 * sigma + 0.5)
            t = torch.arange(-radius, radius + 1, dtype=torch.float32)
            self.register_buffer(f"kernel{i}", torch.exp(-0.5 * (t / sigma) ** 2), persistent=False)

    @property
    def channels(self) -> int:
        return 3 * len(self.sigmas) + 3

    def _blur(self, x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        c, r = x.shape[1], kernel.numel() // 2
        rows = kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1)
        x = nn.functional.conv2d(x, rows, padding=(0, r), groups=c)
        return nn.functional.conv2d(x, rows.transpose(2, 3), padding=(r, 0), groups=c)

    def forward(self, hints: torch.Tensor) -> torch.Tensor:
        cells = nn.functional.avg_pool2d(hints, 4) * 16.0        # (N, 3, H/4, W/4): sums of a, b and count per cell
        out = []
        for i in range(len(self.sigmas)):
            near = self._blur(cells, getattr(self, f"kernel{i}"))
            weight = near[:, 2:3]
            out += [near[:, :2] / (weight + 1e-3), weight / (1.0 + weight)]
        total = cells.sum(dim=(2, 3), keepdim=True)               # (N, 3, 1, 1)
        mean = total[:, :2] / (total[:, 2:3] + 1e-3)
        anyone = total[:, 2:3] / (total[:, 2:3] + 1e-3)
        out.append(torch.cat([mean, anyone], dim=1) * torch.ones_like(cells[:, :1]))
        return torch.cat(out, dim=1)                              # (N, channels, H/4, W/4)


@dataclass
class ColorizerConfig:
    width: int = 32            # channels at quarter resolution; doubled at each step down
    dropout: float = 0.1       # channel dropout at the deepest level while training: a few photos teach it


class Colorizer(nn.Module):
    """Fully convolutional colourization network. Input (N, 4, H, W), H and W multiples of 16:
    the lightness L / 100, the hint map (a / 100 and b / 100 where the user placed a colour,
    0 elsewhere) and the hint mask. Output: the a and b channels / 100, (N, 2, H, W). With no
    hints it colours on its own (the automatic mode).

    Colour varies slowly, so the network works at a quarter of the resolution and below (an
    encoder to 1/16 with skip connections back to 1/4, a U-Net) and its colour is upsampled
    smoothly; the input's own lightness keeps every detail. Dilated convolutions at 1/16 and a
    summary of the whole image carry a hint's colour hundreds of pixels along a region, and
    the skip connections stop it at the region's edges."""

    multiple = 16

    def __init__(self, config: ColorizerConfig):
        super().__init__()
        self.config = config
        w = config.width

        def block(c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=dilation, dilation=dilation), nn.ReLU()]

        self.spread = HintSpread()
        self.unshuffle = nn.PixelUnshuffle(4)
        self.enc1 = nn.Sequential(*block(16 * CHANNELS + self.spread.channels, w), *block(w, w))  # 1/4
        self.enc2 = nn.Sequential(*block(w, 2 * w, 2), *block(2 * w, 2 * w))                    # 1/8
        self.enc3 = nn.Sequential(*block(2 * w, 4 * w, 2), *block(4 * w, 4 * w, dilation=2),
                                  *block(4 * w, 4 * w, dilation=4), *block(4 * w, 4 * w, dilation=8),
                                  nn.Dropout2d(config.dropout))                                  # 1/16
        self.summary = nn.Sequential(nn.Conv2d(4 * w, 4 * w, 1), nn.ReLU())                     # whole image
        # A straight path from the spread hints to the colour, starting as the widest spread:
        # with points, the network starts from a smooth interpolation of them and learns the
        # corrections (edges, its own knowledge where no point is near).
        self.base = nn.Conv2d(self.spread.channels, 2, 1)
        with torch.no_grad():
            self.base.weight.zero_()
            self.base.bias.zero_()
            widest = 3 * (len(self.spread.sigmas) - 1)
            self.base.weight[0, widest, 0, 0] = self.base.weight[1, widest + 1, 0, 0] = 1.0
        self.up3 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)                                 # 1/8
        self.dec2 = nn.Sequential(*block(2 * w, 2 * w), *block(2 * w, 2 * w))
        self.up2 = nn.ConvTranspose2d(2 * w, w, 2, stride=2)                                     # 1/4
        self.dec1 = nn.Sequential(*block(w, w), nn.Conv2d(w, 2, 3, padding=1))
        self.upsample = nn.Upsample(scale_factor=4, mode="bilinear", align_corners=False)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        spread = self.spread(x[:, 1:])                      # (N, 12, H/4, W/4)
        e1 = self.enc1(torch.cat([self.unshuffle(x), spread], dim=1))   # (N, w, H/4, W/4)
        e2 = self.enc2(e1)                                  # (N, 2w, H/8, W/8)
        e3 = self.enc3(e2)                                  # (N, 4w, H/16, W/16)
        return e3 + self.summary(e3.mean(dim=(2, 3), keepdim=True)), e2, e1, spread

    def decode(self, code: torch.Tensor, e2: torch.Tensor, e1: torch.Tensor, spread: torch.Tensor
               ) -> dict[str, torch.Tensor]:
        d2 = self.dec2(self.up3(code) + e2)
        base = self.base(spread)
        return {"ab": self.upsample(self.dec1(self.up2(d2) + e1) + base),   # (N, 2, H, W)
                "base": self.upsample(base)}                                # the straight path alone

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """"ab": the colour; "base": the hints' plain spread it starts from, which serving
        blends with it (engine.tasks.colorize.serve.Calibration)."""
        return self.decode(*self.encode(x))

    def loss(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the a and b (in hundreds): the loss that PSNR rewards."""
        return nn.functional.mse_loss(outputs["ab"], target)
