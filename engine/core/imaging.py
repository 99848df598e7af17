"""Safe decoding of uploaded images, MNIST-style character preparation, and noise.

Images are numpy float32 in [0, 1]: grey (H, W), colour (H, W, 3) RGB. A last axis of
length 3 always means colour. Characters are 28x28, light strokes on a dark ground (MNIST).
"""
from __future__ import annotations

import io
import math
import os
import struct
import warnings
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage
from skimage.color import rgb2gray
from skimage.filters import threshold_otsu

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_ASPECT = 50            # one side at most this many times the other: no page can use a strip
MAX_JPEG_SCANS = 100       # progressive JPEGs have about ten; each costs a pass over every pixel
MAX_TIFF_PIECES = 50_000   # strips or tiles; a 40 MP photo stored a row a strip has under 45,000
UPLOAD_PIXELS = 12_000_000  # what a page keeps of an upload at most: a phone photo, scaled while decoding
NOISE_KINDS = ("gaussian", "salt_pepper", "mask", "camera")
CAMERA_SHOT = 0.6      # the share of the camera noise's variance at mid-grey that is shot noise
CAMERA_JPEG = 85       # the JPEG quality the "camera" noise kind saves at


# File endings the pages' upload widgets accept: what Pillow reads and people have.
UPLOAD_TYPES = ("png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff")


# The decoders Pillow may use: the upload types (MPO, phones' JPEGs, where a Pillow version has
# it apart from JPEG). Others, such as EPS, which hands the file to Ghostscript, are never tried.
DECODERS = ("PNG", "JPEG", "MPO", "GIF", "BMP", "DIB", "WEBP", "TIFF")


# Signatures of those formats: a file that starts like one but does not open is cut short.
_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00",
               b"MM\x00*")


ImageSource = bytes | bytearray | memoryview | str | os.PathLike | BinaryIO
_CHAR_SIDE = 28
_CHAR_BOX = 20           # MNIST fits each character in a 20x20 box inside the 28x28 field
_CHAR_CENTRE = 13.5      # the field's centre in array indices (14 counting pixel edges)
_MIN_CONTRAST = 0.1      # strokes closer than this to their ground: a blank image
_INK_FLOOR = 0.15        # after normalising, weaker values are paper grain or JPEG noise


class ImageError(ValueError):
    """An image that cannot be used. The message is written to be shown to the user."""


class NotAnImageError(ImageError):
    """The data is not an image in a format we can read (text, PDF, empty, unknown)."""


class CorruptImageError(ImageError):
    """The data starts like an image but is truncated or damaged."""


class ImageTooLargeError(ImageError):
    """Over the byte or pixel limit (including decompression bombs)."""


class EmptyImageError(ImageError):
    """An image with no pixels, or (for characters) no ink."""


class PixelBudgetError(ImageTooLargeError):
    """The files of one upload (a zip's images) together cost more pixels than PixelBudget allows."""


@dataclass
class PixelBudget:
    """The pixels decoding may still cost, shared by the files of one upload (a zip's images):
    each file is charged what it decodes at (a JPEG at its reduced scale) before it is decoded."""
    limit: int
    spent: int = 0

    def spend(self, pixels: int) -> None:
        self.spent += pixels
        if self.spent > self.limit:
            raise PixelBudgetError(f"These images add up to over {self.limit / 1e6:g} million pixels, the limit. "
                                   "Please use fewer or smaller images.")


class ImageShapeError(ImageError):
    """One side many times the other (MAX_ASPECT): a strip that no page can use."""


class ImageTooSmallError(ImageError):
    """Too few pixels for what was asked (measuring a photo's noise needs a few hundred patches)."""


def size_text(n: int) -> str:
    """A byte count in words: '38.2 MB', '512 KB', '300 bytes'."""
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


