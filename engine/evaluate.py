"""Evaluation on held-out data and speed benchmarks: `python -m engine eval|bench`.

Each returns a JSON-able dict with a "tables" list; `format_tables` prints them readably."""
from __future__ import annotations

import time
from typing import Callable

import numpy as np

from . import datasets, runtime
from .baselines import best_classical_filter
from .imaging import add_noise, fit_within
from .metrics import mean_psnr, mean_ssim, psnr, ssim
from .studio import eval_family
from .tasks.denoise import CHAR_BASELINE, denoise

PHOTO_SIGMA = 25 / 255
CHAR_NOISE = 0.5


def _table(title: str, columns: list[str], rows: list[list]) -> dict:
    return {"title": title, "columns": columns, "rows": rows}


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: first runs pay for allocation and kernel selection
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


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


def eval_denoise(count: int = 2000, seed: int = 1234) -> dict:
    fonts = datasets.font_split(held_out=True)
    chars = _char_rows(heldout_characters(count, seed), seed)
    handwritten = _char_rows(datasets.handwritten_digits(held_out=True)[0], seed)
    photo_rows = []
    rng = np.random.default_rng(seed)
    for name in datasets.HELD_OUT_PHOTOS:
        clean = datasets.load_photo(name)
        noisy = add_noise(clean, "gaussian", PHOTO_SIGMA, seed=int(rng.integers(2**31)))
        filter_name, filtered = best_classical_filter(clean, noisy)
        ae = denoise(noisy[None])[0]
        photo_rows.append([name, "x".join(map(str, clean.shape)), round(psnr(clean, noisy), 2),
                           f"{psnr(clean, filtered):.2f} ({filter_name})", round(psnr(clean, ae), 2),
                           round(ssim(clean, noisy), 3), round(ssim(clean, filtered), 3),
                           round(ssim(clean, ae), 3)])
    big = fit_within(np.kron(datasets.load_photo("astronaut"), np.ones((2, 2, 1), np.float32)), 1024 * 1024)
    big_noisy = add_noise(big, "gaussian", PHOTO_SIGMA, seed=seed)[None]
    seconds = _median_seconds(lambda: denoise(big_noisy), repeats=3)
    return {"command": "eval denoise", "device": runtime.device_name(), "tables": [
        _table(f"Characters: {count} digits and letters in {len(fonts)} held-out fonts "
               f"({', '.join(sorted({f.family for f in fonts}))}), wider distortions, "
               f"gaussian noise {CHAR_NOISE}", ["Image", "PSNR (dB)", "SSIM"], chars),
        _table(f"Handwritten digits: the 300 held-out scikit-learn digits, gaussian noise {CHAR_NOISE}",
               ["Image", "PSNR (dB)", "SSIM"], handwritten),
        _table("Photos held out of training, gaussian sigma 25/255 (best classical filter tuned per image)",
               ["Photo", "Size", "Noisy PSNR", "Best filter PSNR", "Autoencoder PSNR",
                "Noisy SSIM", "Filter SSIM", "Autoencoder SSIM"], photo_rows),
        _table("Photo denoiser speed", ["Input", "Seconds (median of 3)"],
               [[f"{big.shape[1]}x{big.shape[0]} colour", round(seconds, 3)]]),
    ]}


def eval_anomaly(count: int = 1000, seed: int = 4321) -> dict:
    from .tasks.anomaly import (ANOMALY_BASELINE, ANOMALY_MODEL, ANOMALY_SCORINGS, DIGIT_LIKE_LETTERS,
                                AnomalyDetector, anomaly_evaluation_set, pixel_errors, reconstruct, roc)

    sets = anomaly_evaluation_set(count, seed)
    rows = []
    for model in (ANOMALY_MODEL, ANOMALY_BASELINE):
        reconstructions = {name: reconstruct(images, model) for name, images in sets.items()}
        for scoring in ANOMALY_SCORINGS:
            detector = AnomalyDetector.shipped(model, scoring)
            scores = {name: pixel_errors(images, reconstructions[name], scoring).mean(axis=(1, 2))
                      for name, images in sets.items()}

            def auroc(other: str) -> float:
                return round(roc(scores["digits"], scores[other]).auroc, 4)

            rows.append([runtime.model_info(model)["name"], scoring, auroc("letters"),
                         auroc("digit-like letters"),
                         round(float((scores["digits"] > detector.threshold).mean()), 3),
                         round(float((scores["letters"] > detector.threshold).mean()), 3)])
    fonts = sorted({f.family for f in datasets.font_split(held_out=True)})
    return {"command": "eval anomaly", "device": runtime.device_name(), "tables": [_table(
        f"Digits against letters, {count} each, in held-out fonts ({', '.join(fonts)}) with wider "
        f"distortions; digit-like letters ({DIGIT_LIKE_LETTERS}) apart. Threshold: 5% of calibration "
        "digits above it.",
        ["Model", "Scoring", "AUROC letters", "AUROC digit-like", "False-positive rate",
         "Detection rate"], rows)]}


