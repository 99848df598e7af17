"""Realistic captures of handwritten characters, made here: a character drawn like handwriting
on paper, then "photographed" with a phone in simulation. It is the evaluation set of the
character preparation (engine.prepare_character on what people actually upload) and of the
tests of each capture condition; nothing is trained on it.

Each capture starts from a glyph in a font held out of training, bent by a smooth random
elastic field (a hand's wobble) and drawn with a pen of random width and colour on paper with
grain (sometimes ruled or squared), or in chalk on a dark board. The sheet is then put in
perspective on a table (its edge in the frame), lit by a gradient, vignetted, crossed by a
soft shadow, blurred, given sensor noise and saved as a JPEG. The clean glyph is kept beside
it, so every capture can be compared with the same character prepared from a clean render.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from scipy import ndimage
from skimage.transform import ProjectiveTransform, warp

from engine.core import datasets

# The conditions a capture can have; each is on at random, or forced on or off.
CONDITIONS = ("perspective", "lighting", "shadow", "paper_edge", "vignetting", "ruled", "squared",
              "colour_ink", "thin_pen", "thick_pen", "rotation", "blur", "jpeg", "light_on_dark")
_CHANCE = {"perspective": 0.7, "lighting": 0.8, "shadow": 0.4, "paper_edge": 0.4, "vignetting": 0.5,
           "ruled": 0.25, "squared": 0.15, "colour_ink": 0.35, "thin_pen": 0.2, "thick_pen": 0.2,
           "rotation": 0.5, "blur": 0.5, "jpeg": 0.9, "light_on_dark": 0.12}
_INKS = ((0.08, 0.1, 0.45), (0.55, 0.08, 0.1), (0.05, 0.35, 0.15), (0.25, 0.25, 0.3))  # blue, red, green, pencil


@dataclass
class Capture:
    image: np.ndarray                   # (H, W, 3) float32 in [0, 1]: the "photo"
    glyphs: list[np.ndarray]            # each character's clean render (light on black), in reading order
    labels: list[str]
    conditions: frozenset[str] = field(default_factory=frozenset)


def _smooth_field(shape: tuple[int, int], rng: np.random.Generator, scale: float) -> np.ndarray:
    return ndimage.gaussian_filter(rng.standard_normal(shape), scale, mode="reflect")


def _glyph(font, ch: str, size: int, pen: int, rng: np.random.Generator) -> np.ndarray:
    """A handwriting-like glyph, light on black, about `size` px tall: the font's shape, rotated,
    sheared, stretched and bent by a smooth elastic field, drawn with a pen `pen` px wide."""
    loaded = font.load(size)
    side = int(size * 2)
    canvas = Image.new("L", (side, side), 0)
    ImageDraw.Draw(canvas).text((side / 2, side / 2), ch, font=loaded, fill=255, anchor="mm",
                                stroke_width=max(0, pen), stroke_fill=255)
    if pen < 0:   # a fine pen: thinner strokes, unless the font's are too thin to lose a pixel
        thinned = canvas
        for _ in range(-pen):
            thinned = thinned.filter(ImageFilter.MinFilter(3))
        if np.count_nonzero(np.asarray(thinned) > 127) > 0.5 * np.count_nonzero(np.asarray(canvas) > 127):
            canvas = thinned
    d = datasets.EVAL_DISTORTION
    angle = np.deg2rad(rng.uniform(-d.rotation, d.rotation) * 0.5)
    shear, aspect = rng.uniform(-d.shear, d.shear), 1 + rng.uniform(-d.aspect, d.aspect)
    forward = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ np.array(
        [[aspect, shear], [0.0, 1.0]])
    inverse = np.linalg.inv(forward)
    c = side / 2
    offset = np.array([c, c]) - inverse @ np.array([c, c])
    canvas = canvas.transform(canvas.size, Image.Transform.AFFINE, (*inverse[0], offset[0], *inverse[1], offset[1]),
                              resample=Image.Resampling.BILINEAR)
    glyph = np.asarray(canvas, dtype=np.float32) / 255
    # A hand's wobble: a smooth displacement of a few per cent of the size (after Simard et al. 2003)
    strength = size * 0.04
    dy = _smooth_field(glyph.shape, rng, size / 6)
    dx = _smooth_field(glyph.shape, rng, size / 6)
    dy *= strength / (np.abs(dy).max() + 1e-9)
    dx *= strength / (np.abs(dx).max() + 1e-9)
    rows, cols = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    glyph = ndimage.map_coordinates(glyph, [rows + dy, cols + dx], order=1, mode="constant")
    rows, cols = np.nonzero(glyph > 0.2)
    if rows.size == 0:
        return glyph[:2, :2]
    return glyph[max(0, rows.min() - 2):rows.max() + 3, max(0, cols.min() - 2):cols.max() + 3]


def _paper(shape: tuple[int, int], rng: np.random.Generator, on: set[str], dark: bool) -> np.ndarray:
    h, w = shape
    if dark:  # a blackboard: dark green or black
        base = np.array(rng.choice([(0.12, 0.2, 0.15), (0.1, 0.1, 0.11), (0.15, 0.15, 0.2)]))
    else:     # off-white paper with a tint
        base = rng.uniform(0.78, 0.95) + rng.uniform(-0.04, 0.03, 3) * np.array([0.5, 0.2, -0.6])
    grain = 0.02 * _smooth_field(shape, rng, 1.0) + 0.015 * _smooth_field(shape, rng, 8.0)
    paper = np.clip(base[None, None] + grain[..., None], 0, 1)
    if not dark and ("ruled" in on or "squared" in on):
        colour = np.array(rng.choice([(0.55, 0.65, 0.85), (0.6, 0.6, 0.65), (0.8, 0.6, 0.6)]))
        gap = int(rng.integers(18, 34))
        lines = np.zeros(shape, np.float32)
        lines[int(rng.integers(gap)):: gap] = 1
        if "squared" in on:
            lines[:, int(rng.integers(gap)):: gap] = 1
        lines = ndimage.gaussian_filter(lines, 0.6) * rng.uniform(0.6, 1.0)
        lines = np.clip(lines / max(lines.max(), 1e-6), 0, 1)[..., None] * rng.uniform(0.5, 0.9)
        paper = paper * (1 - lines) + colour * paper * lines
    return paper.astype(np.float32)


def _ink(paper: np.ndarray, alpha: np.ndarray, rng: np.random.Generator, on: set[str], dark: bool) -> np.ndarray:
    alpha = alpha[..., None]
    if dark:   # chalk: light, a little uneven
        chalk = np.clip(rng.uniform(0.75, 0.95) + 0.1 * rng.standard_normal(alpha.shape[:2])[..., None], 0, 1)
        return paper * (1 - alpha) + chalk * alpha
    colour = np.array(_INKS[int(rng.integers(len(_INKS)))] if "colour_ink" in on else (0.05, 0.05, 0.07))
    return paper * (1 - alpha) + paper * colour * alpha


def _scene_warp(sheet: np.ndarray, out_shape: tuple[int, int], rng: np.random.Generator, on: set[str]) -> np.ndarray:
    """The sheet seen by the phone: in perspective (and/or a slight rotation), on a table where
    the paper's edge comes into the frame."""
    h, w = sheet.shape[:2]
    oh, ow = out_shape
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
    # where the sheet's corners land in the photo
    margin = 0.18 if "paper_edge" in on else -0.05   # negative: the sheet overfills the frame
    dst = np.array([[0, 0], [ow, 0], [ow, oh], [0, oh]], float)
    centre = np.array([ow / 2, oh / 2])
    dst = centre + (dst - centre) * (1 - 2 * margin)
    if "paper_edge" in on:   # slide the sheet so one or two of its edges are in view
        dst += rng.uniform(-1, 1, 2) * np.array([ow, oh]) * 0.12
    if "perspective" in on:
        dst += rng.uniform(-1, 1, (4, 2)) * np.array([ow, oh]) * 0.08
    if "rotation" in on:
        a = np.deg2rad(rng.uniform(-10, 10))
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        dst = centre + (dst - centre) @ rot.T
    transform = ProjectiveTransform.from_estimate(src, dst)
    table = np.array(rng.choice([(0.35, 0.25, 0.15), (0.5, 0.5, 0.52), (0.2, 0.2, 0.22), (0.6, 0.45, 0.3)]))
    grain = 0.04 * _smooth_field((oh, ow), rng, 3.0)[..., None]
    background = np.clip(table[None, None] + grain, 0, 1)
    seen = np.stack([warp(sheet[..., k], transform.inverse, output_shape=(oh, ow), order=1, cval=-1.0)
                     for k in range(3)], axis=2)
    inside = seen[..., :1] >= 0
    return np.where(inside, seen, background).astype(np.float32)