def _read_limited(data: ImageSource, max_bytes: int) -> bytes:
    """The bytes of `data`, reading at most max_bytes + 1 so that a huge file costs nothing."""
    size: int | None = None  # the whole size, where it is known without reading it all
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        size = len(raw)
    elif isinstance(data, (str, os.PathLike)):
        try:
            size = os.path.getsize(data)
            with open(data, "rb") as file:
                raw = file.read(max_bytes + 1)
        except OSError as err:
            raise ImageError(f"Could not open {os.fspath(data)}: {err.strerror or err}.") from err
    else:
        raw = data.read(max_bytes + 1)  # the caller's file stays open
        if isinstance(getattr(data, "size", None), int):  # Streamlit's UploadedFile
            size = data.size
    if len(raw) > max_bytes:
        limit = size_text(max_bytes)
        if size and size_text(size) == limit:     # just over: words would read "20 MB; the limit is 20 MB"
            size_words, limit = f"{size:,} bytes", f"{max_bytes:,} bytes"
        else:
            size_words = size_text(size) if size else ""
        what = f"is {size_words}; the limit is {limit}" if size else f"is over the limit of {limit}"
        raise ImageTooLargeError(f"This file {what}. Please upload a smaller image.")
    return raw


def decode_image(data: ImageSource, *, max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_PIXELS,
                 fit_pixels: int | None = None, budget: PixelBudget | None = None) -> np.ndarray:
    """Decode an upload (bytes, a path, or a binary file-like) to float32 (H, W) for grey
    sources or (H, W, 3) for colour, upright by its EXIF orientation, first frame only,
    transparency over white. With `fit_pixels`, a larger image is scaled down while it is
    decoded (JPEG's own reduced decoding, then Pillow's resize of 8-bit pixels) to fit_within's
    size: a page that keeps at most that many pixels never holds the rest. `budget` is charged
    the pixels decoded (PixelBudgetError once it is spent). Whatever makes decoding slow or
    large is refused from the header, before any pixel is decoded. Raises an ImageError
    subclass whose message suits the user."""
    raw = _read_limited(data, max_bytes)
    if not raw:
        raise NotAnImageError("The file is empty. Please upload an image such as a PNG or JPEG.")
    _check_structure(raw)
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its own pixel limit and twice that: refuse there too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.init()  # registers every plugin, so that `formats` can name them
            image = Image.open(io.BytesIO(raw), formats=[f for f in DECODERS if f in Image.OPEN])
            _check_size(*image.size, max_pixels)
            image = _load_reduced(image, fit_pixels, budget)
            ImageOps.exif_transpose(image, in_place=True)
            pixels = _pillow_pixels(image)
            image.close()         # its pixels are in `pixels` now: the decoded copy is let go
            pixels = as_float_image(pixels)
    except ImageError:
        raise
    except UnidentifiedImageError as err:
        if raw.startswith(_SIGNATURES) or (raw[:4] == b"RIFF" and raw[8:12] == b"WEBP"):
            raise CorruptImageError("This image could not be read: the file is damaged or cut "
                                    "short. Please upload it again or try another file.") from err
        raise NotAnImageError("This file is not an image we can read. Please upload a PNG, JPEG, "
                              "GIF, BMP, WebP or TIFF image.") from err
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageTooLargeError("This image has far too many pixels to open safely. "
                                 "Please upload a smaller image.") from err
    except Exception as err:  # Pillow's decoders fail with OSError, SyntaxError, struct.error, ...
        raise CorruptImageError("This image could not be read: the file is damaged or cut short. "
                                "Please upload it again or try another file.") from err
    return fit_within(pixels, fit_pixels) if fit_pixels else pixels


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) of an image as shown, upright by its EXIF orientation, read from its
    header without decoding any pixel: what a page that scaled it on opening says it was. None
    when the header cannot be read (decode_image says why)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            orientation = image.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - not an image, damaged: decode_image gives the message
        return None
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _check_size(width: int, height: int, max_pixels: int) -> None:
    """Refuse, from the header, an image with no pixels, too many, or of a strip's shape."""
    if width == 0 or height == 0:
        raise EmptyImageError("This image has no pixels. Please upload another image.")
    if width * height > max_pixels:
        raise ImageTooLargeError(f"This image is {width} x {height} pixels; the limit is "
                                 f"{max_pixels / 1e6:g} million pixels. Please upload a smaller image.")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageShapeError(f"This image is {width} x {height} pixels: one side is more than {MAX_ASPECT} "
                              "times the other. Please crop it to a less narrow shape.")


