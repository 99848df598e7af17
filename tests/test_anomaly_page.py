"""The anomaly detection page, driven by Streamlit's AppTest: the real engine and pretrained models."""

import json
from pathlib import Path

import numpy as np
import pytest
from page_helpers import FakeCanvas, anomaly_table as table, drawn, png_bytes
from PIL import Image
from streamlit.testing.v1 import AppTest

import engine
from app_pages.logic import anomaly as logic

pytestmark = pytest.mark.slow   # every test drives the app under AppTest

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
ANOMALY = "app_pages/anomaly.py"
MODELS = {"Autoencoder": "anomaly_char", "PCA": "anomaly_pca"}


EVALUATION = "How well each model tells digits from letters"


def open_anomaly() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page(ANOMALY).run()
    assert not at.exception, [e.stack_trace for e in at.exception]
    return at


def open_evaluation(at: AppTest) -> AppTest:
    """The evaluation's tab (only the open tab runs: the page opens on the characters)."""
    at.session_state["anomaly_tab"] = EVALUATION
    at.run()
    assert not at.exception, [e.stack_trace for e in at.exception]
    return at


SEVEN = [[(20, 12), (55, 12), (32, 60)]]
ONE = [[(40, 10), (40, 60)]]
LETTER_T = [[(15, 12), (65, 12)], [(40, 12), (40, 62)]]


def upload(at: AppTest, files: list[tuple[str, bytes]], keep_examples: bool = False) -> AppTest:
    if not keep_examples:
        at.multiselect(key="examples").set_value([])
    at.file_uploader(key="uploads").set_value([(name, data, "image/png") for name, data in files]).run()
    assert not at.exception
    return at


def thresholds(at: AppTest) -> dict[str, float]:
    """The thresholds the page shows, by model label."""
    shown = {metric.label: float(metric.value) for metric in at.metric if metric.label.endswith(" threshold")}
    return {label: shown[f"{label} threshold"] for label in MODELS}


def assert_verdicts_follow_scores(at: AppTest, scoring: str, false_positive_rate: float) -> None:
    """Every verdict in the table is 'not a digit' exactly when the score passes the threshold of
    the engine's detector at these settings, and the page shows that threshold."""
    rows = table(at)
    shown = thresholds(at)
    for label, model in MODELS.items():
        shipped = engine.AnomalyDetector.shipped(model, scoring=scoring)
        detector = shipped.with_false_positive_rate(false_positive_rate)
        assert shown[label] == pytest.approx(detector.threshold, rel=1e-3)
        flagged = rows[f"{label} score"].to_numpy() > detector.threshold
        assert list(rows[f"{label} verdict"]) == ["not a digit" if f else "digit" for f in flagged]


def test_builtin_examples_render():
    at = open_anomaly()
    assert not at.error
    chosen = at.multiselect(key="examples").value
    assert any("'A'" in name for name in chosen) and any("digit)" in name for name in chosen)
    rows = table(at)
    assert list(rows["Name"]) == chosen
    assert all(uri.startswith("data:image/png;base64,") for uri in rows["Character"])
    assert len(at.image) == 5 * len(chosen)  # input, and reconstruction and error for each model
    assert any("not a digit" in md.value or ":green-badge" in md.value for md in at.markdown)
    assert at.latex
    assert_verdicts_follow_scores(at, "tolerant", 0.05)


def test_many_characters_detail_the_first_few_and_list_all():
    at = open_anomaly()
    everything = list(engine.anomaly_examples())
    assert len(everything) > 6
    at.multiselect(key="examples").set_value(everything).run()
    assert not at.exception
    assert at.session_state["anomaly_table"] and len(at.dataframe) == 1   # more than the details show: open
    assert list(table(at)["Name"]) == everything
    assert len(at.image) == 5 * 6
    assert_verdicts_follow_scores(at, "tolerant", 0.05)


def test_evaluation_charts_for_both_models_in_their_own_tab():
    at = open_anomaly()
    assert not at.get("vega_lite_chart") and at.image   # opened on the characters
    assert not at.dataframe and not at.session_state["anomaly_table"]   # their table folded, so not drawn
    assert len(table(at)) == 4 and len(at.dataframe) == 1             # opening it draws it
    open_evaluation(at)
    assert len(at.get("vega_lite_chart")) == 3  # a histogram a model and one ROC chart of both
    assert len([metric for metric in at.metric if metric.label == "AUROC"]) == 2
    tables = [t.value for t in at.table]   # a confusion table per model: every held-out character counted once
    assert len(tables) == 2 and all(list(t.index) == ["Digits", "Letters"] for t in tables)
    assert all(t.sum(axis=1).tolist() == [300, 300] for t in tables), tables
    assert len(at.dataframe) == 0
    assert not at.image   # the characters' tab does not run


