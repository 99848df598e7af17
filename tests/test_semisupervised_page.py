"""The Semi-supervised learning page, driven by Streamlit's AppTest: the real engine, the shipped
encoder and PCA graph, and the figures recorded in the manifest."""
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from page_helpers import drawn, without_torch
from streamlit.testing.v1 import AppTest

import engine
from app_pages.logic import semisupervised as logic

pytestmark = pytest.mark.slow   # every test drives the app under AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
PAGE = "app_pages/semisupervised.py"
needs_torch = pytest.mark.skipif(not engine.training.available(), reason="training needs PyTorch")


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300).run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    """The accuracy metrics by their methods' full names (their labels are short)."""
    full = {logic.METRIC_LABELS[m]: name for m, name in engine.SEMISUPERVISED_METHODS.items()}
    return {full[m.label]: m.value for m in at.metric}


def captions(at: AppTest) -> list[str]:
    return [c for image in at.image for c in image.captions]


def chart_traces(at: AppTest) -> dict[str, dict]:
    chart = next(c for c in at.get("plotly_chart") if c.proto.id and "semi_curve" in c.proto.id)
    return {trace["name"]: trace for trace in json.loads(chart.proto.spec)["data"]}


def expected_probe(per_class: int) -> dict[str, float]:
    curve = engine.training.accuracy_curve(engine.semisupervised_data(), per_class=(per_class,))
    return {p.method: p.mean for p in curve}


def test_the_page_shows_the_curve_the_metrics_and_the_guesses():
    at = open_page()
    assert not at.error
    shown = metrics(at)
    names = engine.SEMISUPERVISED_METHODS
    expected = expected_probe(10)
    assert shown[names["encoder"]] == f"{100 * expected['encoder']:.1f}%"
    assert shown[names["pca"]] == f"{100 * expected['pca']:.1f}%"
    recorded = {(p.method, p.per_class): p.mean for p in engine.recorded_curve()}
    assert shown[names["scratch"]] == f"{100 * recorded[('scratch', 10)]:.1f}%"  # from the manifest
    helps = {m.label: m.help for m in at.metric}   # short labels, the full name in the help
    assert all(helps[logic.METRIC_LABELS[method]].startswith(name) for method, name in names.items())
    traces = chart_traces(at)
    assert len(traces) == 4 and all(t["x"] == list(engine.LABELS_PER_DIGIT) for t in traces.values())
    scratch = next(t for name, t in traces.items() if name.startswith(names["scratch"]))
    assert scratch["line"]["dash"] == "dash"  # recorded, not trained here
    guesses = captions(at)
    assert len(guesses) == 12 and all(g.startswith("digit ") and "Encoder" in g and "PCA" in g for g in guesses)


def test_changing_the_labels_per_digit_changes_the_result():
    at = open_page()
    before_metrics, before_captions = metrics(at), captions(at)
    at.radio(key="labels_per_digit").set_value(100).run()
    assert not at.exception and not at.error
    expected = expected_probe(100)
    after = metrics(at)
    assert after != before_metrics
    assert after[engine.SEMISUPERVISED_METHODS["encoder"]] == f"{100 * expected['encoder']:.1f}%"
    assert captions(at) != before_captions  # the heads of 100 labels guess differently somewhere
    assert any("100 labels per digit" in c.value for c in at.caption)


def test_other_digits_shows_another_set():
    at = open_page()
    before = captions(at)
    at.button(key="other_digits").click().run()
    assert not at.exception and captions(at) != before


def test_an_uploaded_digit_gets_a_guess_from_each_classifier():
    at = open_page()
    seven = drawn([[(15, 10), (75, 10), (40, 62)]])
    at.file_uploader(key="semi_upload").upload("seven.png", seven, "image/png").run()
    assert not at.exception and not at.error
    character = engine.prepare_character(engine.decode_image(seven))
    run = engine.training.run_labels(engine.semisupervised_data(), 10, 0)
    guesses = engine.predict_digits(character[None], run, engine.semisupervised_data())
    named = (("encoder", "Encoder"), ("pca", "PCA"))
    expected = " · ".join(f"{n} {int(guesses[m][0])}" for m, n in named)
    assert any(m.value.endswith(expected) for m in at.markdown)
    assert captions(at)[-2:] == ["seven.png", "what the model sees"]   # the upload beside the model's input


def test_a_bad_upload_shows_an_error_and_the_page_goes_on():
    at = open_page()
    at.file_uploader(key="semi_upload").upload("digit.png", b"this is not a picture", "image/png").run()
    assert not at.exception
    assert len(at.error) == 1 and "digit.png" in at.error[0].value
    assert len(captions(at)) == 12 and at.metric