def _lighting(image: np.ndarray, rng: np.random.Generator, on: set[str]) -> np.ndarray:
    h, w = image.shape[:2]
    rows, cols = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    light = np.ones((h, w), np.float32)
    if "lighting" in on:
        a = rng.uniform(0, 2 * np.pi)
        light *= 1 - rng.uniform(0.15, 0.4) * (0.5 + 0.5 * (np.cos(a) * cols + np.sin(a) * rows) / np.sqrt(2))
    if "vignetting" in on:
        light *= 1 - rng.uniform(0.2, 0.45) * np.clip(rows ** 2 + cols ** 2, 0, 2) / 2
    if "shadow" in on:   # a soft half-plane shadow (a hand or the phone) over one side
        a = rng.uniform(0, 2 * np.pi)
        edge = np.cos(a) * cols + np.sin(a) * rows - rng.uniform(0.2, 0.7)
        soft = rng.uniform(0.05, 0.2)
        light *= 1 - rng.uniform(0.25, 0.5) * (1 / (1 + np.exp(-edge / soft)))
    return image * light[..., None] * rng.uniform(0.9, 1.1)


def render_capture(chars: str, rng: np.random.Generator, *, fonts=None,
                   force: dict[str, bool] | None = None, size: tuple[int, int] = (300, 400)) -> Capture:
    """One capture of the characters `chars` written side by side (one or several), in a font
    held out of training unless `fonts` is given. `force` turns conditions on or off
    ({"shadow": True}); the others are on at random."""
    fonts = fonts or datasets.font_split(held_out=True)
    force = force or {}
    on = {c for c in CONDITIONS if force.get(c, rng.random() < _CHANCE[c])}

    def settle(a: str, b: str) -> None:
        """Of two conditions that exclude each other, keep a forced one, else one at random."""
        if a in on and b in on:
            on.discard(b if force.get(a) else a if force.get(b) else (b if rng.random() < 0.5 else a))

    settle("thin_pen", "thick_pen")
    settle("squared", "ruled")
    for paper_only in ("ruled", "squared", "colour_ink"):   # a board has no ruling and chalk is white
        settle("light_on_dark", paper_only)
    dark = "light_on_dark" in on
    h, w = size
    sheet_shape = (int(h * 1.1), int(w * 1.1))
    height = int(rng.uniform(0.25, 0.5) * h) if len(chars) == 1 else int(rng.uniform(0.2, 0.3) * h)
    pen = -1 if "thin_pen" in on else (int(rng.integers(2, 4) * height / 80) if "thick_pen" in on
                                        else int(rng.integers(0, 3) * height / 80))
    font = fonts[int(rng.integers(len(fonts)))]
    glyphs = [_glyph(font, ch, height, pen, rng) for ch in chars]
    alpha = np.zeros(sheet_shape, np.float32)
    gap = height * 0.35
    total = sum(g.shape[1] for g in glyphs) + gap * (len(glyphs) - 1)
    x = sheet_shape[1] / 2 - total / 2 + rng.uniform(-0.1, 0.1) * sheet_shape[1] * (len(chars) == 1)
    y_mid = sheet_shape[0] / 2 + rng.uniform(-0.08, 0.08) * sheet_shape[0]
    for g in glyphs:
        top = int(np.clip(y_mid - g.shape[0] / 2 + rng.uniform(-0.05, 0.05) * height, 0, sheet_shape[0] - g.shape[0]))
        left = int(np.clip(x, 0, sheet_shape[1] - g.shape[1]))
        region = alpha[top:top + g.shape[0], left:left + g.shape[1]]
        np.maximum(region, g[:region.shape[0], :region.shape[1]] * rng.uniform(0.8, 1.0), out=region)
        x += g.shape[1] + gap
    sheet = _ink(_paper(sheet_shape, rng, on, dark), alpha, rng, on, dark)
    image = _lighting(_scene_warp(sheet, size, rng, on), rng, on)
    if "blur" in on:
        image = ndimage.gaussian_filter(image, (rng.uniform(0.6, 1.6), rng.uniform(0.6, 1.6), 0))
    image = np.clip(image + rng.normal(0, rng.uniform(0.005, 0.025), image.shape), 0, 1).astype(np.float32)
    if "jpeg" in on:
        buffer = io.BytesIO()
        Image.fromarray(np.round(image * 255).astype(np.uint8)).save(buffer, "JPEG", quality=int(rng.integers(55, 92)))
        image = np.asarray(Image.open(io.BytesIO(buffer.getvalue())), dtype=np.float32) / 255
    return Capture(image, glyphs, list(chars), frozenset(on))


def capture_corpus(count: int, chars: str = datasets.DIGITS, *, seed: int = 0,
                   force: dict[str, bool] | None = None) -> list[Capture]:
    """`count` captures of one random character each from `chars`, in held-out fonts."""
    rng = np.random.default_rng(seed)
    return [render_capture(str(rng.choice(list(chars))), rng, force=force) for _ in range(count)]
