"""Fashion-MNIST: read from Debian's files (small ones written here), the app's answers without
them, the preparation of a user's picture of a garment, and the built-in clothing gallery."""
import numpy as np
import pytest
from fashion_files import forget, garments, write_fashion

import engine
from engine.core import fashion
from engine.core.loaders import DatasetError


def test_the_debian_files_are_read(fake_fashion):
    assert engine.fashion_available()
    images, labels = engine.load_fashion_mnist("train")
    expected, kinds = garments(300, 0)
    assert images.shape == (300, 28, 28) and images.dtype == np.float32
    np.testing.assert_allclose(images, expected / 255.0, atol=1e-7)
    np.testing.assert_array_equal(labels, kinds)
    assert labels.dtype == np.int64
    assert engine.load_fashion_mnist("test")[0].shape == (200, 28, 28)
    first, first_kinds = engine.load_fashion_mnist("train", 5)   # only the pictures asked for
    np.testing.assert_array_equal(first, images[:5])
    np.testing.assert_array_equal(first_kinds, kinds[:5])
    images[0, 0, 0] = 1.0   # each caller's own floats: the next call is unchanged
    assert engine.load_fashion_mnist("train")[0][0, 0, 0] == expected[0, 0, 0] / 255.0
    with pytest.raises(ValueError, match="split"):
        engine.load_fashion_mnist("validation")


def test_plain_files_are_read_as_well(tmp_path, monkeypatch):
    monkeypatch.setenv(fashion.FOLDER_VARIABLE, str(write_fashion(tmp_path / "plain", compress=False)))
    forget()
    try:
        assert engine.load_fashion_mnist("test")[0].shape == (200, 28, 28)
    finally:
        forget()


def test_without_the_package_the_message_says_how_to_add_it(no_fashion):
    assert not engine.fashion_available()
    with pytest.raises(engine.FashionUnavailable, match="apt-get install dataset-fashion-mnist"):
        engine.load_fashion_mnist("train")
    with pytest.raises(DatasetError):   # the engine's data error: pages catch it as one
        engine.fashion_gallery()


@pytest.mark.parametrize("labels, problem", [
    ({"test": np.full(200, 12, np.uint8)}, "label from 0 to 9"),
    ({"test": np.zeros(150, np.uint8)}, "label from 0 to 9"),
])
def test_files_that_are_not_fashion_mnist_are_refused(tmp_path, monkeypatch, labels, problem):
    monkeypatch.setenv(fashion.FOLDER_VARIABLE, str(write_fashion(tmp_path / "bad", labels=labels)))
    forget()
    try:
        with pytest.raises(DatasetError, match=problem):
            engine.load_fashion_mnist("test")
    finally:
        forget()


def test_a_product_photo_on_white_is_prepared_as_fashion_mnist_was():
    picture = np.ones((300, 200, 3), np.float32)          # a dark red shirt, tall, off-centre, on white
    picture[40:260, 20:120] = (0.5, 0.1, 0.1)
    prepared = engine.prepare_clothing(picture)
    assert prepared.shape == (28, 28) and prepared.dtype == np.float32
    assert prepared[:, 0].max() < 0.05 and prepared[:, -1].max() < 0.05   # the white ground is black now
    assert prepared[14, 14] > 0.5                                           # and the dark shirt light
    rows, cols = np.nonzero(prepared > 0.5)
    assert rows.min() == 0 and rows.max() == 27                        # its longer side fills the 28 pixels
    assert 11 <= (cols.min() + cols.max()) / 2 <= 16                   # centred across
    assert 10 <= cols.max() - cols.min() + 1 <= 15                     # the aspect kept: 100 by 220
    with pytest.raises(engine.EmptyImageError):
        engine.prepare_clothing(np.full((50, 50), 0.7, np.float32))


def test_a_picture_on_black_stays_light_on_dark():
    picture = np.zeros((28, 28), np.float32)
    picture[4:24, 9:19] = 0.9
    prepared = engine.prepare_clothing(picture)
    assert prepared[14, 14] > 0.8 and prepared[0, 0] < 0.05


def test_the_clothing_gallery_draws_the_test_set_evenly(fake_fashion):
    gallery = engine.fashion_gallery(count=100)
    assert len(gallery) == 100 and gallery.kind == "clothing"
    assert sorted(set(gallery.labels)) == sorted(engine.FASHION_CLASSES)
    assert all(np.sum(gallery.labels == kind) == 10 for kind in engine.FASHION_CLASSES)
    test, kinds = engine.load_fashion_mnist("test")
    number = int(gallery.names[0].split("#")[1])        # "Trouser #12": the picture's number in the test set
    np.testing.assert_array_equal(gallery.images[0], test[number])
    assert gallery.labels[0] == engine.FASHION_CLASSES[kinds[number]]


def test_the_clothing_encoder_finds_the_same_kind(fake_fashion):
    """The shipped clothing encoder and its PCA on the stand-in garments: blocks of ten shapes,
    told apart far above chance (10%) in every code space, the autoencoder's code best."""
    gallery = engine.fashion_gallery(count=200)
    assert gallery.codes("autoencoder").shape == (200, 64)
    assert gallery.codes("pca").shape == (200, 64)
    scores = engine.compare_spaces(gallery, "cosine")
    assert set(scores) == {"autoencoder", "pca", "pixels"}
    assert all(p[10] > 0.3 for p in scores.values()), scores
    assert scores["autoencoder"][10] > max(scores["pca"][10], scores["pixels"][10]), scores
    query = np.zeros((120, 90), np.float32)            # a block of kind 3 (7 wide, 19 high), larger and on black
    query[10:110, 25:62] = 0.8
    result = engine.search(gallery, query, k=5)
    assert result.labels is not None and len(result.labels) == 5


def test_characters_and_clothes_use_their_own_encoders(fake_fashion):
    pictures = garments(4, 3)[0] / np.float32(255)
    as_characters = engine.embed(pictures.astype(np.float32), "autoencoder")
    as_clothes = engine.embed(pictures.astype(np.float32), "autoencoder", kind="clothing")
    assert as_characters.shape == as_clothes.shape == (4, 64)
    assert not np.allclose(as_characters, as_clothes)
    with pytest.raises(ValueError, match="kind"):
        engine.embed(pictures.astype(np.float32), "autoencoder", kind="photo")


def test_the_studio_trains_on_fashion_mnist(fake_fashion):
    data = engine.builtin_digits("fashion")
    assert data.train.shape == (300, 28, 28) and data.heldout.shape == (200, 28, 28)
    train, heldout, note = engine.builtin_training_set("fashion", 100)
    assert len(train) == 100 and "Fashion-MNIST" in note and "official test set" in note
