"""Built-in data, made without a network: characters rendered from the fonts the app can
reach, the handwritten digits that ship with scikit-learn, the sample photos that ship with
scikit-image and scikit-learn, and rendered text pages.

Evaluation holds out whole font families and whole photos (see HELD_OUT_FAMILIES and
HELD_OUT_PHOTOS), and evaluates with distortions wider than those used in training.
"""
from __future__ import annotations

import functools
import glob
import importlib.util
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from engine.core.imaging import prepare_clean_character

DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


# Families that are not text (symbol, icon and display-size fonts) or lack digits and lower case.
_EXCLUDED_FAMILIES = ("KaTeX_AMS", "KaTeX_Caligraphic", "KaTeX_Script", "KaTeX_Size",
                      "Material Symbols")


# Whole families never shown in training: serif, typewriter and a humanist sans.
HELD_OUT_FAMILIES = ("DejaVu Serif", "KaTeX_Typewriter", "Source Serif 4 Variable", "Aileron")
_VARIABLE_WEIGHTS = (300, 500, 700, 900)
_RENDER_SIZE = 56  # glyph size in pixels before prepare_character brings it to 20x20
_CANVAS = 112


@dataclass(frozen=True)
class Font:
    family: str
    style: str
    path: str | None  # None: Pillow's built-in scalable font
    weight: int | None = None  # for variable fonts: the instance's weight axis value

    @property
    def name(self) -> str:
        weight = f" {self.weight}" if self.weight else ""
        return f"{self.family} {self.style}{weight}"

    def load(self, size: int) -> ImageFont.FreeTypeFont:
        font = ImageFont.load_default(size) if self.path is None else ImageFont.truetype(self.path, size)
        if self.weight is not None:
            axes = font.get_variation_axes()
            font.set_variation_by_axes([self.weight if a["name"] == b"Weight" else a["default"]
                                        for a in axes])
        return font


def _font_files() -> list[str]:
    files: list[str] = []
    spec = importlib.util.find_spec("streamlit")
    if spec and spec.origin:  # Streamlit ships KaTeX and Source fonts with its front end
        media = os.path.join(os.path.dirname(spec.origin), "static", "static", "media")
        files += glob.glob(os.path.join(media, "*.woff2"))
    for root in ("/usr/share/fonts", "/usr/local/share/fonts", os.path.expanduser("~/.fonts")):
        files += glob.glob(os.path.join(root, "**", "*.ttf"), recursive=True)
        files += glob.glob(os.path.join(root, "**", "*.otf"), recursive=True)
    return sorted(files)


def fonts_fingerprint() -> list[tuple[str, int]]:
    """The font files characters are rendered with, by name and size: what makes rendered sets
    differ between machines (engine.core.precomputed checks it before using a stored set).
    Sorted by name, not by folder: Streamlit's fonts sit in the virtual environment, wherever it is."""
    return sorted((os.path.basename(path), os.path.getsize(path)) for path in _font_files())


def _covers(font: ImageFont.FreeTypeFont, chars: str) -> bool:
    missing = font.getmask("\U000F0000")  # a private-use code point: renders as .notdef
    missing_key = (missing.size, bytes(missing))
    for ch in chars:
        mask = font.getmask(ch)
        if mask.size[0] == 0 or (mask.size, bytes(mask)) == missing_key:
            return False
    return True


@functools.lru_cache(maxsize=1)
def available_fonts() -> tuple[Font, ...]:
    """Every text font the app can reach that draws all digits and letters, sorted by name."""
    fonts: dict[tuple, Font] = {}
    for path in _font_files():
        try:
            face = ImageFont.truetype(path, 32)
        except OSError:
            continue
        family, style = face.getname()
        if family is None or family.startswith(_EXCLUDED_FAMILIES) or not _covers(face, DIGITS + LETTERS):
            continue
        try:
            variable = any(a["name"] == b"Weight" for a in face.get_variation_axes())
        except OSError:
            variable = False
        for weight in (_VARIABLE_WEIGHTS if variable else (None,)):
            fonts.setdefault((family, style, weight), Font(family, style or "", path, weight))
    default = Font("Aileron", "Regular", None)
    fonts[(default.family, default.style, None)] = default
    return tuple(sorted(fonts.values(), key=lambda f: f.name))


def font_split(held_out: bool) -> tuple[Font, ...]:
    """Training fonts (held_out=False) or the held-out evaluation fonts (held_out=True)."""
    return tuple(f for f in available_fonts() if f.family.startswith(HELD_OUT_FAMILIES) == held_out)


@dataclass(frozen=True)
class Distortion:
    """Ranges of the random distortions applied to each rendered glyph."""
    rotation: float = 12.0      # degrees, either way
    shear: float = 0.25         # horizontal shear factor, either way
    aspect: float = 0.2         # width scaled by 1 +- aspect
    stroke: int = 3             # extra stroke width in pixels at _RENDER_SIZE (0..stroke)
    erode: int = 1              # thinning passes (0..erode) for hairline strokes
    blur: float = 1.5           # Gaussian blur radius (0..blur) before preparation


