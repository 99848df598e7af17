"""Semi-supervised learning: exact seeded label draws, no held-out digit in pretraining or label
sets, classifiers that train and beat chance, the PCA graph against its formula, and the
acceptance inequality on the shipped encoder (two label draws) and on the recorded figures."""
import numpy as np
import pytest

import engine
from engine.core import datasets, runtime
from engine.nn import recipes as recipes
from engine.tasks.search import build as search_build
from engine.tasks.semisupervised import build as semisupervised_build, serve as semisupervised_serve


@pytest.fixture(scope="module")
def data() -> semisupervised_serve.SemiSupervisedData:
    """The page's and the eval's data (1,000 digits in held-out fonts, 300 handwritten): the
    acceptance holds for this mix."""
    return engine.semisupervised_data()


def fingerprints(images: np.ndarray) -> set[bytes]:
    return {np.round(image, 4).tobytes() for image in images}


# --- Label draws -----------------------------------------------------------------------------
def test_label_draws_take_exactly_k_of_every_class_and_repeat_with_the_seed():
    labels = np.repeat(np.arange(10), np.arange(20, 30))       # uneven classes: 20..29 examples
    for k in (1, 10, 20):
        picks = engine.sample_labels(labels, k, seed=3)
        assert len(picks) == 10 * k and len(set(picks.tolist())) == 10 * k
        assert np.array_equal(np.bincount(labels[picks], minlength=10), np.full(10, k))
        assert np.array_equal(picks, engine.sample_labels(labels, k, seed=3))
    assert not np.array_equal(engine.sample_labels(labels, 10, 3), engine.sample_labels(labels, 10, 4))
    with pytest.raises(ValueError, match="fewer than 21"):
        engine.sample_labels(labels, 21, seed=0)
    with pytest.raises(ValueError):
        engine.sample_labels(labels, 0, seed=0)


@pytest.mark.slow
def test_the_real_pool_gives_every_page_choice(data):
    for k in engine.LABELS_PER_DIGIT:
        picks = engine.sample_labels(data.pool.labels, k, seed=1)
        assert np.array_equal(np.bincount(data.pool.labels[picks], minlength=10), np.full(10, k))


# --- Nothing held out is seen before the test ------------------------------------------------
class _Stop(Exception):
    pass


@pytest.mark.slow
def test_no_heldout_digit_is_in_pretraining_or_the_label_sets(data, monkeypatch, tmp_path):
    """The pool and the labels come from training fonts and the training handwritten digits; the
    held-out digits from held-out fonts (wider distortions) and the held-out handwritten ones; and
    the shipped encoder's own build renders training fonts only."""
    calls = []
    render = datasets.render_characters

    def recording(chars, count, *, fonts, **kwargs):
        calls.append((tuple(fonts), kwargs.get("distortion", datasets.TRAIN_DISTORTION)))
        return render(chars, count, fonts=fonts, **kwargs)

    monkeypatch.setattr(datasets, "render_characters", recording)
    semisupervised_serve.unlabelled_digits.__wrapped__(50, 1)
    semisupervised_serve.heldout_digits.__wrapped__(50, 1)

    def stop(images, *args, **kwargs):  # build_search_char renders, then trains: stop it there
        raise _Stop(images)

    monkeypatch.setattr(search_build, "train_char_model", stop)
    with pytest.raises(_Stop) as stopped:
        search_build.build_search_char(recipes.BuildOptions(out_dir=tmp_path, scale=0.01))
    (pool_fonts, pool_distortion), (heldout_fonts, heldout_distortion), (pretrain_fonts, _) = calls
    training, held_out = set(datasets.font_split(False)), set(datasets.font_split(True))
    assert held_out and not training & held_out
    assert set(pool_fonts) <= training and set(pretrain_fonts) <= training
    assert set(heldout_fonts) <= held_out and heldout_distortion == datasets.EVAL_DISTORTION
    assert pool_distortion == datasets.TRAIN_DISTORTION

    heldout = fingerprints(data.heldout.images)
    assert not heldout & fingerprints(data.pool.images)
    assert not heldout & fingerprints(stopped.value.args[0])          # the pretraining images
    hand_train, _ = datasets.handwritten_digits(held_out=False)
    assert not fingerprints(datasets.handwritten_digits(held_out=True)[0]) & fingerprints(hand_train)
    for seed in range(3):  # label sets are drawn from the pool only
        labelled = engine.sample_labels(data.pool.labels, 100, seed)
        assert not heldout & fingerprints(data.pool.images[labelled])


