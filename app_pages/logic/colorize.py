"""What the Colorization page decides and shows: which images go side by side, the metrics
table, the names of models and uploads, the loss curves and the words around a fine-tuning
run. Plain numpy and plotly (no streamlit)."""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

import engine
from app_pages import display

MODEL = "colorizer"
STREAMLIT_MAX_WIDTH = 1460  # st.image's widest picture; wider ones are scaled down to it
LOSS_WINDOW = 20  # steps in the running mean of a finished run's loss: single batches are noisy


def as_uint8(result: engine.ColorizeComparison) -> engine.ColorizeComparison:
    """The comparison with its images as 8-bit pixels: a 4-megapixel result holds four of them,
    48 MB each as floats."""
    return dataclasses.replace(
        result,
        original=None if result.original is None else display.to_uint8(result.original),
        grey=display.to_uint8(result.grey),
        colorized=display.to_uint8(result.colorized),
        mean_colour=display.to_uint8(result.mean_colour),
        hinted=None if result.hinted is None else display.to_uint8(result.hinted),
    )


def png(image: np.ndarray) -> bytes:
    """PNG bytes of an 8-bit image, for a download button."""
    return engine.encode_png(image.astype(np.float32) / 255)


def unique_names(names: list[str]) -> list[str]:
    """The uploads' file names, numbered where two are the same."""
    unique: list[str] = []
    for name in names:
        candidate, copy = name, 1
        while candidate in unique:
            copy += 1
            candidate = f"{name} ({copy})"
        unique.append(candidate)
    return unique


def autoencoder_psnr(result: engine.ColorizeComparison) -> float | None:
    """The autoencoder's PSNR against the original colours (None for a grey photo)."""
    return next((row["PSNR (dB)"] for row in result.metrics if row["Image"].startswith("Autoencoder")), None)


def metrics_table(result: engine.ColorizeComparison) -> list[dict]:
    """The engine's metrics as text, the original's infinite PSNR against itself said in words
    (a blank cell reads "None")."""
    return [
        {**row, "PSNR (dB)": f"{row['PSNR (dB)']:.2f}" if np.isfinite(row["PSNR (dB)"]) else "∞ (itself)",
         "Colourfulness": f"{row['Colourfulness']:.1f}"}
        for row in result.metrics
    ]


def shipped_strength() -> float:
    """The shipped colorizer's calibrated automatic strength (1 when its file cannot be read:
    the page then says which file is wrong, where it colours)."""
    try:
        return engine.automatic_strength(MODEL)
    except engine.ModelError:
        return 1.0


def caution_text(strength: float) -> str:
    """Why the automatic colours are pale, and what PSNR rewards."""
    pale = (
        f"The automatic colours start at {strength:.0%} of the network's guess: on photos it never trained on, "
        "its full guess did worse than leaving them grey (it learnt from a few dozen photos). Drag the "
        "strength to see it, or give it colour points. "
        if strength < 1
        else ""
    )
    return pale + (
        "PSNR rewards a cautious guess: a wrong bright colour costs more than a dull one, so the mean "
        "colour is a hard baseline. Colourfulness shows how much colour each guess dares."
    )


def finished_result(job: engine.Job | None) -> engine.FineTuneResult | None:
    """The finished (or stopped) fine-tuning run's result, if there is one."""
    if job is None or job.running or job.state == "failed":
        return None
    return job.result


def model_key(onnx: bytes | None) -> str:
    """A cache key naming the model: the shipped one, or a fine-tuned one by its bytes' hash."""
    return MODEL if onnx is None else "fine-tuned-" + hashlib.sha256(onnx).hexdigest()


def loss_figure(steps: Sequence[int] | np.ndarray, losses: Sequence[float] | np.ndarray, title: str,
                markers: bool = False) -> go.Figure:
    """The training loss against the step."""
    figure = go.Figure(
        go.Scatter(x=steps, y=losses, mode="lines+markers" if markers else "lines", line={"color": "#3b6fd4"})
    )
    figure.update_layout(
        title=title,
        xaxis_title="step",
        yaxis_title="loss (mean squared error of a, b)",
        height=300,
        margin={"t": 50, "b": 10},
        showlegend=False,
    )
    return figure


def live_loss_figure(updates: list[engine.JobUpdate]) -> go.Figure | None:
    """The loss of a running job's reports so far (None before the first)."""
    if not updates:
        return None
    return loss_figure([u.step for u in updates], [u.loss for u in updates], "Training loss so far", markers=True)


def final_loss_figure(losses: list[float]) -> go.Figure:
    """A finished run's loss as a running mean of up to LOSS_WINDOW steps."""
    window = min(LOSS_WINDOW, len(losses))
    curve = np.convolve(losses, np.ones(window) / window, mode="valid")
    steps = np.arange(window, len(losses) + 1)
    return loss_figure(steps, curve, f"Training loss (running mean of {window} steps)")


