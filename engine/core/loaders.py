"""Loaders for data a user supplies as local files: MNIST/EMNIST IDX files, and folders or zip
archives of images. Zip members are read in memory, never extracted to disk."""
from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import BinaryIO

import numpy as np

from engine.core.imaging import (
    MAX_UPLOAD_BYTES,
    ImageError,
    PixelBudget,
    PixelBudgetError,
    decode_image,
    size_text,
)

MAX_IDX_BYTES = 1 << 30
MAX_FOLDER_FILES = 5000
MAX_FOLDER_BYTES = 200 * 1024 * 1024
MAX_FOLDER_PIXELS = 200_000_000    # decoded, all images together: a few seconds of decoding
FOLDER_IMAGE_PIXELS = 1_000_000    # each image is kept at most this large (scaled while decoded)
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"})


# Image formats are compressed already, so a member that inflates far more is a zip bomb;
# members too small to hurt are let through whatever their ratio (a blank BMP, say).
_MAX_COMPRESSION_RATIO = 100
_RATIO_CHECK_FROM_BYTES = 1 << 20


# IDX type codes (the MNIST file format); every value and dimension is big-endian.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
ZipSource = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO


class DatasetError(ValueError):
    """Data that cannot be loaded. The message is written to be shown to the user."""


def load_idx(path: str | os.PathLike, *, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read an IDX file (MNIST, EMNIST), plain or gzip-compressed (told by its first bytes),
    as the array it holds in native byte order: e.g. uint8 images (N, 28, 28) or labels (N,).
    Raises DatasetError for a wrong header, truncated or overlong data, or more than
    max_bytes of data (checked from the header, before anything is allocated)."""
    name = os.path.basename(os.fspath(path))
    try:
        with open(path, "rb") as file:
            compressed = file.read(2) == b"\x1f\x8b"
            file.seek(0)
            with gzip.GzipFile(fileobj=file) if compressed else file as stream:
                return _read_idx(stream, name, max_bytes)
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise DatasetError(f"{name} could not be read: {err}") from err


def _read_idx(stream: BinaryIO, name: str, max_bytes: int) -> np.ndarray:
    magic = stream.read(4)
    if len(magic) < 4 or magic[:2] != b"\0\0" or magic[2] not in _IDX_DTYPES or magic[3] == 0:
        raise DatasetError(f"{name} is not an IDX file (the format of MNIST and EMNIST): "
                           "its first four bytes are wrong.")
    dtype, ndim = np.dtype(_IDX_DTYPES[magic[2]]), magic[3]
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise DatasetError(f"{name} is cut short inside its header.")
    shape = struct.unpack(f">{ndim}I", dims)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > max_bytes:
        raise DatasetError(f"{name} declares {size_text(nbytes)} of data (shape {shape}); "
                           f"the limit is {size_text(max_bytes)}.")
    data = stream.read(nbytes)
    if len(data) < nbytes:
        raise DatasetError(f"{name} is cut short: its header declares shape {shape} "
                           f"({nbytes} bytes of data) but it holds only {len(data)} bytes.")
    if stream.read(1):
        raise DatasetError(f"{name} holds more data than its header declares (shape {shape}).")
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


@dataclass
class ImageFolder:
    """Images read from a folder or a zip archive, in name order, with the files passed over
    as (name, reason) pairs; each reason is written to be shown to the user."""
    images: list[np.ndarray] = field(default_factory=list)   # each (H, W) or (H, W, 3)
    names: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    fit_pixels: int = field(default=FOLDER_IMAGE_PIXELS, repr=False)
    budget: PixelBudget = field(default_factory=lambda: PixelBudget(MAX_FOLDER_PIXELS), repr=False)

    def _add(self, name: str, data: bytes | Path) -> None:
        try:
            image = decode_image(data, fit_pixels=self.fit_pixels, budget=self.budget)
        except PixelBudgetError as err:          # the whole upload is too much, not this image
            raise DatasetError(str(err)) from None
        except ImageError as err:
            self.skipped.append((name, str(err)))
        else:
            self.images.append(image)
            self.names.append(name)


def load_image_folder(source: ZipSource, *, max_files: int = MAX_FOLDER_FILES,
                      max_total_bytes: int = MAX_FOLDER_BYTES, fit_pixels: int = FOLDER_IMAGE_PIXELS,
                      budget: PixelBudget | None = None) -> ImageFolder:
    """Read every image (png, jpg, jpeg, gif, bmp, webp, tif, tiff) in a directory, searched
    recursively, or in a zip archive given as a path, bytes or a binary file-like. Files that
    fail to decode, unsafe zip names (absolute, or climbing out with '..') and members that
    would inflate too far are skipped and listed in `skipped`; hidden files are ignored. Each
    image is scaled to at most fit_pixels while it is decoded. Raises DatasetError for a
    damaged archive, or more than max_files images, max_total_bytes of image data or more
    decoding than `budget` (by default MAX_FOLDER_PIXELS; charged as the images are read, so
    nothing is decoded past it)."""
    folder = ImageFolder(fit_pixels=fit_pixels, budget=budget or PixelBudget(MAX_FOLDER_PIXELS))
    if isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
        return _load_directory(Path(source), folder, max_files, max_total_bytes)
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(source)
    try:
        with zipfile.ZipFile(source) as archive:
            return _load_zip(archive, folder, max_files, max_total_bytes)
    except (zipfile.BadZipFile, UnicodeDecodeError, IndexError, NotImplementedError, ValueError,
            EOFError) as err:  # a damaged directory: names, versions or offsets that make no sense
        if isinstance(err, DatasetError):
            raise
        raise DatasetError("This is not a zip archive, or it is damaged. Please upload a zip "
                           "file of images.") from err
    except OSError as err:
        raise DatasetError(f"Could not open {source}: {err.strerror or err}.") from err


def _hidden(parts: tuple[str, ...]) -> bool:
    """Dot files and macOS's __MACOSX resource forks: not the user's images."""
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def _check_limits(count: int, total_bytes: int, max_files: int, max_total_bytes: int) -> None:
    if count > max_files:
        raise DatasetError(f"This holds {count:,} images; the limit is {max_files:,}. "
                           "Please use fewer images.")
    if total_bytes > max_total_bytes:
        raise DatasetError(f"These images add up to {size_text(total_bytes)}; the limit is "
                           f"{size_text(max_total_bytes)}. Please use fewer or smaller images.")


def _load_directory(root: Path, folder: ImageFolder, max_files: int, max_total_bytes: int) -> ImageFolder:
    found = ((path.relative_to(root), path) for path in root.rglob("*"))
    files = sorted((relative.as_posix(), path) for relative, path in found
                   if path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()
                   and not _hidden(relative.parts))
    _check_limits(len(files), sum(path.stat().st_size for _, path in files), max_files, max_total_bytes)
    for name, path in files:
        folder._add(name, path)
    return folder


def _load_zip(archive: zipfile.ZipFile, folder: ImageFolder, max_files: int, max_total_bytes: int) -> ImageFolder:
    members: list[zipfile.ZipInfo] = []
    # Sizes and ratios come from the archive's directory, so bombs are refused unread; reads
    # are bounded too, and zipfile stops each member at its declared size (checking its CRC).
    for info in sorted(archive.infolist(), key=lambda i: i.filename):
        path = PureWindowsPath(info.filename)  # catches "/x", "C:x" and "\\" separators too
        if info.is_dir():
            continue
        if path.drive or path.root or ".." in path.parts:
            folder.skipped.append((info.filename, "Skipped: its name points outside the archive."))
        elif _hidden(path.parts) or path.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        elif info.file_size > MAX_UPLOAD_BYTES:
            size, limit = size_text(info.file_size), size_text(MAX_UPLOAD_BYTES)
            if size == limit:                        # just over: show bytes, or it reads "20 MB; 20 MB"
                size, limit = f"{info.file_size:,} bytes", f"{MAX_UPLOAD_BYTES:,} bytes"
            folder.skipped.append((info.filename, f"Skipped: it unpacks to {size}; the limit is {limit} "
                                                  "per image."))
        elif (info.file_size >= _RATIO_CHECK_FROM_BYTES
              and info.file_size > _MAX_COMPRESSION_RATIO * info.compress_size):
            folder.skipped.append((info.filename, "Skipped: it is compressed suspiciously far "
                                                  f"({size_text(info.file_size)} from "
                                                  f"{size_text(info.compress_size)}), like a zip bomb."))
        else:
            members.append(info)
    _check_limits(len(members), sum(info.file_size for info in members), max_files, max_total_bytes)
    for info in members:
        try:
            with archive.open(info) as member:
                # Never past the size the directory declares (checked above): a member that
                # lies about its size is cut there, and its CRC then fails.
                data = member.read(info.file_size + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError,
                NotImplementedError) as err:  # bad CRC, damaged data, encrypted, unknown method
            folder.skipped.append((info.filename, f"Skipped: it could not be unpacked ({err})."))
            continue
        folder._add(info.filename, data)
    return folder