def _check_structure(raw: bytes) -> None:
    """Refuse files whose decoding costs far more than their pixels: progressive JPEGs of
    thousands of scans (each a pass over the whole image) and TIFFs of millions of strips
    (each a step in Python). Counted in the bytes, before Pillow parses anything."""
    if raw.startswith(b"\xff\xd8\xff"):
        scans = raw.count(b"\xff\xda")    # a start-of-scan marker: 0xFF in coded data is stuffed
        if scans > MAX_JPEG_SCANS:
            raise ImageTooLargeError(f"This JPEG is stored in {scans:,} passes (scans); the limit is "
                                     f"{MAX_JPEG_SCANS}. Please save it again as an ordinary JPEG.")
    elif raw[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        pieces = _tiff_pieces(raw)
        if pieces > MAX_TIFF_PIECES:
            raise ImageTooLargeError(f"This TIFF is stored in {pieces:,} pieces (strips or tiles); the "
                                     f"limit is {MAX_TIFF_PIECES:,}. Please save it again as PNG or JPEG.")


_TIFF_PIECE_TAGS = (273, 279, 324, 325)   # strip offsets and byte counts, tile offsets and byte counts
_MAX_TIFF_TAGS = 1000                     # real files have a few dozen


def _tiff_pieces(raw: bytes) -> int:
    """The number of strips or tiles the first directory of a TIFF (or BigTIFF) declares; 0 when
    the header is damaged (Pillow then says so)."""
    order = "<" if raw[:2] == b"II" else ">"
    try:
        if raw[2:4] in (b"+\x00", b"\x00+"):    # BigTIFF: 8-byte offsets and counts
            directory = struct.unpack_from(order + "Q", raw, 8)[0]
            (count,), entry, start = struct.unpack_from(order + "Q", raw, directory), "HHQQ", directory + 8
        else:
            directory = struct.unpack_from(order + "I", raw, 4)[0]
            (count,), entry, start = struct.unpack_from(order + "H", raw, directory), "HHII", directory + 2
        if count > _MAX_TIFF_TAGS:
            raise CorruptImageError(f"This TIFF's directory claims {count:,} entries: the file is damaged. "
                                    "Please save it again as PNG or JPEG.")
        size = struct.calcsize(order + entry)
        values = (struct.unpack_from(order + entry, raw, start + size * k) for k in range(count))
        return max((n for tag, _, n, _ in values if tag in _TIFF_PIECE_TAGS), default=0)
    except struct.error:
        return 0


def _load_reduced(image: Image.Image, fit_pixels: int | None, budget: PixelBudget | None) -> Image.Image:
    """The image's first frame loaded and, when it has more than fit_pixels, scaled down before
    anything is made float: JPEG decodes at 1/2, 1/4 or 1/8 scale by itself (draft); 8-bit
    pixels are then resized by Pillow (Lanczos) to fit_within's size; deeper pixels are
    averaged by a whole-number factor and left to fit_within."""
    width, height = image.size
    height_out, width_out = fit_shape(height, width, fit_pixels) if fit_pixels else (height, width)
    if (height_out, width_out) != (height, width) and image.format in ("JPEG", "MPO"):
        image.draft(image.mode, (width_out, height_out))  # the smallest DCT scale that keeps this size
    if budget is not None:
        budget.spend(image.size[0] * image.size[1])
    image.load()  # the first frame only; truncated data fails here
    if (height_out, width_out) == (height, width):
        return image
    if image.mode == "1":
        image = image.convert("L")
    elif image.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV") or (
            image.has_transparency_data and image.mode not in ("LA", "RGBA")):
        image = Image.fromarray(_pillow_pixels(image))   # resizing averages values, not palette indices
    if image.mode in ("L", "LA", "RGB", "RGBA"):
        return image.resize((width_out, height_out), Image.Resampling.LANCZOS, reducing_gap=3.0)
    factor = min(image.size[0] // width_out, image.size[1] // height_out)
    if image.mode.startswith("I;16"):
        image = image.convert("I")
    try:
        return image.reduce(factor) if factor >= 2 else image
    except ValueError:                     # a mode reduce does not know: fit_within does it in float
        return image


def _pillow_pixels(image: Image.Image) -> np.ndarray:
    """The pixels of any Pillow mode as an array as_float_image understands: 16-bit data keeps
    its depth; palettes, transparency and other colour spaces become L, LA, RGB or RGBA."""
    mode = image.mode
    if mode == "I":
        pixels = np.asarray(image)
        # Pillow holds 16-bit PNG and TIFF data in 32-bit "I": keep 65535 as the scale.
        fits16 = pixels.size and pixels.min() >= 0 and pixels.max() <= 65535
        return pixels.astype(np.uint16) if fits16 else pixels
    if mode.startswith("I;16") or mode in ("1", "F", "LA", "RGBA") or (
            mode in ("L", "RGB") and not image.has_transparency_data):
        return np.asarray(image)
    grey = mode in ("L", "La")
    if mode in ("P", "PA"):
        palette = np.asarray(image.getpalette("RGB"), dtype=np.int16).reshape(-1, 3)
        grey = bool((palette == palette[:, :1]).all())
    alpha = image.has_transparency_data
    return np.asarray(image.convert(("LA" if alpha else "L") if grey else ("RGBA" if alpha else "RGB")))


def _unit_range(pixels: np.ndarray) -> np.ndarray:
    """Values as float32 in [0, 1]: integers by their bit depth (wide integer types by the
    8- or 16-bit range their values fit), floats as they are when already in [0, 1], and
    anything else min-max scaled."""
    if pixels.dtype == bool or pixels.size == 0:
        return pixels.astype(np.float32)
    if pixels.dtype.kind in "ui" and pixels.min() >= 0:
        top = int(pixels.max())
        peak = {1: 255, 2: 65535}.get(pixels.dtype.itemsize) or next(
            (p for p in (255, 65535) if top <= p), None)
        if peak:
            values = pixels.astype(np.float32)
            values /= np.float32(peak)     # in place: a 40 MP photo has no second float copy
            return values
    values = pixels.astype(np.float32)
    values[~np.isfinite(values)] = 0.0
    low, high = float(values.min()), float(values.max())
    if low >= 0.0 and high <= 1.0:
        return values
    if high <= low:
        return np.clip(values, 0.0, 1.0)
    return ((values.astype(np.float64) - low) / (high - low)).astype(np.float32)  # float32 overflows at +-3e38


_COMPOSITE_ROWS = 256


def as_float_image(image: np.ndarray | Image.Image) -> np.ndarray:
    """Any image (a Pillow image of any mode, or an array of any dtype with 1 to 4 channels)
    as float32 (H, W) or (H, W, 3) in [0, 1], with transparency composited over white."""
    pixels = _pillow_pixels(image) if isinstance(image, Image.Image) else np.asarray(image)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] > 4):
        raise ValueError(f"expected an (H, W) image with 1 to 4 channels, got shape {pixels.shape}")
    if not (pixels.ndim == 3 and pixels.shape[2] in (2, 4)):
        return _unit_range(pixels)
    # Grey or RGB plus alpha, over white paper. Depths scale every band of every row alike, so 8-
    # and 16-bit pixels are made float and composited a band of rows at a time, into the result:
    # a 40 MP photo never has a float copy of all its channels besides the result.
    height, width, bands = pixels.shape
    out = np.empty((height, width, bands - 1), dtype=np.float32)
    banded = pixels.dtype in (np.uint8, np.uint16)
    rows = _COMPOSITE_ROWS if banded else max(1, height)
    whole = None if banded else _unit_range(pixels)   # other types scale by their own range, all at once
    for top in range(0, height, rows):
        part = whole if whole is not None else _unit_range(pixels[top:top + rows])
        colour, alpha = part[..., :-1], part[..., -1:]
        colour *= alpha
        alpha -= 1.0
        colour -= alpha                      # colour * alpha + (1 - alpha)
        out[top:top + rows] = colour
    return out.reshape(height, width) if bands == 2 else out