def displayable(image: np.ndarray) -> np.ndarray:
    """st.image shrinks an image wider than 1,460 pixels to that width, and a strip too thin for
    it to a height of 0, which fails: such a strip is made tall enough by repeating its rows."""
    height, width = image.shape[:2]
    if height * STREAMLIT_MAX_WIDTH < width:
        image = np.repeat(image, -(-width // (STREAMLIT_MAX_WIDTH * height)), axis=0)
    return image


def result_panels(result: engine.ColorizeComparison, fine_tuned: bool) -> list[tuple[str, np.ndarray]]:
    """(caption, image) of the original (a colour photo only), the grey input, the baseline and
    the autoencoder's colours; with colour points, the automatic and the hinted colours."""
    panels = [("Original", result.original)] if result.original is not None else []
    autoencoder = "Autoencoder" + (" (fine-tuned)" if fine_tuned else "")
    if result.hinted is None:
        return panels + [
            ("Grey input (what the network sees)", result.grey),
            ("Baseline: mean colour", result.mean_colour),
            (autoencoder, result.colorized),
        ]
    return panels + [
        ("Grey input", result.grey),
        (f"{autoencoder}, automatic", result.colorized),
        (engine.hinted_label(len(result.hints)) + (" (fine-tuned)" if fine_tuned else ""), result.hinted),
    ]


def before_after_panels(
    shipped: engine.ColorizeComparison, tuned: engine.ColorizeComparison
) -> list[tuple[str, np.ndarray]]:
    """(caption, image) of the held-out photo: the original (if in colour) and both models' colours."""
    original = [("Original", shipped.original)] if shipped.original is not None else []
    return original + [("Shipped model", shipped.colorized), ("Fine-tuned model", tuned.colorized)]


def model_text(name: str, fine_tuned: engine.FineTuneResult | None) -> str:
    """The model's name, and what it was fine-tuned on when it was."""
    if fine_tuned is None:
        return name
    return f"{name}, fine-tuned on your {fine_tuned.photos} photos for {fine_tuned.steps} steps"


def stopped_text(result: engine.FineTuneResult, asked: int) -> str:
    """What a stopped run says: the steps it did of those asked."""
    return f"Stopped after {result.steps} of {asked} steps: the comparison below uses the model as it was then."


def done_text(result: engine.FineTuneResult) -> str:
    """What a finished run says."""
    return f"Fine-tuned for {result.steps} steps on {result.photos} photos in {result.seconds:.0f} s."


def photos_needed_text(colour_photos: int) -> str:
    """Why fine-tuning cannot start with fewer than two colour photos."""
    have = "no colour photo yet" if not colour_photos else "one colour photo"
    return (
        f"Fine-tuning needs at least 2 colour photos, one to train on and one to hold out for the "
        f"before/after comparison; there is {have}."
    )


# --- Colour hints ------------------------------------------------------------------------------
MAX_HINTS = 200  # points one photo may carry (a loaded file with more is refused)
MARK_RADIUS = 6  # pixels of a point's marker on the clickable picture
CLICK_SIDE = 720  # the clickable picture's longer side at most: a 4-megapixel photo is not sent to the browser


@dataclasses.dataclass(frozen=True)
class Hint:
    """A colour point in the pixels of the photo as decoded (before any scaling down)."""

    y: int
    x: int
    colour: str  # "#rrggbb"


def rgb_of(colour: str) -> tuple[float, float, float]:
    """An "#rrggbb" colour as RGB in [0, 1]; ValueError for anything else."""
    text = str(colour).strip()
    if len(text) != 7 or not text.startswith("#"):
        raise ValueError(f"{colour!r} is not a colour like #1f77b4")
    try:
        return tuple(int(text[i:i + 2], 16) / 255 for i in (1, 3, 5))
    except ValueError:
        raise ValueError(f"{colour!r} is not a colour like #1f77b4") from None


def hex_of(rgb: Sequence[float] | np.ndarray) -> str:
    """RGB in [0, 255] (8-bit pixels) as "#rrggbb"."""
    return "#" + "".join(f"{int(np.clip(round(float(v)), 0, 255)):02x}" for v in rgb)


def engine_hints(hints: Sequence[Hint]) -> list[tuple[int, int, tuple[float, float, float]]]:
    """The points as engine.colorize takes them."""
    return [(h.y, h.x, rgb_of(h.colour)) for h in hints]


def click_pixel(click: dict | None, shape: tuple[int, int]) -> tuple[int, int] | None:
    """The photo pixel (y, x) under a click on its picture (shown at any size), or None
    for no click or a click outside the picture. `shape` is the photo's (H, W) as decoded."""
    try:
        fy, fx = click["y"] / click["height"], click["x"] / click["width"]
    except (TypeError, KeyError, ZeroDivisionError):
        return None
    if not (0 <= fy < 1 and 0 <= fx < 1):
        return None
    return min(shape[0] - 1, int(fy * shape[0])), min(shape[1] - 1, int(fx * shape[1]))


def colour_at(image: np.ndarray, y: int, x: int, shape: tuple[int, int]) -> str:
    """The colour of an 8-bit image (the photo as shown, perhaps scaled down) at the pixel
    (y, x) of the photo as decoded, `shape` (H, W)."""
    h, w = image.shape[:2]
    return hex_of(image[min(h - 1, y * h // shape[0]), min(w - 1, x * w // shape[1])][:3])


def click_base(image: np.ndarray, side: int = CLICK_SIDE) -> np.ndarray:
    """An 8-bit RGB image scaled down so that its longer side is at most `side`: what is sent
    to the browser to click on."""
    h, w = image.shape[:2]
    if max(h, w) <= side:
        return image
    budget = int(side * side * min(h, w) / max(h, w))
    return display.to_uint8(engine.fit_within(image.astype(np.float32) / 255, budget))


def with_marks(picture: np.ndarray, hints: Sequence[Hint], shape: tuple[int, int], selected: int | None = None
               ) -> np.ndarray:
    """`picture` (8-bit RGB, the photo of `shape` (H, W) at any size) with each point drawn as
    a disc of its colour ringed in white and black (the selected one larger), so that it shows
    on any background."""
    out = picture.copy()
    h, w = out.shape[:2]
    for i, hint in enumerate(hints):
        r = MARK_RADIUS + 3 * (i == selected)
        cy, cx = (hint.y + 0.5) * h / shape[0], (hint.x + 0.5) * w / shape[1]
        y0, y1, x0, x1 = max(0, int(cy) - r - 3), min(h, int(cy) + r + 4), max(0, int(cx) - r - 3), min(w, int(cx) + r + 4)
        yy, xx = np.ogrid[y0:y1, x0:x1]
        distance = np.hypot(yy + 0.5 - cy, xx + 0.5 - cx)
        window = out[y0:y1, x0:x1]
        for radius, fill in ((r + 2, (0.0, 0.0, 0.0)), (r + 1, (1.0, 1.0, 1.0)), (r - 1, rgb_of(hint.colour))):
            window[distance <= radius] = np.round(np.asarray(fill) * 255)
    return out


def hints_table(hints: Sequence[Hint]) -> list[dict]:
    return [{"Point": i + 1, "x": h.x, "y": h.y, "Colour": h.colour} for i, h in enumerate(hints)]


def hints_file(hints: Sequence[Hint], photo: str, shape: tuple[int, int]) -> bytes:
    """The points as JSON, to download and load again with the same photo."""
    import json

    return json.dumps({"photo": photo, "height": shape[0], "width": shape[1],
                       "points": [dataclasses.asdict(h) for h in hints]}, indent=1).encode()


def load_hints(data: bytes, shape: tuple[int, int]) -> list[Hint]:
    """Points from a file `hints_file` wrote, for a photo of `shape` (H, W); a file written
    for the same photo at another size is scaled to it. ValueError says what is wrong."""
    import json

    try:
        content = json.loads(data.decode("utf-8"))
        height, width, points = int(content["height"]), int(content["width"]), list(content["points"])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise ValueError("this is not a file of colour points (JSON with height, width and points)") from None
    if height < 1 or width < 1:
        raise ValueError(f"the file's photo size {width}x{height} is not a size")
    if len(points) > MAX_HINTS:
        raise ValueError(f"the file has {len(points)} points; at most {MAX_HINTS} are taken")
    hints = []
    for i, point in enumerate(points, 1):
        try:
            y, x, colour = float(point["y"]), float(point["x"]), point["colour"]
            rgb_of(colour)
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"point {i} is not {{y, x, colour}}: {str(point)[:80]}") from None
        if not (0 <= y < height and 0 <= x < width):
            raise ValueError(f"point {i} at x={x:g}, y={y:g} is outside the file's {width}x{height} photo")
        hints.append(Hint(int(y * shape[0] / height), int(x * shape[1] / width), colour.lower()))
    return hints


def noted_scaling(result: engine.ColorizeComparison, source: bytes | str, shape: tuple[int, ...]
                  ) -> engine.ColorizeComparison:
    """The result with a first note saying that the upload `source` was scaled to `shape` as it
    was opened (a built-in example, or an upload small enough, comes back as it is)."""
    if isinstance(source, str):
        return result
    scaled = display.scaled_text(engine.image_dimensions(source), shape, engine.COLORIZE_MAX_PIXELS)
    return dataclasses.replace(result, notes=[scaled, *result.notes]) if scaled else result
