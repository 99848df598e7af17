"""Helpers the page tests share: characters drawn the way users make them, and waiting for jobs."""
import io

import numpy as np
from PIL import Image, ImageDraw


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def drawn(strokes: list[list[tuple[int, int]]]) -> bytes:
    """Dark ink on white paper, bigger than 28x28 and off-centre, like a phone photo of a drawing."""
    paper = Image.new("L", (90, 70), 255)
    pen = ImageDraw.Draw(paper)
    for stroke in strokes:
        pen.line(stroke, fill=20, width=7)
    return png_bytes(paper)


def wait_for_job(at, key: str, until, timeout: float = 240):
    """Rerun the page, as its once-a-second poller does, until `until(job)` holds for the
    engine.Job in session_state[key] (or the .job of what is kept there)."""
    import time

    kept = at.session_state[key]
    job = getattr(kept, "job", kept)
    deadline = time.monotonic() + timeout
    while not until(job):
        assert time.monotonic() < deadline, f"job still {job.state} after {timeout} s"
        job.wait(0.5)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return job


def without_torch(monkeypatch) -> None:
    """Make the pages believe PyTorch is not installed (a serving-only install)."""
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else find_spec(name, *a))


class FakeCanvas:
    """Stands in for the drawing component (a browser widget AppTest cannot drive): returns
    what a user drew, as the component does, and records how it was asked."""

    def __init__(self, strokes):
        self.strokes, self.calls = strokes, []

    def __call__(self, **kwargs):
        from types import SimpleNamespace

        self.calls.append(kwargs)
        side = kwargs["width"]
        paper = Image.new("RGBA", (side, side), (0, 0, 0, 0))      # strokes on a transparent canvas
        pen = ImageDraw.Draw(paper)
        for stroke in self.strokes:
            pen.line([(x * side // 90, y * side // 90) for x, y in stroke], fill=(0, 0, 0, 255),
                     width=kwargs["stroke_width"])
        objects = [{"type": "path"}] * len(self.strokes)
        return SimpleNamespace(json_data={"objects": objects}, image_data=np.asarray(paper))


def anomaly_table(at):
    """The anomaly page's table of every character (a DataFrame), its expander opened first: the
    page draws it only when open."""
    if not at.session_state["anomaly_table"]:
        at.session_state["anomaly_table"] = True
        at.run()
        assert not at.exception
    return at.dataframe[0].value
