"""How the shipped denoisers are built: `python -m engine train denoiser`."""
from __future__ import annotations

import numpy as np
import torch

from engine.core import datasets
from engine.core.imaging import camera_noise
from engine.nn.export import export_onnx
from engine.nn.layers import CharAutoencoderConfig
from engine.nn.recipes import (
    BuildOptions,
    export_char_model,
    manifest_entry,
    noise_sample,
    pca_baseline,
    train_char_model,
    write_model,
)
from engine.nn.train import TrainConfig, fit
from engine.tasks.denoise.model import PhotoDenoiser, PhotoDenoiserConfig, level_balanced_loss


def character_training_set(scale: float, seed: int) -> np.ndarray:
    """Digits and letters from the training fonts plus the training half of the handwritten
    digits: (N, 28, 28)."""
    count = max(200, int(40_000 * scale))
    rendered, _ = datasets.render_characters(datasets.DIGITS + datasets.LETTERS, count,
                                             fonts=datasets.font_split(held_out=False), seed=seed)
    handwritten, _ = datasets.handwritten_digits(held_out=False)
    return np.concatenate([rendered, handwritten, handwritten])  # handwritten twice: rarer style


def build_denoiser_char(opts: BuildOptions) -> dict[str, dict]:
    clean = character_training_set(opts.scale, opts.seed)
    config = CharAutoencoderConfig()
    model = train_char_model(clean, config, 16_000, lambda t, rng: noise_sample(t, rng, 0.7), opts)
    data_note = (f"{len(clean)} characters: digits and letters rendered from "
                 f"{len(datasets.font_split(False))} training fonts with random distortions, "
                 "and 1,497 scikit-learn handwritten digits")
    onnx_bytes = export_char_model(model, "denoiser_char", clean, "denoise", data_note, opts)
    entries = {"denoiser_char": write_model(model, "denoiser_char", onnx_bytes, manifest_entry(
        "denoiser_char", onnx_bytes, task="denoise", name="Convolutional denoising autoencoder",
        summary=(f"A convolutional autoencoder that squeezes each 28x28 character into "
                 f"{config.code_size} numbers and rebuilds it; trained on {data_note}."),
        training_data=data_note), opts)}
    entries["pca_char"] = pca_baseline("pca_char", clean, config.code_size, "denoise-baseline",
                                        data_note, opts)[1]
    return entries


MAX_SIGMA = 55 / 255        # training noise levels, Gaussian and camera-like: 0 to this
PATCH = 96                  # training crops: 96x96, so the 1/8 scale sees 12x12
GREY_SHARE = 0.2            # patches made grey (three equal channels, as the task feeds grey)
CAMERA_SHARE = 0.3          # patches with camera-like noise instead of Gaussian
PAGES = 8                   # rendered text pages beside the photos (scanned documents)


