"""`python -m engine eval colorize`: held-out photos made grey and coloured again."""
from __future__ import annotations

import numpy as np

from engine.core import datasets, runtime
from engine.core.report import median_seconds, result_table


def megapixel_photo() -> np.ndarray:
    """A held-out photo at 1024x1024 (astronaut, upscaled): the speed figure's input."""
    from engine.core.imaging import resize

    return resize(datasets.load_photo("astronaut"), (1024, 1024))


def photo_psnr(model: str | bytes) -> dict[str, float]:
    """PSNR (dB) of each held-out photo made grey and colorized by `model`: the int8 twin's judge."""
    from engine.tasks.colorize.serve import compare_colorization

    return {f"PSNR {name}": next(r["PSNR (dB)"] for r in compare_colorization(datasets.load_photo(name), model=model).metrics
                                 if r["Image"].startswith("Autoencoder")) for name in datasets.COLOUR_HELD_OUT}


def eval_colorize(seed: int = 0) -> dict:
    """Every held-out colour photo made grey and colorized, against the grey image and a
    constant mean colour (the training photos' mean a and b)."""
    from engine.core.metrics import colourfulness
    from engine.tasks.colorize.serve import MODEL, colorize, compare_colorization

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
    seconds = median_seconds(lambda: colorize(big), repeats=3)
    return {"command": "eval colorize", "device": runtime.device_name(), "tables": [
        result_table(f"Photos held out of training ({', '.join(datasets.COLOUR_HELD_OUT)}), made grey and colorized; "
               "PSNR of RGB against the original; colourfulness (Hasler and Suesstrunk)",
               ["Photo", "Size", "Grey PSNR", "Mean-colour PSNR", "Autoencoder PSNR",
                "Original colourfulness", "Autoencoder colourfulness", "Share of original"], rows),
        result_table(f"Colorizer speed ({runtime.model_info(MODEL)['name']}, Lab conversions included)",
               ["Input", "Seconds (median of 3)"], [["1024x1024 photo", round(seconds, 3)]])]}


EVALS = {"colorize": eval_colorize}
