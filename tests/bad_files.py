"""A corpus of bad (and awkward but valid) input files, made in memory, the same every time.

`corpus()` returns every file with what the engine should make of it:

* images: `expect` is "ok" (decode_image returns an array of `shape`, and `check` passes on its
  pixels where given) or the name of the engine exception decode_image must raise ("ImageError"
  allows any of its subclasses); `also` lists other outcomes a reasonable decoder may give for
  that file (a tolerant JPEG decoder reading past flipped bytes, say); `character` is what
  prepare_character should make of a decoded image: "ok" or "EmptyImageError" (a blank image).
* zip archives (kind "zip-..."): `archive` says what load_image_folder and load_gallery should do;
  decode_image must call every one of them NotAnImageError.

`python tests/bad_files.py` prints the number of files of each kind.
"""
from __future__ import annotations

import functools
import gzip
import io
import json
import struct
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

MiB = 1 << 20
SEED = 20240611
FORMATS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "WEBP": "webp", "TIFF": "tif", "BMP": "bmp"}
# What each format's files start with; data shorter than that does not even start like one.
SIGNATURES = {
    "PNG": (b"\x89PNG\r\n\x1a\n",),
    "JPEG": (b"\xff\xd8\xff",),
    "GIF": (b"GIF87a", b"GIF89a"),
    "WEBP": (b"RIFF",),       # and "WEBP" at bytes 8..12, checked in starts_like
    "TIFF": (b"II*\x00", b"MM\x00*"),
    "BMP": (b"BM",),
}
SIGNATURE_LENGTH = {"PNG": 8, "JPEG": 3, "GIF": 6, "WEBP": 12, "TIFF": 4, "BMP": 2}
# Kinds the corpus must hold at least one file of (tests/test_bad_inputs.py checks it).
REQUIRED_KINDS = (
    *(f"{damage}-{ext}" for damage in ("truncated", "flipped-header", "flipped-middle", "garbage-appended")
      for ext in FORMATS.values()),
    "zero-bytes", "text-as-png", "html-as-jpg", "json-as-gif", "pdf-as-jpg", "pdf-as-png", "zip-as-png",
    "one-pixel", "huge-20000", "decompression-bomb", "zero-dimension", "over-byte-limit",
    "cmyk-jpeg", "cmyk-tiff", "16-bit-png", "16-bit-tiff", "palette-transparency",
    "animated-gif", "animated-webp", "animated-png", "exif-rotated",
    "zip-bad-members", "zip-bomb", "zip-traversal", "zip-damaged", "zip-encrypted", "zip-empty",
    "jpeg-many-scans", "tiff-many-strips", "narrow-strip", "float-extremes", "big-lossless", "zip-pixel-bomb",
)


@dataclass(frozen=True)
class ArchiveExpect:
    """What a zip should give. folder: the outcomes load_image_folder may have ("ok" and/or
    "DatasetError"); with "ok", `loaded` is exactly folder.names and every name in `skipped` is
    in folder.skipped, with a reason. gallery: "ok" or "GalleryError" for load_gallery of this
    one file. bounded: a bomb, whose loading must stay small in memory."""
    folder: tuple[str, ...] = ("ok",)
    loaded: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    gallery: str = "ok"
    bounded: bool = False


@dataclass(frozen=True)
class BadFile:
    name: str
    data: bytes = field(repr=False)
    kind: str
    expect: str                                   # "ok" or an engine exception's name
    shape: tuple[int, ...] | None = None          # decode_image's output, for "ok"
    also: tuple[str, ...] = ()                    # outcomes that are acceptable too
    check: Callable[[np.ndarray], None] | None = field(default=None, repr=False, compare=False)
    character: str = "ok"                         # prepare_character on the decoded image
    archive: ArchiveExpect | None = None          # for zips
    note: str = ""

    @property
    def is_zip(self) -> bool:
        return self.archive is not None


def ok(name: str, data: bytes, kind: str, shape: tuple[int, ...], check=None, **more) -> BadFile:
    """A file decode_image must read, to an array of this shape whose pixels pass `check`."""
    return BadFile(name, data, kind, "ok", shape=shape, check=check, **more)


def refused(name: str, data: bytes, kind: str, error: str, **more) -> BadFile:
    """A file decode_image must refuse with this ImageError subclass."""
    return BadFile(name, data, kind, error, **more)


def starts_like(data: bytes) -> str | None:
    """The format whose full signature `data` starts with (of the six the pages accept)."""
    for fmt, signatures in SIGNATURES.items():
        if any(data.startswith(s) for s in signatures) and (fmt != "WEBP" or data[8:12] == b"WEBP"):
            return fmt
    return None


# ------------------------------------------------------------------------------ building blocks

def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def photo(height: int = 40, width: int = 48, seed: int = SEED) -> np.ndarray:
    """An RGB uint8 picture: colour ramps with seeded noise, so that no format squeezes it away."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width]
    ramps = np.stack([cols * 255 // width, rows * 255 // height, (rows + cols) * 255 // (height + width)], -1)
    return np.clip(ramps + rng.integers(-20, 21, ramps.shape), 0, 255).astype(np.uint8)


def drawn_character(strokes=((8, 6), (30, 6), (16, 34)), size=(40, 40)) -> Image.Image:
    """Dark ink on white paper, like a scanned digit (a 7 by default)."""
    paper = Image.new("L", size, 255)
    ImageDraw.Draw(paper).line(list(strokes), fill=20, width=4)
    return paper


def clean_files() -> dict[str, bytes]:
    """The photo in each of the six formats: the files every damage starts from."""
    image = Image.fromarray(photo())
    options = {"JPEG": {"quality": 90}, "WEBP": {"quality": 80}}
    return {fmt: encode(image, fmt, **options.get(fmt, {})) for fmt in FORMATS}


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_from_rows(width: int, height: int, depth: int, colour: int, row: bytes | None = None,
                  rows: bytes | None = None, extra: bytes = b"", level: int = 9) -> bytes:
    """A PNG written by hand: one filtered `row` repeated `height` times (streamed through zlib,
    so a 20000 x 20000 image never exists in memory) or all `rows` at once."""
    if rows is None:
        packer = zlib.compressobj(level)
        body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    else:
        body = zlib.compress(rows, level)
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + extra + chunk(b"IDAT", body)
            + chunk(b"IEND", b""))


def png_claiming(width: int, height: int) -> bytes:
    """A 1x1 grey PNG whose header claims width x height (checksum fixed): a bomb's header."""
    data = bytearray(encode(Image.new("L", (1, 1)), "PNG"))
    ihdr = bytearray(data[12:29])
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


