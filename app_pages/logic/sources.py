"""The source documents the playground was made from (Korean lecture notes and blog posts on
autoencoders), shipped in app_pages/static/sources/: what each covers in English, and which
pages build on it. Plain Python (no streamlit)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FOLDER = Path(__file__).resolve().parent.parent / "static" / "sources"
LINK = "sources"                # its URL path, for a markdown link from another page


@dataclass(frozen=True)
class Source:
    number: str        # "000": the file's first three characters
    file: str
    title: str
    summary: str       # what it covers, in English
    pages: tuple[str, ...]   # the pages that build on it

    def text(self) -> str:
        return (FOLDER / self.file).read_text(encoding="utf-8")


SOURCES = (
    Source("000", "000_90f5b93cd30c68b6.txt", "Autoencoders as non-linear PCA, and their uses",
           "Autoencoders as non-linear PCA; PCA by eigen-decomposition; the 8x8 handwritten digits reduced to "
           "3 dimensions and plotted by digit. Uses: noise reduction (a convolutional denoising autoencoder on "
           "MNIST, noise factor 0.2), anomaly detection (a model trained on digits rebuilds an 'A' as an '8'), "
           "colorization, and image search (encoder codes plus k nearest neighbours on CIFAR-10: a green frog "
           "also finds green deer, so dropping colour can make search better).",
           ("Home", "Denoising", "Anomaly detection", "Colorization", "Image search", "Training studio")),
    Source("001", "001_d31653b75f114c1a.txt", "Why reduce dimension: encoder, code, decoder",
           "Why reduce dimension (a spring filmed by 10 cameras moves in 1-D); encoder, latent vector and "
           "decoder; training by reconstruction; using the encoder alone, for example to classify with few labels.",
           ("Home", "Semi-supervised learning")),
    Source("002", "002_86f0416867118f25.txt", "A one-hidden-layer autoencoder on MNIST",
           "A one-hidden-layer autoencoder on MNIST (784 -> 256 -> 784, sigmoid, mean squared error, RMSProp), "
           "with originals and reconstructions shown in two rows.",
           ("Training studio",)),
    Source("003", "003_39a07776306cb53b.txt", "Lecture chapter 14: Autoencoder",
           "Undercomplete, sparse (L1 activity regulariser), stacked (128-64-32-64-128), deep convolutional and "
           "denoising (noise factor 0.5) autoencoders on MNIST with their losses; PCA against an autoencoder on a "
           "plane and on a curved surface; denoising dirty documents; an LSTM sequence autoencoder forecasting "
           "electricity load 3 hours ahead from 6 hours of load and temperature (GEFCom2014); the variational "
           "autoencoder (reparameterisation, reconstruction + KL loss, the 2-D digit manifold, the conditional "
           "VAE, the adversarial autoencoder).",
           ("Training studio", "Denoising", "Sequence autoencoder", "VAE generation")),
    Source("004", "004_7c5a291494b2d6bd.txt", "Training methods and industrial uses",
           "Training methods (all at once, layer-wise then fine-tuned, tied weights); uses: semi-supervised "
           "learning with a pretrained encoder, generation (VAE, GAN), anomaly detection on vehicle sensor data, "
           "matrix completion with a masking denoising autoencoder.",
           ("Training studio", "Semi-supervised learning", "VAE generation", "Anomaly detection",
            "Filling in missing values")),
)


def link(text: str = "the lecture notes") -> str:
    """A markdown link to the Sources page, for the pages' own words."""
    return f"[{text}]({LINK})"