def photo_crops(names: tuple[str, ...], per_photo: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Random square crops (a quarter to a half of the shorter side, flipped at random) of
    built-in photos, labelled by the photo they came from: a search gallery whose right answer
    is "the same photo"."""
    from .imaging import _resize

    rng = np.random.default_rng(seed)
    crops, labels = [], []
    for name in names:
        photo = datasets.load_photo(name)
        short = min(photo.shape[:2])
        for _ in range(per_photo):
            side = int(rng.integers(short // 4, short // 2 + 1))
            y = int(rng.integers(0, photo.shape[0] - side + 1))
            x = int(rng.integers(0, photo.shape[1] - side + 1))
            crop = _resize(photo[y:y + side, x:x + side], (96, 96))
            crops.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
            labels.append(name)
    return crops, np.array(labels)


def _latency_rows(dim: int, sizes: tuple[int, ...], seed: int) -> list[list]:
    """Build time, query latency and recall@10 (against exact search) on random codes."""
    from .index import SearchIndex

    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        codes = rng.standard_normal((n, dim), dtype=np.float32)
        queries = rng.standard_normal((20, dim), dtype=np.float32)
        start = time.perf_counter()
        index = SearchIndex(codes, "cosine")
        built = time.perf_counter() - start
        times = []
        for q in queries:
            t = time.perf_counter()
            index.query(q[None], 10)
            times.append(time.perf_counter() - t)
        recall = 1.0
        if index.approximate:
            exact = SearchIndex(codes, "cosine", approximate=False).query(queries, 10)[1]
            found = index.query(queries, 10)[1]
            recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, found)]))
        rows.append([f"{n:,}", "faiss IVF (approximate)" if index.approximate else "numpy (exact)",
                     round(built, 2), round(float(np.median(times)) * 1000, 2),
                     round(float(np.percentile(times, 95)) * 1000, 2), round(recall, 3)])
    return rows


def eval_search(count: int = 1000, seed: int = 2024,
                latency_sizes: tuple[int, ...] = (1_000, 100_000, 1_000_000)) -> dict:
    from .tasks.search import (BUILTIN_GALLERIES, SPACE_NAMES, Gallery, builtin_gallery,
                               compare_spaces)
    from .index import METRICS

    galleries = [(f"{BUILTIN_GALLERIES[name][0]}, {count} in held-out fonts",
                  builtin_gallery(name, count, seed)) for name in BUILTIN_GALLERIES]
    handwritten, labels = datasets.handwritten_digits(held_out=True)
    galleries.append(("Handwritten digits, the 300 held out",
                      Gallery(list(handwritten), [str(i) for i in range(len(labels))], "character", labels)))
    for title, names in (("Crops of the 4 held-out photos", datasets.HELD_OUT_PHOTOS),
                         (f"Crops of all {len(datasets.PHOTOS)} built-in photos", tuple(datasets.PHOTOS))):
        crops, crop_labels = photo_crops(names, 40, seed)
        galleries.append((f"{title}, 40 each", Gallery(crops, [str(i) for i in range(len(crops))],
                                                        "photo", crop_labels)))
    rows = []
    for title, gallery in galleries:
        for metric in METRICS:
            for space, p in compare_spaces(gallery, metric).items():
                rows.append([title, SPACE_NAMES[space], gallery.codes(space).shape[1], metric,
                             round(p[1], 3), round(p[5], 3), round(p[10], 3)])
    dim = galleries[0][1].codes("autoencoder").shape[1]
    return {"command": "eval search", "device": runtime.device_name(), "tables": [
        _table("Leave-one-out precision@k: every image queries the rest of its gallery. Characters "
               "in fonts never seen in training, with wider distortions; photo crops labelled by "
               "their photo", ["Gallery", "Code space", "Size", "Distance", "P@1", "P@5", "P@10"], rows),
        _table(f"Query latency, one query for its 10 nearest among random {dim}-number codes "
               "(cosine), 20 queries", ["Codes", "Index", "Build (s)", "Median (ms)", "p95 (ms)",
                                         "Recall@10"], _latency_rows(dim, latency_sizes, seed)),
    ]}


def eval_vae(count: int = 1000, seed: int = 31) -> dict:
    """Held-out negative ELBO of every shipped VAE; 1,000 prior samples of each judged by the
    digit classifier; the conditional VAE asked for each digit."""
    from .tasks.generate import (CONFIDENT, VAE_MODELS, heldout_elbo, is_conditional,
                                 judge_samples, path_roughness, sharpness, vae_sample)

    fonts = datasets.font_split(held_out=True)
    rendered, rendered_labels = datasets.render_characters(datasets.DIGITS, count, fonts=fonts, seed=seed,
                                                           distortion=datasets.EVAL_DISTORTION)
    handwritten, hand_labels = datasets.handwritten_digits(held_out=True)
    sets = {f"{count} digits, held-out fonts": (rendered, rendered_labels.astype(int)),
            "300 held-out handwritten digits": (handwritten, hand_labels.astype(int))}
    elbo_rows, sample_rows = [], []
    for model, title in VAE_MODELS.items():
        conditional = is_conditional(model)
        for data_name, (chars, labels) in sets.items():
            report = heldout_elbo(chars, model, labels if conditional else None, seed=seed)
            elbo_rows.append([title, data_name, round(report.reconstruction, 1), round(report.kl, 1),
                              round(report.negative_elbo, 1)])
        asked = np.arange(1000) % 10 if conditional else None
        samples = vae_sample(1000, seed=seed, model=model, labels=asked)
        judged = judge_samples(samples)
        sample_rows.append([
            title, round(judged.confident, 3), round(float(judged.shares.min()), 3),
            " ".join(f"{d}:{100 * share:.1f}%" for d, share in enumerate(judged.shares)),
            None if asked is None else round(float((judged.predicted == asked).mean()), 3),
            round(sharpness(samples), 4), round(path_roughness(model), 2)])
    judge_rows = []
    for data_name, (chars, labels) in sets.items():
        judged = judge_samples(chars)
        judge_rows.append([data_name, round(float((judged.predicted == labels).mean()), 3),
                           round(judged.confident, 3)])
    data = sorted({f.family for f in fonts})
    return {"command": "eval vae", "device": runtime.device_name(), "tables": [
        _table(f"Held-out negative ELBO, nats per image (reconstruction -log p(x|z), Bernoulli, 8 "
               f"draws of z; KL in closed form). Fonts never seen in training: {', '.join(data)}",
               ["Model", "Data", "Reconstruction", "KL", "Negative ELBO"], elbo_rows),
        _table(f"1,000 samples from the prior (temperature 1), judged by the digit classifier; the "
               f"conditional VAE asked for each digit 100 times. Confident: probability above "
               f"{CONFIDENT}. Sharpness: mean gradient magnitude. Path roughness: largest step "
               "along a straight latent path over the mean step (1 = perfectly smooth)",
               ["Model", "Confident", "Smallest digit share", "Share of each digit",
                "Drew the digit asked", "Sharpness", "Path roughness"], sample_rows),
        _table("The judge: the digit classifier on real held-out digits",
               ["Data", "Accuracy", "Confident"], judge_rows),
    ]}


def megapixel_photo() -> np.ndarray:
    """A held-out photo at 1024x1024 (astronaut, upscaled): the speed figure's input."""
    from .imaging import _resize

    return _resize(datasets.load_photo("astronaut"), (1024, 1024))


def eval_colorize(seed: int = 0) -> dict:
    """Every held-out colour photo made grey and colorized, against the grey image and a
    constant mean colour (the training photos' mean a and b)."""
    from .metrics import colourfulness
    from .tasks.colorize import MODEL, colorize, compare_colorization

    rows, ratios = [], []
    for name in datasets.COLOUR_HELD_OUT:
        photo = datasets.load_photo(name)
        result = compare_colorization(photo)
        by_name = {r["Image"].split(" (")[0]: r for r in result.metrics}
        ratio = colourfulness(result.colorized) / colourfulness(photo)
        ratios.append(ratio)
        rows.append([name, "x".join(map(str, photo.shape[:2])), by_name["Grey input"]["PSNR (dB)"],
                     by_name["Mean colour"]["PSNR (dB)"], by_name["Autoencoder"]["PSNR (dB)"],
                     round(colourfulness(photo), 1), by_name["Autoencoder"]["Colourfulness"],
                     f"{100 * ratio:.0f}%"])
    rows.append(["mean", "", *(round(float(np.mean([r[k] for r in rows])), 2) for k in (2, 3, 4, 5, 6)),
                 f"{100 * np.mean(ratios):.0f}%"])
    big = megapixel_photo()[None]
    seconds = _median_seconds(lambda: colorize(big), repeats=3)
    return {"command": "eval colorize", "device": runtime.device_name(), "tables": [
        _table(f"Photos held out of training ({', '.join(datasets.COLOUR_HELD_OUT)}), made grey and colorized; "
               "PSNR of RGB against the original; colourfulness (Hasler and Suesstrunk)",
               ["Photo", "Size", "Grey PSNR", "Mean-colour PSNR", "Autoencoder PSNR",
                "Original colourfulness", "Autoencoder colourfulness", "Share of original"], rows),
        _table(f"Colorizer speed ({runtime.model_info(MODEL)['name']}, Lab conversions included)",
               ["Input", "Seconds (median of 3)"], [["1024x1024 photo", round(seconds, 3)]])]}


# Injected anomalies `eval sequence` counts: (kind, size in standard deviations, duration in hours).
SEQUENCE_DETECTION_CASES = (("spike", 0.5, 1), ("spike", 1.0, 1), ("spike", 2.0, 1),
                            ("level shift", 0.25, 6), ("level shift", 0.5, 6), ("level shift", 1.0, 6),
                            ("flat line", 0.0, 3), ("flat line", 0.0, 6), ("flat line", 0.0, 12),
                            ("dropout", 0.0, 1), ("dropout", 0.0, 3))


def eval_sequence(count: int = 300, seed: int = 8) -> dict:
    """The held-out months of the built-in load series: forecast error by horizon against the
    seasonal-naive baselines, false alarms of the anomaly threshold, and detection of `count`
    injected anomalies of each kind and size (one at a time, at random hours)."""
    from .series import default_split, synthetic_load_series
    from .tasks.sequence import (DEFAULT_THRESHOLD_PERCENTILE, FORECAST_HORIZON, SEQUENCE_AUTOENCODER,
                                 SEQUENCE_FORECASTER, detect_sequence_anomalies, detection_trials,
                                 forecast_heldout)

    series = synthetic_load_series()
    split = default_split(series)
    parts = split.describe(series)
    forecast = forecast_heldout(series, split)
    horizons = range(1, FORECAST_HORIZON + 1)
    forecast_rows = [[r["Method"], *(round(r[f"MAE {h} h"], 1) for h in horizons),
                      *(round(r[f"RMSE {h} h"], 1) for h in horizons)] for r in forecast.errors()]
    alarm_rows = []
    for percentile in (95.0, 99.0, 99.9):
        found = detect_sequence_anomalies(series, split=split, percentile=percentile)
        alarm_rows.append([percentile, round(found.threshold, 3), found.false_alarms, int(found.normal.sum()),
                           round(found.false_alarms_per_1000, 1)])
    threshold = detect_sequence_anomalies(series, split=split).threshold
    detection_rows = []
    for kind, size, duration in SEQUENCE_DETECTION_CASES:
        trial = detection_trials(series, kind, size=size, duration=duration, trials=count, seed=seed,
                                 split=split, threshold=threshold)
        detection_rows.append([kind, size if kind in ("spike", "level shift") else "-", duration,
                               trial.trials, round(trial.detected, 3), round(trial.chance, 3)])
    return {"command": "eval sequence", "device": runtime.device_name(), "tables": [
        _table(f"Forecast error (MW) on the held-out part, {parts['test']}, every hour forecast from the "
               f"6 hours before it ({runtime.model_info(SEQUENCE_FORECASTER)['name']})",
               ["Method", *(f"MAE {h} h" for h in horizons), *(f"RMSE {h} h" for h in horizons)], forecast_rows),
        _table(f"False alarms: every 24-hour window of the held-out part, nothing injected; thresholds "
               f"from the scores of the validation windows, {parts['validation']} "
               f"({runtime.model_info(SEQUENCE_AUTOENCODER)['name']})",
               ["Percentile", "Threshold (%)", "Flagged", "Windows", "Per 1,000 windows"], alarm_rows),
        _table(f"Injected anomalies, one at a time at {count} random hours of the held-out part each, at the "
               f"{DEFAULT_THRESHOLD_PERCENTILE:g}th-percentile threshold; detected: a window overlapping it "
               "is flagged; chance: the same at the same hours with nothing injected",
               ["Kind", "Size (std)", "Hours", "Trials", "Detected", "Chance"], detection_rows),
    ]}


def eval_semisupervised(count: int = 1000, draws: int | None = None) -> dict:
    """Held-out accuracy of each semi-supervised classifier for 10, 50 and 100 labels per digit,
    over random label draws. The networks that train the encoder (fine-tuned, from scratch)
    need torch; without it their rows are left out."""
    import importlib.util

    from .tasks.semisupervised import (CURVE_TITLE, DRAWS, LABELS_PER_DIGIT, LIVE_METHODS, POOL_RENDERED,
                                       SEMISUPERVISED_METHODS, TORCH_METHODS, run_labels,
                                       semisupervised_data)

    draws = draws or DRAWS
    data = semisupervised_data(POOL_RENDERED, count)
    methods = LIVE_METHODS + (TORCH_METHODS if importlib.util.find_spec("torch") else ())
    truth, hand = data.heldout.labels, data.heldout.handwritten
    scores: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    seconds: dict[str, list[float]] = {m: [] for m in methods}
    for k in LABELS_PER_DIGIT:
        for seed in range(draws):
            run = run_labels(data, k, seed, methods=methods)
            for m in methods:
                scores.setdefault((m, k), []).append((run.accuracy(m, truth), run.accuracy(m, truth, ~hand),
                                                      run.accuracy(m, truth, hand)))
                seconds[m].append(run.seconds[m])
    rows = []
    for m in SEMISUPERVISED_METHODS:
        for k in LABELS_PER_DIGIT:
            if m in methods:
                s = np.array(scores[(m, k)])
                rows.append([SEMISUPERVISED_METHODS[m], k, round(float(s[:, 0].mean()), 4), round(float(s[:, 0].std()), 4),
                             round(float(s[:, 0].min()), 4), round(float(s[:, 0].max()), 4),
                             round(float(s[:, 1].mean()), 4), round(float(s[:, 2].mean()), 4),
                             [round(float(a), 4) for a in s[:, 0]]])
    mean = {(m, k): float(np.mean([a[0] for a in v])) for (m, k), v in scores.items()}
    gains = [[k, *(None if other not in methods else round(100 * (mean[(m, k)] - mean[(other, k)]), 1)
                   for m, other in (("encoder", "scratch"), ("finetuned", "scratch"), ("encoder", "pca")))]
             for k in LABELS_PER_DIGIT]
    pool = data.pool
    return {"command": "eval semisupervised", "device": runtime.device_name(), "tables": [
        _table(f"{CURVE_TITLE} on {len(truth)} held-out digits ({int((~hand).sum())} in held-out fonts with wider "
               f"distortions, the 300 held-out handwritten digits), over {draws} random label draws from "
               f"{len(pool.images)} unlabelled digits",
               ["Method", "Labels per digit", "Mean accuracy", "Spread (std)", "Min", "Max", "Held-out fonts",
                "Handwritten", "Accuracy of each draw"], rows),
        _table("Gain in accuracy points (mean over the draws)",
               ["Labels per digit", "Frozen encoder - scratch", "Fine-tuned - scratch", "Frozen encoder - PCA"],
               gains),
        _table("Training time per label draw, median (s)", ["Method", "Seconds"],
               [[SEMISUPERVISED_METHODS[m], round(float(np.median(seconds[m])), 2)] for m in methods]),
    ]}


IMPUTE_CASES = (("pixels", 0.25), ("pixels", 0.5), ("pixels", 0.8), ("blocks", 0.25), ("blocks", 0.5),
                ("rectangle", (9, 19)))


def _impute_mask(kind: str, amount, shape: tuple[int, ...], seed: int) -> tuple[str, np.ndarray]:
    from .tasks.impute import random_mask, rectangle_mask

    if kind == "rectangle":
        return (f"rectangle rows and columns {amount[0]}-{amount[1] - 1} (the centre)",
                np.broadcast_to(rectangle_mask(amount, amount), shape))
    return f"{kind} {100 * amount:.0f}%", random_mask(shape, kind, amount, seed)


def eval_impute(count: int = 1000, seed: int = 77) -> dict:
    """Characters never trained on with pixels missing, and the digits table's held-out rows
    with entries missing: mean filling, PCA completion and the masking autoencoder, by RMSE on
    the hidden values only."""
    import importlib
    import warnings

    importlib.import_module("sklearn.experimental.enable_iterative_imputer")  # IterativeImputer is experimental
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.impute import IterativeImputer

    from .tasks.impute import IMPUTE_METHODS, compare_character_filling, compare_table_filling, hidden_rmse, load_table

    fonts = heldout_characters(count, seed)
    hand = datasets.handwritten_digits(held_out=True)[0]
    rows = []
    for i, (kind, amount) in enumerate(IMPUTE_CASES):
        for title, chars in ((f"{count} characters, held-out fonts", fonts), ("300 held-out handwritten digits", hand)):
            name, missing = _impute_mask(kind, amount, chars.shape, seed + i)
            result = compare_character_filling(chars, missing)
            best = min(result.rmse["mean"], result.rmse["pca"])
            rows.append([name, title, round(float(missing.mean()), 3), *(round(result.rmse[m], 4) for m in IMPUTE_METHODS),
                         f"{100 * (1 - result.rmse['autoencoder'] / best):.0f}%"])
    table = load_table("digits")
    table_rows = []
    for fraction in (0.2, 0.5, 0.8):
        result = compare_table_filling("digits", fraction, seed)
        matrix = np.concatenate([table.values[:table.training_rows], result.truth])
        hidden = np.concatenate([np.zeros((table.training_rows, matrix.shape[1]), dtype=bool), result.missing])
        imputer = IterativeImputer(max_iter=10, random_state=seed, keep_empty_features=True)
        start = time.perf_counter()
        with warnings.catch_warnings():  # it stops at max_iter short of its own tolerance: said in the table
            warnings.simplefilter("ignore", ConvergenceWarning)
            iterative = imputer.fit_transform(np.where(hidden, np.nan, matrix))[table.training_rows:]
        iterative_s = time.perf_counter() - start
        table_rows.append([f"{100 * fraction:.0f}%", round(result.rmse["mean"], 3),
                           f"{result.rmse['pca']:.3f} (rank {result.pca_rank}, {result.pca_iterations} rounds)",
                           round(hidden_rmse(result.truth, iterative, result.missing), 3),
                           round(result.rmse["autoencoder"], 3),
                           f"{1000 * result.seconds['pca']:.0f} / {1000 * iterative_s:.0f} / "
                           f"{1000 * result.seconds['autoencoder']:.0f}"])
    return {"command": "eval impute", "device": runtime.device_name(), "tables": [
        _table(f"Characters never trained on ({count} digits and letters in held-out fonts with wider distortions; "
               "the 300 held-out handwritten digits) with pixels missing: RMSE on the hidden pixels only (pixels "
               "in [0, 1]). Gain: the autoencoder's error below the better baseline",
               ["Missing", "Data", "Share missing", *IMPUTE_METHODS.values(), "Gain"], rows),
        _table(f"The digits table ({table.title}): the {len(table.heldout)} held-out rows with entries hidden at "
               "random, RMSE on the hidden entries (0 to 16). Baselines see the whole matrix (training rows "
               "complete); PCA rank and rounds chosen on a further 10% of observed entries",
               ["Hidden", "Mean filling", "PCA completion", "IterativeImputer (BayesianRidge, 10 rounds)",
                "Masking autoencoder", "ms: PCA / IterativeImputer / autoencoder"], table_rows),
    ]}


EVALS = {"denoise": eval_denoise, "anomaly": eval_anomaly, "search": eval_search, "vae": eval_vae,
         "colorize": eval_colorize,
         "sequence": eval_sequence,
         "semisupervised": eval_semisupervised, "impute": eval_impute, "family": eval_family}


def bench(repeats: int = 5) -> dict:
    """onnxruntime (CPU provider) against eager torch on the same weights, per shipped model."""
    import torch

    from .models import from_checkpoint

    torch.set_num_threads(runtime.cpu_count())
    rows = []
    for name, entry in runtime.available_models().items():
        session = runtime.session(name)
        shapes = [[d if isinstance(d, int) else 64 for d in i.shape[1:]] for i in session.get_inputs()]
        module = None
        if "torch_file" in entry:   # a checkpoint whose forward is the served graph
            module = from_checkpoint(torch.load(runtime.PRETRAINED_DIR / entry["torch_file"],
                                                weights_only=False))
        for batch in (1, 256):
            rng = np.random.default_rng(0)
            feed = {i.name: rng.random((batch, *shape), dtype=np.float32)
                    for i, shape in zip(session.get_inputs(), shapes)}
            ort_s = _median_seconds(lambda: session.run(None, feed), repeats)
            torch_s = None
            if module is not None:
                with torch.no_grad():
                    tx = torch.from_numpy(next(iter(feed.values())))
                    torch_s = _median_seconds(lambda: module(tx), repeats)
            rows.append([name, f"{batch}x{'x'.join(map(str, shapes[0]))}", round(ort_s * 1000, 2),
                         None if torch_s is None else round(torch_s * 1000, 2),
                         None if torch_s is None else round(torch_s / ort_s, 2)])
    tasks = []
    if "colorizer" in runtime.available_models():
        from .tasks.colorize import colorize

        big = megapixel_photo()[None]
        tasks.append(["colorize", "1 photo 1024x1024 RGB", round(_median_seconds(lambda: colorize(big), repeats) * 1000, 1)])
    memory = serving_memory()
    return {"command": "bench", "device": runtime.device_name(), "threads": runtime.cpu_count(),
            "tables": [_table("Latency per call, median (ms)",
                              ["Model", "Input", "onnxruntime", "torch eager", "torch / ort"], rows),
                       _table("Serving memory: a fresh process that imports the engine and the page "
                              "libraries and runs every shipped model once",
                              ["Models", "Resident MB", "torch imported"],
                              [[memory["models"], memory["rss_mb"], memory["torch"]]]),
                       _table("Whole tasks through the engine's API, median (ms)", ["Task", "Input", "ms"], tasks)]}


_SERVING_PROBE = """
import json, sys
import numpy as np
import engine, streamlit, plotly.graph_objects, sklearn.decomposition, skimage.color
from engine import runtime
for name in runtime.available_models():
    session = runtime.session(name)
    session.run(None, {i.name: np.random.rand(4, *[d if isinstance(d, int) else 64 for d in i.shape[1:]])
                       .astype(np.float32) for i in session.get_inputs()})
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:"))
print(json.dumps({"models": len(runtime.available_models()), "rss_mb": round(rss / 1024, 1),
                  "torch": "torch" in sys.modules}))
"""


def serving_memory() -> dict:
    """Resident memory of serving alone (no torch), measured in a fresh process."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _SERVING_PROBE], capture_output=True, text=True, check=True,
                         cwd=runtime.PRETRAINED_DIR.parent, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def format_tables(result: dict) -> str:
    lines = [f"# {result['command']}  (device: {result['device']})"]
    for table in result["tables"]:
        cells = [table["columns"]] + [["-" if v is None else str(v) for v in row] for row in table["rows"]]
        widths = [max(len(str(r[i])) for r in cells) for i in range(len(table["columns"]))]
        lines += ["", table["title"]]
        for j, row in enumerate(cells):
            lines.append("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())
            if j == 0:
                lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
