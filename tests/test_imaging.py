"""engine.imaging: safe decoding of every kind of upload, character preparation, noise.

Every input, good or bad, is built here in memory with Pillow."""
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, features
from scipy import ndimage

from engine.core.imaging import (
    MAX_ASPECT,
    MAX_PIXELS,
    NOISE_KINDS,
    CorruptImageError,
    EmptyImageError,
    ImageError,
    ImageShapeError,
    ImageTooLargeError,
    NotAnImageError,
    PixelBudget,
    PixelBudgetError,
    add_noise,
    as_float_image,
    decode_image,
    encode_png,
    fit_within,
    prepare_character,
    to_grey,
)


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def noise_image(mode: str = "RGB", size: tuple[int, int] = (64, 64)) -> Image.Image:
    """Random pixels: nothing compresses, so half the file is half the pixel data."""
    channels = len(Image.new(mode, (1, 1)).getbands())
    pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    return Image.fromarray(pixels.squeeze(axis=2) if channels == 1 else pixels)


def png_claiming(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims width x height (CRC fixed), so it costs nothing to make."""
    data = bytearray(encode(Image.new("L", (1, 1))))
    ihdr = data[12:29]  # chunk type + 13 bytes of IHDR data
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


def assert_user_message(err: pytest.ExceptionInfo) -> None:
    message = str(err.value)
    assert len(message) > 20 and message.endswith(".")
    assert "PIL" not in message and "Traceback" not in message


# ------------------------------------------------------------------------------ bad input

@pytest.mark.parametrize("data", [b"", b"hello, this is just some text\n" * 10,
                                  b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"],
                         ids=["empty", "text", "pdf"])
def test_not_an_image(data):
    with pytest.raises(NotAnImageError) as err:
        decode_image(data)
    assert_user_message(err)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_image_is_corrupt(fmt):
    data = encode(noise_image(), fmt)
    with pytest.raises(CorruptImageError) as err:
        decode_image(data[: len(data) // 2])
    assert_user_message(err)
    assert err.value.__cause__ is not None  # wrapped, not swallowed


def test_damaged_png_middle():
    data = bytearray(encode(noise_image()))
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)
    with pytest.raises(ImageError) as err:
        decode_image(bytes(data))
    assert isinstance(err.value, (CorruptImageError, NotAnImageError))
    assert_user_message(err)


@pytest.mark.parametrize("side, max_pixels", [(8_000, MAX_PIXELS), (10_000, 10**12), (20_000, 10**12)],
                         ids=["our limit", "Pillow's warning", "Pillow's error"])
def test_too_many_pixels_refused_from_header(side, max_pixels):
    assert side * side > MAX_PIXELS
    with pytest.raises(ImageTooLargeError) as err:
        decode_image(png_claiming(side, side), max_pixels=max_pixels)  # the pixels would be corrupt
    assert_user_message(err)


def test_pixel_limit_argument():
    data = encode(Image.new("L", (100, 60)))
    assert decode_image(data, max_pixels=6000).shape == (60, 100)
    with pytest.raises(ImageTooLargeError, match="100 x 60"):
        decode_image(data, max_pixels=5999)


def test_byte_limit_for_every_source(tmp_path):
    data = encode(noise_image(size=(32, 32)))
    path = tmp_path / "big.png"
    path.write_bytes(data)
    for source in (data, bytearray(data), str(path), path, io.BytesIO(data)):
        with pytest.raises(ImageTooLargeError, match="limit (is|of) 1000 bytes") as err:
            decode_image(source, max_bytes=1000)
        assert_user_message(err)
    assert decode_image(data, max_bytes=len(data)).shape == (32, 32, 3)


def test_byte_limit_message_gives_sizes():
    with pytest.raises(ImageTooLargeError, match=r"This file is 38.2 MB; the limit is 20 MB\."):
        decode_image(bytes(int(38.2 * 2**20)))


def test_zero_size_image_is_refused():
    with pytest.raises(ImageError):
        decode_image(png_claiming(0, 5))


def test_missing_path_is_an_image_error(tmp_path):
    with pytest.raises(ImageError, match="Could not open"):
        decode_image(tmp_path / "nothing.png")


# ------------------------------------------------------------------------------ modes

def test_one_pixel():
    out = decode_image(encode(Image.new("L", (1, 1), 51)))
    assert out.shape == (1, 1) and out.dtype == np.float32
    assert out[0, 0] == pytest.approx(0.2)


@pytest.mark.parametrize("mode, shape", [("1", (3, 4)), ("L", (3, 4)), ("RGB", (3, 4, 3))])
def test_grey_and_colour_shapes(mode, shape):
    out = decode_image(encode(Image.new(mode, (4, 3), "white")))
    assert out.shape == shape and out.dtype == np.float32
    assert np.all(out == 1.0)


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk(fmt):
    image = Image.new("CMYK", (16, 16), (0, 0, 0, 0))  # white
    image.paste((255, 0, 0, 0), (0, 0, 8, 16))           # cyan on the left
    out = decode_image(encode(image, fmt))
    assert out.shape == (16, 16, 3)
    np.testing.assert_allclose(out[4, 12], [1, 1, 1], atol=0.05)
    np.testing.assert_allclose(out[4, 2], [0, 1, 1], atol=0.05)


@pytest.mark.parametrize("dtype, fmt", [("<u2", "PNG"), (">u2", "TIFF"), ("<i4", "TIFF")],
                         ids=["I;16 png", "I;16B tiff", "I tiff"])
def test_sixteen_bit_grey_scaled_by_65535(dtype, fmt):
    pixels = np.array([[0, 32768, 65535]], dtype=dtype)
    out = decode_image(encode(Image.fromarray(pixels), fmt))
    assert out.shape == (1, 3)
    np.testing.assert_allclose(out[0], [0.0, 32768 / 65535, 1.0], atol=1e-6)
    dark = decode_image(encode(Image.fromarray(np.array([[0, 255]], dtype=dtype)), fmt))
    np.testing.assert_allclose(dark, [[0.0, 255 / 65535]], atol=1e-6)  # depth, not brightness


def test_float_mode():
    inside = np.array([[0.0, 0.25, 1.0]], dtype=np.float32)
    np.testing.assert_allclose(decode_image(encode(Image.fromarray(inside), "TIFF")), inside)
    outside = np.array([[-2.0, 3.0, 8.0]], dtype=np.float32)
    np.testing.assert_allclose(decode_image(encode(Image.fromarray(outside), "TIFF")), [[0.0, 0.5, 1.0]])


def test_transparency_over_white():
    la = Image.new("LA", (3, 1))
    for x, alpha in enumerate((0, 255, 128)):
        la.putpixel((x, 0), (0, alpha))
    np.testing.assert_allclose(decode_image(encode(la)), [[1.0, 0.0, 127 / 255]], atol=1e-6)
    rgba = Image.new("RGBA", (2, 1), (255, 0, 0, 255))
    rgba.putpixel((1, 0), (0, 0, 255, 0))
    np.testing.assert_allclose(decode_image(encode(rgba)), [[[1, 0, 0], [1, 1, 1]]])


def test_palette_with_transparency():
    image = Image.new("P", (4, 2))
    image.putpalette([0, 0, 0, 255, 0, 0])  # index 0 black (transparent), 1 red
    image.paste(1, (0, 0, 2, 2))
    out = decode_image(encode(image, transparency=0))
    assert out.shape == (2, 4, 3)
    np.testing.assert_allclose(out[:, :2], np.broadcast_to([1, 0, 0], (2, 2, 3)))
    np.testing.assert_allclose(out[:, 2:], 1.0)  # transparent black -> white


def test_grey_palette_gives_grey():
    image = Image.new("P", (2, 1))
    image.putpalette([0, 0, 0, 255, 255, 255])
    image.putpixel((1, 0), 1)
    np.testing.assert_allclose(decode_image(encode(image)), [[0.0, 1.0]])


def animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "blue", "green")]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_animation_gives_first_frame(fmt):
    if fmt == "WEBP" and not features.check("webp"):
        pytest.skip("Pillow built without WebP")
    data = animated(fmt)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    out = decode_image(data)
    assert out.shape == (8, 8, 3)
    np.testing.assert_allclose(out.mean(axis=(0, 1)), [1, 0, 0], atol=0.05)


def test_exif_rotation_comes_out_upright():
    stored = np.zeros((16, 32), dtype=np.uint8)   # 32 wide, 16 tall
    stored[:8, :8] = 255                           # marker at the top left as stored
    exif = Image.Exif()
    exif[0x0112] = 6                               # display rotated 90 degrees clockwise
    out = decode_image(encode(Image.fromarray(stored), "JPEG", exif=exif, quality=95))
    assert out.shape == (32, 16)
    assert out[:8, 8:].mean() > 0.9 and out[:8, :8].mean() < 0.1  # marker now at the top right
    assert np.abs(out - np.rot90(stored, -1) / 255).mean() < 0.05


def test_path_and_file_like_sources(tmp_path):
    data = encode(noise_image(size=(5, 3)))
    expected = decode_image(data)
    path = tmp_path / "x.png"
    path.write_bytes(data)
    stream = io.BytesIO(data)
    for source in (str(path), path, stream, bytearray(data), memoryview(data)):
        np.testing.assert_array_equal(decode_image(source), expected)
    assert not stream.closed
    np.testing.assert_array_equal(expected, np.asarray(Image.open(path), dtype=np.float32) / 255)


# ------------------------------------------------------------------------------ small helpers

def test_encode_png_round_trip():
    rng = np.random.default_rng(1)
    for shape in ((7, 5), (7, 5, 3)):
        image = rng.random(shape, dtype=np.float32)
        out = decode_image(encode_png(image))
        assert out.shape == shape
        assert np.abs(out - image).max() <= 0.5 / 255 + 1e-6
    with pytest.raises(ValueError):
        encode_png(np.zeros((2, 2, 4)))


def test_to_grey():
    rgb = np.zeros((2, 3, 3), dtype=np.float32)
    rgb[..., 1] = 1.0  # pure green
    grey = to_grey(rgb)
    assert grey.shape == (2, 3) and grey.dtype == np.float32
    np.testing.assert_allclose(grey, 0.7154, atol=1e-4)  # Rec. 709 luminance of green
    assert to_grey(np.ones((4, 2, 3, 3))).shape == (4, 2, 3)  # a batch
    flat = np.full((2, 3), 0.25, dtype=np.float32)
    np.testing.assert_array_equal(to_grey(flat), flat)


def smooth_photo(height: int = 300, width: int = 400) -> np.ndarray:
    """Smooth colour ramps and a disc: a photo's low frequencies, where scaling methods agree."""
    rows, cols = np.mgrid[0:height, 0:width] / max(height, width)
    disc = ((rows - 0.3) ** 2 + (cols - 0.5) ** 2 < 0.04).astype(float)
    return (np.stack([cols, rows, 0.5 + 0.4 * disc], -1) * 255).astype(np.uint8)


@pytest.mark.parametrize("mode, fmt", [("RGB", "JPEG"), ("L", "JPEG"), ("RGB", "PNG"), ("RGBA", "PNG"), ("P", "PNG"),
                                       ("1", "PNG"), ("I;16", "PNG"), ("F", "TIFF"), ("CMYK", "TIFF")])
def test_fit_pixels_scales_while_decoding_to_what_fit_within_gives(mode, fmt):
    """decode_image(fit_pixels=N) has fit_within's size and, on a photo's smooth content, its
    pixels: JPEG decodes at a reduced scale, 8-bit images resize in Pillow, deeper ones shrink
    by a whole factor first; an image already small enough is untouched."""
    photo = Image.fromarray(smooth_photo())
    made = {"I;16": lambda: Image.fromarray(np.asarray(photo.convert("L"), np.uint16) * 257),
            "F": lambda: Image.fromarray(np.asarray(photo.convert("L"), np.float32) / 255),
            "1": lambda: photo.convert("L").point(lambda v: 255 * (v > 128)).convert("1")}
    image = made.get(mode, lambda: photo.convert(mode))()
    data = encode(image, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    full = decode_image(data)
    small = decode_image(data, fit_pixels=10_000)
    expected = fit_within(full, 10_000)
    assert small.shape == expected.shape and small.dtype == np.float32
    assert small.shape[0] * small.shape[1] <= 10_000
    assert 0.0 <= small.min() and small.max() <= 1.0
    assert np.abs(small - expected).mean() < (0.03 if mode == "1" else 0.01), mode
    np.testing.assert_array_equal(decode_image(data, fit_pixels=full.shape[0] * full.shape[1]), full)


def test_a_pixel_budget_is_charged_before_decoding_and_refuses_past_its_limit():
    data = encode(Image.fromarray(smooth_photo(100, 100)))            # 10,000 pixels
    budget = PixelBudget(25_000)
    decode_image(data, budget=budget)
    decode_image(data, budget=budget)
    assert budget.spent == 20_000
    with pytest.raises(PixelBudgetError, match="25 million|0.025 million"):
        decode_image(data, budget=budget)
    assert issubclass(PixelBudgetError, ImageTooLargeError)
    # A JPEG is charged at the scale it decodes at, not its full size.
    jpeg = encode(Image.fromarray(smooth_photo(800, 800)), "JPEG")
    budget = PixelBudget(1_000_000)
    decode_image(jpeg, fit_pixels=10_000, budget=budget)
    assert budget.spent == 100 * 100   # 800 / 8


@pytest.mark.parametrize("size, refused", [((MAX_ASPECT, 1), False), ((MAX_ASPECT + 1, 1), True),
                                           ((1, MAX_ASPECT + 1), True), ((1000, 21), False)])
def test_a_strip_many_times_longer_than_wide_is_refused(size, refused):
    data = encode(Image.new("L", size, 200))
    if refused:
        with pytest.raises(ImageShapeError, match="times the other"):
            decode_image(data)
    else:
        assert decode_image(data).shape == size[::-1]


@pytest.mark.parametrize("dtype, top", [(np.uint8, 255), (np.uint16, 65535)])
@pytest.mark.parametrize("bands", [2, 4])
def test_alpha_composited_in_bands_of_rows_as_over_white(dtype, top, bands):
    """Tall images are composited a band of rows at a time: the same as all at once."""
    pixels = (np.random.default_rng(1).random((700, 9, bands)) * top).astype(dtype)
    values = pixels.astype(np.float64) / top
    expected = values[..., :-1] * values[..., -1:] + (1 - values[..., -1:])
    out = as_float_image(pixels)
    assert out.dtype == np.float32 and out.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(out, expected[..., 0] if bands == 2 else expected, atol=1e-6)


def test_fit_within():
    image = np.random.default_rng(2).random((100, 400, 3), dtype=np.float32)
    assert fit_within(image, 40_000) is image
    small = fit_within(image, 10_000)
    assert small.shape[2] == 3 and small.shape[0] * small.shape[1] <= 10_000
    assert small.shape[0] * small.shape[1] > 9_000
    assert small.shape[1] / small.shape[0] == pytest.approx(4, rel=0.05)
    assert 0 <= small.min() and small.max() <= 1 and small.dtype == np.float32
    assert small.mean() == pytest.approx(image.mean(), abs=0.01)
    assert fit_within(np.zeros((1, 100_000)), 100).size <= 100  # extreme aspect ratios too


# ------------------------------------------------------------------------------ characters

def draw_four(width: int, height: int, box: tuple[int, int, int, int], *, ink: int, paper: int,
              stroke: int) -> Image.Image:
    """A '4' drawn in `box` (left, top, right, bottom) on a width x height page."""
    left, top, right, bottom = box
    image = Image.new("L", (width, height), paper)
    draw = ImageDraw.Draw(image)
    cross = top + (bottom - top) * 2 // 3
    draw.line([(left + (right - left) * 2 // 3, top), (left, cross), (right, cross)], fill=ink, width=stroke)
    draw.line([(left + (right - left) * 2 // 3, top), (left + (right - left) * 2 // 3, bottom)],
              fill=ink, width=stroke)
    return image


def photo_of_four(dark_on_light: bool = True) -> np.ndarray:
    """A 2000x1500 'photo' of a '4' off-centre on unevenly lit paper with sensor noise."""
    image = np.asarray(draw_four(2000, 1500, (300, 200, 900, 1100), ink=40, paper=200, stroke=60),
                       dtype=np.float32) / 255
    rows, cols = np.mgrid[0:1500, 0:2000]
    image = image + 0.1 * cols / 2000 - 0.05 * rows / 1500  # uneven light
    image = image + np.random.default_rng(3).normal(0, 0.02, image.shape)
    image = np.clip(image, 0, 1)
    return image if dark_on_light else 1 - image


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def assert_mnist_like(char: np.ndarray) -> None:
    assert char.shape == (28, 28) and char.dtype == np.float32
    assert 0 <= char.min() and char.max() <= 1 and char.max() > 0.9
    rows, cols = np.nonzero(char > 0)
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    assert max(height, width) == 20 and min(height, width) >= 5  # fits the 20x20 box, aspect kept
    assert np.all(char[0] == 0) and np.all(char[:, 0] == 0)     # a dark ground
    # the field's centre: (13.5, 13.5) in array indices, (14, 14) counting pixel edges
    assert np.allclose(ndimage.center_of_mass(char), (13.5, 13.5), atol=0.5 + 1e-6)


def test_dark_on_light_photo():
    char = prepare_character(photo_of_four())
    assert_mnist_like(char)
    assert char.mean() < 0.4  # light strokes on black, not the other way round


def test_polarity_does_not_matter():
    dark_on_light = prepare_character(photo_of_four(dark_on_light=True))
    light_on_dark = prepare_character(photo_of_four(dark_on_light=False))
    assert_mnist_like(light_on_dark)
    assert correlation(dark_on_light, light_on_dark) > 0.95


def test_every_input_type_agrees():
    image = draw_four(120, 90, (30, 10, 80, 80), ink=0, paper=255, stroke=8)
    reference = prepare_character(image)  # a PIL image
    assert_mnist_like(reference)
    pixels = np.asarray(image)
    rgba = np.zeros((90, 120, 4), dtype=np.uint8)  # black ink on a transparent canvas
    rgba[..., 3] = 255 - pixels
    for other in (pixels, pixels / 255.0, pixels.astype(float) * 4, pixels > 128,
                  np.repeat(pixels[..., None], 3, axis=2), rgba, Image.fromarray(rgba)):
        assert correlation(prepare_character(other), reference) > 0.95


def test_sklearn_digit():
    from sklearn.datasets import load_digits

    digits = load_digits()
    for image in digits.images[:10]:  # 8x8, values 0..16
        char = prepare_character(image)
        assert_mnist_like(char)
        np.testing.assert_allclose(prepare_character(image / 16), char, atol=1e-6)


def test_already_prepared_input_nearly_unchanged():
    char = prepare_character(draw_four(28, 28, (4, 4, 20, 24), ink=255, paper=0, stroke=3))
    assert correlation(prepare_character(char), char) > 0.95
    ring = Image.new("L", (28, 28))  # a '0' drawn the MNIST way: 20 tall, centred
    ImageDraw.Draw(ring).ellipse((7, 4, 20, 23), outline=255, width=3)
    mnist_like = np.asarray(ring, dtype=np.float32) / 255
    assert correlation(prepare_character(mnist_like), mnist_like) > 0.9


@pytest.mark.parametrize("blank", [np.zeros((28, 28)), np.full((50, 40), 0.5), np.full((9, 9, 3), 255, np.uint8),
                                   np.random.default_rng(4).uniform(0.45, 0.5, (30, 30)), np.zeros((0, 5))],
                         ids=["black", "grey", "white rgb", "faint noise", "no pixels"])
def test_blank_has_no_character(blank):
    with pytest.raises(EmptyImageError, match="No character found"):
        prepare_character(blank)


# ------------------------------------------------------------------------------ noise

@pytest.fixture
def grey_half() -> np.ndarray:
    return np.full((4, 100, 100), 0.5, dtype=np.float32)


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_noise_basics(kind, grey_half):
    before = grey_half.copy()
    noisy = add_noise(grey_half, kind, 0.3, seed=5)
    np.testing.assert_array_equal(grey_half, before)  # the input is left alone
    assert noisy.shape == grey_half.shape and noisy.dtype == np.float32
    assert 0 <= noisy.min() and noisy.max() <= 1 and not np.array_equal(noisy, grey_half)
    np.testing.assert_array_equal(add_noise(grey_half, kind, 0.3, seed=5), noisy)
    assert not np.array_equal(add_noise(grey_half, kind, 0.3, seed=6), noisy)
    np.testing.assert_array_equal(add_noise(grey_half, kind, 0.0, seed=5), grey_half)


@pytest.mark.parametrize("kind, values", [("salt_pepper", {0.0, 1.0}), ("mask", {0.0})])
def test_fraction_of_pixels_hit(kind, values, grey_half):
    noisy = add_noise(grey_half, kind, 0.3, seed=7)
    changed = noisy != 0.5
    assert changed.mean() == pytest.approx(0.3, abs=0.01)
    assert set(np.unique(noisy[changed])) == values
    if kind == "salt_pepper":
        assert (noisy[changed] == 1).mean() == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize("kind", ["salt_pepper", "mask"])
def test_colour_noise_hits_whole_pixels(kind):
    image = np.full((2, 64, 64, 3), 0.5, dtype=np.float32)
    noisy = add_noise(image, kind, 0.4, seed=8)
    channels_hit = (noisy != 0.5).sum(axis=-1)
    assert set(np.unique(channels_hit)) == {0, 3}
    assert (channels_hit == 3).mean() == pytest.approx(0.4, abs=0.03)


def test_gaussian_amount_is_the_standard_deviation(grey_half):
    difference = add_noise(grey_half, "gaussian", 0.05, seed=9) - 0.5  # far from clipping
    assert difference.std() == pytest.approx(0.05, rel=0.03)
    assert abs(difference.mean()) < 0.002


@pytest.mark.parametrize("kind, amount", [("poisson", 0.1), ("gaussian", -0.1), ("mask", 1.5),
                                          ("salt_pepper", float("nan"))])
def test_noise_arguments_checked(kind, amount, grey_half):
    with pytest.raises(ValueError):
        add_noise(grey_half, kind, amount)


def test_no_torch_or_streamlit_needed():
    import subprocess
    import sys

    code = ("import sys, engine; engine.decode_image; engine.load_idx; "
            "assert 'torch' not in sys.modules and 'streamlit' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parent.parent)
