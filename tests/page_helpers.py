"""Helpers the page tests share: characters drawn the way users make them, and plain page functions."""
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


def page_function(page: str, name: str, namespace: dict | None = None):
    """One plain function of a page (a path from the project's root), without running the
    page's script: AppTest cannot click plotly charts, so selection logic is tested this way."""
    import ast
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / page
    tree = ast.parse(path.read_text())
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    namespace = dict(namespace or {})
    exec(compile(ast.Module([node], type_ignores=[]), page, "exec"), namespace)
    return namespace[name]
