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
    """The engine's metrics, with the original's infinite PSNR against itself left blank."""
    return [
        {**row, "PSNR (dB)": row["PSNR (dB)"] if np.isfinite(row["PSNR (dB)"]) else None}
        for row in result.metrics
    ]


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
    the autoencoder's colours."""
    panels = [("Original", result.original)] if result.original is not None else []
    return panels + [
        ("Grey input (what the network sees)", result.grey),
        ("Baseline: mean colour", result.mean_colour),
        ("Autoencoder" + (" (fine-tuned)" if fine_tuned else ""), result.colorized),
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
