"""Image search: the index against a brute-force reference, save and load, embedding, galleries
from files and zips, precision@k, and the build and evaluation at a tiny scale."""
import io
import zipfile

import numpy as np
import pytest
from PIL import Image

import engine
from engine import builds as builds
from engine.core import runtime
from engine.core.index import SearchIndex, SearchIndexError
from engine.nn import recipes as recipes
from engine.tasks.search import evaluate as search_evaluate


def reference(codes: np.ndarray, queries: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Every distance computed in float64 and fully sorted: the answer an index must give."""
    c, q = codes.astype(np.float64), queries.astype(np.float64)
    if metric == "cosine":
        c = c / np.linalg.norm(c, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        distances = 1 - q @ c.T
    else:
        distances = np.sqrt(((q[:, None] - c[None]) ** 2).sum(-1))
    order = np.argsort(distances, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(distances, order, axis=1), order


@pytest.mark.parametrize("metric", engine.METRICS)
@pytest.mark.parametrize("k", [1, 7, 500])
def test_exact_index_matches_brute_force(metric, k):
    rng = np.random.default_rng(k)
    codes = rng.standard_normal((300, 16)).astype(np.float32)
    queries = rng.standard_normal((25, 16)).astype(np.float32)
    index = SearchIndex(codes, metric)
    distances, indices = index.query(queries, k)
    want_d, want_i = reference(codes, queries, min(k, 300), metric)
    assert not index.approximate and indices.shape == (25, min(k, 300))
    np.testing.assert_array_equal(indices, want_i)
    np.testing.assert_allclose(distances, want_d, atol=1e-4)


def test_exact_index_answers_many_queries_in_chunks(monkeypatch):
    monkeypatch.setattr("engine.core.index._CHUNK_ELEMENTS", 1000)   # 10 queries a chunk
    rng = np.random.default_rng(1)
    codes, queries = rng.random((100, 8), dtype=np.float32), rng.random((57, 8), dtype=np.float32)
    _, indices = SearchIndex(codes, "euclidean").query(queries, 5)
    np.testing.assert_array_equal(indices, reference(codes, queries, 5, "euclidean")[1])


@pytest.mark.parametrize("metric", engine.METRICS)
def test_approximate_index_finds_nearly_all_true_neighbours(metric):
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((50, 32)) * 4
    codes = (centres[rng.integers(50, size=20_000)] + rng.standard_normal((20_000, 32))).astype(np.float32)
    queries = codes[:40] + 0.1 * rng.standard_normal((40, 32)).astype(np.float32)
    index = SearchIndex(codes, metric, approximate=True)
    distances, indices = index.query(queries, 10)
    _, want = reference(codes, queries, 10, metric)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(indices, want)])
    assert index.approximate and recall >= 0.9
    assert np.all(np.diff(distances, axis=1) >= -1e-5)          # nearest first


@pytest.mark.parametrize("approximate", [False, True])
def test_index_save_and_load_round_trip(tmp_path, approximate):
    rng = np.random.default_rng(3)
    codes, queries = rng.random((5000, 12), dtype=np.float32), rng.random((9, 12), dtype=np.float32)
    index = SearchIndex(codes, "cosine", approximate=approximate)
    index.save(tmp_path / "index.npz")
    loaded = SearchIndex.load(tmp_path / "index.npz")
    assert loaded.metric == "cosine" and loaded.approximate == approximate and len(loaded) == 5000
    for got, want in zip(loaded.query(queries, 6), index.query(queries, 6)):
        np.testing.assert_array_equal(got, want)


def test_index_rejects_bad_input(tmp_path):
    with pytest.raises(SearchIndexError):
        SearchIndex(np.zeros((3, 4)), "manhattan")
    with pytest.raises(SearchIndexError):
        SearchIndex(np.zeros(4))
    with pytest.raises(SearchIndexError):
        SearchIndex(np.full((3, 4), np.nan))
    with pytest.raises(SearchIndexError):
        SearchIndex(np.zeros((3, 4))).query(np.zeros((1, 5)))
    (tmp_path / "junk.npz").write_bytes(b"not an index")
    with pytest.raises(SearchIndexError):
        SearchIndex.load(tmp_path / "junk.npz")


def test_embed_gives_fixed_size_codes_for_characters_and_photos():
    chars = engine.builtin_gallery("digits", count=12).images
    assert engine.embed(np.stack(chars)).shape == (12, 64)
    assert engine.embed(np.stack(chars), "pca").shape == (12, 64)
    assert engine.embed(np.stack(chars), "pixels").shape == (12, 784)
    rng = np.random.default_rng(4)
    photos = [rng.random((50, 300, 3), dtype=np.float32), rng.random((401, 97), dtype=np.float32),
              rng.random((1, 1, 3), dtype=np.float32)]
    codes = engine.embed(photos)
    assert codes.shape == (3, 192) and np.isfinite(codes).all()
    np.testing.assert_allclose(engine.embed(photos[:1])[0], codes[0], rtol=1e-4, atol=1e-5)
    assert engine.embed(photos, "pixels").shape == (3, 768)
    with pytest.raises(ValueError):
        engine.embed(photos, "pca")


def test_colour_blind_code_ignores_colour_and_the_plain_code_does_not():
    from skimage.data import astronaut

    colour = astronaut()[::2, ::2].astype(np.float32) / 255
    recoloured = colour[..., ::-1]                                   # swap red and blue
    grey_codes = engine.embed([colour, np.repeat(engine.to_grey(colour)[..., None], 3, 2)], "autoencoder-grey")
    np.testing.assert_allclose(grey_codes[0], grey_codes[1], rtol=1e-4, atol=1e-5)
    plain = engine.embed([colour, recoloured])
    assert np.abs(plain[0] - plain[1]).max() > 1e-2


def test_precision_at_k_on_a_known_gallery():
    # Four images whose pixels make "a"s and "b"s close pairs: every nearest neighbour shares
    # its label (p@1 = 1); among the 3 others, one shares it (p@3 = 1/3).
    base = np.zeros((28, 28), np.float32)
    a1, a2, b1, b2 = base.copy(), base.copy(), base.copy(), base.copy()
    a1[:10] = 1.0
    a2[:11] = 1.0
    b1[15:] = 1.0
    b2[16:] = 1.0
    gallery = engine.Gallery([a1, a2, b1, b2], list("1234"), "character", np.array(list("aabb")))
    p = engine.precision_at_k(gallery, "pixels", "euclidean", ks=(1, 3))
    assert p == {1: 1.0, 3: pytest.approx(1 / 3)}
    result = engine.search(gallery, 0, space="pixels", metric="euclidean", k=3)
    assert list(result.indices) == [1, 3, 2] and result.precision == pytest.approx(1 / 3)  # b2 is nearer a1
    assert 0 not in result.indices and np.all(np.diff(result.distances) >= 0)


def test_autoencoder_code_beats_pixels_and_pca_on_unseen_fonts():
    gallery = engine.builtin_gallery("digits", count=300, seed=7)
    scores = engine.compare_spaces(gallery, "cosine", ks=(10,))
    assert scores["autoencoder"][10] > max(scores["pixels"][10], scores["pca"][10])
    assert scores["autoencoder"][10] > 0.85


def test_search_by_a_new_character_image():
    gallery = engine.builtin_gallery("digits", count=300, seed=7)
    seven = gallery.images[int(np.flatnonzero(gallery.labels == "7")[0])]
    upload = 1.0 - np.kron(seven, np.ones((3, 3), np.float32))        # dark on light, 84x84
    result = engine.search(gallery, upload, k=10)
    assert result.query_label is None and result.precision is None
    assert result.labels.count("7") >= 8


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_gallery_from_files_and_a_zip_with_labels_and_bad_members():
    rng = np.random.default_rng(5)
    red = lambda h, w: np.dstack([rng.integers(150, 256, (h, w)), rng.integers(0, 60, (h, w)),   # noqa: E731
                                  rng.integers(0, 60, (h, w))]).astype(np.uint8)
    blue = lambda h, w: red(h, w)[..., ::-1].copy()                  # noqa: E731
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for i in range(3):
            z.writestr(f"reds/{i}.png", png(red(90 + i, 120)))
            z.writestr(f"blues/{i}.png", png(blue(100, 80 + i)))
        z.writestr("blues/bad.png", b"not an image")
        z.writestr("../escape.png", png(red(90, 90)))
    gallery = engine.load_gallery([("set.zip", archive.getvalue())])
    assert gallery.kind == "photo" and len(gallery) == 6 and gallery.labelled
    assert sorted(set(gallery.labels)) == ["blues", "reds"]
    assert {name for name, _ in gallery.skipped} == {"set.zip/blues/bad.png", "set.zip/../escape.png"}
    scores = engine.compare_spaces(gallery, "cosine", ks=(1,))
    assert set(scores) == {"autoencoder", "autoencoder-grey", "pca", "pixels"}
    assert scores["autoencoder"][1] == 1.0                           # red finds red, blue finds blue

    loose = engine.load_gallery([("a.png", png(red(200, 300))), ("b.jpg", b"\xff\xd8 truncated"),
                                 ("c.png", png(blue(64, 500)))])
    assert len(loose) == 2 and not loose.labelled and loose.skipped[0][0] == "b.jpg"
    assert engine.search(loose, 0, k=5).names == ["c.png"]


def test_gallery_of_small_images_is_searched_as_characters():
    glyphs = engine.builtin_gallery("digits", count=4).images
    files = [(f"{i}.png", png((255 - g * 255).astype(np.uint8))) for i, g in enumerate(glyphs)]
    gallery = engine.load_gallery(files)
    assert gallery.kind == "character" and gallery.spaces == ("autoencoder", "pca", "pixels")


def test_gallery_errors_are_clear():
    with pytest.raises(engine.GalleryError, match="could be read"):
        engine.load_gallery([("x.png", b"hello"), ("y.zip", b"PK\x03\x04broken")])
    with pytest.raises(engine.GalleryError):
        engine.Gallery([], [], "photo")


@pytest.mark.slow
def test_projections():
    gallery = engine.builtin_gallery("digits", count=60)
    assert engine.project(gallery, "autoencoder", "pca").shape == (60, 2)
    assert engine.project(gallery, "pixels", "tsne").shape == (60, 2)
    with pytest.raises(ValueError):
        engine.project(gallery, method="umap")


@pytest.mark.slow
def test_tsne_reports_its_stages_can_stop_and_keeps_neighbours_as_one_run_does():
    from sklearn.manifold import TSNE, trustworthiness

    codes = engine.builtin_gallery("digits", count=300).codes("autoencoder")
    updates = []
    points = engine.tasks.search.serve._project(codes, "tsne", 0, progress=updates.append)
    assert points.shape == (300, 2) and [u.step for u in updates] == list(range(1, engine.TSNE_STAGES + 1))
    assert all(b.seconds >= a.seconds for a, b in zip(updates, updates[1:], strict=False))
    whole = TSNE(perplexity=30.0, init="pca", random_state=0, metric="cosine").fit_transform(codes)
    staged, one_run = (trustworthiness(codes, p, n_neighbors=10, metric="cosine") for p in (points, whole))
    assert staged > one_run - 0.02
    stopped = []
    assert engine.tasks.search.serve._project(codes, "tsne", 0, progress=stopped.append,
                                              should_stop=lambda: True) is None and len(stopped) == 1


@pytest.mark.slow
@pytest.mark.parametrize("clothes", [False, True], ids=["without Fashion-MNIST", "with it"])
def test_eval_search_at_a_small_scale(request, clothes):
    request.getfixturevalue("fake_fashion" if clothes else "no_fashion")
    result = search_evaluate.eval_search(count=60, latency_sizes=(500, 2000))
    precision, latency = result["tables"]
    spaces = {row[1] for row in precision["rows"]}
    assert spaces == set(engine.SPACE_NAMES.values())
    assert all(0 <= row[4] <= 1 and 0 <= row[6] <= 1 for row in precision["rows"])
    assert [row[0] for row in latency["rows"]] == ["500", "2,000"]
    fashion_rows = [row for row in precision["rows"] if row[0].startswith("Fashion-MNIST's official test set (200)")]
    assert len(fashion_rows) == (6 if clothes else 0)          # 3 code spaces, 2 distances
    assert ("apt-get install dataset-fashion-mnist" in precision["title"]) != clothes


@pytest.mark.slow
def test_tiny_search_build(tmp_path, fake_fashion):
    entries = builds.build("search", recipes.BuildOptions(out_dir=tmp_path, scale=0.005), "cmd")
    assert set(entries) == {"search_char", "search_pca", "search_fashion", "search_fashion_pca", "embed_photo"}
    clothes = runtime.run(str(tmp_path / "search_fashion.onnx"), np.zeros((3, 1, 28, 28), np.float32))
    assert clothes.shape == (3, 64)
    assert "200 training pictures" in entries["search_fashion"]["training_data"]   # the stand-in files' first 200
    codes = runtime.run(str(tmp_path / "search_char.onnx"), np.zeros((3, 1, 28, 28), np.float32))
    assert codes.shape == (3, 64)
    assert runtime.run(str(tmp_path / "search_pca.onnx"), np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 64)
    photo = runtime.run(str(tmp_path / "embed_photo.onnx"), np.zeros((2, 3, 36, 52), np.float32))
    assert photo.shape == (2, 192)


def test_blank_character_is_skipped_not_fatal():
    seven = np.full((40, 40), 255, np.uint8)
    seven[6:10, 8:30] = 0
    seven[6:34, 16:20] = 0
    gallery = engine.load_gallery([("seven.png", png(seven)), ("blank.png", png(np.full((40, 40), 255, np.uint8)))])
    assert gallery.kind == "character" and gallery.names == ["seven.png"]
    assert gallery.skipped[0][0] == "blank.png" and "blank" in gallery.skipped[0][1]


def test_photos_are_shrunk_as_they_load(monkeypatch):
    monkeypatch.setattr("engine.tasks.search.serve.MAX_PHOTO_GALLERY", 2)
    big = png(np.random.default_rng(0).integers(0, 255, (900, 1200, 3), dtype=np.uint8))
    gallery = engine.load_gallery([("big.png", big)])
    assert gallery.images[0].shape[0] * gallery.images[0].shape[1] <= 160 * 160
    with pytest.raises(engine.GalleryError, match="at most 2"):
        engine.load_gallery([(f"{i}.png", big) for i in range(3)])