def test_evaluation_shows_even_with_nothing_chosen():
    at = open_anomaly()
    at.multiselect(key="examples").set_value([]).run()
    assert not at.exception
    assert at.info
    assert not at.image
    assert len(open_evaluation(at).get("vega_lite_chart")) == 3


def test_evaluation_shows_the_model_that_scored_when_the_other_fails(monkeypatch):
    import streamlit as st

    real = engine.anomaly_evaluation_scores

    def scores(model, scoring="tolerant"):
        if model == "anomaly_pca":
            raise engine.ModelError("anomaly_pca.onnx does not match its checksum")
        return real(model, scoring)

    st.cache_resource.clear()   # the page's cache of the evaluation scores
    monkeypatch.setattr(engine, "anomaly_evaluation_scores", scores)
    at = open_evaluation(open_anomaly())
    assert not at.exception
    assert [e.value for e in at.error] == ["anomaly_pca.onnx does not match its checksum"]
    charts = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    assert len(charts) == 2 and charts[0]["title"].startswith("Autoencoder")   # its histogram and the ROC chart
    assert "PCA" not in charts[1]["title"] and charts[1]["title"].startswith("ROC: Autoencoder AUROC")
    assert len(at.table) == 1 and [m.label for m in at.metric].count("AUROC") == 1


def test_uploaded_character():
    at = upload(open_anomaly(), [("seven.png", drawn(SEVEN))])
    assert not at.error
    assert list(table(at)["Name"]) == ["seven.png"]
    assert len(at.image) == 2 + 5      # the upload framed and what the model sees; the row's five
    assert_verdicts_follow_scores(at, "tolerant", 0.05)


def test_several_uploads_give_one_row_each():
    files = [("seven.png", drawn(SEVEN)), ("one.png", drawn(ONE)), ("tee.png", drawn(LETTER_T))]
    at = upload(open_anomaly(), files)
    assert not at.error
    assert list(table(at)["Name"]) == [name for name, _ in files]


def test_uploads_come_before_the_chosen_examples():
    at = open_anomaly()
    chosen = at.multiselect(key="examples").value
    at = upload(at, [("seven.png", drawn(SEVEN))], keep_examples=True)
    assert list(table(at)["Name"]) == ["seven.png", *chosen]


def test_a_bad_upload_is_reported_and_the_others_still_scored():
    files = [
        ("seven.png", drawn(SEVEN)),
        ("notes.png", b"this is a text file, not a picture\n" * 10),
        ("blank.png", png_bytes(Image.new("L", (64, 64), 255))),
        ("tee.png", drawn(LETTER_T)),
    ]
    at = upload(open_anomaly(), files)
    errors = [error.value for error in at.error]
    assert len(errors) == 2
    assert any("notes.png" in error for error in errors)
    assert any("blank.png" in error for error in errors)
    assert list(table(at)["Name"]) == ["seven.png", "tee.png"]


def test_false_positive_rate_moves_the_threshold():
    at = open_anomaly()
    seen = []
    for percent in (1.0, 5.0, 20.0):
        at.slider(key="false_positive_rate").set_value(percent).run()
        assert not at.exception
        assert_verdicts_follow_scores(at, "tolerant", percent / 100)
        seen.append(thresholds(at))
    for label in MODELS:  # allowing more false alarms lowers the bar
        assert seen[0][label] > seen[1][label] > seen[2][label]


def test_switching_the_scoring():
    at = open_anomaly()
    tolerant = thresholds(at)
    at.radio(key="scoring").set_value("mse").run()
    assert not at.exception
    assert not at.error
    assert thresholds(at) != tolerant
    assert_verdicts_follow_scores(at, "mse", 0.05)
    assert len(open_evaluation(at).get("vega_lite_chart")) == 3


