"""Results every visitor shares are computed at build time (engine.core.precomputed): the shipped
files are current and match what the build computes, at a small scale; a missing, damaged or
stale file is computed again with a note, never an error."""
import json
import lzma
import pickle

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import engine
from engine import builds
from engine.core import datasets, precomputed, runtime

calls: list[int] = []


@pytest.fixture
def squares(tmp_path, monkeypatch):
    """A store of test squares (2 and 3 are precomputed) in a fresh models folder."""
    folder = tmp_path / "pretrained"
    folder.mkdir()
    (folder / runtime.MANIFEST_NAME).write_text(json.dumps({"models": {"m": {"file": "m.onnx", "sha256": "ab"}}}))
    monkeypatch.setattr(runtime, "PRETRAINED_DIR", folder)

    @precomputed.stored("test_squares", variants=lambda: [(2,), (3,)], models=("m",))
    def square(x: int, power: int = 2) -> np.ndarray:
        calls.append(x)
        return np.full(3, x ** power)

    monkeypatch.setattr(precomputed, "register_all", lambda: {"test_squares": square.store})
    precomputed.forget()
    calls.clear()
    yield square, folder
    precomputed.STORES.pop("test_squares", None)
    precomputed.forget()


def written(folder):
    manifest = json.loads((folder / runtime.MANIFEST_NAME).read_text())
    return manifest, manifest[precomputed.SECTION]["test_squares"]


def test_a_store_is_written_with_its_checksum_and_read_back_without_computing(squares):
    square, folder = squares
    only = {"test_squares": square.store}
    assert precomputed.stale(folder, only) == {"test_squares": "is not in the manifest"}
    entries = builds.write_precomputed(folder)           # the stale ones: this one
    assert list(entries) == ["test_squares"] and sorted(calls) == [2, 3]
    manifest, entry = written(folder)
    assert manifest["models"] == {"m": {"file": "m.onnx", "sha256": "ab"}}    # the models are kept
    data = (folder / entry["file"]).read_bytes()
    assert entry["sha256"] == runtime.sha256_of(data) and entry["command"] == precomputed.COMMAND
    assert pickle.loads(lzma.decompress(data))[(3, 2)].tolist() == [9, 9, 9]
    assert precomputed.stale(folder, only) == {}

    calls.clear()
    assert square(3).tolist() == [9, 9, 9] and square(2, power=2).tolist() == [4, 4, 4]
    assert calls == [] and engine.not_precomputed() == {}
    assert square(5).tolist() == [25, 25, 25] and calls == [5]     # not a variant: computed


def test_a_call_outside_the_variants_never_computes_the_store(squares):
    square, folder = squares                      # no file: the variants would be computed if asked
    assert square(4, power=3).tolist() == [64, 64, 64] and calls == [4]
    assert engine.not_precomputed() == {}


def test_writing_the_models_keeps_the_precomputed_section(squares):
    _, folder = squares
    builds.write_precomputed(folder)
    builds.update_manifest(folder, {"n": {"file": "n.onnx", "sha256": "cd"}})
    manifest, entry = written(folder)
    assert set(manifest["models"]) == {"m", "n"} and entry["file"] == "precomputed/test_squares.pkl.xz"


@pytest.mark.parametrize("fault, why", [
    ("missing", "is missing"),
    ("damaged", "does not match its checksum"),
    ("new model", "was made for other models"),
])
def test_a_file_that_cannot_be_used_is_computed_again_with_a_note(squares, fault, why):
    square, folder = squares
    builds.write_precomputed(folder)
    manifest, entry = written(folder)
    path = folder / entry["file"]
    if fault == "missing":
        path.unlink()
    elif fault == "damaged":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    else:            # the model it was computed with was rebuilt
        manifest["models"]["m"]["sha256"] = "ef"
        (folder / runtime.MANIFEST_NAME).write_text(json.dumps(manifest))
    assert why in precomputed.stale(folder, {"test_squares": square.store})["test_squares"]
    precomputed.forget()
    calls.clear()
    assert square(3).tolist() == [9, 9, 9]
    assert sorted(calls) == [2, 3]                  # every variant, once
    assert why in engine.not_precomputed()["test_squares"]
    assert square(2).tolist() == [4, 4, 4] and sorted(calls) == [2, 3]


def test_the_app_says_which_results_it_computed(squares, monkeypatch):
    monkeypatch.setattr(precomputed, "_recomputed", {"search_maps": "is missing"})
    at = AppTest.from_file(str(runtime.Path(__file__).resolve().parent.parent / "streamlit_app.py"),
                           default_timeout=60).run()
    assert not at.exception
    notes = [c.value for c in at.sidebar.caption]
    assert any("search_maps" in n and "python -m engine train precomputed" in n for n in notes)


def test_the_fonts_fingerprint_does_not_depend_on_where_the_environment_is(monkeypatch):
    files = datasets._font_files()
    shown = datasets.fonts_fingerprint()
    monkeypatch.setattr(datasets, "_font_files", lambda: list(reversed(files)))   # another venv folder sorts elsewhere
    assert datasets.fonts_fingerprint() == shown and len(shown) == len(files)


# --- The shipped files -----------------------------------------------------------------------
STORES = precomputed.register_all()


def test_every_shipped_file_is_current():
    """Each store's file is in the manifest, matches its checksum and was made for the shipped
    models, this machine's fonts and these library versions: else every server computes it."""
    assert set(STORES) >= {"semisupervised_data", "impute_tables", "search_maps", "anomaly_evaluation_scores"}
    assert precomputed.stale() == {}