def _is_colour(images: np.ndarray) -> bool:
    return images.ndim >= 3 and images.shape[-1] == 3


def to_grey(image: np.ndarray) -> np.ndarray:
    """Colour (..., H, W, 3) to grey (..., H, W) by luminance (skimage.color.rgb2gray), so
    batches work too; grey passes through. Returns float32."""
    image = np.asarray(image, dtype=np.float32)
    return rgb2gray(image).astype(np.float32, copy=False) if _is_colour(image) else image


def resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Anti-aliased resize of (H, W) or (H, W, C) to `shape` with Pillow's Lanczos filter on
    float planes, clipped to [0, 1] because Lanczos rings slightly past its input's range."""
    planes = image[..., None] if image.ndim == 2 else image
    size = (shape[1], shape[0])
    out = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(planes[..., k], dtype=np.float32))
                               .resize(size, Image.Resampling.LANCZOS))
                    for k in range(planes.shape[2])], axis=2)
    out = np.clip(out, 0.0, 1.0)
    return out[..., 0] if image.ndim == 2 else out


def fit_within(image: np.ndarray, max_pixels: int) -> np.ndarray:
    """Downscale (H, W) or (H, W, 3) keeping its aspect ratio so that H * W <= max_pixels;
    an image already small enough is returned unchanged."""
    if max_pixels < 1:
        raise ValueError("max_pixels must be at least 1")
    height, width = image.shape[:2]
    if height * width <= max_pixels:
        return image
    return resize(np.asarray(image, dtype=np.float32), fit_shape(height, width, max_pixels))