TRAIN_DISTORTION = Distortion()


# Evaluation reaches past every training range.
EVAL_DISTORTION = Distortion(rotation=20.0, shear=0.35, aspect=0.3, stroke=4, erode=1, blur=2.2)


def _render_glyph(font: ImageFont.FreeTypeFont, ch: str, params: np.ndarray) -> np.ndarray:
    angle, shear, aspect, stroke, erode, blur = params
    canvas = Image.new("L", (_CANVAS, _CANVAS), 0)
    ImageDraw.Draw(canvas).text((_CANVAS / 2, _CANVAS / 2), ch, font=font, fill=255, anchor="mm",
                                stroke_width=int(stroke), stroke_fill=255)
    for _ in range(int(erode)):
        canvas = canvas.filter(ImageFilter.MinFilter(3))
    # One affine map about the centre: rotation, shear and aspect together (output -> input).
    a = np.deg2rad(angle)
    forward = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ np.array(
        [[aspect, shear], [0.0, 1.0]])
    inverse = np.linalg.inv(forward)
    c = _CANVAS / 2
    offset = np.array([c, c]) - inverse @ np.array([c, c])
    canvas = canvas.transform(canvas.size, Image.Transform.AFFINE,
                              (*inverse[0], offset[0], *inverse[1], offset[1]),
                              resample=Image.Resampling.BILINEAR)
    if blur > 0.05:
        canvas = canvas.filter(ImageFilter.GaussianBlur(float(blur)))
    return np.asarray(canvas, dtype=np.float32) / 255.0


_UPRIGHT = np.array([0, 0, 1, 1, 0, 0])  # no rotation, shear or blur; a one-pixel stroke


def render_characters(chars: str, count: int, *, fonts: Iterable[Font], seed: int = 0,
                      distortion: Distortion = TRAIN_DISTORTION,
                      upright: bool = False) -> tuple[np.ndarray, ...]:
    """Render `count` random characters from `chars`, each in a random font with random
    distortions, prepared exactly like an upload. Returns (images (N, 28, 28), labels (N,) str),
    and with upright=True also each glyph again, same font, undistorted (N, 28, 28): the
    target of an autoencoder taught to undo distortions, whose code then ignores them."""
    fonts = tuple(fonts)
    if not fonts:
        raise ValueError("no fonts to render characters with")
    rng = np.random.default_rng(seed)
    labels = rng.choice(list(chars), size=count)
    font_ids = rng.integers(len(fonts), size=count)
    d = distortion
    params = np.stack([
        rng.uniform(-d.rotation, d.rotation, count),
        rng.uniform(-d.shear, d.shear, count),
        1.0 + rng.uniform(-d.aspect, d.aspect, count),
        rng.integers(0, d.stroke + 1, count),
        rng.integers(0, d.erode + 1, count) * (rng.random(count) < 0.3),
        rng.uniform(0.0, d.blur, count),
    ], axis=1)
    loaded: dict[int, ImageFont.FreeTypeFont] = {}
    images = np.empty((count, 28, 28), dtype=np.float32)
    targets = np.empty((count if upright else 0, 28, 28), dtype=np.float32)
    for i in range(count):
        fid = int(font_ids[i])
        font = loaded.get(fid) or loaded.setdefault(fid, fonts[fid].load(_RENDER_SIZE))
        glyph = _render_glyph(font, str(labels[i]), params[i])
        if glyph.max() < 0.2:  # eroded away entirely: render it again undistorted
            glyph = _render_glyph(font, str(labels[i]), _UPRIGHT)
        images[i] = prepare_clean_character(glyph)
        if upright:
            targets[i] = prepare_clean_character(_render_glyph(font, str(labels[i]), _UPRIGHT))
    return (images, labels.astype(str), targets) if upright else (images, labels.astype(str))


HANDWRITTEN_HELD_OUT = 300  # the last 300 of scikit-learn's 1,797 digits are kept for evaluation


@functools.lru_cache(maxsize=2)
def handwritten_digits(held_out: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's handwritten digits (8x8, values 0..16) prepared to 28x28: the first
    1,497 for training, or the last 300 (held_out=True). Returns (images, labels)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    part = slice(-HANDWRITTEN_HELD_OUT, None) if held_out else slice(None, -HANDWRITTEN_HELD_OUT)
    images = np.stack([prepare_clean_character(im / 16.0) for im in digits.images[part]])
    return images.astype(np.float32), digits.target[part].astype(str)


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data
        return getattr(skimage.data, name)()
    return load


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image
        return load_sample_image(filename)
    return load


PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"), "camera": _skimage("camera"), "coffee": _skimage("coffee"),
    "chelsea": _skimage("chelsea"), "rocket": _skimage("rocket"), "brick": _skimage("brick"),
    "grass": _skimage("grass"), "gravel": _skimage("gravel"), "moon": _skimage("moon"),
    "coins": _skimage("coins"), "clock": _skimage("clock"), "hubble": _skimage("hubble_deep_field"),
    "immunohistochemistry": _skimage("immunohistochemistry"), "retina": _skimage("retina"),
    "cell": _skimage("cell"), "page": _skimage("page"), "text": _skimage("text"),
    "china": _sklearn("china.jpg"), "flower": _sklearn("flower.jpg"),
}


