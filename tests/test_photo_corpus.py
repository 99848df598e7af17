"""The photo corpus: one list of real photos with their sources, whole photos held out, none of
them with a twin in training, and loading from Debian's opencv-doc (faked here: tests make their
own small photos at the package's paths)."""
import numpy as np
import pytest

from engine.core import photo_corpus


def test_the_list_holds_unique_real_photos_with_their_sources():
    names = [p.name for p in photo_corpus.PHOTOS]
    origins = [(p.source, p.origin) for p in photo_corpus.PHOTOS]
    assert len(set(names)) == len(names) and len(set(origins)) == len(origins)
    assert {p.source for p in photo_corpus.PHOTOS} == {"scikit-image", "scikit-learn", "opencv-doc"}
    assert all(p.content for p in photo_corpus.PHOTOS)
    listed = {p.origin.rsplit("/", 1)[-1] for p in photo_corpus.PHOTOS}
    left_out = ", ".join(photo_corpus.NOT_PHOTOS).replace("opencv-doc ", "")
    # a second shot of a listed scene is never listed: it would be a held-out photo's twin
    for twin in ("aero3.jpg", "aloeR.jpg", "leuvenB.jpg", "graf3.png", "rubberwhale2.png", "ela_modified.jpg"):
        assert twin in left_out and twin not in listed


def test_at_least_ten_whole_photos_of_varied_sources_are_held_out():
    held = [p for p in photo_corpus.PHOTOS if p.held_out]
    training = [p for p in photo_corpus.PHOTOS if not p.held_out]
    assert len(held) >= 10 and len(training) >= 20
    assert len({p.source for p in held}) >= 2
    assert not {p.name for p in held} & {p.name for p in training}


def test_photos_load_from_the_package_folders(fake_opencv):
    assert photo_corpus.missing() == ()
    held, training = photo_corpus.available(held_out=True), photo_corpus.available(held_out=False)
    assert len(held) + len(training) == len(photo_corpus.PHOTOS) and not set(held) & set(training)
    lake = photo_corpus.load("lake")
    assert lake.shape == (72, 96, 3) and lake.dtype == np.float32 and 0 <= lake.min() and lake.max() <= 1
    cat = photo_corpus.load("chelsea")         # scikit-image's, always there
    assert cat.ndim == 3 and cat.shape[2] == 3


def test_without_opencv_doc_its_photos_are_missing_and_say_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENCV_EXAMPLES", str(tmp_path / "nothing"))
    photo_corpus.load.cache_clear()
    try:
        missing = photo_corpus.missing()
        assert set(missing) == {p.name for p in photo_corpus.PHOTOS if p.source == "opencv-doc"}
        assert "astronaut" in photo_corpus.available(held_out=True) and "lake" not in photo_corpus.available(True)
        with pytest.raises(FileNotFoundError, match="apt-get install opencv-doc"):
            photo_corpus.load("lake")
        with pytest.raises(KeyError):
            photo_corpus.load("no such photo")
    finally:
        photo_corpus.load.cache_clear()


def test_the_colorizer_build_refuses_an_incomplete_corpus(tmp_path, monkeypatch):
    from engine.nn import recipes
    from engine.tasks.colorize import build

    monkeypatch.setenv("OPENCV_EXAMPLES", str(tmp_path / "nothing"))
    with pytest.raises(FileNotFoundError, match="apt-get install opencv-doc"):
        build.build_colorizer(recipes.BuildOptions(out_dir=tmp_path, scale=0.001))
