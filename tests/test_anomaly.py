"""Anomaly scores, the tolerant error, threshold calibration and the shipped detector."""
import numpy as np
import pytest

import engine
from engine.core import runtime
from engine.tasks.anomaly.serve import ANOMALY_SCORINGS, pixel_errors, threshold_for


def stroke(col: int) -> np.ndarray:
    image = np.zeros((1, 28, 28), np.float32)
    image[0, 6:22, col:col + 2] = 1.0
    return image


def test_tolerant_error_makes_a_one_pixel_shift_cheap_but_not_a_missing_stroke():
    target = stroke(12)
    shifted, elsewhere, empty = stroke(13), stroke(20), np.zeros_like(target)
    mse = {name: pixel_errors(target, other, "mse").sum()
           for name, other in (("shift", shifted), ("missing", empty))}
    tolerant = {name: pixel_errors(target, other, "tolerant").sum()
                for name, other in (("shift", shifted), ("missing", empty), ("elsewhere", elsewhere))}
    assert mse["shift"] == mse["missing"] == 32  # plain MSE: a shift costs as much as no stroke
    assert tolerant["shift"] < 0.4 * tolerant["missing"]
    assert tolerant["elsewhere"] == pytest.approx(2 * tolerant["missing"], rel=0.01)
    assert pixel_errors(target, target, "tolerant").sum() == 0
    with pytest.raises(ValueError):
        pixel_errors(target, shifted, "psnr")
    assert set(ANOMALY_SCORINGS) == {"tolerant", "mse"}


def test_threshold_is_the_quantile_of_normal_scores():
    normal = np.arange(1, 101, dtype=np.float64)
    assert threshold_for(normal, 0.05) == pytest.approx(np.quantile(normal, 0.95))
    assert (normal > threshold_for(normal, 0.10)).mean() == pytest.approx(0.10)
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError):
            threshold_for(normal, bad)


def test_roc_and_confusion_on_known_scores():
    normal, anomalous = np.array([0.1, 0.2, 0.3]), np.array([0.25, 0.4, 0.5, 0.6])
    curve = engine.roc(normal, anomalous)
    assert curve.auroc == pytest.approx(11 / 12)
    assert engine.roc(normal, anomalous + 1).auroc == 1.0
    assert engine.confusion(normal, anomalous, 0.35) == {
        "digits passed": 3, "digits flagged": 0, "letters flagged": 3, "letters passed": 1}


def test_the_stored_evaluation_rocs_are_those_of_the_stored_scores():
    scores = engine.anomaly_evaluation_scores("anomaly_char", "tolerant")
    curves = engine.anomaly_evaluation_rocs("anomaly_char", "tolerant")
    for group in ("letters", "digit-like letters"):
        fresh = engine.roc(scores["digits"], scores[group])
        assert curves[group].auroc == fresh.auroc
        assert np.array_equal(curves[group].true_positive_rate, fresh.true_positive_rate)


def test_shipped_detector_matches_its_onnx_metadata_and_moves_with_the_rate():
    detector = engine.AnomalyDetector.shipped()
    meta = runtime.metadata(detector.model)
    assert float(meta["threshold"]) == pytest.approx(detector.threshold)
    assert meta["scoring"] == detector.scoring == "tolerant"
    assert len(detector.calibration_scores) == 1300
    stricter = detector.with_false_positive_rate(0.01)
    looser = detector.with_false_positive_rate(0.20)
    assert looser.threshold < detector.threshold < stricter.threshold
    assert (detector.calibration_scores > looser.threshold).mean() == pytest.approx(0.20, abs=0.002)


def test_scores_and_verdicts_agree():
    examples = np.stack(list(engine.anomaly_examples().values()))
    for model in ("anomaly_char", "anomaly_pca"):
        detector = engine.AnomalyDetector.shipped(model, "mse")
        result = engine.explain_anomalies(examples, detector)
        assert result.errors.shape == result.reconstructions.shape == examples.shape
        np.testing.assert_allclose(result.scores, engine.anomaly_scores(examples, model, "mse"), rtol=1e-6)
        np.testing.assert_array_equal(result.is_anomaly, result.scores > detector.threshold)
        np.testing.assert_allclose(result.scores, ((examples - result.reconstructions) ** 2).mean(axis=(1, 2)),
                                   rtol=1e-5)


def test_calibrate_on_given_digits():
    digits = engine.anomaly_evaluation_set(count=40)["digits"]
    detector = engine.AnomalyDetector.calibrate(digits, false_positive_rate=0.25, description="40 digits")
    assert (detector.is_anomaly(digits)).mean() == pytest.approx(0.25, abs=0.03)
    assert detector.calibration_data == "40 digits"


def test_the_digits_only_model_flags_unseen_letters():
    data = engine.anomaly_evaluation_set(count=150, seed=7)
    detector = engine.AnomalyDetector.shipped()
    auroc = engine.roc(detector.scores(data["digits"]), detector.scores(data["letters"])).auroc
    assert auroc > 0.9


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        engine.anomaly_scores(np.zeros((2, 32, 32), np.float32))