# --- Classifiers -----------------------------------------------------------------------------
def test_the_linear_heads_train_and_beat_chance(data):
    run = engine.training.run_labels(data, 10, seed=0)
    truth = data.heldout.labels
    assert set(run.predictions) == {"encoder", "pca"}
    assert run.accuracy("encoder", truth) > 0.6 and run.accuracy("pca", truth) > 0.3  # chance: 0.1
    assert np.array_equal(run.predictions["encoder"], engine.training.run_labels(data, 10, seed=0).predictions["encoder"])
    guesses = engine.predict_digits(data.heldout.images[:20], run, data)
    assert np.array_equal(guesses["encoder"], run.predictions["encoder"][:20])


def test_the_network_from_scratch_trains_and_beats_chance(data):
    pytest.importorskip("torch")
    picks = engine.sample_labels(data.pool.labels, 10, seed=0)
    model = semisupervised_build.train_classifier(data.pool.images[picks], data.pool.labels[picks], pretrained=False,
                                  steps=150)
    accuracy = (semisupervised_build.predict_torch(model, data.heldout.images) == data.heldout.labels).mean()
    assert accuracy > 0.3


def test_fine_tuning_starts_from_the_linear_probe(data):
    pytest.importorskip("torch")
    features = data.features["encoder"]
    picks = engine.sample_labels(data.pool.labels, 10, seed=0)
    head = semisupervised_serve.fit_linear_head(features.standardise(features.pool[picks]), data.pool.labels[picks])
    untrained = semisupervised_build.train_classifier(data.pool.images[picks], data.pool.labels[picks], pretrained=True,
                                      features=features, head=head, steps=1, stop=lambda: True)
    probe = head.predict(features.standardise(features.heldout))
    assert (semisupervised_build.predict_torch(untrained, data.heldout.images) == probe).mean() > 0.99


@pytest.mark.slow
def test_with_10_labels_per_digit_the_pretrained_encoder_beats_scratch_by_10_points(data):
    pytest.importorskip("torch")
    truth = data.heldout.labels
    runs = [engine.training.run_labels(data, 10, seed, methods=("encoder", "scratch")) for seed in (0, 1)]
    encoder = np.mean([r.accuracy("encoder", truth) for r in runs])
    scratch = np.mean([r.accuracy("scratch", truth) for r in runs])
    assert encoder - scratch >= 0.10, (encoder, scratch)


def test_the_recorded_curve_meets_the_acceptance_and_covers_every_method():
    curve = engine.recorded_curve()
    assert curve is not None, "run `python -m engine eval semisupervised --record`"
    mean = {(p.method, p.per_class): p.mean for p in curve}
    assert set(mean) == {(m, k) for m in engine.SEMISUPERVISED_METHODS for k in engine.LABELS_PER_DIGIT}
    assert mean[("encoder", 10)] - mean[("scratch", 10)] >= 0.10
    assert all(len(p.accuracies) == semisupervised_serve.DRAWS for p in curve)


# --- The shipped PCA graph -------------------------------------------------------------------
def test_the_pca_graph_is_its_formula(data):
    import onnx
    from onnx import numpy_helper

    path = runtime.PRETRAINED_DIR / runtime.model_info(semisupervised_serve.PCA_ENCODER)["file"]
    graph = onnx.load(path).graph
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    gemm = next(n for n in graph.node if n.op_type == "Gemm")          # centring folded in: x W - mean W
    x = data.heldout.images[:40].reshape(40, -1)
    expected = x @ weights[gemm.input[1]] + weights[gemm.input[2]]
    assert np.abs(semisupervised_serve.encode(data.heldout.images[:40], semisupervised_serve.PCA_ENCODER) - expected).max() < 1e-4
    assert weights[gemm.input[1]].shape[1] == runtime.session(semisupervised_serve.ENCODER).get_outputs()[0].shape[1]