def test_the_autoencoder_beats_chance_on_letters():
    """The one quality check: on held-out fonts the shipped autoencoder ranks letters above digits."""
    at = open_evaluation(open_anomaly())
    autoencoder_auroc = next(float(metric.value) for metric in at.metric if metric.label == "AUROC")
    assert autoencoder_auroc > 0.5


# --- The page's plain logic ------------------------------------------------------------------
def test_the_heat_map_colours_each_pixel_on_one_fixed_scale():
    errors = np.array([[0.0, 1.0], [0.25, 4.0]], dtype=np.float32)  # above 1 is clipped
    heat = logic.heat_map(errors)
    assert heat.dtype == np.uint8 and heat.shape == (12, 12, 3)  # enlarged six times, RGB
    anchors = logic.HEAT_ANCHORS.astype(np.uint8)
    assert (heat[:6, :6] == anchors[0]).all() and (heat[:6, 6:] == anchors[-1]).all()
    assert (heat[6:, 6:] == anchors[-1]).all()
    halfway = [np.interp(1.5, range(4), logic.HEAT_ANCHORS[:, c]) for c in range(3)]  # the root of 0.25
    assert (heat[6:, :6] == np.array(halfway).astype(np.uint8)).all()


def test_verdicts_and_tables():
    assert logic.verdict(0.5, 0.4).startswith(":red-badge[:material/close: not a digit] score 0.5 > threshold 0.4")
    assert logic.verdict(0.4, 0.4).startswith(":green-badge[:material/check: digit]")
    chars = np.zeros((2, 28, 28), dtype=np.float32)
    results = {model: engine.AnomalyResult(chars=chars, scores=np.array([0.1, 0.9]), is_anomaly=np.array([False, True]),
                                           reconstructions=chars, errors=chars) for model in logic.MODELS}
    table = logic.verdict_table(["a", "b"], chars, results)
    assert list(table) == ["Character", "Name", "Autoencoder score", "Autoencoder verdict", "PCA score", "PCA verdict"]
    assert all(uri.startswith("data:image/png;base64,") for uri in table["Character"])
    assert list(table["PCA verdict"]) == ["digit", "not a digit"]
    counts = {"digits passed": 90, "digits flagged": 10, "letters passed": 20, "letters flagged": 80}
    assert logic.confusion_table(counts) == {"": ["Digits", "Letters"], "Passed as a digit": [90, 20],
                                             "Flagged: not a digit": [10, 80]}
    assert logic.preselected(["'8' x", "'A' y", "'3' z", "'B'"], ("'3'", "'A'", "'8'")) == ["'3' z", "'A' y", "'8' x"]


def test_the_evaluation_charts():
    scores = {"digits": np.array([0.1, 0.2, 0.3]), "letters": np.array([0.5, 0.6, 0.29]),
              "digit-like letters": np.array([0.2, 0.3])}
    other = {group: values * 2 for group, values in scores.items()}
    both, thresholds = {"Autoencoder": scores, "PCA": other}, {"Autoencoder": 0.28, "PCA": 0.35}
    rows = logic.histogram_rows(both)
    assert len(rows) == 2 * 3 * logic.HISTOGRAM_BINS                  # every group binned in each model's panel
    shares = rows.groupby(["model", "group"])["percent"].sum()
    assert np.allclose(shares, 100)                                  # each group's bins hold all of it
    panel = rows[rows.model == "PCA"]
    assert panel.low.min() == 0 and panel.high.max() == pytest.approx(1.2 * 1.001)   # one binning a panel
    letters = rows[(rows.model == "Autoencoder") & (rows.group == "letters")]
    assert letters[letters.percent > 0].low.tolist() == pytest.approx([0.29 - 0.29 % (0.6 * 1.001 / 50),
                                                                        0.5 - 0.5 % (0.6 * 1.001 / 50),
                                                                        0.6 - 0.6 % (0.6 * 1.001 / 50)])
    histograms = {label: chart.to_dict() for label, chart in logic.histogram_charts(both, thresholds).items()}
    assert list(histograms) == ["Autoencoder", "PCA"]                 # a chart a model
    for label, chart in histograms.items():
        (shown,) = chart["params"]   # a click on the legend: digit-like letters start faint
        assert shown["bind"] == "legend" and shown["value"] == [{"group": "digits"}, {"group": "letters"}]
        bars, rule = (chart["datasets"][layer["data"]["name"]] for layer in chart["layer"])
        assert {row["model"] for row in bars} == {label} and len(bars) == 3 * logic.HISTOGRAM_BINS
        assert [row["threshold"] for row in rule] == [thresholds[label]]   # its own threshold, dashed
    lines, points, aurocs = logic.roc_rows(both, thresholds)
    assert aurocs["Autoencoder"][0] == engine.roc(scores["digits"], scores["letters"]).auroc
    assert aurocs["PCA"] == pytest.approx(aurocs["Autoencoder"]) and all(0 <= a <= 1 for a, _ in aurocs.values())
    assert set(zip(lines.model, lines.curve, strict=True)) == {(m, c) for m in both for c in ("letters", "digit-like letters")}
    assert points.model.tolist() == ["Autoencoder", "PCA"]
    assert points[["digits flagged", "letters flagged"]].values.tolist() == [[1 / 3, 1.0],   # a third of the digits
                                                                             [2 / 3, 1.0]]   # 0.2, 0.4, 0.6 vs 0.35
    roc, same = logic.roc_chart(both, thresholds)
    assert same == aurocs and roc.to_dict()["title"].startswith("ROC: Autoencoder AUROC")


