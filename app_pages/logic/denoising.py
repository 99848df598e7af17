"""What the Denoising page shows of an image: a character enlarged, a photo whole or its centre.
Plain numpy (no streamlit)."""
from __future__ import annotations

import numpy as np

import engine
from app_pages import display

NOISE_LABELS = {"gaussian": "Gaussian", "salt_pepper": "Salt and pepper", "mask": "Random masking",
                "camera": "Camera-like (shot noise, then JPEG)"}


# A whole photo is sent to the browser at most this large (about 900x670): a panel is a fifth of
# the page wide, and encoding and sending five 1.5 MP PNGs took longer than the model.
DISPLAY_PIXELS = 600_000
DISPLAY_NOTE = ("Whole photos are shown at most 0.6 megapixels; the close-up and the download are at "
                "full size.")


def for_display(image: np.ndarray, target: str, close_up: bool) -> np.ndarray:
    """A character ("character" target) enlarged; a photo scaled to DISPLAY_PIXELS, or with
    `close_up` the centre quarter of each side at full size, where noise and detail are visible."""
    if target == "character":
        return display.enlarge(image)
    if close_up:
        h, w = image.shape[:2]
        return image[3 * h // 8 : 5 * h // 8, 3 * w // 8 : 5 * w // 8]
    return engine.fit_within(image, DISPLAY_PIXELS)



def estimate_text(estimated: float) -> str:
    """What the measured noise level means, in words."""
    level = estimated * 255
    words = ("hardly any noise" if level < 3 else "light noise" if level < 10 else
             "clearly visible noise" if level < 30 else "heavy noise")
    jpeg = (" If your photo does look noisy, it was probably saved as JPEG: compression smooths the finest "
            "grain, which is what the measurement reads, and leaves coarser blotches. Turn the level up until "
            "they go." if level < 6 else "")
    return f"Measured noise: **{level:.1f}/255** ({words}).{jpeg}"


def level_text(estimated: float | None, told: float) -> str:
    """What the photo denoiser was told, beside what it measured."""
    if estimated is None:
        return ""
    return (f"Noise level measured in the noisy image: **{estimated * 255:.1f}/255**; "
            f"the autoencoder was told **{told * 255:.1f}/255**.")


SUMMARY_PREFIX = "Summary over the"   # the title of `python -m engine eval denoise`'s summary table


def heldout_summary(model: str = "denoiser_photo") -> str:
    """The shipped photo denoiser against BM3D and non-local means on the held-out photos, from
    the evaluation recorded in its manifest entry; "" when none is recorded."""
    try:
        metrics = engine.model_info(model).get("metrics", {})
    except engine.ModelError:
        return ""
    table = next((t for title, t in metrics.items() if title.startswith(SUMMARY_PREFIX)), None)
    if table is None:
        return ""
    column = {name: i for i, name in enumerate(table["columns"])}
    parts = []
    for row in table["rows"]:
        ours, bm3d, nlm = (row[column[name]] for name in
                           ("Autoencoder, estimated sigma", "BM3D (told sigma)", "Non-local means"))
        parts.append(f"sigma {row[0]}: {ours:.2f} dB, BM3D {bm3d:.2f}, non-local means {nlm:.2f}")
    behind = [str(row[0]) for row in table["rows"] if row[column["Blind minus BM3D"]] < 0]
    verdict = (f" BM3D is ahead at sigma {', '.join(behind)}/255 (but takes 20 s or more for a 512x512 "
               "photo, too slow for this page)." if behind else " The autoencoder is ahead of BM3D at every level.")
    return ("On the held-out photos (mean PSNR, the autoencoder told its own estimate): "
            + "; ".join(parts) + "." + verdict)


AUTOENCODER_ROW = "Autoencoder"


def marked_best(rows: list[dict]) -> list[dict]:
    """The measurements with a "Best" column: a star on the highest PSNR (the filling-in page's mark)."""
    if not rows:
        return rows
    best = max(range(len(rows)), key=lambda i: rows[i]["PSNR (dB)"])
    return [{**row, "Best": "★" if i == best else ""} for i, row in enumerate(rows)]


def winner_text(rows: list[dict]) -> str:
    """Which method came closest to the clean image, in words (markdown); "" without measurements."""
    methods = {row["Image"]: row["PSNR (dB)"] for row in rows if row["Image"] != "Noisy input"}
    if AUTOENCODER_ROW not in methods or len(methods) < 2:
        return ""
    ours = methods.pop(AUTOENCODER_ROW)
    rival = max(methods, key=methods.get)
    gap = ours - methods[rival]
    if gap >= 0:
        return f"**The autoencoder is best here**, {gap:.2f} dB ahead of {rival}."
    return (f"**{rival} beats the autoencoder here**, by {-gap:.2f} dB. A classical method wins when the "
            "image is unlike what the autoencoder learnt from, or when the noise is too light to matter.")
