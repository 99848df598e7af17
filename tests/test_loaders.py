"""engine.loaders: IDX files and folders or zips of images, built here as small files."""
import gzip
import io
import struct
import zipfile

import numpy as np
import pytest
from PIL import Image

from engine.core.loaders import DatasetError, ImageFolder, load_idx, load_image_folder

IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D,
             np.float64: 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, IDX_CODES[array.dtype.type], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def png(value: int = 128, size: tuple[int, int] = (4, 3), mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, value).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("dtype", list(IDX_CODES))
def test_idx_round_trip(tmp_path, dtype, compress):
    rng = np.random.default_rng(0)
    array = (rng.random((5, 28, 28)) * 200 - (0 if dtype == np.uint8 else 100)).astype(dtype)
    data = idx_bytes(array)
    path = tmp_path / ("images.idx3-ubyte" + (".gz" if compress else ""))
    path.write_bytes(gzip.compress(data) if compress else data)
    out = load_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)
    out[0, 0, 0] = 1  # a writable array of its own


def test_idx_labels(tmp_path):
    labels = np.array([5, 0, 4, 1, 9], dtype=np.uint8)
    (tmp_path / "labels").write_bytes(idx_bytes(labels))
    np.testing.assert_array_equal(load_idx(str(tmp_path / "labels")), labels)


@pytest.mark.parametrize("damage, message", [
    (lambda d: b"\x00\x00\x07\x03" + d[4:], "not an IDX file"),     # unknown type code
    (lambda d: b"\x01\x00" + d[2:], "not an IDX file"),             # wrong magic
    (lambda d: d[:2], "not an IDX file"),
    (lambda d: d[:10], "cut short inside its header"),
    (lambda d: d[:-1], "cut short"),
    (lambda d: d + b"\x00", "more data than its header"),
    (lambda d: gzip.compress(d)[:-20], "could not be read"),          # truncated gzip stream
], ids=["type", "magic", "tiny", "header", "data", "extra", "gz"])
def test_idx_damage(tmp_path, damage, message):
    path = tmp_path / "x.idx"
    path.write_bytes(damage(idx_bytes(np.zeros((3, 4, 4), dtype=np.uint8))))
    with pytest.raises(DatasetError, match=message):
        load_idx(path)


def test_idx_size_checked_before_allocating(tmp_path):
    path = tmp_path / "huge.idx"
    path.write_bytes(struct.pack(">BBBBIII", 0, 0, 0x0E, 3, 60000, 28, 28))  # claims 376 MB
    with pytest.raises(DatasetError, match="limit is 1 MB"):
        load_idx(path, max_bytes=1 << 20)
    with pytest.raises(DatasetError, match="cut short"):
        load_idx(path)


def test_idx_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="could not be read"):
        load_idx(tmp_path / "absent.idx")


# ------------------------------------------------------------------------------ folders

def test_folder_with_a_corrupt_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.png").write_bytes(png(255))
    (tmp_path / "sub" / "a.PNG").write_bytes(png(0, mode="RGB"))
    noise = np.random.default_rng(1).integers(0, 256, (32, 32), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="JPEG")
    (tmp_path / "broken.jpg").write_bytes(buffer.getvalue()[:400])  # cut short
    (tmp_path / "notes.txt").write_text("not an image, not listed")
    (tmp_path / ".hidden.png").write_bytes(b"ignored")
    folder = load_image_folder(tmp_path)
    assert isinstance(folder, ImageFolder)
    assert folder.names == ["b.png", "sub/a.PNG"]
    assert folder.images[0].shape == (3, 4) and np.all(folder.images[0] == 1.0)
    assert folder.images[1].shape == (3, 4, 3) and np.all(folder.images[1] == 0.0)
    assert [name for name, _ in folder.skipped] == ["broken.jpg"]
    assert "damaged or cut short" in folder.skipped[0][1]


def test_folder_limits(tmp_path):
    for k in range(3):
        (tmp_path / f"{k}.png").write_bytes(png(k))
    assert len(load_image_folder(str(tmp_path), max_files=3).images) == 3
    with pytest.raises(DatasetError, match="3 images; the limit is 2"):
        load_image_folder(tmp_path, max_files=2)
    with pytest.raises(DatasetError, match="the limit is 100 bytes"):
        load_image_folder(tmp_path, max_total_bytes=100)