def stored(name: str) -> dict:
    data, why = precomputed._check(STORES[name])
    assert why is None, why
    return pickle.loads(lzma.decompress(data))


def same(a, b):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("name", ["denoise_examples", "impute_examples", "sequence_series", "anomaly_examples"])
def test_small_shipped_results_equal_a_fresh_computation(name):
    results = stored(name)
    fresh = precomputed.compute_all(STORES[name])
    assert results.keys() == fresh.keys()
    for key, value in results.items():
        if isinstance(value, dict):
            assert value.keys() == fresh[key].keys()
            for part in value:
                same(value[part], fresh[key][part])
        else:
            same(value.load, fresh[key].load)
            same(value.temperature, fresh[key].temperature)
            assert (value.timestamps == fresh[key].timestamps).all()


def test_shipped_search_results_match_the_build_at_a_small_scale():
    gallery = stored("search_galleries")[("digits", 1000, 2024)]
    rendered, labels = datasets.render_characters(engine.BUILTIN_GALLERIES["digits"][1], 1000,
                                                  fonts=datasets.font_split(held_out=True), seed=2024,
                                                  distortion=datasets.EVAL_DISTORTION)
    assert (np.stack(gallery.images) == precomputed.as_bytes(rendered)).all() and (gallery.labels == labels).all()
    same(gallery.codes("autoencoder")[:50], engine.embed(np.stack(gallery.images[:50]), "autoencoder"))
    assert gallery.builtin == "digits"
    maps = stored("search_maps")
    points = maps[("digits", "autoencoder", "pca")]
    same(np.abs(points), np.abs(engine.tasks.search.serve._project(gallery.codes("autoencoder"), "pca", 0)))
    assert maps[("digits", "pixels", "tsne")].shape == (1000, 2)
    scores = stored("search_scores")[("digits", "cosine")]
    assert scores["pixels"] == engine.precision_at_k(gallery, "pixels", "cosine", (1, 5, 10))


def test_shipped_semisupervised_results_match_the_build_at_a_small_scale():
    from engine.tasks.semisupervised import serve

    data = stored("semisupervised_data")[(serve.POOL_RENDERED, serve.HELDOUT_RENDERED)]
    heldout = serve.heldout_digits()
    assert (data.heldout.images == precomputed.as_bytes(heldout.images)).all()
    assert (data.heldout.labels == heldout.labels).all()
    hand, _ = datasets.handwritten_digits(held_out=False)
    assert (data.pool.images[data.pool.handwritten] == precomputed.as_bytes(hand)).all()
    for space, model in serve.SPACES.items():
        same(data.features[space].heldout[:100], serve.encode(data.heldout.images[:100], model))
    run = stored("semisupervised_runs")[(10,)]
    fresh = serve.run_labels(data, 10, 0)
    assert (run.labelled == fresh.labelled).all()
    for method in run.predictions:
        assert (run.predictions[method] != fresh.predictions[method]).mean() < 0.01


def test_shipped_table_and_anomaly_results_match_the_build_at_a_small_scale():
    tables = stored("impute_tables")
    assert {key[1] for key in tables} == set(engine.tasks.impute.serve.TABLE_FRACTIONS)
    filling = tables[("digits", 0.5, 0, None)]
    assert filling.rmse["pca"] < filling.rmse["mean"]
    fresh = engine.tasks.impute.serve.compare_table_filling.store.compute("digits", 0.5, 0, 20)
    assert (filling.missing[:20] == fresh.missing).all()
    same(filling.fills["autoencoder"][:20], fresh.fills["autoencoder"])
    scores = stored("anomaly_evaluation_scores")[("anomaly_char", engine.ANOMALY_DEFAULT_SCORING)]
    chars = engine.anomaly_evaluation_set()
    same(scores["digits"][:50], engine.anomaly_scores(chars["digits"][:50], "anomaly_char"))


def test_another_draw_of_a_built_in_share_reuses_the_first_draws_settings():
    first = engine.compare_table_filling("digits", 0.5)
    other = engine.compare_table_filling("digits", 0.5, 3)
    assert first.pca_settings_seed is None and other.pca_settings_seed == 0
    assert (other.pca_rank, other.pca_iterations) == (first.pca_rank, first.pca_iterations)
    assert (other.missing != first.missing).any() and other.rmse["pca"] < other.rmse["mean"]
    own = engine.compare_table_filling("digits", 0.45, 3)          # not a built-in share: chosen here
    assert own.pca_settings_seed is None


def test_sets_are_packed_when_pickled_only_when_nothing_is_lost():
    from engine.tasks.semisupervised.serve import DigitSet, Features

    rng = np.random.default_rng(0)
    raw = rng.random((5, 28, 28), dtype=np.float32)
    labels, handwritten = np.arange(5), np.zeros(5, bool)
    for images in (raw, precomputed.as_bytes(raw)):
        digits = DigitSet(images, labels, handwritten)
        kept = pickle.loads(pickle.dumps(digits))
        assert np.array_equal(kept.images, images) and kept.images.dtype == np.float32
        assert (digits.__getstate__()["images"].dtype == np.uint8) == (images is not raw)
    codes = rng.normal(size=(5, 4)).astype(np.float32)
    for pool in (codes, precomputed.as_half(codes)):
        features = Features(pool, pool, pool.mean(axis=0), np.ones(4, np.float32))
        kept = pickle.loads(pickle.dumps(features))
        assert np.array_equal(kept.pool, pool) and kept.pool.dtype == np.float32
        assert (features.__getstate__()["pool"].dtype == np.float16) == (pool is not codes)
