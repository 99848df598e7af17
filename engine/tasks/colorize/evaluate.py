"""`python -m engine eval colorize`: the photo corpus's held-out photos made grey and coloured
again, automatically and from colour hints at random pixels, against the grey photo, a
constant mean colour and hints spread to the nearest pixel with no regard for edges."""
from __future__ import annotations

import numpy as np

from engine.core import photo_corpus, runtime
from engine.core.report import median_seconds, result_table

HINT_COUNTS = (10, 50)
DRAWS = 3          # random hint placements per photo and count, averaged


def random_hints(photo: np.ndarray, count: int, seed: int) -> list[tuple[int, int, tuple[float, float, float]]]:
    """`count` hints at random pixels of an RGB photo, each with the true colour there: what a
    user who knows the colours would place, without choosing where."""
    rng = np.random.default_rng(seed)
    ys, xs = rng.integers(photo.shape[0], size=count), rng.integers(photo.shape[1], size=count)
    return [(int(y), int(x), tuple(float(v) for v in photo[y, x])) for y, x in zip(ys, xs)]


def nearest_hint_colour(photo: np.ndarray, hints) -> np.ndarray:
    """The baseline for hints: every pixel takes the a and b of the nearest hint (a Voronoi
    map, blind to edges), under the photo's own lightness."""
    from engine.tasks.colorize.serve import check_hints, from_lab, hint_ab, nearest_hint_ab, to_lab

    points = check_hints(hints, photo.shape[:2])
    lab = to_lab(photo)
    lab[..., 1:] = nearest_hint_ab(points[:, :2].astype(np.int64), hint_ab(points), photo.shape[:2])
    return from_lab(lab)


def _mean_row(rows: list[list], first: int) -> list:
    return ["mean", *[""] * (first - 1), *(round(float(np.mean([r[k] for r in rows])), 2) for k in range(first, len(rows[0])))]


def eval_colorize(seed: int = 0) -> dict:
    """Every held-out colour photo of the corpus made grey and colorized: automatic against
    the grey photo and a constant mean colour (the training photos' mean a and b); hinted
    (10 and 50 random true-colour points, DRAWS placements each) against grey and against
    the hints' colours spread to the nearest pixel."""
    from engine.core.metrics import psnr
    from engine.tasks.colorize.serve import MODEL, colorize, colorize_one, compare_colorization

    names = photo_corpus.available(held_out=True)
    auto_rows, hint_rows = [], []
    for name in names:
        photo = photo_corpus.load(name)
        by_name = {r["Image"].split(" (")[0]: r["PSNR (dB)"] for r in compare_colorization(photo).metrics}
        grey = by_name["Grey input"]
        auto_rows.append([name, "x".join(map(str, photo.shape[:2])), grey, by_name["Mean colour"], by_name["Autoencoder"]])
        row = [name, grey]
        for count in HINT_COUNTS:
            draws = [random_hints(photo, count, seed + 1000 * d + count) for d in range(DRAWS)]
            row += [round(float(np.mean([psnr(photo, nearest_hint_colour(photo, h)) for h in draws])), 2),
                    round(float(np.mean([psnr(photo, colorize_one(photo, hints=h)) for h in draws])), 2)]
        hint_rows.append(row)
    auto_rows.append(_mean_row(auto_rows, 2))
    hint_rows.append(_mean_row(hint_rows, 1))
    big = photo_corpus.megapixel_photo()
    fifty = [random_hints(big, 50, seed)]
    seconds = median_seconds(lambda: colorize(big[None], hints=fifty), repeats=3)
    auto_seconds = median_seconds(lambda: colorize(big[None]), repeats=3)
    missing = photo_corpus.missing()
    note = f" ({len(missing)} corpus photos missing: `{photo_corpus.INSTALL_HINT}`)" if missing else ""
    hint_columns = ["Photo", "Grey"]
    for count in HINT_COUNTS:
        hint_columns += [f"{count} hints, nearest-hint colour", f"{count} hints, autoencoder"]
    return {"command": "eval colorize", "device": runtime.device_name(), "tables": [
        result_table(f"Automatic: {len(names)} corpus photos held out of training, made grey and colorized{note}; "
                     "PSNR (dB) of RGB against the original",
                     ["Photo", "Size", "Grey", "Mean colour", "Autoencoder"], auto_rows),
        result_table(f"Hints: the true colour at random pixels (mean of {DRAWS} placements); PSNR (dB) of RGB",
                     hint_columns, hint_rows),
        result_table(f"Colorizer speed ({runtime.model_info(MODEL)['name']}, Lab conversions included)",
                     ["Input", "Seconds (median of 3)"],
                     [["1024x1024 photo, automatic", round(auto_seconds, 3)],
                      ["1024x1024 photo, 50 hints", round(seconds, 3)]])]}


EVALS = {"colorize": eval_colorize}
