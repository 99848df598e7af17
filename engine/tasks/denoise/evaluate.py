"""`python -m engine eval denoise`: held-out fonts, handwriting and photos, each denoiser
against its baseline."""
from __future__ import annotations

import numpy as np

from engine.core import datasets, photo_corpus, runtime
from engine.core.baselines import best_classical_filter, bm3d_denoise, non_local_means
from engine.core.imaging import add_noise
from engine.core.metrics import mean_psnr, mean_ssim, psnr
from engine.core.noise import estimate_noise
from engine.core.photo_corpus import megapixel_photo
from engine.core.report import median_seconds, once_seconds, result_table
from engine.tasks.denoise.serve import CHAR_BASELINE, denoise

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


PHOTO_SIGMAS = (15, 25, 50)   # on the 0-255 scale, clipped as in an 8-bit file
CAMERA_LEVEL = 25             # camera-like noise: sigma at mid-grey, then JPEG (engine.core.imaging.camera_noise)


def heldout_noisy_photos(sigma: float = 25 / 255, seed: int = 1234, kind: str = "gaussian",
                         ) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, clean, noisy) of every held-out corpus photo present (opencv-doc's need the
    package), with noise of `kind` at `sigma` (0-1 scale), as the evaluation sees them."""
    rng = np.random.default_rng(seed)
    pairs = []
    for name in photo_corpus.available(held_out=True):
        clean = photo_corpus.load(name)
        pairs.append((name, clean, add_noise(clean, kind, sigma, seed=int(rng.integers(2**31)))))
    return pairs


def _mean_row(label: str, rows: list[list]) -> list:
    return [label, *(round(float(np.mean([r[i] for r in rows])), 2) for i in range(1, len(rows[0])))]


def _level_rows(pairs, told: list[float]) -> tuple[list[list], list[float]]:
    """Per photo: PSNR of the noisy input, the best blur/median (tuned with the clean image),
    non-local means (told its estimate), BM3D (told the level in `told`), and the autoencoder
    blind (told its estimate) and told that level. And each photo's estimate."""
    rows, estimates = [], []
    for (name, clean, noisy), level in zip(pairs, told):
        estimate = estimate_noise(noisy)
        estimates.append(estimate)
        row = [psnr(clean, noisy), psnr(clean, best_classical_filter(clean, noisy)[1]),
               psnr(clean, non_local_means(noisy, estimate)), psnr(clean, bm3d_denoise(noisy, level)),
               psnr(clean, denoise(noisy[None], sigma=estimate)[0]), psnr(clean, denoise(noisy[None], sigma=level)[0])]
        rows.append([name, *(round(v, 2) for v in row)])
    return rows, estimates


def _estimate_rows(levels: dict[int, tuple[list, list[float]]], pairs_of: dict) -> list[list]:
    """How close estimate_noise comes to the true sigma, beside scikit-image's estimate_sigma."""
    from skimage.restoration import estimate_sigma

    out = []
    for level, (_, estimates) in levels.items():
        ours = np.array(estimates) * 255 / level
        theirs = np.array([estimate_sigma(noisy, channel_axis=-1, average_sigmas=True)
                           for _, _, noisy in pairs_of[level]]) * 255 / level
        out.append([level, round(float(ours.min()), 3), round(float(ours.max()), 3),
                    round(float(np.abs(ours - 1).max() * 100), 1), round(float(theirs.min()), 3),
                    round(float(theirs.max()), 3), round(float(np.abs(theirs - 1).max() * 100), 1)])
    return out


