"""Finding the characters in a real capture: a phone photo of paper (uneven light, a shadow,
the paper's edge or the table in the frame, vignetting, ruled or squared paper, coloured ink,
thin or thick pens, JPEG), a chalkboard, a drawing from the page's canvas or a clean scan.

The steps are scikit-image's and SciPy's building blocks:
1. the background (paper and light together) is a coarse median of the picture, so a shadow,
   a gradient or vignetting is divided out, and the ink becomes its contrast with the paper
   around it; the ink's polarity (dark on light, or chalk on a board) is the heavier tail;
2. strokes are a hysteresis threshold of that contrast, with Otsu's level above the noise;
3. ruled and squared lines (long straight runs across the sheet) are taken out;
4. connected components are grouped into characters (an "i"'s dot, a broken stroke), marks
   touching the frame (the table's edge, a shadow's border) are dropped when a character stands
   free, and specks far smaller than the characters go;
5. the characters are put in reading order (lines top to bottom, each left to right).
A picture with no ink, a page of text or a photo of something else is refused with a message
that says which. Each character comes out as light ink on black, cropped, ready for the MNIST
preparation of engine.core.imaging.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.draw import line as draw_line
from skimage.filters import apply_hysteresis_threshold, threshold_otsu
from skimage.measure import label, regionprops
from skimage.morphology import dilation, disk, skeletonize
from skimage.transform import probabilistic_hough_line

from engine.core.imaging import EmptyImageError, ImageError, as_float_image, resize, to_grey

WORK_SIDE = 640          # captures are searched at most this many pixels on their longer side
SMALL_SIDE = 48          # smaller pictures (an 8x8 or 28x28 character) are taken whole
MAX_CHARACTERS = 12      # more than this: a page of text, not characters to look at one by one
MAX_INK_SHARE = 0.3      # more of the picture than this "ink": a photo of something else
MIN_INK_CONTRAST = 0.2   # ink darkens (or lightens) its paper by at least a fifth: fainter is grain or JPEG
CLEAN_SPREAD = 0.01      # paper this uniform (nine pixels in ten this close to its median): a clean picture
MAX_PAPER_GRAIN = 0.045  # the paper's own grain (robust std on the 0-1 scale) above this: a photo's texture
MAX_MARKS = 80           # more separate marks than this: texture (fur, leaves), not writing
MIN_STROKE_SHARE = 0.07  # strokes thinner than this share of the character are thickened to
TARGET_STROKE_SHARE = 0.1  # this, about MNIST's pen (2 to 3 pixels in its 20-pixel box)


class NotACharacterError(ImageError):
    """A picture with marks but no clear character in it: a photo of something else, a page of
    text, or several characters where one is wanted."""


class TooManyCharactersError(NotACharacterError):
    """More characters than a page looks at one by one (a page of text), or several where one is wanted."""


@dataclass
class FoundCharacter:
    box: tuple[int, int, int, int]   # top, left, bottom, right in the picture's own pixels
    ink: np.ndarray                  # (h, w) float32: light ink on black, zero off the character


def _working_grey(image) -> tuple[np.ndarray, float]:
    grey = to_grey(as_float_image(image))
    if grey.size == 0:
        raise EmptyImageError("The image has no pixels.")
    scale = min(1.0, WORK_SIDE / max(grey.shape))
    if scale < 1.0:
        grey = resize(grey, (max(1, round(grey.shape[0] * scale)), max(1, round(grey.shape[1] * scale))))
    return grey.astype(np.float32), scale


def _paper_median(grey: np.ndarray) -> np.ndarray:
    """A rough picture of the paper: a median over windows a quarter of the picture wide, on a
    picture reduced to about 64 pixels on its shorter side, brought back up."""
    factor = max(1, min(grey.shape) // 64)
    small = resize(grey, (max(1, grey.shape[0] // factor), max(1, grey.shape[1] // factor)))
    size = max(3, (min(small.shape) // 4) | 1)
    return resize(ndimage.median_filter(small, size=size, mode="reflect"), grey.shape)


def _edges(paper: np.ndarray) -> np.ndarray:
    """Where a picture of the paper changes sharply (within 5 pixels)."""
    spread = ndimage.maximum_filter(paper, 5) - ndimage.minimum_filter(paper, 5)
    return spread > np.maximum(0.08, 0.15 * paper)


def _ink_contrast(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each pixel's contrast with the paper around it, relative to the paper's brightness (so a
    shadow, a gradient or vignetting cancels out), positive on ink whichever its polarity; the
    pixels on the sheet the ink is on; and where the paper itself has a sharp edge (the sheet
    against the table). The paper is a grey
    closing (opening, for light ink) with a window wider than any stroke: it removes the
    strokes and keeps what is wider, so the sheet's edge, a shadow's border and the light's
    gradient stay paper instead of turning into ink. The polarity is the one whose strokes
    hold more contrast."""
    # polarity: thin marks (those a stroke-wide closing or opening removes) far from a median
    # of the paper, dark or light; the paper between strokes and the sheet's corners are wider
    median = _paper_median(grey)
    noise = 1.4826 * float(np.median(np.abs(grey - median - np.median(grey - median))))
    floor = max(0.04, 4 * noise)
    small = max(5, min(grey.shape) // 30)     # the width of a pen stroke, about
    dark_thin = np.clip(median - grey - floor, 0, None) * (
        ndimage.grey_closing(grey, size=(small, small)) - grey > floor)
    light_thin = np.clip(grey - median - floor, 0, None) * (
        grey - ndimage.grey_opening(grey, size=(small, small)) > floor)
    # near the sheet's edge against the table (or a shadow's border) the median is neither
    # paper nor table, and the sheet's corners look like marks: leave those parts out
    default = max(15, min(grey.shape) // 8)
    span = 2 * small + 1
    settled = ndimage.maximum_filter(median, span) - ndimage.minimum_filter(median, span) < 0.1
    away_from_edge = ndimage.binary_erosion(settled, iterations=small)
    is_dark = float((dark_thin[away_from_edge] ** 2).sum()) >= float((light_thin[away_from_edge] ** 2).sum())
    # the paper's window: an eighth of the picture, or wider for a thick pen (four half-widths
    # of the widest strokes, measured on the marks that stand out from the median by half)
    away = median - grey if is_dark else grey - median
    marks = away > max(floor, 0.5 * float(np.percentile(away, 99.9)))
    half_width = float(np.percentile(ndimage.distance_transform_edt(marks)[marks], 99)) if marks.any() else 0.0
    window = max(default, int(4 * half_width) | 1)
    closed = ndimage.grey_closing(grey, size=(window, window))
    opened = ndimage.grey_opening(grey, size=(window, window))
    if is_dark:
        difference, paper = closed - grey, closed
    else:
        difference, paper = grey - opened, opened
    # relative to the paper under the strongest ink, and to the paper itself where it is
    # shaded, but not to a dark table around the sheet (that would magnify its grain)
    edges = _edges(paper)
    # the paper under the strongest ink away from the frame and the sheet's edge (not a strip
    # of table the window filled in)
    inside = ~ndimage.binary_dilation(edges, iterations=3)
    margin = max(1, round(0.04 * min(grey.shape)))
    inside[:margin], inside[-margin:], inside[:, :margin], inside[:, -margin:] = False, False, False, False
    candidates = difference[inside] if inside.sum() >= 100 else difference.ravel()
    strongest = inside & (difference >= np.percentile(candidates, 99.9))
    level = max(float(np.median(paper[strongest])) if strongest.any() else float(np.median(paper)), 0.05)
    contrast = difference / np.maximum(paper, 0.4 * level)
    sheet = np.abs(paper - level) <= max(0.5 * level, 0.1)
    return contrast, difference, sheet, edges


def _noise(contrast: np.ndarray, sheet: np.ndarray) -> float:
    """The contrast's noise on the sheet the ink is on (pixels whose paper is near the paper
    under the strongest ink), not on a table around it."""
    values = contrast[sheet] if sheet.sum() >= 100 else contrast.ravel()
    return 1.4826 * float(np.median(np.abs(values - np.median(values)))) + 1e-4


def _remove_ruling(mask: np.ndarray, faint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Take out ruled and squared lines, found by a probabilistic Hough transform: straight
    segments across much of the sheet, four or more nearly parallel (a ruling repeats; a
    character's long strokes do not, not even an E's), or one across nearly all of it. They are
    looked for in `faint` (a lower threshold), where a faint ruling is still whole. Returns the
    mask without them, and the lines. Perspective may slant
    them; each is erased three pixels wide."""
    h, w = mask.shape
    side = min(h, w)
    lines = np.zeros_like(mask)
    if side < 60:
        return mask, np.zeros_like(mask)
    segments = probabilistic_hough_line(faint, threshold=10, line_length=int(0.3 * side), line_gap=3, rng=0)
    if not segments:
        return mask, np.zeros_like(mask)
    angles = np.array([np.arctan2(y1 - y0, x1 - x0) % np.pi for (x0, y0), (x1, y1) in segments])
    lengths = np.array([np.hypot(x1 - x0, y1 - y0) for (x0, y0), (x1, y1) in segments])
    middles = np.array([((x0 + x1) / 2, (y0 + y1) / 2) for (x0, y0), (x1, y1) in segments])
    for i, ((x0, y0), (x1, y1)) in enumerate(segments):
        difference = np.abs(angles - angles[i])
        parallel = np.minimum(difference, np.pi - difference) < np.deg2rad(12)
        # distinct lines among the parallel segments: offsets across the direction at least 8 px apart
        offsets = np.sort(middles[parallel] @ np.array([np.sin(angles[i]), -np.cos(angles[i])]))
        distinct = 1 + int((np.diff(offsets) > 8).sum())
        if distinct >= 4 or lengths[i] >= 0.8 * max(h, w):
            rows, cols = draw_line(y0, x0, y1, x1)
            lines[rows, cols] = True
    lines = ndimage.binary_dilation(lines, iterations=1) & mask
    if not lines.any():
        return mask, lines
    kept = mask & ~lines
    # rejoin strokes that crossed a line: a gap in the line's band with stroke on both sides
    across = ndimage.binary_closing(kept, np.ones((9, 1), bool)) | ndimage.binary_closing(kept, np.ones((1, 9), bool))
    return kept | (across & lines & mask), lines


def _groups(regions) -> list[list]:
    """Components grouped into characters: parts one above the other (an "i" and its dot, a
    "5"'s broken bar) belong together."""
    parent = list(range(len(regions)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(regions):
        for j in range(i + 1, len(regions)):
            b = regions[j]
            overlap = min(a.bbox[3], b.bbox[3]) - max(a.bbox[1], b.bbox[1])
            narrower = min(a.bbox[3] - a.bbox[1], b.bbox[3] - b.bbox[1])
            gap = max(a.bbox[0], b.bbox[0]) - min(a.bbox[2], b.bbox[2])
            tall = max(a.bbox[2] - a.bbox[0], b.bbox[2] - b.bbox[0])
            # side by side: touching, or one box mostly over the other (a "u" whose bottom the
            # threshold cut, a serif apart from its stroke)
            side_gap = max(a.bbox[1], b.bbox[1]) - min(a.bbox[3], b.bbox[3])
            rows_overlap = min(a.bbox[2], b.bbox[2]) - max(a.bbox[0], b.bbox[0])
            shorter = min(a.bbox[2] - a.bbox[0], b.bbox[2] - b.bbox[0])
            smaller = min((a.bbox[2] - a.bbox[0]) * (a.bbox[3] - a.bbox[1]), (b.bbox[2] - b.bbox[0]) * (b.bbox[3] - b.bbox[1]))
            shared = max(0, overlap) * max(0, rows_overlap)
            if ((overlap >= 0.5 * narrower and gap < 0.5 * tall) or shared >= 0.3 * smaller
                    or (side_gap <= max(2, 0.06 * tall) and rows_overlap >= 0.5 * shorter)):
                parent[find(i)] = find(j)
    groups: dict[int, list] = {}
    for i, region in enumerate(regions):
        groups.setdefault(find(i), []).append(region)
    return list(groups.values())


def _box(group) -> tuple[int, int, int, int]:
    return (min(r.bbox[0] for r in group), min(r.bbox[1] for r in group),
            max(r.bbox[2] for r in group), max(r.bbox[3] for r in group))


def _reading_order(groups: list[list]) -> list[list]:
    """Lines top to bottom (a character joins a line when it overlaps the line's height by
    half), each line left to right."""
    lines: list[list] = []
    for group in sorted(groups, key=lambda g: (_box(g)[0] + _box(g)[2]) / 2):
        top, _, bottom, _ = _box(group)
        for line in lines:
            lt, lb = line[0], line[1]
            if min(bottom, lb) - max(top, lt) >= 0.5 * min(bottom - top, lb - lt):
                line[2].append(group)
                line[0], line[1] = min(lt, top), max(lb, bottom)
                break
        else:
            lines.append([top, bottom, [group]])
    return [g for line in sorted(lines, key=lambda x: x[0]) for g in sorted(line[2], key=lambda g: _box(g)[1])]


def _even_pen(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Thicken strokes much thinner than MNIST's pen (a fine pen on a large character would
    vanish in the 20-pixel box): a grey dilation up to about a tenth of the character's size.
    Returns the ink with a margin of paper around it."""
    side = max(mask.shape)
    mask = np.pad(mask, 1)            # the distance to paper counts the paper around the crop
    skeleton = skeletonize(mask)
    radius = 0
    if skeleton.any():
        width = 2 * float(np.median(ndimage.distance_transform_edt(mask)[skeleton]))
        if width < MIN_STROKE_SHARE * side:
            radius = int(round((TARGET_STROKE_SHARE * side - width) / 2))
    ink = np.pad(ink, radius + 4)
    return dilation(ink, disk(radius)) if radius >= 1 else ink


def is_clean(image) -> bool:
    """A clean picture of writing (a scan, a drawing, a render): Otsu's threshold splits it into
    paper that is nearly uniform (nine pixels in ten within CLEAN_SPREAD of its median; the
    anti-aliased edges of strokes may differ) and ink that stays off the frame. Such a picture
    needs no search: the MNIST preparation takes it whole, as it always has."""
    grey = to_grey(as_float_image(image))
    if grey.size == 0 or np.ptp(grey) == 0:
        return True
    threshold = threshold_otsu(grey)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    ink = grey <= threshold if np.median(border) > threshold else grey > threshold
    margin = max(1, round(0.02 * min(grey.shape)))
    frame = np.ones_like(ink)
    frame[margin:-margin, margin:-margin] = False
    paper = grey[~ink]
    flat = float(np.mean(np.abs(paper - np.median(paper)) <= CLEAN_SPREAD)) if paper.size else 0.0
    return bool(not (ink & frame).any() and ink.mean() < 0.5 and flat >= 0.9)


def find_characters(image) -> list[FoundCharacter]:
    """Every character in a picture, in reading order. Raises EmptyImageError when there is no
    ink, NotACharacterError for a photo of something else and TooManyCharactersError for more
    than MAX_CHARACTERS (a page of text); the messages are written for the user."""
    grey, scale = _working_grey(image)
    if min(grey.shape) < SMALL_SIDE:
        raise ValueError("find_characters needs a picture at least SMALL_SIDE pixels on its shorter side")
    contrast, difference, sheet, paper_edges = _ink_contrast(grey)
    noise = _noise(contrast, sheet)
    if _noise(difference, sheet) > MAX_PAPER_GRAIN:
        raise NotACharacterError("No clear character found: the background is not plain paper or a board, so "
                                 "this looks like a photo of something else. Please upload a picture of "
                                 "characters on a plain background.")
    on_sheet = contrast[sheet] if sheet.sum() >= 100 else contrast.ravel()
    strong = float(np.partition(on_sheet, -30)[-30]) if on_sheet.size > 30 else float(on_sheet.max())
    if strong < max(8 * noise, 0.15):
        raise EmptyImageError("No character found: the picture looks blank. Please upload a picture of "
                              "a character that is darker or lighter than its paper.")
    values = on_sheet[on_sheet > 3 * noise]
    high = max(float(threshold_otsu(values)) if values.size > 1 and np.ptp(values) > 0 else 0.0, 6 * noise, MIN_INK_CONTRAST)
    mask = apply_hysteresis_threshold(contrast, high / 2, high)
    if mask[sheet].mean() > MAX_INK_SHARE if sheet.any() else mask.mean() > MAX_INK_SHARE:
        raise NotACharacterError("No clear character found: this looks like a photo rather than writing on "
                                 "paper. Please upload a picture of characters on a plain background.")
    thresholded = mask
    mask, ruling = _remove_ruling(mask, contrast > max(3 * noise, high / 4))
    labelled = label(ndimage.binary_closing(mask, disk(1)) | mask)
    near_edges = ndimage.binary_dilation(paper_edges, iterations=3)
    # a mark lying along the sheet's edge is the edge's JPEG halo or shading, not writing
    side = min(grey.shape)

    def table_edge(r) -> bool:
        """Along the sheet's edge (its JPEG halo), or a long thin sliver of table at the frame."""
        top, left, bottom, right = r.bbox
        at_frame = min(top, left, grey.shape[0] - bottom, grey.shape[1] - right) < 0.05 * side
        long_thin = (at_frame and r.axis_major_length > 0.5 * side
                     and r.axis_major_length > 12 * max(r.axis_minor_length, 1))
        return long_thin or near_edges[r.coords[:, 0], r.coords[:, 1]].mean() >= 0.5

    # marks off the sheet the ink is on (the table's grain) go too
    regions = [r for r in regionprops(labelled) if r.area >= max(6, 0.0004 * grey.size) and not table_edge(r)
               and sheet[r.coords[:, 0], r.coords[:, 1]].mean() >= 0.5]
    if len(regions) > MAX_MARKS:
        raise TooManyCharactersError(f"No single character found: {len(regions)} separate marks, like a page of "
                                     "text or a photo's texture. Please upload a picture of a few characters on "
                                     "plain paper.")
    h, w = grey.shape
    groups = _groups(regions)

    margin = max(1, round(0.02 * side))
    # what reaches the frame (a strip of table, a shadow's border), with whatever lies within
    # a few pixels of it (the sheet's edge beside that strip); ruled lines reach the frame but are not that
    joined = label(thresholded & ~ndimage.binary_dilation(ruling, iterations=2))
    border_labels = np.setdiff1d(np.unique(np.concatenate([
        joined[:margin].ravel(), joined[-margin:].ravel(), joined[:, :margin].ravel(), joined[:, -margin:].ravel()])), [0])
    at_frame = ndimage.binary_dilation(np.isin(joined, border_labels), iterations=4)

    def touches(group) -> bool:
        t, left, b, right = _box(group)
        return (t < margin or left < margin or b > h - margin or right > w - margin
                or any(at_frame[r.coords[:, 0], r.coords[:, 1]].mean() > 0.2 for r in group))

    def size(group) -> int:
        return sum(r.area for r in group)

    free = [g for g in groups if not touches(g)]
    if free and max(size(g) for g in free) >= max(30, 0.001 * grey.size):
        groups = free   # a character stands free: what touches the frame is table or shadow
    else:   # a character cropped tightly is large and central; a strip of table along the frame is not
        def central(group) -> bool:
            t, left, b, right = _box(group)
            return abs((t + b) / 2 - h / 2) < h / 4 and abs((left + right) / 2 - w / 2) < w / 4

        groups = [g for g in groups if size(g) >= 0.02 * grey.size and central(g)]
    if not groups:
        raise EmptyImageError("No character found: the picture looks blank. Please upload a picture of "
                              "a character that is darker or lighter than its paper.")
    biggest = max(size(g) for g in groups)
    tallest = max(_box(g)[2] - _box(g)[0] for g in groups)

    def sliver(group) -> bool:
        """A short mark hugging the frame: the sheet's edge or a strip of table, not writing."""
        t, left, b, right = _box(group)
        near = min(t, left, h - b, w - right) < 0.05 * side
        return near and b - t < 0.25 * tallest and right - left < 0.25 * tallest * 4 and size(group) < 0.3 * biggest

    groups = [g for g in groups if size(g) >= 0.12 * biggest and not sliver(g)]
    if len(groups) > MAX_CHARACTERS:
        raise TooManyCharactersError(f"{len(groups)} characters found: this looks like a page of text. Please "
                                     f"upload a picture of at most {MAX_CHARACTERS} characters.")
    found = []
    for group in _reading_order(groups):
        top, left, bottom, right = _box(group)
        own = np.zeros((bottom - top, right - left), bool)
        for r in group:
            rt, rl, rb, rr = r.bbox
            own[rt - top:rb - top, rl - left:rr - left] |= r.image
        own &= mask[top:bottom, left:right]
        near = ndimage.binary_dilation(own, iterations=1)
        ink = np.where(near, np.clip(contrast[top:bottom, left:right], 0, None), 0).astype(np.float32)
        # even strokes, as a pen on clean paper leaves them: light, JPEG and the paper's grain
        # vary the contrast along a stroke, which a model trained on clean renders reads as shape
        solid = float(np.percentile(ink[own], 75)) if own.any() else 1.0
        ink = np.clip(ink / max(solid, 1e-6), 0.0, 1.0)
        ink = _even_pen(ink, own)
        box = tuple(int(round(v / scale)) for v in (top, left, bottom, right))
        found.append(FoundCharacter(box, ink))
    return found
