"""Characters drawn the way users make them, shared by the page tests."""
import io

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