def photo_training_images(seed: int) -> list[np.ndarray]:
    """Every photo of the corpus not held out, each at full size and at half size (finer
    detail per pixel, and the sources' own JPEG noise halved), and rendered text pages in the
    training fonts. Refuses, naming the install step, when opencv-doc's photos are missing."""
    from engine.core import photo_corpus
    from engine.core.imaging import resize

    if photo_corpus.missing():
        raise FileNotFoundError(f"the photo denoiser trains on the whole photo corpus; "
                                f"{len(photo_corpus.missing())} photos are missing: `{photo_corpus.INSTALL_HINT}`")
    photos = [photo_corpus.load(n) for n in photo_corpus.available(held_out=False)]
    images = [p for p in photos if min(p.shape[:2]) >= PATCH]
    images += [resize(p, (p.shape[0] // 2, p.shape[1] // 2)) for p in photos if min(p.shape[:2]) // 2 >= PATCH]
    fonts = datasets.font_split(held_out=False)
    return images + [datasets.render_text_page(384, 384, fonts=fonts, seed=seed + s) for s in range(PAGES)]


def noisy_batch(clean: np.ndarray, rng: np.random.Generator,
                focus: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Training inputs for clean (N, H, W, 3) patches: a random share made grey, then Gaussian
    noise (clipped to [0, 1], as in an 8-bit file) or camera-like noise of a random level up to
    MAX_SIGMA (with `focus`, FOCUS_SHARE of the levels are drawn from that range instead).
    Returns the (N, 4, H, W) inputs (RGB and the noise level map: the Gaussian's sigma, or the
    camera noise's measured standard deviation) and the (N, 3, H, W) targets."""
    clean = clean.copy()
    grey = rng.random(len(clean)) < GREY_SHARE
    clean[grey] = clean[grey].mean(axis=3, keepdims=True)
    noisy, levels = np.empty_like(clean), np.empty(len(clean), np.float32)
    for i, (patch, is_grey) in enumerate(zip(clean, grey)):
        focused = focus is not None and rng.random() < FOCUS_SHARE
        level = float(rng.uniform(*focus)) if focused else float(rng.uniform(0, MAX_SIGMA))
        source = patch[..., 0] if is_grey else patch
        if rng.random() < CAMERA_SHARE:
            out = camera_noise(source, level, rng, shot=float(rng.uniform(0.3, 0.9)),
                               quality=int(rng.integers(70, 96)))
            level = float(np.std(out - source))
        else:
            out = np.clip(source + level * rng.standard_normal(source.shape, dtype=np.float32), 0, 1)
        noisy[i] = out[..., None] if is_grey else out
        levels[i] = level
    maps = np.broadcast_to(levels[:, None, None, None], (len(clean), 1, *clean.shape[1:3]))
    inputs = np.concatenate([noisy.transpose(0, 3, 1, 2), maps], axis=1).astype(np.float32)
    return inputs, clean.transpose(0, 3, 1, 2).copy()


def crop_batches(images: list[np.ndarray], batch_size: int, focus: tuple[float, float] | None = None):
    """The batch maker of the training stages: random PATCH crops of `images`, noised by noisy_batch."""
    def batch(step: int, rng: np.random.Generator):
        patches, _ = datasets.random_patches(images, batch_size, PATCH, seed=int(rng.integers(2**31)))
        return noisy_batch(patches, rng, focus)
    return batch


def build_denoiser_photo(opts: BuildOptions) -> dict[str, dict]:
    images = photo_training_images(opts.seed)
    config = PhotoDenoiserConfig()
    train_config = TrainConfig(steps=max(20, int(13_000 * opts.scale)), batch_size=16, lr=1.5e-3,
                               seed=opts.seed)
    model = train_photo_denoiser(config, crop_batches(images, train_config.batch_size), train_config, opts)
    balance_levels(model, images, opts)
    model = grow_fine_scale(model, images, opts)
    return {"denoiser_photo": export_photo_denoiser(model, images, opts)}


BALANCE_STEPS = 6_000       # the second stage: every noise level weighted alike (level_balanced_loss)


def balance_levels(model: PhotoDenoiser, images: list[np.ndarray], opts: BuildOptions) -> None:
    """The second training stage, in place: a lower learning rate on the level-balanced loss.
    The first stage learns fastest on plain MSE, which the noisiest crops rule; this stage
    gives back to sigma 5 to 25 (the noise of real photos) what the first leaned to sigma 50."""
    train_balanced(model, images, BALANCE_STEPS, opts.seed + 1, opts)


def train_balanced(model: PhotoDenoiser, images: list[np.ndarray], steps: int, seed: int, opts: BuildOptions,
                   focus: tuple[float, float] | None = None) -> None:
    """Stages 2 and 3, in place: `steps` steps (times opts.scale) at learning rate 5e-4 on the
    level-balanced loss, on crop_batches of `images` (with `focus`, see noisy_batch)."""
    config = TrainConfig(steps=max(10, int(steps * opts.scale)), batch_size=16, lr=5e-4, seed=seed)
    fit(model, crop_batches(images, config.batch_size, focus), config, loss_fn=level_balanced_loss,
        progress=opts.progress)


GROWN_BLOCKS = (2, 1, 2)     # the third stage: one more residual block each side at 1/2 resolution
GROW_STEPS = 20_000
FOCUS = (8 / 255, 32 / 255)  # the third stage draws FOCUS_SHARE of its levels here: the noise of real photos
FOCUS_SHARE = 0.5


def grown(model: PhotoDenoiser, blocks: tuple[int, int, int]) -> PhotoDenoiser:
    """A copy of `model` with more residual blocks at each scale (`blocks`, none fewer than it
    has), computing the same function: each new block comes after the old ones and its last
    convolution starts at zero, so it adds nothing until it is trained."""
    if any(new < old for new, old in zip(blocks, model.config.blocks)):
        raise ValueError(f"can only add blocks: {model.config.blocks} -> {blocks}")
    bigger = PhotoDenoiser(PhotoDenoiserConfig(model.config.width, tuple(blocks)))
    state, old = bigger.state_dict(), model.state_dict()
    for key, value in state.items():
        if key in old:
            state[key] = old[key].clone()
        elif key.split(".")[3] == "2":   # <stage>.<block>.body.2: a new block's last convolution
            state[key] = torch.zeros_like(value)
    bigger.load_state_dict(state)
    return bigger


def grow_fine_scale(model: PhotoDenoiser, images: list[np.ndarray], opts: BuildOptions) -> PhotoDenoiser:
    """The third training stage: the trained network grown by a residual block each side at
    1/2 resolution (GROWN_BLOCKS), where the finest texture is denoised, then trained on the
    level-balanced loss, with half the noise levels drawn from FOCUS. Growing keeps what the
    first two stages learnt, so the new capacity goes to what the smaller network could not do
    (sigma 15 on fine texture, where it was 0.6 dB behind BM3D), for a fifth more time per photo
    (a megapixel: 0.54 s before, 0.64 s grown)."""
    torch.manual_seed(opts.seed + 2)        # the new blocks' first convolutions
    model = grown(model, GROWN_BLOCKS)
    train_balanced(model, images, GROW_STEPS, opts.seed + 2, opts, FOCUS)
    return model


def train_photo_denoiser(config: PhotoDenoiserConfig, batch, train_config: TrainConfig,
                         opts: BuildOptions) -> PhotoDenoiser:
    model = PhotoDenoiser(config)
    fit(model, batch, train_config, progress=opts.progress)
    return model


def export_photo_denoiser(model: PhotoDenoiser, images: list[np.ndarray], opts: BuildOptions) -> dict:
    from engine.core import photo_corpus

    photos = len(photo_corpus.available(held_out=False))
    data_note = (f"random {PATCH}x{PATCH} crops of the photo corpus's {photos} training photos (at full and "
                 f"half size) and {PAGES} rendered text pages; Gaussian noise (clipped) and camera-like noise "
                 f"(Poisson-Gaussian, then JPEG) up to sigma {round(MAX_SIGMA * 255)}/255, a fifth of the crops grey; "
                 f"then {BALANCE_STEPS:,} steps with every noise level weighted alike; then grown by a residual block "
                 f"each side at 1/2 resolution and trained {GROW_STEPS:,} steps more the same way, half of "
                 f"the crops' noise levels drawn from sigma {round(FOCUS[0] * 255)} to {round(FOCUS[1] * 255)}")
    rng = np.random.default_rng(opts.seed + 1)
    parity = [rng.random(s, dtype=np.float32) for s in ((1, 4, 32, 40), (2, 4, 64, 64), (1, 4, 136, 88))]
    example, _ = noisy_batch(datasets.random_patches(images, 2, 64, seed=opts.seed)[0], rng)
    meta = {"task": "denoise", "input": "(N, 4, H, W) float32: RGB in [0, 1] and the noise level map "
            "(sigma on the 0-1 scale at every pixel); H and W multiples of 8",
            "preprocessing": "grey images repeated over 3 channels; sides padded by reflection",
            "training_data": data_note, "config": {"width": model.config.width,
                                                   "blocks": list(model.config.blocks)}}
    onnx_bytes = export_onnx(model, opts.out_dir / "denoiser_photo.onnx", example=torch.from_numpy(example),
                             spatial_multiple=PhotoDenoiser.multiple, metadata=meta, parity_inputs=parity)
    return write_model(model, "denoiser_photo", onnx_bytes, manifest_entry(
        "denoiser_photo", onnx_bytes, task="denoise", name="Noise-level-aware denoising autoencoder",
        summary=("A fully convolutional encoder-decoder (a U-Net of residual blocks at 1/2, 1/4 and 1/8 "
                 "resolution) told the noise level, for photos and scanned pages of any size; trained "
                 f"on {data_note}."), training_data=data_note), opts)


# `python -m engine quantize`: no int8 twin; the float graph serves a 1-megapixel photo in under a
# second, and int8 would cost the PSNR that this model exists for
INT8: dict = {}

# `python -m engine train NAME`: the build steps of each target
TARGETS = {
    "denoiser": (build_denoiser_char, build_denoiser_photo),
    "denoiser-char": (build_denoiser_char,),
    "denoiser-photo": (build_denoiser_photo,),
}