# Whole photos kept out of training for evaluation: a colour portrait, the classic grey
# test photo, a colour still life, and a scanned page of text.
HELD_OUT_PHOTOS = ("astronaut", "camera", "coffee", "page")


@functools.lru_cache(maxsize=32)
def load_photo(name: str) -> np.ndarray:
    """A built-in photo as float32 in [0, 1]: (H, W) grey or (H, W, 3) RGB."""
    image = np.asarray(PHOTOS[name](), dtype=np.float32) / 255.0
    return image[..., :3] if image.ndim == 3 else image


def photo_names(held_out: bool) -> tuple[str, ...]:
    return tuple(n for n in PHOTOS if (n in HELD_OUT_PHOTOS) == held_out)


_WORD_LETTERS = "etaoinshrdlucmfwypvbgkqjxz"
_WORD_WEIGHTS = np.array([12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8, 2.4,
                          2.2, 2.4, 2.0, 1.9, 1.0, 1.5, 2.0, 0.8, 0.1, 0.2, 0.2, 0.1])


def render_text_page(height: int, width: int, *, fonts: Iterable[Font], seed: int = 0) -> np.ndarray:
    """A grey (H, W) page of dark random words on light, slightly uneven paper, like a scan."""
    fonts = tuple(fonts)
    rng = np.random.default_rng(seed)
    paper = rng.uniform(0.8, 0.97)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    shade = paper - 0.08 * rng.random() * (yy * rng.uniform(-1, 1) + xx * rng.uniform(-1, 1))
    page = Image.fromarray(np.clip(shade * 255, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(page)
    probs = _WORD_WEIGHTS / _WORD_WEIGHTS.sum()
    y = int(rng.integers(2, 12))
    while y < height:
        font = fonts[int(rng.integers(len(fonts)))].load(int(rng.integers(10, 30)))
        ink = int(rng.integers(0, 70))
        x = int(rng.integers(2, 20))
        line_height = font.size
        while x < width:
            word = "".join(rng.choice(list(_WORD_LETTERS), size=int(rng.integers(1, 9)), p=probs))
            if rng.random() < 0.15:
                word = word.capitalize()
            if rng.random() < 0.1:
                word = str(int(rng.integers(0, 10000)))
            draw.text((x, y), word, font=font, fill=ink)
            x += int(draw.textlength(word + " ", font=font))
        y += int(line_height * rng.uniform(1.2, 1.8))
    out = np.asarray(page, dtype=np.float32) / 255.0
    if rng.random() < 0.5:  # the softness of a scanner
        out = np.asarray(Image.fromarray((out * 255).astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(float(rng.uniform(0.2, 0.8)))), dtype=np.float32) / 255.0
    return out


def random_patches(images: list[np.ndarray], count: int, size: int, *,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` random (size, size, 3) crops with flips and quarter turns, picked in proportion
    to each image's area. Grey images are repeated over three channels so that one model
    serves grey and colour. Returns (patches, is_grey (N,) bool)."""
    rng = np.random.default_rng(seed)
    out = np.empty((count, size, size, 3), dtype=np.float32)
    areas = np.array([im.shape[0] * im.shape[1] for im in images], dtype=np.float64)
    picks = rng.choice(len(images), size=count, p=areas / areas.sum())
    for i, k in enumerate(picks):
        im = images[k]
        y = int(rng.integers(0, im.shape[0] - size + 1))
        x = int(rng.integers(0, im.shape[1] - size + 1))
        patch = im[y:y + size, x:x + size]
        if patch.ndim == 2:
            patch = np.repeat(patch[..., None], 3, axis=2)
        patch = np.rot90(patch, int(rng.integers(4)))
        out[i] = patch[:, ::-1] if rng.random() < 0.5 else patch
    is_grey = np.array([images[k].ndim == 2 for k in picks])
    return out, is_grey


@functools.lru_cache(maxsize=2)  # the classifier and four VAEs of `train vae` share one rendering
def labelled_digits(scale: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Only digits: rendered from the training fonts, plus the training handwritten digits
    (twice: a rarer style). Returns (images (N, 28, 28), labels (N,) int); shared, read-only."""
    rendered, labels = render_characters(DIGITS, max(200, int(20_000 * scale)),
                                                  fonts=font_split(held_out=False), seed=seed)
    handwritten, hand_labels = handwritten_digits(held_out=False)
    images = np.concatenate([rendered, handwritten, handwritten])
    return images, np.concatenate([labels, hand_labels, hand_labels]).astype(np.int64)
