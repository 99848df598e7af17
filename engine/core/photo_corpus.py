"""The photo corpus: every natural colour photo that ships with the packages the machine can
install, listed in one place with where each comes from.

Sources: scikit-image's and scikit-learn's sample photos (always installed with the app) and
the example photos of Debian's `opencv-doc` package (`apt-get install opencv-doc`; rebuilding
the photo models needs it, the app does not). Only real photographs are listed: OpenCV's
folders also hold logos, masks, charts, renders, a painting, scanned text and calibration
boards, and those are left out. Where a package holds two shots of one scene (a stereo pair,
before and after an edit) only one is listed, so that no held-out photo has a twin in training.

Whole photos, of varied content, are held out for evaluation (`held_out=True`); the models
train on the rest.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Where Debian's opencv-doc puts OpenCV's example files; OPENCV_EXAMPLES overrides it (tests).
OPENCV_EXAMPLES = Path("/usr/share/doc/opencv-doc/examples")
INSTALL_HINT = "apt-get install opencv-doc"


@dataclass(frozen=True)
class CorpusPhoto:
    name: str
    source: str          # "scikit-image", "scikit-learn" or "opencv-doc"
    origin: str          # the function or file it is read from
    content: str         # what it shows, for the tables
    held_out: bool = False


def _skimage(name: str, content: str, held_out: bool = False, origin: str = "") -> CorpusPhoto:
    return CorpusPhoto(name, "scikit-image", origin or f"skimage.data.{name}()", content, held_out)


def _opencv(name: str, path: str, content: str, held_out: bool = False) -> CorpusPhoto:
    return CorpusPhoto(name, "opencv-doc", path, content, held_out)


PHOTOS: tuple[CorpusPhoto, ...] = (
    # held out: a portrait, a still life, an object, animals, food, a landscape, architecture
    # with sky, an aerial view, a sports scene and a bird
    _skimage("astronaut", "portrait of an astronaut before a flag", held_out=True),
    _skimage("coffee", "a cup of coffee on a saucer", held_out=True),
    _skimage("motorcycle", "a motorcycle in a workshop (left view of a stereo pair)", held_out=True,
             origin="skimage.data.stereo_motorcycle()[0]"),
    _opencv("lake", "hfs/data/001.jpg", "a lake under a blue sky", held_out=True),
    _opencv("squirrel", "data/squirrel_cls.jpg", "a squirrel on a branch", held_out=True),
    _opencv("fruits", "data/fruits.jpg", "sliced citrus fruit and kiwis", held_out=True),
    _opencv("palace", "data/home.jpg", "a palace facade under a blue sky", held_out=True),
    _opencv("aerial", "data/aero1.jpg", "an aerial view of a town and fields", held_out=True),
    _opencv("baboon", "data/baboon.jpg", "a mandrill's face", held_out=True),
    _opencv("football", "data/messi5.jpg", "a footballer on a pitch", held_out=True),
    _opencv("robin", "hfs/data/000.jpg", "a robin on a pipe", held_out=True),
    # training
    _skimage("chelsea", "a tabby cat"),
    _skimage("rocket", "a rocket on its launch pad"),
    CorpusPhoto("china", "scikit-learn", "sklearn.datasets.load_sample_image('china.jpg')", "a temple in a park"),
    CorpusPhoto("flower", "scikit-learn", "sklearn.datasets.load_sample_image('flower.jpg')", "a dahlia"),
    _opencv("plant", "alphamat/input_images/plant.jpg", "potted plants"),
    _opencv("aloe", "data/aloeL.jpg", "an aloe in a pot before a patterned wall (left view)"),
    _opencv("apple", "data/apple.jpg", "a red apple"),
    _opencv("circuit", "data/board.jpg", "a circuit board"),
    _opencv("building", "data/building.jpg", "an office building and trees"),
    _opencv("swallowtail", "data/butterfly.jpg", "a butterfly on a leaf"),
    _opencv("dog", "data/chicky_512.png", "a small dog"),
    _opencv("graffiti", "data/graf1.png", "a graffiti wall (first view)"),
    _opencv("street", "data/leuvenA.jpg", "a cobbled street of brick houses (first view)"),
    _opencv("car", "data/licenseplate_motion.jpg", "the back of a car, motion-blurred"),
    _opencv("orange", "data/orange.jpg", "an orange"),
    _opencv("desk", "data/pca_test1.jpg", "objects on a desk"),
    _opencv("books", "data/left.jpg", "books on a shelf (left view)"),
    _opencv("toys", "data/rubberwhale1.png", "toys before a lattice (first frame)"),
    _opencv("smarties", "data/smarties.png", "coloured sweets on white"),
    _opencv("pencil", "data/stuff.jpg", "a pencil, a lighter and a cup on a table"),
    _opencv("office", "data/ela_original.jpg", "a shelf of books and folders (original, not the edited copy)"),
    _opencv("monarch", "dnn_superres/butterfly.png", "a monarch butterfly's wing"),
    _opencv("tree", "hfs/data/002.jpg", "a lone tree on a meadow"),
    _opencv("house", "reg/home.png", "a brick house"),
)

# Training photos the colorizer keeps out of its training to choose how strongly it colours on
# its own (varied: a temple under sky and trees, a brick street, a near-grey desk, a butterfly):
# judged on the held-out photos instead, that choice would flatter it.
CALIBRATION = ("china", "street", "pencil", "swallowtail")

# Files of the same packages that are not in the corpus, and why (kept beside the list, so a
# later reader does not add them back by mistake).
NOT_PHOTOS = {
    "opencv-doc data/aero3.jpg, aloeR.jpg, leuvenB.jpg, graf3.png, rubberwhale2.png, right.jpg, "
    "ela_modified.jpg": "second shots of listed scenes",
    "opencv-doc data/starry_night.jpg": "a painting",
    "opencv-doc data/HappyFish.jpg, fuzzy/input.png, ml.png, Blender_Suzanne*.jpg": "drawings and renders",
    "opencv-doc data/*Logo*, opencv-logo*.png, pic*.png, detect_blob.png, cards.png": "logos and synthetic shapes",
    "opencv-doc data/left0*.jpg, right0*.jpg, chessboard.png, basketball*.png, box*.png": "grey photos",
    "opencv-doc text/, data/text_*.jpg, imageText*.png, notes.png, sudoku.png, digits.png": "text",
    "scikit-image retina, immunohistochemistry, hubble_deep_field": "medical, microscope and telescope images",
}


def opencv_examples() -> Path:
    return Path(os.environ.get("OPENCV_EXAMPLES", OPENCV_EXAMPLES))


def _reader(photo: CorpusPhoto) -> Callable[[], np.ndarray]:
    if photo.source == "opencv-doc":
        def read() -> np.ndarray:
            from PIL import Image
            with Image.open(opencv_examples() / photo.origin) as image:
                return np.asarray(image.convert("RGB"))
        return read
    if photo.source == "scikit-learn":
        def read_sklearn() -> np.ndarray:
            from sklearn.datasets import load_sample_image
            return load_sample_image(photo.origin.split("'")[1])
        return read_sklearn

    def read_skimage() -> np.ndarray:
        import skimage.data
        if photo.name == "motorcycle":
            return skimage.data.stereo_motorcycle()[0]
        return getattr(skimage.data, photo.name)()
    return read_skimage


def by_name(name: str) -> CorpusPhoto:
    try:
        return next(p for p in PHOTOS if p.name == name)
    except StopIteration:
        raise KeyError(f"no corpus photo {name!r}") from None


def is_available(photo: CorpusPhoto) -> bool:
    return photo.source != "opencv-doc" or (opencv_examples() / photo.origin).is_file()


def available(held_out: bool) -> tuple[str, ...]:
    """The names of the corpus photos on this machine, held out or for training."""
    return tuple(p.name for p in PHOTOS if p.held_out == held_out and is_available(p))


def missing() -> tuple[str, ...]:
    """The corpus photos this machine lacks (OpenCV's, before `apt-get install opencv-doc`)."""
    return tuple(p.name for p in PHOTOS if not is_available(p))


@functools.lru_cache(maxsize=64)
def load(name: str) -> np.ndarray:
    """A corpus photo as float32 RGB (H, W, 3) in [0, 1]."""
    photo = by_name(name)
    if not is_available(photo):
        raise FileNotFoundError(f"{photo.origin} of {photo.source} is missing; install it with `{INSTALL_HINT}`")
    image = np.asarray(_reader(photo)(), dtype=np.float32) / 255.0
    return np.ascontiguousarray(image[..., :3])


def megapixel_photo() -> np.ndarray:
    """A held-out photo at 1024x1024 (astronaut, upscaled): the speed figures' input."""
    from engine.core.imaging import resize

    return resize(load("astronaut"), (1024, 1024))