def test_a_drawn_character_is_scored_and_shown_as_the_model_sees_it(monkeypatch):
    from app_pages.parts import char_sources

    fake = FakeCanvas(SEVEN)
    monkeypatch.setattr(char_sources, "canvas", fake)
    at = open_anomaly()
    at.multiselect(key="examples").set_value([])
    at.button_group(key="anomaly_source").set_value(["draw"]).run()
    assert not at.exception, [e.stack_trace for e in at.exception]
    assert not at.error
    assert list(table(at)["Name"]) == ["drawing"]
    assert fake.calls[-1]["stroke_width"] == at.slider(key="anomaly_pen").value
    at.slider(key="anomaly_pen").set_value(30).run()
    assert fake.calls[-1]["stroke_width"] == 30
    assert any("what the model sees" in str(getattr(im, "caption", "")) for im in at.image) or len(at.image) >= 2


def test_an_empty_canvas_asks_for_a_drawing(monkeypatch):
    from types import SimpleNamespace

    from app_pages.parts import char_sources

    monkeypatch.setattr(char_sources, "canvas", lambda **kw: SimpleNamespace(json_data={"objects": []},
                                                                             image_data=None))
    at = open_anomaly()
    at.multiselect(key="examples").set_value([])
    at.button_group(key="anomaly_source").set_value(["draw"]).run()
    assert not at.exception and not at.error
    assert any("Draw a character" in c.value for c in at.caption)


def capture_jpeg(chars: str, seed: int) -> bytes:
    import io

    from engine.core import capture_corpus

    capture = capture_corpus.render_capture(chars, np.random.default_rng(seed),
                                            force={"light_on_dark": False, "thin_pen": False})
    buffer = io.BytesIO()
    Image.fromarray(np.round(capture.image * 255).astype(np.uint8)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def test_a_camera_photo_of_three_characters_gives_three_rows():
    at = open_anomaly()
    at.multiselect(key="examples").set_value([])
    at.button_group(key="anomaly_source").set_value(["camera"]).run()
    at.camera_input(key="anomaly_camera").set_value(("shot.jpg", capture_jpeg("47A", 5), "image/jpeg")).run()
    assert not at.exception and not at.error
    assert list(table(at)["Name"]) == ["camera (1)", "camera (2)", "camera (3)"]
    verdicts = list(table(at)["Autoencoder verdict"])
    assert verdicts[2] == "not a digit"     # the A


def test_a_phone_photo_upload_and_a_blank_page():
    at = upload(open_anomaly(), [("four.jpg", capture_jpeg("4", 2)), ("blank.jpg", capture_jpeg("", 3))])
    errors = [error.value for error in at.error]
    assert len(errors) == 1 and "blank.jpg" in errors[0] and "blank" in errors[0]
    assert list(table(at)["Name"]) == ["four.jpg"]


def test_the_flagged_note_compares_the_share_flagged_with_the_share_allowed():
    from app_pages.logic import anomaly as logic

    assert "8.0% of these 300 digits are flagged, more than the 5.0% the slider allows" in logic.flagged_note(
        0.08, 0.05, 300)
    assert "fewer than the 5.0%" in logic.flagged_note(0.02, 0.05, 300)
    assert "as the slider allows" in logic.flagged_note(0.051, 0.05, 300)
