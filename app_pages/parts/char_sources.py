"""Draw or photograph characters: the canvas and the camera, for every page that takes a
character, beside its uploads and built-in examples. What comes in goes through the same
preparation as an upload (engine.prepare_characters), and the page shows what the model saw."""
import logging

import numpy as np
import streamlit as st

import engine
from app_pages.common import side_by_side
from app_pages.text import plain

log = logging.getLogger(__name__)

CANVAS_SIDE = 280             # pixels: ten times MNIST's 28
SOURCES = {"draw": "Draw", "camera": "Camera"}

canvas = None                 # the drawing component, imported when first drawn on; tests hand in a stand-in


def _canvas():
    """streamlit-drawable-canvas's st_canvas. Imported late: a Streamlit component registers
    itself with the running server, so importing it outside one (a test) fails."""
    global canvas
    if canvas is None:
        from streamlit_drawable_canvas import st_canvas

        canvas = st_canvas
    return canvas


def extra_sources(key: str) -> list[str]:
    """Besides files and examples: a canvas to draw on, the camera, both or neither."""
    picked = st.segmented_control("Or make your own", list(SOURCES), format_func=lambda s: SOURCES[s],
                                  selection_mode="multi", default=[], key=f"{key}_source")
    return list(picked or [])


def own_pictures(key: str) -> list[tuple[str, bytes | np.ndarray]]:
    """The drawing and the camera's photo, whichever the user chose and made: (name, picture)."""
    sources = extra_sources(key)
    made: list[tuple[str, bytes | np.ndarray]] = []
    if "draw" in sources and (drawn := drawing(key)) is not None:
        made.append(("drawing", drawn))
    if "camera" in sources and (shot := photograph(key)) is not None:
        made.append(("camera", shot))
    return made


def characters_or_report(name: str, picture: bytes | np.ndarray, log) -> tuple[np.ndarray, np.ndarray, list] | None:
    """characters_in, or None with the reason in the page (the user's other pictures still count)."""
    try:
        return characters_in(picture)
    except engine.ImageError as error:
        st.error(f"{plain(name)}: {error}", icon=":material/broken_image:")
    except Exception:
        log.exception("Preparing the picture %r failed", name)
        st.error(f"{plain(name)}: this picture could not be used. Try another image.", icon=":material/error:")
    return None


def characters_in(picture: bytes | np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    """(the picture, its characters (N, 28, 28), their boxes) of an upload's bytes or a drawing."""
    if isinstance(picture, bytes):
        return find(picture)
    return picture, *engine.prepare_characters(picture)


def drawing(key: str) -> np.ndarray | None:
    """A canvas to draw on with the mouse, a finger or a pen; its toolbar undoes, redoes and
    clears. Returns the drawing (H, W) in [0, 1], dark strokes on white, or None while it is empty."""
    pen = st.slider("Pen width", 6, 40, 18, key=f"{key}_pen",
                    help="MNIST's digits were written with a thick pen: about a tenth of the character's height.")
    result = _canvas()(stroke_width=pen, stroke_color="#000000", background_color="#ffffff",
                    height=CANVAS_SIDE, width=CANVAS_SIDE, drawing_mode="freedraw",
                    return_image_data=True, key=f"{key}_canvas")
    objects = (getattr(result, "json_data", None) or {}).get("objects") or []
    if not objects:
        st.caption("Draw a character above: one, or several side by side.")
        return None
    image = getattr(result, "image_data", None)
    if image is None:
        return None
    pixels = np.asarray(image, dtype=np.float32) / 255.0        # RGBA: strokes on a transparent canvas
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = pixels[..., :3] * pixels[..., 3:] + (1.0 - pixels[..., 3:])   # over white paper
    return engine.to_grey(pixels)


def photograph(key: str) -> bytes | None:
    """The camera: a photo of characters on paper, as the bytes of its JPEG."""
    shot = st.camera_input("Photograph characters written on paper", key=f"{key}_camera",
                           help="Fill much of the frame with the character; the paper's edge, shadows and "
                           "ruled lines are taken out.")
    return shot.getvalue() if shot is not None else None


def with_boxes(image: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """The picture, grey or colour, with a red frame around each character found."""
    shown = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3].copy()
    thick = max(1, min(image.shape[:2]) // 150)
    for top, left, bottom, right in boxes:
        shown[top:top + thick, left:right] = shown[max(top, bottom - thick):bottom, left:right] = (1.0, 0.1, 0.1)
        shown[top:bottom, left:left + thick] = shown[top:bottom, max(left, right - thick):right] = (1.0, 0.1, 0.1)
    return shown


def framed(image: np.ndarray, boxes: list, pixels: int = 400_000) -> np.ndarray:
    """The picture scaled to at most `pixels`, its characters framed (with_boxes)."""
    small = engine.fit_within(image, pixels)
    ratio = small.shape[0] / image.shape[0]
    return with_boxes(small, [tuple(int(v * ratio) for v in box) for box in boxes])


def show_what_was_found(image: np.ndarray, chars: np.ndarray, boxes: list, caption: str, key: str = "one") -> None:
    """The picture with its characters framed, beside the 28x28 inputs the models receive;
    `caption` is text (a file name, say), not markdown; `key` tells this picture from the page's
    others."""
    picture_col, chars_col = side_by_side([1, 2], f"found_{key}")
    picture_col.image(framed(image, boxes), caption=plain(caption), width="stretch", clamp=True)
    chars_col.image([np.kron(c, np.ones((3, 3))) for c in chars], width=84, clamp=True,
                    caption=[f"what the model sees ({k + 1})" if len(chars) > 1 else "what the model sees"
                             for k in range(len(chars))])


@st.cache_data(max_entries=16, show_spinner="Finding the characters…")
def find(data: bytes) -> tuple[np.ndarray, np.ndarray, list]:
    """An upload's or a photo's bytes -> (the picture, its characters (N, 28, 28), their boxes)."""
    image = engine.decode_image(data, fit_pixels=engine.UPLOAD_PIXELS)
    chars, boxes = engine.prepare_characters(image)
    return image, chars, boxes


def one_character(name: str, picture: bytes | np.ndarray) -> np.ndarray | None:
    """The one character of an upload, a drawing or a photo, for a page that takes one: shown
    framed in the picture beside the 28x28 the model receives. None, with the reason in the page,
    when it cannot be read or holds no single character."""
    if (answer := characters_or_report(name, picture, log)) is None:
        return None
    image, found, boxes = answer
    try:
        k = engine.single_character_index(boxes)
    except engine.ImageError as error:
        st.error(f"{plain(name)}: {error}", icon=":material/broken_image:")
        return None
    show_what_was_found(image, found[k:k + 1], [boxes[k]], name)
    return found[k]


def prepared_png(picture: bytes | np.ndarray | None) -> bytes | None:
    """A drawing or a photo as the PNG of the one 28x28 character in it (what a page that takes a
    single character works on), shown as one_character shows it. None when there is nothing (yet)
    or no single character."""
    if picture is None:
        return None
    char = one_character("your picture", picture)
    return None if char is None else engine.encode_png(char)
