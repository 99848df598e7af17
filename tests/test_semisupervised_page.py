"""The Semi-supervised learning page, driven by Streamlit's AppTest: the real engine, the shipped
encoder and PCA graph, and the figures recorded in the manifest."""
import importlib.util
import json
from pathlib import Path

import pytest
from page_helpers import drawn, without_torch
from streamlit.testing.v1 import AppTest

import engine

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
PAGE = "app_pages/semisupervised.py"
needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="training needs PyTorch")


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300).run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


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
    assert captions(at)[-1] == " · ".join(f"{n} {int(guesses[m][0])}" for m, n in (("encoder", "Encoder"), ("pca", "PCA")))


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