def _photo_tables(seed: int) -> list[dict]:
    methods = ["Noisy", "Best blur/median", "Non-local means", "BM3D (told sigma)", "Autoencoder, estimated sigma",
               "Autoencoder, told sigma"]
    pairs_of = {level: heldout_noisy_photos(level / 255, seed) for level in PHOTO_SIGMAS}
    levels = {level: _level_rows(pairs, [level / 255] * len(pairs)) for level, pairs in pairs_of.items()}
    tables = [result_table(f"Held-out photos, Gaussian sigma {level}/255 clipped to [0, 1]: PSNR (dB)",
                           ["Photo", *methods], rows + [_mean_row("mean", rows)])
              for level, (rows, _) in levels.items()]
    summary = []
    for level, (rows, _) in levels.items():
        mean = _mean_row("", rows)
        below = [r[0] for r in rows if min(r[5], r[6]) < r[2]]
        summary.append([level, *mean[1:], round(mean[5] - mean[4], 2), round(mean[5] - mean[3], 2),
                        ", ".join(below) or "none"])
    tables.insert(0, result_table(
        f"Summary over the {len(pairs_of[PHOTO_SIGMAS[0]])} held-out photos: mean PSNR (dB); the autoencoder "
        "minus BM3D and minus non-local means, blind (told its own estimate)",
        ["Sigma", *methods, "Blind minus BM3D", "Blind minus NLM", "Photos where the autoencoder is below the best filter"],
        summary))
    tables.append(result_table(
        "Noise level estimates on the held-out photos: estimate / true sigma (min, max) and the worst error, "
        "engine.estimate_noise beside scikit-image's estimate_sigma",
        ["Sigma", "Ours min", "Ours max", "Ours worst %", "skimage min", "skimage max", "skimage worst %"],
        _estimate_rows(levels, pairs_of)))
    camera = heldout_noisy_photos(CAMERA_LEVEL / 255, seed, kind="camera")
    residual = [float(np.std(noisy - clean)) for _, clean, noisy in camera]
    rows, estimates = _level_rows(camera, residual)
    tables.append(result_table(
        f"Held-out photos with camera-like noise (Poisson-Gaussian, {CAMERA_LEVEL}/255 at mid-grey, then JPEG "
        "quality 85): PSNR (dB); BM3D and the last column told the noise's true standard deviation, the "
        "blind column the estimate (JPEG hides the finest grain from it)",
        ["Photo", *methods[:3], "BM3D (told the true level)", "Autoencoder, estimated sigma",
         "Autoencoder, told the true level", "True level /255", "Estimate /255"],
        [[*r, round(t * 255, 1), round(e * 255, 1)] for r, t, e in zip(rows, residual, estimates)]
        + [_mean_row("mean", [[*r, t * 255, e * 255] for r, t, e in zip(rows, residual, estimates)])]))
    return tables


def eval_denoise(count: int = 2000, seed: int = 1234) -> dict:
    fonts = datasets.font_split(held_out=True)
    chars = _char_rows(heldout_characters(count, seed), seed)
    handwritten = _char_rows(datasets.handwritten_digits(held_out=True)[0], seed)
    missing = photo_corpus.missing()
    big = megapixel_photo()
    big_noisy = add_noise(big, "gaussian", 25 / 255, seed=seed)
    times = [["Autoencoder (estimates the level)", median_seconds(lambda: denoise(big_noisy[None]), repeats=3)],
             ["Non-local means (scikit-image, own estimate)", median_seconds(lambda: non_local_means(big_noisy), repeats=1)],
             ["BM3D (bm3d package, told sigma)", once_seconds(lambda: bm3d_denoise(big_noisy, 25 / 255))]]
    return {"command": "eval denoise", "device": runtime.device_name(), "tables": [
        result_table(f"Characters: {count} digits and letters in {len(fonts)} held-out fonts "
               f"({', '.join(sorted({f.family for f in fonts}))}), wider distortions, "
               f"gaussian noise {CHAR_NOISE}", ["Image", "PSNR (dB)", "SSIM"], chars),
        result_table(f"Handwritten digits: the 300 held-out scikit-learn digits, gaussian noise {CHAR_NOISE}",
               ["Image", "PSNR (dB)", "SSIM"], handwritten),
        *_photo_tables(seed),
        result_table(f"Photo denoising speed on a {big.shape[1]}x{big.shape[0]} colour photo at sigma 25/255"
                     + (f" (photos missing: {', '.join(missing)}; `{photo_corpus.INSTALL_HINT}`)" if missing else ""),
                     ["Method", "Seconds"], [[name, round(t, 2)] for name, t in times]),
    ]}


EVALS = {"denoise": eval_denoise}