def fit_shape(height: int, width: int, max_pixels: int) -> tuple[int, int]:
    """The (height, width) fit_within scales an image of this size to: the aspect ratio kept,
    height * width <= max_pixels, neither side under one pixel."""
    if height * width <= max_pixels:
        return height, width
    scale = math.sqrt(max_pixels / (height * width))
    new_height = max(1, int(height * scale))
    return new_height, max(1, min(int(width * scale), max_pixels // new_height))  # extreme aspect ratios


def encode_png(image: np.ndarray, fast: bool = False) -> bytes:
    """A float [0, 1] or uint8 (H, W) or (H, W, 3) image as PNG bytes (for download buttons;
    `fast`: the quickest compression, for bytes on their way to a browser)."""
    image = np.asarray(image)
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {image.shape}")
    pixels = image if image.dtype == np.uint8 else np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1 if fast else 6)
    return buffer.getvalue()


def prepare_character(image: np.ndarray | Image.Image) -> np.ndarray:
    """Prepare a picture of one character the way MNIST was made: light strokes on black,
    cropped to the ink, scaled to fit 20x20 (aspect kept, anti-aliased) and placed in 28x28
    with its centre of mass at the field's centre, (13.5, 13.5) as array indices. Accepts a
    Pillow image or an array (bool, integer, or float in [0, 1] or any other range), grey,
    RGB or RGBA, of any size, dark-on-light or light-on-dark: a clean scan, a drawing, or a
    phone photo of paper, whose character is found first (engine.core.capture: the paper's
    light, shadow, edge and ruling taken out). Returns float32 (28, 28). Raises
    EmptyImageError when there is no ink, NotACharacterError (engine.core.capture) when there
    is no clear character or several."""
    return single_character(*prepare_characters(image))


def single_character(chars: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """The one character prepare_characters found, for a page that takes one: the only one, or
    one much larger than the rest (2.5 times the area). Raises TooManyCharactersError otherwise."""
    return chars[single_character_index(boxes)]


def single_character_index(boxes: list[tuple[int, int, int, int]]) -> int:
    """Which of the characters prepare_characters found (by their boxes) single_character takes."""
    if len(boxes) == 1:
        return 0
    areas = sorted(((b[2] - b[0]) * (b[3] - b[1]), k) for k, b in enumerate(boxes))
    if areas[-1][0] >= 2.5 * areas[-2][0]:
        return areas[-1][1]
    from engine.core.capture import TooManyCharactersError

    raise TooManyCharactersError(f"{len(boxes)} characters found, and this takes one. Please crop the "
                                 "picture to one character.")


def prepare_characters(image: np.ndarray | Image.Image) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Every character in a picture, in reading order, each prepared as prepare_character
    does: (N, 28, 28) float32 and each one's box (top, left, bottom, right) in the picture's
    pixels. A small picture (under capture.SMALL_SIDE pixels on a side) or a clean one (a scan or
    a drawing: capture.is_clean) is one character as it is."""
    from engine.core import capture

    values = as_float_image(image)
    if min(values.shape[:2]) < capture.SMALL_SIDE or capture.is_clean(values):
        return prepare_clean_character(values)[None], [(0, 0, *values.shape[:2])]
    found = capture.find_characters(values)
    return np.stack([prepare_clean_character(f.ink) for f in found]), [f.box for f in found]


def prepare_clean_character(image: np.ndarray | Image.Image) -> np.ndarray:
    """The MNIST preparation of a picture that holds one character and nothing else (a clean
    render, a scan cropped to it, or what capture.find_characters cut out): prepare_character
    without the search. The built-in data sets are prepared with this, unchanged since they
    were first made, so that the shipped models see what they were trained on."""
    grey = to_grey(as_float_image(image))
    if grey.size == 0 or np.ptp(grey) < _MIN_CONTRAST:
        raise EmptyImageError("No character found: the image is blank. Please upload a picture of "
                              "one character that is darker or lighter than its background.")
    # Otsu splits ground from strokes; the ground is the class the border mostly falls in,
    # which holds however thick the strokes are and however unevenly the paper is lit.
    threshold = threshold_otsu(grey)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    strokes = grey > threshold
    if np.median(border) > threshold:  # dark ink on light paper: turn it into MNIST's polarity
        grey, strokes = 1.0 - grey, ~strokes
    ground = np.median(grey[~strokes])
    ink = np.percentile(grey[strokes], 99)  # a robust peak: one hot pixel does not set the scale
    if ink - ground < _MIN_CONTRAST:
        raise EmptyImageError("No character found: the strokes are too faint to tell from the "
                              "background. Please upload a clearer picture.")
    levels = np.clip((grey - ground) / (ink - ground), 0.0, 1.0)
    levels[levels < _INK_FLOOR] = 0.0
    rows, cols = np.nonzero(levels)
    crop = levels[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    scale = _CHAR_BOX / max(crop.shape)
    glyph = resize(crop, (max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))))
    # Integer placement, as MNIST did, so the strokes stay sharp; kept inside the field.
    centre_row, centre_col = ndimage.center_of_mass(glyph)
    top = int(np.clip(round(_CHAR_CENTRE - centre_row), 0, _CHAR_SIDE - glyph.shape[0]))
    left = int(np.clip(round(_CHAR_CENTRE - centre_col), 0, _CHAR_SIDE - glyph.shape[1]))
    character = np.zeros((_CHAR_SIDE, _CHAR_SIDE), dtype=np.float32)
    character[top:top + glyph.shape[0], left:left + glyph.shape[1]] = glyph
    return character


def add_noise(images: np.ndarray, kind: str = "gaussian", amount: float = 0.5,
              seed: int | None = None) -> np.ndarray:
    """Noisy float32 copies of images of any shape in [0, 1]. "gaussian" adds amount * N(0, 1)
    to every value (amount is the standard deviation, the Keras tutorials' noise factor) and
    clips; "salt_pepper" sets a fraction `amount` of pixels to 0 or 1, half each; "mask" sets
    a fraction `amount` of pixels to 0. For colour (..., 3) whole pixels are hit, not channels.
    "camera" is what a camera's sensor and file do (`camera_noise`). The same seed gives the
    same noise."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"kind must be one of {NOISE_KINDS}, got {kind!r}")
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount must be between 0 and 1, got {amount}")
    noisy = np.array(images, dtype=np.float32)  # a copy: the caller's images stay clean
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return np.clip(noisy + amount * rng.standard_normal(noisy.shape, dtype=np.float32), 0.0, 1.0)
    if kind == "camera":   # amount 0 is no noise at all, like every other kind (no JPEG either)
        return camera_noise(noisy, amount, rng) if amount > 0 else noisy
    colour = _is_colour(noisy)
    pixels = noisy.shape[:-1] if colour else noisy.shape
    hit = rng.random(pixels) < amount
    value = (rng.random(pixels) < 0.5).astype(np.float32) if kind == "salt_pepper" \
        else np.zeros(pixels, dtype=np.float32)
    if colour:
        hit, value = hit[..., None], value[..., None]
    return np.where(hit, value, noisy)


def camera_noise(images: np.ndarray, amount: float, rng: np.random.Generator, *,
                 shot: float = CAMERA_SHOT, quality: int | None = CAMERA_JPEG) -> np.ndarray:
    """Camera-like noise on images of any shape in [0, 1]: signal-dependent Poisson-Gaussian
    noise (variance amount^2 * (shot * x / 0.5 + 1 - shot), so `amount` is the standard
    deviation at mid-grey and brighter pixels are noisier), clipped, then each image (H, W) or
    (H, W, 3) saved as an 8-bit JPEG at `quality` and read back (None: no JPEG)."""
    images = np.asarray(images, dtype=np.float32)
    variance = amount ** 2 * (shot * images / 0.5 + (1.0 - shot))
    noisy = np.clip(images + np.sqrt(variance) * rng.standard_normal(images.shape, dtype=np.float32), 0.0, 1.0)
    if quality is None:
        return noisy
    frames = noisy.reshape((-1, *noisy.shape[-3:]) if _is_colour(noisy) else (-1, *noisy.shape[-2:]))
    return np.stack([_jpeg_round_trip(f, quality) for f in frames]).reshape(noisy.shape)


def _jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(buffer), dtype=np.float32) / 255.0