@needs_torch
def test_the_two_networks_train_in_the_page():
    at = open_page()
    at.button(key="train_networks").click().run()
    assert not at.exception and not at.error
    runs = at.session_state["semi_networks"]
    assert set(runs) == {10}
    truth = engine.semisupervised_data().heldout.labels
    names = engine.SEMISUPERVISED_METHODS
    shown = metrics(at)
    for method in ("finetuned", "scratch"):
        assert shown[names[method]] == f"{100 * runs[10].accuracy(method, truth):.1f}%"
    assert runs[10].accuracy("encoder", truth) - runs[10].accuracy("scratch", truth) >= 0.10
    traces = chart_traces(at)
    here = next(t for name, t in traces.items() if name.startswith(names["scratch"]))
    assert here["line"]["dash"] == "solid" and here["x"] == [10]
    assert all("Fine-tuned" in c and "Scratch" in c for c in captions(at)[:12])
    assert at.button(key="train_networks").disabled


def test_without_torch_the_networks_come_from_the_manifest(monkeypatch):
    without_torch(monkeypatch)
    at = open_page()
    assert not at.error
    assert any("requirements-train.txt" in info.value for info in at.info)
    assert "train_networks" not in [b.key for b in at.button]
    recorded = {(p.method, p.per_class): p.mean for p in engine.recorded_curve()}
    assert metrics(at)[engine.SEMISUPERVISED_METHODS["finetuned"]] == f"{100 * recorded[('finetuned', 10)]:.1f}%"
    assert len(captions(at)) == 12 and not any("Scratch" in c for c in captions(at))


# --- The page's plain logic ------------------------------------------------------------------
def point(method: str, per_class: int, *accuracies: float) -> engine.CurvePoint:
    return engine.CurvePoint(method, per_class, list(accuracies))


def test_each_curve_comes_from_where_it_was_trained():
    live = [point("encoder", 10, 0.8, 0.9), point("pca", 10, 0.6), point("encoder", 50, 0.95)]
    recorded = [point(m, k, 0.5) for m in ("finetuned", "scratch") for k in (10, 50)]
    truth = np.array([1, 2, 3, 4])
    here = {10: SimpleNamespace(accuracy=lambda method, labels: 0.25 if method == "scratch" else 0.75)}

    points = logic.curve_points(live, recorded, {}, truth)
    assert [p.per_class for p in points["encoder"]["points"]] == [10, 50]
    assert points["scratch"]["source"].startswith("recorded by") and len(points["scratch"]["points"]) == 2
    dashes = {t.name.rsplit(" (", 1)[0]: t.line.dash for t in logic.curve_figure(points, 10).data}
    assert dashes[engine.SEMISUPERVISED_METHODS["encoder"]] == "solid"  # trained here
    assert dashes[engine.SEMISUPERVISED_METHODS["scratch"]] == "dash"  # recorded
    points = logic.curve_points(live, recorded, here, truth)
    assert points["scratch"] == {"points": [point("scratch", 10, 0.25)], "source": "trained here, first label draw"}
    assert set(logic.curve_points(live, None, {}, truth)) == {"encoder", "pca"}  # nothing recorded, nothing trained

    chosen = logic.chosen_points(points, 50)
    assert chosen["encoder"].mean == 0.95 and chosen["pca"] is None and chosen["finetuned"] is None
    rows = logic.summary_rows(points)
    assert rows[0] == {"Method": engine.SEMISUPERVISED_METHODS["encoder"], "Labels per digit": 10,
                       "Accuracy (%)": 85.0, "± (std, %)": 5.0, "Label draws": 2, "Source": "trained here"}
    dashes = {t.name.rsplit(" (", 1)[0]: t.line.dash for t in logic.curve_figure(points, 10).data}
    assert dashes[engine.SEMISUPERVISED_METHODS["scratch"]] == "solid"  # trained here now


def test_example_digits_are_half_fonts_half_handwriting():
    handwritten = np.arange(40) % 4 == 0
    first = logic.example_indices(12, 0, handwritten)
    assert len(set(first)) == 12 and handwritten[first].tolist() == [False] * 6 + [True] * 6
    assert list(logic.example_indices(12, 0, handwritten)) == list(first)  # a set number draws the same set
    assert list(logic.example_indices(12, 1, handwritten)) != list(first)


def test_captions_mark_right_and_wrong_guesses():
    assert logic.caption(3, {"encoder": 3, "pca": 8}) == "digit 3: Encoder 3 ✓ · PCA 8 ✗"
    assert logic.caption(None, {"encoder": 3, "scratch": 5}) == "Encoder 3 · Scratch 5"