# ------------------------------------------------------------------------------ zips

def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def snapshot(root) -> set:
    return {(p.relative_to(root).as_posix(), p.stat().st_size) for p in root.rglob("*")}


def test_zip_of_images_with_bad_members(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # a naive extraction would write '../evil.png' into tmp_path
    archive = zip_bytes({
        "digits/2.png": png(2), "digits/1.png": png(1), "digits/": b"",
        "digits/bad.png": b"\x89PNG\r\n\x1a\n not really",
        "../evil.png": png(), "/etc/abs.png": png(), "C:\\win.png": png(), "a/../../up.png": png(),
        "__MACOSX/digits/._1.png": b"resource fork", "readme.md": b"# hello",
    })
    path = tmp_path / "upload.zip"
    path.write_bytes(archive)
    before = snapshot(tmp_path)
    for source in (archive, bytearray(archive), io.BytesIO(archive), path, str(path)):
        folder = load_image_folder(source)
        assert folder.names == ["digits/1.png", "digits/2.png"]
        np.testing.assert_allclose([im[0, 0] for im in folder.images], [1 / 255, 2 / 255])
        skipped = dict(folder.skipped)
        assert set(skipped) == {"digits/bad.png", "../evil.png", "/etc/abs.png", "C:\\win.png",
                                "a/../../up.png"}
        assert "outside the archive" in skipped["../evil.png"]
        assert "damaged" in skipped["digits/bad.png"]  # a PNG signature, then nothing of a PNG
    assert snapshot(tmp_path) == before


def test_zip_bomb_refused_unread(monkeypatch):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("ok.png", png())
        with archive.open("bomb.bmp", "w", force_zip64=True) as member:
            zeros = bytes(1 << 20)
            for _ in range(64):  # 64 MB of zeros deflate to about 300 KB
                member.write(zeros)
        archive.writestr("small_bomb.bmp", bytes(2 << 20))  # under the size limit, not the ratio
        archive.writestr("stored.tif", np.random.default_rng(0).bytes(21 << 20),
                         compress_type=zipfile.ZIP_STORED)  # no ratio, but too big
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open",
                        lambda self, name, *a, **k: opened.append(getattr(name, "filename", name))
                        or real_open(self, name, *a, **k))
    folder = load_image_folder(buffer.getvalue())
    assert folder.names == ["ok.png"]
    skipped = dict(folder.skipped)
    assert "64 MB" in skipped["bomb.bmp"] and "limit is 20 MB" in skipped["bomb.bmp"]
    assert "zip bomb" in skipped["small_bomb.bmp"]
    assert "21 MB" in skipped["stored.tif"]
    assert opened == ["ok.png"]  # nothing refused was ever inflated


def test_zip_limits():
    archive = zip_bytes({f"{k}.png": png(k) for k in range(3)})
    with pytest.raises(DatasetError, match="3 images; the limit is 2"):
        load_image_folder(archive, max_files=2)
    with pytest.raises(DatasetError, match="limit is 100 bytes"):
        load_image_folder(archive, max_total_bytes=100)


def test_zip_member_with_bad_crc():
    archive = bytearray(zip_bytes({"a.png": png(7)}))
    crc_at = 14  # the local header's CRC; zipfile checks it against the central directory's
    archive[crc_at:crc_at + 4] = bytes(4)
    central = archive.rfind(b"PK\x01\x02")
    archive[central + 16:central + 20] = bytes(4)  # both say 0: the data then fails its CRC
    folder = load_image_folder(bytes(archive))
    assert folder.names == [] and "could not be unpacked" in dict(folder.skipped)["a.png"]


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04 this is not really a zip", b"hello"])
def test_corrupt_zip(data, tmp_path):
    with pytest.raises(DatasetError, match="not a zip archive"):
        load_image_folder(data)
    path = tmp_path / "x.zip"
    path.write_bytes(data)
    with pytest.raises(DatasetError, match="not a zip archive"):
        load_image_folder(path)


def test_missing_source(tmp_path):
    with pytest.raises(DatasetError, match="Could not open"):
        load_image_folder(tmp_path / "absent.zip")


def test_truncated_zip():
    archive = zip_bytes({"a.png": png(), "b.png": png()})
    with pytest.raises(DatasetError):
        load_image_folder(archive[: len(archive) // 2])
