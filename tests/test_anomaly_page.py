"""The anomaly detection page, driven by Streamlit's AppTest: the real engine and pretrained models."""

from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from page_helpers import drawn, png_bytes
from streamlit.testing.v1 import AppTest

import engine

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
ANOMALY = "app_pages/anomaly.py"
MODELS = {"Autoencoder": "anomaly_char", "PCA": "anomaly_pca"}


def open_anomaly() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page(ANOMALY).run()
    assert not at.exception
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


def table(at: AppTest) -> pd.DataFrame:
    return at.dataframe[0].value


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
    assert list(table(at)["Name"]) == everything
    assert len(at.image) == 5 * 6
    assert_verdicts_follow_scores(at, "tolerant", 0.05)


def test_evaluation_charts_for_both_models():
    at = open_anomaly()
    assert len(at.get("plotly_chart")) == 4  # a histogram and an ROC curve per model
    assert len([metric for metric in at.metric if metric.label == "AUROC"]) == 2
    assert len(at.dataframe) == 3  # the characters' table and a confusion table per model


def test_evaluation_shows_even_with_nothing_chosen():
    at = open_anomaly()
    at.multiselect(key="examples").set_value([]).run()
    assert not at.exception
    assert at.info
    assert not at.image
    assert len(at.get("plotly_chart")) == 4


def test_uploaded_character():
    at = upload(open_anomaly(), [("seven.png", drawn(SEVEN))])
    assert not at.error
    assert list(table(at)["Name"]) == ["seven.png"]
    assert len(at.image) == 5
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
    assert len(at.get("plotly_chart")) == 4
    assert_verdicts_follow_scores(at, "mse", 0.05)


def test_the_autoencoder_beats_chance_on_letters():
    """The one quality check: on held-out fonts the shipped autoencoder ranks letters above digits."""
    at = open_anomaly()
    autoencoder_auroc = next(float(metric.value) for metric in at.metric if metric.label == "AUROC")
    assert autoencoder_auroc > 0.5
