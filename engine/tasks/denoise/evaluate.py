"""`python -m engine eval denoise`: held-out fonts, handwriting and photos, each denoiser
against its baseline."""
from __future__ import annotations

import numpy as np

from engine.core import datasets, runtime
from engine.core.baselines import best_classical_filter
from engine.core.imaging import add_noise, fit_within
from engine.core.metrics import mean_psnr, mean_ssim, psnr, ssim
from engine.core.report import median_seconds, result_table
from engine.tasks.denoise.serve import CHAR_BASELINE, denoise

PHOTO_SIGMA = 25 / 255
CHAR_NOISE = 0.5


def heldout_characters(count: int, seed: int) -> np.ndarray:
    """Digits and letters from fonts never used in training, with distortions wider than any
    used in training."""
    images, _ = datasets.render_characters(datasets.DIGITS + datasets.LETTERS, count,
                                           fonts=datasets.font_split(held_out=True), seed=seed,
                                           distortion=datasets.EVAL_DISTORTION)
    return images


def _char_rows(clean: np.ndarray, seed: int) -> list[list]:
    noisy = add_noise(clean, "gaussian", CHAR_NOISE, seed=seed)
    pca = runtime.run(CHAR_BASELINE, noisy[:, None])[:, 0]
    ae = denoise(noisy)
    return [[name, round(mean_psnr(clean, im), 2), round(mean_ssim(clean, im), 3)]
            for name, im in (("Noisy input", noisy), (runtime.model_info(CHAR_BASELINE)["name"], pca),
                             ("Autoencoder", ae))]


def heldout_noisy_photos(seed: int = 1234) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, clean, noisy) of every held-out photo at sigma 25/255, as the evaluation sees them."""
    rng = np.random.default_rng(seed)
    pairs = []
    for name in datasets.HELD_OUT_PHOTOS:
        clean = datasets.load_photo(name)
        pairs.append((name, clean, add_noise(clean, "gaussian", PHOTO_SIGMA, seed=int(rng.integers(2**31)))))
    return pairs


def photo_psnr(model: str | bytes | None = None) -> dict[str, float]:
    """PSNR (dB) of the photo denoiser `model` on each held-out photo: the int8 twin's judge."""
    return {f"PSNR {name}": psnr(clean, denoise(noisy[None], model=model)[0])
            for name, clean, noisy in heldout_noisy_photos()}


def eval_denoise(count: int = 2000, seed: int = 1234) -> dict:
    fonts = datasets.font_split(held_out=True)
    chars = _char_rows(heldout_characters(count, seed), seed)
    handwritten = _char_rows(datasets.handwritten_digits(held_out=True)[0], seed)
    photo_rows = []
    for name, clean, noisy in heldout_noisy_photos(seed):
        filter_name, filtered = best_classical_filter(clean, noisy)
        ae = denoise(noisy[None])[0]
        photo_rows.append([name, "x".join(map(str, clean.shape)), round(psnr(clean, noisy), 2),
                           f"{psnr(clean, filtered):.2f} ({filter_name})", round(psnr(clean, ae), 2),
                           round(ssim(clean, noisy), 3), round(ssim(clean, filtered), 3),
                           round(ssim(clean, ae), 3)])
    big = fit_within(np.kron(datasets.load_photo("astronaut"), np.ones((2, 2, 1), np.float32)), 1024 * 1024)
    big_noisy = add_noise(big, "gaussian", PHOTO_SIGMA, seed=seed)[None]
    seconds = median_seconds(lambda: denoise(big_noisy), repeats=3)
    return {"command": "eval denoise", "device": runtime.device_name(), "tables": [
        result_table(f"Characters: {count} digits and letters in {len(fonts)} held-out fonts "
               f"({', '.join(sorted({f.family for f in fonts}))}), wider distortions, "
               f"gaussian noise {CHAR_NOISE}", ["Image", "PSNR (dB)", "SSIM"], chars),
        result_table(f"Handwritten digits: the 300 held-out scikit-learn digits, gaussian noise {CHAR_NOISE}",
               ["Image", "PSNR (dB)", "SSIM"], handwritten),
        result_table("Photos held out of training, gaussian sigma 25/255 (best classical filter tuned per image)",
               ["Photo", "Size", "Noisy PSNR", "Best filter PSNR", "Autoencoder PSNR",
                "Noisy SSIM", "Filter SSIM", "Autoencoder SSIM"], photo_rows),
        result_table("Photo denoiser speed", ["Input", "Seconds (median of 3)"],
               [[f"{big.shape[1]}x{big.shape[0]} colour", round(seconds, 3)]]),
    ]}


EVALS = {"denoise": eval_denoise}