def gif_by_hand(screen: tuple[int, int], frame: tuple[int, int]) -> bytes:
    """A two-colour GIF whose screen and first frame claim these sizes, with one pixel of data."""
    lzw = bytes([0x02, 0x02, 0x44, 0x01, 0x00])  # code size 2, one sub-block: clear, 0, end
    return (b"GIF89a" + struct.pack("<HHBBB", *screen, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
            + b"," + struct.pack("<HHHHB", 0, 0, *frame, 0) + lzw + b";")


def jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(encode(Image.new("L", (8, 8), 128), "JPEG"))
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def tiff_claiming(width: int, height: int) -> bytes:
    """A 1x1 TIFF whose width and length tags claim more (as 32-bit values)."""
    data = bytearray(encode(Image.new("L", (1, 1)), "TIFF"))
    ifd = struct.unpack_from("<I", data, 4)[0]
    for k in range(struct.unpack_from("<H", data, ifd)[0]):
        at = ifd + 2 + 12 * k
        tag = struct.unpack_from("<H", data, at)[0]
        if tag in (256, 257):
            struct.pack_into("<HHII", data, at, tag, 4, 1, width if tag == 256 else height)
    return bytes(data)


def bmp_claiming(width: int, height: int) -> bytes:
    data = bytearray(encode(Image.new("L", (4, 4)), "BMP"))
    struct.pack_into("<ii", data, 18, width, height)
    return bytes(data)


def webp_claiming(width: int, height: int) -> bytes:
    """A lossless 1x1 WebP whose VP8L header claims width x height (each at most 16384)."""
    data = bytearray(encode(Image.new("RGB", (1, 1)), "WEBP", lossless=True))
    at = data.find(b"VP8L") + 8
    assert data[at] == 0x2F
    bits = struct.unpack_from("<I", data, at + 1)[0]
    bits = (bits & ~((1 << 28) - 1)) | (width - 1) | ((height - 1) << 14)
    struct.pack_into("<I", data, at + 1, bits)
    return bytes(data)


def bmp_rle8(width: int, height: int, value: int = 7) -> bytes:
    """An 8-bit run-length-encoded BMP of one colour: 20000 x 20000 in about 3 MB."""
    runs, left = bytearray(), width
    while left:
        n = min(255, left)
        runs += bytes([n, value])
        left -= n
    pixels = (bytes(runs) + b"\x00\x00") * height + b"\x00\x01"   # end of each line, of the bitmap
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(pixels), 2835, 2835, 256, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + palette + pixels


def exif_orientation(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


# How Pillow's exif_transpose turns the stored pixels upright, per EXIF orientation; each
# stored image below is made from the upright one by the inverse.
_UPRIGHT = {1: None, 2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
            6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}
_INVERSE = {"ROTATE_270": "ROTATE_90", "ROTATE_90": "ROTATE_270"}


def upright_marker() -> np.ndarray:
    """24 tall, 40 wide: a white block at the top left, a grey one at the top right. Under the
    eight flips and rotations no two placements agree, so any wrong turn shows."""
    image = np.zeros((24, 40), dtype=np.uint8)
    image[:8, :8] = 255
    image[:6, -6:] = 128
    return image


def stored_for(orientation: int) -> Image.Image:
    image = Image.fromarray(upright_marker())
    method = _UPRIGHT[orientation]
    if method is None:
        return image
    return image.transpose(getattr(Image.Transpose, _INVERSE.get(method, method)))


# ------------------------------------------------------------------------------ checks on results

def close_to(expected, atol: float = 0.03) -> Callable[[np.ndarray], None]:
    expected = np.asarray(expected, dtype=np.float32)

    def check(out: np.ndarray) -> None:
        np.testing.assert_allclose(out, np.broadcast_to(expected, out.shape), atol=atol)
    return check


def halves(left, right, height: int, width: int) -> np.ndarray:
    """An image whose left half is one value (grey or RGB) and right half another."""
    channels = () if np.ndim(left) == 0 else (3,)
    return np.concatenate([np.broadcast_to(left, (height, width // 2, *channels)),
                           np.broadcast_to(right, (height, width // 2, *channels))], axis=1)


def same_pixels_as(clean: bytes) -> Callable[[np.ndarray], None]:
    def check(out: np.ndarray) -> None:
        from engine.core.imaging import decode_image
        np.testing.assert_array_equal(out, decode_image(clean))
    return check


def upright(out: np.ndarray) -> None:
    """The white marker at the top left and the grey one at the top right, the rest dark."""
    out = out.mean(axis=2) if out.ndim == 3 else out
    expected = upright_marker() / 255.0
    assert out.shape == expected.shape, f"shape {out.shape}, upright is {expected.shape}"
    assert out[:8, :8].mean() > 0.85, "the white marker is not at the top left"
    assert abs(out[:6, -6:].mean() - 0.5) < 0.12, "the grey marker is not at the top right"
    assert np.abs(out - expected).mean() < 0.05


def first_frame_red(out: np.ndarray) -> None:
    np.testing.assert_allclose(out.reshape(-1, 3).mean(axis=0), [1, 0, 0], atol=0.06)


def cyan_left_white_right(out: np.ndarray) -> None:
    width = out.shape[1]
    np.testing.assert_allclose(out[:, : width // 2 - 2].reshape(-1, 3).mean(0), [0, 1, 1], atol=0.06)
    np.testing.assert_allclose(out[:, width // 2 + 2:].reshape(-1, 3).mean(0), [1, 1, 1], atol=0.06)


def ramp_16bit(out: np.ndarray) -> None:
    """The 16-bit ramp 0..65535 left to right, scaled by its depth (65535), not stretched."""
    np.testing.assert_allclose(out[0], np.linspace(0, 1, out.shape[1]), atol=2e-3)


def ramp_in_first_channel(out: np.ndarray) -> None:
    """The 16-bit ramp read at 8 bits (Pillow keeps the high byte of 16-bit colour)."""
    first = out[0, :, 0] if out.ndim == 3 else out[0]
    np.testing.assert_allclose(first, np.linspace(0, 1, out.shape[1]), atol=0.01)


# ------------------------------------------------------------------------------ image corpus

def _truncations(files: dict[str, bytes]) -> list[BadFile]:
    out = []
    for fmt, ext in FORMATS.items():
        data, sig, kind = files[fmt], SIGNATURE_LENGTH[fmt], f"truncated-{ext}"
        n = len(data)
        cuts = {sig // 2, sig, sig + 4, 40, n // 10, n // 4, n // 2, 3 * n // 4, 9 * n // 10, n - 1}
        for cut in sorted(cuts):
            name = f"truncated-{cut}of{n}.{ext}"
            if cut < sig:
                out.append(refused(name, data[:cut], kind, "NotAnImageError",
                                   note="cut inside the signature: nothing says it is an image"))
            elif cut == n - 1 and fmt in ("PNG", "GIF"):
                # Only the end marker is cut (IEND's checksum, GIF's ';'): every pixel is there.
                out.append(ok(name, data[:cut], kind, (40, 48, 3), same_pixels_as(data),
                              also=("CorruptImageError",), note="only the end marker is missing"))
            else:
                also = ("ok",) if cut == n - 1 else ()   # JPEG's end marker: every pixel is there
                out.append(refused(name, data[:cut], kind, "CorruptImageError", also=also,
                                   note="starts like the format, cut short"))
    return out


def _damage(files: dict[str, bytes]) -> list[BadFile]:
    out = []
    for fmt, ext in FORMATS.items():
        data, sig = files[fmt], SIGNATURE_LENGTH[fmt]
        first = bytearray(data)
        first[0] ^= 0xFF
        out.append(refused(f"flipped-signature.{ext}", bytes(first), f"flipped-header-{ext}",
                           "NotAnImageError", note="the first byte of the signature flipped"))
        header = bytearray(data)
        for at in range(sig + 2, sig + 10, 3):
            header[at] ^= 0xA5
        # A flipped header field may make sizes absurd, or the file unreadable; any typed answer
        # is right, and so is an image where the field did not matter.
        out.append(refused(f"flipped-header.{ext}", bytes(header), f"flipped-header-{ext}", "ImageError",
                           also=("ok",), note="three bytes of the header after the signature flipped"))
        for k in range(2):
            middle = bytearray(data)
            rng = np.random.default_rng(SEED + 10 * k + len(fmt))
            for at in rng.integers(len(data) // 4, 3 * len(data) // 4, 8 * (k + 1)):
                middle[at] ^= int(rng.integers(1, 256))
            # PNG checks a checksum on every chunk; the others may decode damaged pixel data.
            expect, also = ("CorruptImageError", ()) if fmt == "PNG" else ("ImageError", ("ok",))
            out.append(refused(f"flipped-middle-{k}.{ext}", bytes(middle), f"flipped-middle-{ext}", expect,
                               shape=(40, 48, 3), also=also,
                               note=f"{8 * (k + 1)} bytes in the middle changed"))
        garbage = np.random.default_rng(SEED + len(fmt)).bytes(997)
        out.append(ok(f"garbage-appended.{ext}", data + garbage, f"garbage-appended-{ext}", (40, 48, 3),
                      same_pixels_as(data), note="997 random bytes after the end"))
    for fmt in ("PNG", "JPEG", "GIF"):
        out.append(refused(f"garbage-prepended.{FORMATS[fmt]}", b"#!junk\x00" * 3 + files[fmt],
                           "garbage-prepended", "NotAnImageError", note="bytes before the signature"))
    for fmt, ext in (("PNG", "jpg"), ("JPEG", "png"), ("GIF", "webp"), ("TIFF", "bmp")):
        out.append(ok(f"{fmt.lower()}-named.{ext}", files[fmt], "wrong-extension", (40, 48, 3),
                      note="a good image with another format's ending: the content decides"))
    return out


MINIMAL_PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
               b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
               b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 72 72] >> endobj\n"
               b"xref\n0 4\n0000000000 65535 f \ntrailer << /Size 4 /Root 1 0 R >>\nstartxref\n0\n%%EOF\n")
MINIMAL_EPS = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n"
               b"newpath 0 0 moveto 10 10 lineto stroke\nshowpage\n%%EOF\n")


def _not_images() -> list[BadFile]:
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr(_info("a.png"), encode(drawn_character(), "PNG"))
    wav = (b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 8000, 1, 8)
           + b"data" + struct.pack("<I", 0))
    svg = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
           b'<rect width="10" height="10"/></svg>')
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(54) + b"This program cannot be run in DOS mode."
    texts = [
        ("text-as-png", "notes.png", b"These are my notes, not a picture.\n" * 20),
        ("html-as-jpg", "page.jpg", b"<!DOCTYPE html>\n<html><body><img src='x.png'></body></html>\n"),
        ("json-as-gif", "data.gif", json.dumps({"image": [[0, 1], [1, 0]], "label": 7}).encode()),
        ("csv-as-webp", "table.webp", b"x,y,label\n1,2,3\n4,5,6\n"),
        ("svg-as-png", "drawing.png", svg),
        ("markdown-as-tif", "readme.tif", b"# Read me\n\nNothing to see.\n"),
        ("utf16-as-bmp", "unicode.bmp", "\ufeffUnicode text, not a bitmap".encode("utf-16-le")),
        ("one-byte", "newline.png", b"\n"),
        ("random-as-png", "noise.png", np.random.default_rng(SEED).bytes(4096)),
        ("exe-as-jpg", "setup.jpg", exe),
        ("pdf-as-jpg", "scan.jpg", MINIMAL_PDF),
        ("pdf-as-png", "scan.png", MINIMAL_PDF),
        ("zip-as-png", "archive.png", zipped.getvalue()),
        ("gzip-as-gif", "compressed.gif", gzip.compress(b"hello" * 100, mtime=0)),
        ("wav-as-webp", "sound.webp", wav),
        ("eps-as-png", "vector.png", MINIMAL_EPS),
    ]
    out = [refused(name, data, kind, "NotAnImageError") for kind, name, data in texts]
    out += [refused(f"empty.{ext}", b"", "zero-bytes", "NotAnImageError")
            for ext in (*FORMATS.values(), "jpeg")]
    # Formats the pages do not accept, though Pillow could read them: never decoded.
    image = Image.fromarray(photo(12, 16))
    for fmt in ("PPM", "TGA", "PCX", "ICO", "QOI", "SGI"):
        out.append(refused(f"{fmt.lower()}-as.png", encode(image, fmt), "other-format", "NotAnImageError",
                           note=f"a real {fmt} file named .png"))
    return out


def _one_pixel() -> list[BadFile]:
    """A 1x1 image in every mode and the formats that store it; grey 51 (0.2) where possible."""
    grey, colour, rgb = (1, 1), (1, 1, 3), (0.2, 0.4, 0.6)
    cases = [  # mode, pixel value, formats, output shape, expected value(s)
        ("1", 1, ("PNG", "BMP", "TIFF", "GIF"), grey, 1.0),
        ("L", 51, ("PNG", "JPEG", "BMP", "TIFF", "GIF"), grey, 0.2),
        ("LA", (51, 255), ("PNG", "TIFF"), grey, 0.2),
        ("RGB", (51, 102, 153), ("PNG", "JPEG", "BMP", "TIFF"), colour, rgb),
        ("RGBA", (51, 102, 153, 255), ("PNG", "TIFF", "BMP"), colour, rgb),
        ("I;16", 13107, ("PNG", "TIFF"), grey, 0.2),
        ("I", 13107, ("TIFF",), grey, 0.2),
        ("I;16B", 13107, ("TIFF",), grey, 0.2),
        ("F", 0.2, ("TIFF",), grey, 0.2),
        ("CMYK", (0, 0, 0, 204), ("JPEG", "TIFF"), colour, 0.2),
    ]
    blank = {"kind": "one-pixel", "character": "EmptyImageError"}
    out = []
    for mode, value, formats, shape, expected in cases:
        for fmt in formats:
            data = encode(Image.new(mode, (1, 1), value), fmt)
            out.append(ok(f"one-pixel-{mode.replace(';', '')}.{FORMATS[fmt]}", data, shape=shape,
                          check=close_to(expected), **blank))
    palette = Image.new("P", (1, 1), 1)
    palette.putpalette([0, 0, 0, 51, 102, 153])
    for fmt in ("PNG", "GIF", "BMP", "TIFF"):
        out.append(ok(f"one-pixel-P.{FORMATS[fmt]}", encode(palette, fmt), shape=colour, check=close_to(rgb),
                      **blank))
    webp = encode(Image.new("RGB", (1, 1), (51, 102, 153)), "WEBP", lossless=True)
    out.append(ok("one-pixel-RGB.webp", webp, shape=colour, check=close_to(rgb), **blank))
    clear = encode(Image.new("RGBA", (1, 1), (0, 0, 0, 0)), "PNG")
    out.append(ok("one-pixel-transparent.png", clear, shape=colour, check=close_to(1.0),
                  note="fully transparent: white paper", **blank))
    return out


def _huge() -> list[BadFile]:
    """Real files with every pixel there, some of them far too many pixels; none is decoded."""
    two_colours = chunk(b"PLTE", b"\x00\x00\x00\xff\xff\xff")
    too_large = "ImageTooLargeError"
    ramp = bytes(range(256)) * 78 + bytes(range(32))            # 20000 grey values
    column = b"".join(b"\x00" + bytes([v]) for v in ramp)
    return [
        refused("huge-20000x20000-1bit.png", png_from_rows(20000, 20000, 1, 0, row=bytes(2501)), "huge-20000",
                too_large, note="400 M pixels of black, 1 bit each: about 50 KB"),
        refused("huge-20000x20000-palette.png",
                png_from_rows(20000, 20000, 1, 3, row=bytes(2501), extra=two_colours), "huge-20000",
                too_large, note="400 M pixels, a two-colour palette"),
        refused("huge-20000x20000-grey.png", png_from_rows(20000, 20000, 8, 0, row=bytes(20001), level=1),
                "huge-20000", too_large, note="400 M grey pixels of one value: under 2 MB"),
        refused("huge-20000x20000-rle.bmp", bmp_rle8(20000, 20000), "huge-20000", too_large,
                note="run-length encoded: about 3 MB"),
        refused("huge-20000x2001.png", png_from_rows(20000, 2001, 1, 0, row=bytes(2501)), "huge-20000",
                too_large, note="just over the engine's own 40 M pixel limit"),
        refused("huge-10000x10000.png", png_from_rows(10000, 10000, 1, 0, row=bytes(1251)), "huge-20000",
                too_large, note="100 M pixels: where Pillow only warns"),
        refused("strip-20000x1.png", png_from_rows(20000, 1, 8, 0, rows=b"\x00" + ramp), "huge-20000",
                "ImageShapeError", note="a strip one pixel tall: no page can use it"),
        refused("strip-1x20000.png", png_from_rows(1, 20000, 8, 0, rows=column), "huge-20000", "ImageShapeError",
                note="a strip one pixel wide"),
    ]


def _bombs() -> list[BadFile]:
    """Tiny files whose headers declare enormous (or empty) images, and one too many bytes."""
    def bomb(name: str, data: bytes, **more) -> BadFile:
        return refused(name, data, "decompression-bomb", "ImageTooLargeError", **more)

    def empty(name: str, data: bytes) -> BadFile:
        # By its docstring EmptyImageError, but Pillow refuses most of these before the engine
        # looks at the size: any typed answer will do.
        return refused(name, data, "zero-dimension", "ImageError", note="no pixels at all")

    # Compressed metadata that inflates to 64 MB: Pillow stops at 1 MB and calls it too large;
    # the engine may call that either too large or damaged (or skip the chunk and read the pixels).
    eight_by_eight = {"rows": bytes(9 * 8)}
    text = chunk(b"zTXt", b"comment\x00\x00" + zlib.compress(bytes(64 * MiB), 9))
    icc = chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(bytes(64 * MiB), 9))
    metadata = {"also": ("CorruptImageError", "ok"), "shape": (8, 8), "character": "EmptyImageError"}
    return [
        bomb("bomb-100000x100000.png", png_claiming(100_000, 100_000)),
        bomb("bomb-65535x65535.png", png_claiming(65535, 65535)),
        bomb("bomb-2147483647x1.png", png_claiming(2**31 - 1, 1)),
        bomb("bomb-65535x65535.gif", gif_by_hand((65535, 65535), (1, 1))),
        bomb("bomb-frame-30000x30000.gif", gif_by_hand((10, 10), (30000, 30000)),
             note="a small screen with a huge first frame"),
        bomb("bomb-65500x65500.jpg", jpeg_claiming(65500, 65500)),
        bomb("bomb-100000x100000.tif", tiff_claiming(100_000, 100_000)),
        bomb("bomb-50000x50000.bmp", bmp_claiming(50_000, 50_000)),
        bomb("bomb-50000x-50000.bmp", bmp_claiming(50_000, -50_000),
             note="a top-down bitmap (negative height)"),
        bomb("bomb-16384x16384.webp", webp_claiming(16384, 16384)),
        bomb("bomb-text-chunk.png", png_from_rows(8, 8, 8, 0, extra=text, **eight_by_eight), **metadata),
        bomb("bomb-icc-profile.png", png_from_rows(8, 8, 8, 0, extra=icc, **eight_by_eight), **metadata),
        empty("zero-0x0.png", png_claiming(0, 0)),
        empty("zero-5x0.png", png_claiming(5, 0)),
        empty("zero-0x0.gif", gif_by_hand((0, 0), (0, 0))),
        empty("zero-0x4.bmp", bmp_claiming(0, 4)),
        refused("over-20MB.png", b"\x89PNG\r\n\x1a\n" + bytes(20 * MiB), "over-byte-limit",
                "ImageTooLargeError", note="8 bytes over the 20 MB limit"),
    ]


def _colour_spaces() -> list[BadFile]:
    cmyk = Image.new("CMYK", (32, 16), (0, 0, 0, 0))   # white
    cmyk.paste((255, 0, 0, 0), (0, 0, 16, 16))         # cyan on the left
    out = [
        ok("cmyk.jpg", encode(cmyk, "JPEG", quality=95), "cmyk-jpeg", (16, 32, 3), cyan_left_white_right,
           note="Adobe (inverted) CMYK, as Photoshop writes it"),
        ok("cmyk.tif", encode(cmyk, "TIFF"), "cmyk-tiff", (16, 32, 3), cyan_left_white_right),
        ok("cmyk-deflate.tif", encode(cmyk, "TIFF", compression="tiff_deflate"), "cmyk-tiff", (16, 32, 3),
           cyan_left_white_right),
    ]
    ramp = np.linspace(0, 65535, 64).round().astype(np.uint16)[None].repeat(8, axis=0)
    for fmt, dtype, kind in (("PNG", "<u2", "16-bit-png"), ("TIFF", "<u2", "16-bit-tiff"),
                             ("TIFF", ">u2", "16-bit-tiff")):
        image = Image.fromarray(ramp.astype(dtype))
        order = "big" if dtype.startswith(">") else "little"
        out.append(ok(f"ramp16-{order}.{FORMATS[fmt]}", encode(image, fmt), kind, (8, 64), ramp_16bit,
                      note=f"mode {image.mode}"))
    # PNG's 16-bit colour types, written by hand (Pillow writes none of them). numpy stacks in
    # native byte order, so each stack is made big-endian again.
    big = ramp.astype(">u2")
    full = np.full_like(big, 65535)
    rgb16 = np.stack([big, big[:, ::-1], np.full_like(big, 32768)], -1).astype(">u2")
    rgba16 = np.concatenate([rgb16, full[..., None]], -1).astype(">u2")
    la16 = np.stack([big, full], -1).astype(">u2")
    for name, pixels, colour_type, shape in (("rgb16.png", rgb16, 2, (8, 64, 3)),
                                             ("rgba16.png", rgba16, 6, (8, 64, 3)),
                                             ("la16.png", la16, 4, (8, 64))):
        rows = b"".join(b"\x00" + row.tobytes() for row in pixels)
        out.append(ok(name, png_from_rows(64, 8, 16, colour_type, rows=rows), "16-bit-png", shape,
                      ramp_in_first_channel))
    wide = (np.linspace(0, 1, 64) * 1_000_000).astype(np.int32)[None].repeat(8, axis=0)
    out.append(ok("int32-wide.tif", encode(Image.fromarray(wide), "TIFF"), "16-bit-tiff", (8, 64), ramp_16bit,
                  note="32-bit integers past 65535: stretched to [0, 1]"))
    return out


def _palettes_and_animation() -> list[BadFile]:
    kind = "palette-transparency"
    indexed = Image.new("P", (16, 8), 0)
    indexed.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255])
    indexed.paste(1, (0, 0, 8, 8))                      # red on the left, index 0 on the right
    red_then_white = close_to(halves([1, 0, 0], [1, 1, 1], 8, 16), atol=0.01)
    pink_then_white = close_to(halves([1, 127 / 255, 127 / 255], [1, 1, 1], 8, 16), atol=0.01)
    grey_palette = Image.new("P", (16, 8), 0)
    grey_palette.putpalette([0, 0, 0, 200, 200, 200])
    grey_palette.paste(1, (0, 0, 8, 8))
    out = [
        ok("palette-trns-index.png", encode(indexed, "PNG", transparency=0), kind, (8, 16, 3), red_then_white,
           note="index 0 transparent: white"),
        ok("palette-trns.gif", encode(indexed, "GIF", transparency=0), kind, (8, 16, 3), red_then_white),
        ok("palette-alpha-table.png", encode(indexed, "PNG", transparency=bytes([0, 128, 255])), kind,
           (8, 16, 3), pink_then_white, note="red half transparent"),
        ok("palette-all-transparent.png", encode(indexed, "PNG", transparency=bytes([0, 0, 0])), kind,
           (8, 16, 3), close_to(1.0), character="EmptyImageError", note="nothing visible: blank white"),
        ok("palette-grey-trns.png", encode(grey_palette, "PNG", transparency=0), kind, (8, 16),
           close_to(halves(200 / 255, 1.0, 8, 16)), note="a grey palette gives a grey image"),
    ]
    frames = [Image.new("RGB", (16, 12), colour) for colour in ("red", "blue", "green")]
    for fmt, kind, options in (("GIF", "animated-gif", {}), ("WEBP", "animated-webp", {"lossless": True}),
                               ("PNG", "animated-png", {}), ("TIFF", "multi-page-tiff", {})):
        data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0,
                      **options)
        out.append(ok(f"animated.{FORMATS[fmt]}", data, kind, (12, 16, 3), first_frame_red,
                      character="EmptyImageError", note="three frames: red, blue, green; the first counts"))
    # An animation whose first frame covers only part of the screen, the rest transparent.
    partial = Image.new("P", (16, 12), 0)
    partial.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255])
    partial.paste(1, (0, 0, 8, 12))
    second = Image.new("P", (16, 12), 2)
    second.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255])
    data = encode(partial, "GIF", save_all=True, append_images=[second], transparency=0, duration=50,
                  disposal=2)
    out.append(ok("animated-transparent.gif", data, "animated-gif", (12, 16, 3),
                  close_to(halves([1, 0, 0], [1, 1, 1], 12, 16), atol=0.01)))
    return out


def _exif() -> list[BadFile]:
    out = []
    for orientation in range(1, 9):
        data = encode(stored_for(orientation), "JPEG", exif=exif_orientation(orientation), quality=95)
        out.append(ok(f"exif-orientation-{orientation}.jpg", data, "exif-rotated", (24, 40), upright,
                      note=f"stored turned; EXIF orientation {orientation} turns it upright"))
    for fmt, orientation in (("PNG", 6), ("PNG", 8), ("WEBP", 3), ("TIFF", 5)):
        options = {"lossless": True} if fmt == "WEBP" else {}
        data = encode(stored_for(orientation), fmt, exif=exif_orientation(orientation), **options)
        shape = (24, 40, 3) if fmt == "WEBP" else (24, 40)   # WebP stores no grey
        out.append(ok(f"exif-orientation-{orientation}.{FORMATS[fmt]}", data, "exif-rotated", shape, upright))
    for orientation in (0, 9, 65535):   # not an orientation: the pixels as stored
        data = encode(stored_for(1), "JPEG", exif=exif_orientation(orientation), quality=95)
        out.append(ok(f"exif-orientation-{orientation}.jpg", data, "exif-bad-orientation", (24, 40), upright))
    # An EXIF block of garbage: the pixels are fine, so they should come through as stored.
    clean = encode(stored_for(1), "JPEG", quality=95)
    app1 = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff" + np.random.default_rng(SEED).bytes(40)
    data = clean[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + clean[2:]
    out.append(ok("exif-garbage.jpg", data, "exif-damaged", (24, 40), upright, also=("CorruptImageError",)))
    return out


# ------------------------------------------------------------------------------ zip corpus

def _info(name: str) -> zipfile.ZipInfo:
    """A deflated member dated 2024-01-01, not now: the same bytes every time."""
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _zip(members: dict | list) -> bytes:
    """A zip of name -> bytes (or a list of (name or ZipInfo, bytes)); duplicates allowed."""
    buffer = io.BytesIO()
    items = members.items() if isinstance(members, dict) else members
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # "Duplicate name"
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in items:
                archive.writestr(_info(name) if isinstance(name, str) else name, data)
    return buffer.getvalue()


def _central_entry(data: bytes, name: bytes) -> int:
    """Where the central directory entry of the member with this name starts."""
    at = data.find(b"PK\x01\x02")
    while at != -1 and data[at + 46:at + 46 + len(name)] != name:
        at = data.find(b"PK\x01\x02", at + 4)
    assert at != -1, name
    return at


def _local_header(data: bytes, name: bytes) -> int:
    """Where the local header of the member with this name starts (the first mention of it)."""
    at = data.find(name) - 30
    assert data[at:at + 4] == b"PK\x03\x04", name
    return at


def _patch_name(data: bytearray, name: bytes, new: bytes) -> None:
    """Replace a member's name in its local header and its central directory entry."""
    assert len(name) == len(new)
    for _ in range(2):
        at = data.find(name)
        data[at:at + len(name)] = new


def _zips(files: dict[str, bytes]) -> list[BadFile]:
    good = encode(drawn_character(), "PNG")
    one = encode(drawn_character([(20, 5), (20, 35)]), "PNG")
    letter = encode(drawn_character([(6, 34), (20, 5), (34, 34)]), "PNG")
    out: list[BadFile] = []

    def add(name: str, data: bytes, kind: str, note: str = "", **expect) -> None:
        out.append(refused(name, data, kind, "NotAnImageError", archive=ArchiveExpect(**expect), note=note))

    nothing = {"folder": ("DatasetError",), "gallery": "GalleryError"}
    add("bad-members.zip", _zip({
        "digits/seven.png": good, "digits/one.png": one, "letters/a.png": letter, "letters/": b"",
        "digits/truncated.png": files["PNG"][:300], "digits/notes.png": b"my notes\n" * 30,
        "letters/empty.gif": b"", "letters/scan.jpg": MINIMAL_PDF,
        "letters/bomb.png": png_claiming(65535, 65535),
        "readme.txt": b"not an image, ignored", "inner.zip": _zip({"x.png": good}),
        "disguised.png": _zip({"x.png": good}), ".hidden.png": good,
        "__MACOSX/digits/._seven.png": b"\x00\x05\x16\x07 resource fork",
    }), "zip-bad-members", loaded=("digits/one.png", "digits/seven.png", "letters/a.png"),
        skipped=("digits/truncated.png", "digits/notes.png", "letters/empty.gif", "letters/scan.jpg",
                 "letters/bomb.png", "disguised.png"))
    add("only-bad.zip", _zip({"a.png": b"text", "b.jpg": b"", "c.gif": files["GIF"][:100]}),
        "zip-bad-members", skipped=("a.png", "b.jpg", "c.gif"), gallery="GalleryError")
    add("no-images.zip", _zip({"readme.txt": b"hello", "data.csv": b"1,2\n"}), "zip-no-images",
        gallery="GalleryError")
    add("empty.zip", _zip({}), "zip-empty", gallery="GalleryError")

    traversal = ("../evil.png", "../../evil-up2.png", "/tmp/evil-absolute.png", "C:\\evil-drive.png",
                 "..\\evil-backslash.png", "a/../../evil-middle.png", "C:/evil-drive2.png")
    add("traversal.zip", _zip({**{name: good for name in traversal}, "ok/good.png": one}), "zip-traversal",
        loaded=("ok/good.png",), skipped=traversal)
    link = _info("link.png")
    link.external_attr = 0o120777 << 16   # a symbolic link to a file outside
    add("symlink.zip", _zip([(link, b"/etc/passwd"), ("good.png", good)]), "zip-traversal",
        note="a symbolic link member: read as its bytes (a path), never followed",
        loaded=("good.png",), skipped=("link.png",))

    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr(_info("good.png"), good)
        with archive.open(_info("bomb.bmp"), "w") as member:
            for _ in range(24):
                member.write(bytes(MiB))
        archive.writestr(_info("ratio.png"), bytes(4 * MiB))
    add("bomb.zip", bomb.getvalue(), "zip-bomb", loaded=("good.png",), skipped=("bomb.bmp", "ratio.png"),
        bounded=True, note="24 MB of zeros (over the size limit); 4 MB (over the ratio limit)")

    lying = bytearray(_zip({"good.png": good, "liar.png": bytes(30 * MiB)}))
    struct.pack_into("<I", lying, _central_entry(lying, b"liar.png") + 24, 200)
    add("lying-size.zip", bytes(lying), "zip-bomb", loaded=("good.png",), skipped=("liar.png",), bounded=True,
        note="30 MB of zeros whose directory entry says 200 bytes")

    add("member-over-limit.zip", _zip({"good.png": good, "big.bmp": bytes(20 * MiB + 1)}), "zip-bomb",
        loaded=("good.png",), skipped=("big.bmp",), bounded=True, note="a member one byte over 20 MB")

    huge = bytearray(_zip({"good.png": good, "huge.tif": files["TIFF"]}))
    struct.pack_into("<I", huge, _central_entry(huge, b"huge.tif") + 24, 0xFFFFFF00)
    add("declared-4GB.zip", bytes(huge), "zip-bomb", loaded=("good.png",), skipped=("huge.tif",),
        bounded=True, note="a directory entry that claims 4 GB")

    # Overlapping entries (the trick of non-recursive zip bombs): three directory entries, one body.
    overlap = bytearray(_zip({"a.png": good, "b.png": good, "c.png": good}))
    first = struct.unpack_from("<I", overlap, _central_entry(overlap, b"a.png") + 42)[0]
    for name in (b"b.png", b"c.png"):
        struct.pack_into("<I", overlap, _central_entry(overlap, name) + 42, first)
    add("overlapping.zip", bytes(overlap), "zip-bomb", loaded=("a.png",), skipped=("b.png", "c.png"),
        bounded=True)

    many = _zip({f"d/{k:04d}.png": encode(Image.new("L", (2, 2), k % 256), "PNG") for k in range(5001)})
    add("too-many.zip", many, "zip-bomb", **nothing)

    encrypted = bytearray(_zip({"good.png": good, "secret.png": one}))
    encrypted[_local_header(encrypted, b"secret.png") + 6] |= 1          # flag bit 0: encrypted
    encrypted[_central_entry(encrypted, b"secret.png") + 8] |= 1
    add("encrypted.zip", bytes(encrypted), "zip-encrypted", loaded=("good.png",), skipped=("secret.png",))

    method = bytearray(_zip({"good.png": good, "strange.png": one}))
    struct.pack_into("<H", method, _local_header(method, b"strange.png") + 8, 99)     # AES: unsupported
    struct.pack_into("<H", method, _central_entry(method, b"strange.png") + 10, 99)
    add("unknown-method.zip", bytes(method), "zip-damaged", loaded=("good.png",), skipped=("strange.png",))

    crc = bytearray(_zip({"good.png": good, "bad-crc.png": one}))
    struct.pack_into("<I", crc, _local_header(crc, b"bad-crc.png") + 14, 0)
    struct.pack_into("<I", crc, _central_entry(crc, b"bad-crc.png") + 16, 0)
    add("bad-crc.zip", bytes(crc), "zip-damaged", loaded=("good.png",), skipped=("bad-crc.png",))

    body = bytearray(_zip({"good.png": good, "mangled.png": files["PNG"]}))
    start = body.find(b"mangled.png") + 11
    body[start + 200:start + 260] = bytes(60)                # its deflate stream damaged
    add("damaged-member.zip", bytes(body), "zip-damaged", loaded=("good.png",), skipped=("mangled.png",))

    whole = _zip({"a.png": good, "b.png": one})
    add("truncated-half.zip", whole[: len(whole) // 2], "zip-damaged", **nothing)
    add("truncated-end.zip", whole[:-10], "zip-damaged", **nothing)
    add("not-a-zip.zip", np.random.default_rng(SEED).bytes(2048), "zip-damaged", **nothing)
    add("only-signature.zip", b"PK\x03\x04" + bytes(26), "zip-damaged", **nothing)
    add("self-extracting.zip", b"MZ" + bytes(1022) + whole, "zip-prepended", loaded=("a.png", "b.png"))
    add("duplicate-names.zip", _zip([("a.png", good), ("a.png", one)]), "zip-duplicate-names",
        loaded=("a.png", "a.png"))
    add("unicode-names.zip", _zip({"数字/七.png": good, "Ünïcödé/ß.png": letter}),
        "zip-unicode-names",
        loaded=("Ünïcödé/ß.png", "数字/七.png"))

    # Damaged directories that zipfile reports with exceptions other than BadZipFile: the
    # directory cannot be trusted, so the whole archive is refused with a DatasetError.
    either = {"folder": ("DatasetError",), "gallery": "GalleryError"}
    bad_utf8 = bytearray(_zip({"good.png": good, "XXXX.png": one}))
    _patch_name(bad_utf8, b"XXXX.png", b"\xff\xfe\xfd\xfc.png")
    bad_utf8[_central_entry(bad_utf8, b"\xff\xfe\xfd\xfc.png") + 9] |= 0x08   # flag bit 11: names are UTF-8
    add("invalid-utf8-name.zip", bytes(bad_utf8), "zip-damaged-directory", **either)
    nul = bytearray(_zip({"good.png": good, "Xnul.png": one}))
    _patch_name(nul, b"Xnul.png", b"\x00nul.png")                               # zipfile cuts at NUL: ""
    add("empty-name.zip", bytes(nul), "zip-damaged-directory", **either)
    version = bytearray(_zip({"good.png": good, "future.png": one}))
    struct.pack_into("<H", version, _central_entry(version, b"future.png") + 6, 110)   # needs zip 11.0
    add("future-version.zip", bytes(version), "zip-damaged-directory", **either)
    offset = bytearray(whole)
    struct.pack_into("<I", offset, offset.rfind(b"PK\x05\x06") + 16, 0x7000_0000)   # the directory's offset
    add("bad-directory-offset.zip", bytes(offset), "zip-damaged-directory", **either)
    return out


# ------------------------------------------------------------------------------ hostile: costly to decode

def jpeg_with_scans(scans: int, side: int = 2048) -> bytes:
    """A flat grey progressive JPEG whose smallest scan (an AC pass of end-of-band runs, a few
    bytes) is repeated until the file holds `scans` scans: each one is a pass over every block."""
    data = encode(Image.new("L", (side, side), 128), "JPEG", quality=75, progressive=True)
    found = []
    at = data.find(b"\xff\xda")
    while at >= 0:
        end = at + 2 + struct.unpack_from(">H", data, at + 2)[0]
        while True:                     # to the next marker that is not stuffing or a restart
            end = data.index(b"\xff", end)
            if data[end + 1] != 0 and not 0xD0 <= data[end + 1] <= 0xD7:
                break
            end += 2
        found.append(data[at:end])
        at = data.find(b"\xff\xda", end)
    extra = min(found[1:], key=len)
    eoi = data.rfind(b"\xff\xd9")
    return data[:eoi] + extra * (scans - len(found)) + data[eoi:]


def tiff_with_strips(strips: int, width: int = 64, height: int = 64) -> bytes:
    """An uncompressed grey TIFF whose directory lists `strips` strips, all of one row's data."""
    tags = 9
    offsets_at = 8 + 2 + 12 * tags + 4
    counts_at = offsets_at + 4 * strips
    data_at = counts_at + 4 * strips
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, strips, offsets_at), (277, 3, 1, 1), (278, 4, 1, 1), (279, 4, strips, counts_at)]
    directory = struct.pack("<H", tags) + b"".join(struct.pack("<HHII", *e) for e in entries) + bytes(4)
    return (b"II*\x00" + struct.pack("<I", 8) + directory + struct.pack("<I", data_at) * strips
            + struct.pack("<I", width) * strips + bytes(width))


def extremes_first_row(out: np.ndarray) -> None:
    """A float TIFF of +-3e38: finite, the largest value white and the smallest black."""
    assert out[0, 0] == 1.0 and out[0, 1] == 0.0, out


def _hostile() -> list[BadFile]:
    """Small files that cost far more to decode than their pixels (issue 22): scan and strip
    counts, strips of one pixel, float extremes, a 40 MP image in 1.6 KB; and zips whose images
    are each allowed but together are hundreds of millions of pixels."""
    narrow = "ImageShapeError"
    out = [
        refused("scans-10000.jpg", jpeg_with_scans(10_000), "jpeg-many-scans", "ImageTooLargeError",
                note="10,000 scans in 180 KB: seconds per megapixel"),
        refused("scans-101.jpg", jpeg_with_scans(101, side=64), "jpeg-many-scans", "ImageTooLargeError",
                note="one scan over the limit"),
        ok("scans-100.jpg", jpeg_with_scans(100, side=64), "jpeg-many-scans", (64, 64), check=close_to(128 / 255),
           character="EmptyImageError", note="at the limit: decoded"),
        refused("strips-200000.tif", tiff_with_strips(200_000), "tiff-many-strips", "ImageTooLargeError",
                note="200,000 strips of a 64 x 64 image: a Python step each"),
        ok("strips-64.tif", tiff_with_strips(64), "tiff-many-strips", (64, 64), check=close_to(0.0),
           character="EmptyImageError", note="a row a strip, as some scanners write"),
        refused("strip-1x39999999.png", png_from_rows(1, 39_999_999, 8, 0, rows=bytes(2 * 39_999_999)), "narrow-strip", narrow,
                note="inside the pixel limit, 78 KB: gigabytes in every tiled model"),
        refused("strip-65000x1.png", png_from_rows(65000, 1, 8, 0, rows=bytes(65001)), "narrow-strip", narrow),
        refused("strip-51x1.png", png_from_rows(51, 1, 8, 0, rows=bytes(52)), "narrow-strip", narrow,
                note="just narrower than allowed"),
        ok("strip-50x1.png", png_from_rows(50, 1, 8, 0, rows=bytes(51)), "narrow-strip", (1, 50),
           character="EmptyImageError", note="as narrow as allowed"),
        ok("float-extremes.tif", encode(Image.fromarray(np.array([[3e38, -3e38], [0.5, 1.0]], np.float32)), "TIFF"),
           "float-extremes", (2, 2), check=extremes_first_row, note="once decoded as NaN"),
        ok("lossless-40MP.webp", encode(Image.new("RGBA", (6324, 6324), (10, 200, 30, 128)), "WEBP", lossless=True),
           "big-lossless", (6324, 6324, 3), check=close_to(np.array([132, 227, 142]) / 255, atol=0.01),
           character="EmptyImageError", note="40 M half-transparent pixels in 1.6 KB: gigabytes once"),
    ]
    grey = png_from_rows(6000, 6000, 8, 0, row=bytes(6001))
    bits = png_from_rows(6324, 6324, 1, 0, row=bytes(1 + 6324 // 8 + 1))
    pixel_bomb = ArchiveExpect(folder=("DatasetError",), gallery="GalleryError")
    for name, members in (("pixels-10x6000x6000.zip", {f"big/{k}.png": grey for k in range(10)}),
                          ("pixels-60x6000x6000.zip", {f"big/{k}.png": grey for k in range(60)}),
                          ("pixels-40x6324-1bit.zip", {f"big/{k}.png": bits for k in range(40)})):
        out.append(refused(name, _zip(members), "zip-pixel-bomb", "NotAnImageError", archive=pixel_bomb,
                           note="each image allowed, together hundreds of millions of pixels"))
    return out


# ------------------------------------------------------------------------------ the corpus

@functools.lru_cache(maxsize=1)
def _build() -> tuple[BadFile, ...]:
    files = clean_files()
    parts = [_truncations(files), _damage(files), _not_images(), _one_pixel(), _huge(), _bombs(),
             _colour_spaces(), _palettes_and_animation(), _exif(), _zips(files), _hostile()]
    everything = tuple(case for part in parts for case in part)
    names = Counter(case.name for case in everything)
    assert max(names.values()) == 1, [name for name, count in names.items() if count > 1]
    return everything


def corpus() -> list[BadFile]:
    """Every file, built once per process (about two seconds) and the same every time."""
    return list(_build())


def images() -> list[BadFile]:
    return [case for case in corpus() if not case.is_zip]


def archives() -> list[BadFile]:
    return [case for case in corpus() if case.is_zip]


if __name__ == "__main__":
    every = corpus()
    for kind, count in sorted(Counter(case.kind for case in every).items()):
        print(f"{count:4d}  {kind}")
    print(f"{len(every):4d}  files, {sum(len(case.data) for case in every) / MiB:.1f} MB")
