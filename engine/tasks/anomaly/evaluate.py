"""`python -m engine eval anomaly`: digits against letters, autoencoder against PCA."""
from __future__ import annotations

from engine.core import datasets, runtime
from engine.core.report import result_table


def eval_anomaly(count: int = 1000, seed: int = 4321) -> dict:
    from engine.tasks.anomaly.serve import (
        ANOMALY_BASELINE,
        ANOMALY_MODEL,
        ANOMALY_SCORINGS,
        DIGIT_LIKE_LETTERS,
        AnomalyDetector,
        anomaly_evaluation_set,
        pixel_errors,
        reconstruct,
        roc,
    )

    sets = anomaly_evaluation_set(count, seed)
    rows = []
    for model in (ANOMALY_MODEL, ANOMALY_BASELINE):
        reconstructions = {name: reconstruct(images, model) for name, images in sets.items()}
        for scoring in ANOMALY_SCORINGS:
            detector = AnomalyDetector.shipped(model, scoring)
            scores = {name: pixel_errors(images, reconstructions[name], scoring).mean(axis=(1, 2))
                      for name, images in sets.items()}

            def auroc(other: str) -> float:
                return round(roc(scores["digits"], scores[other]).auroc, 4)

            rows.append([runtime.model_info(model)["name"], scoring, auroc("letters"),
                         auroc("digit-like letters"),
                         round(float((scores["digits"] > detector.threshold).mean()), 3),
                         round(float((scores["letters"] > detector.threshold).mean()), 3)])
    fonts = sorted({f.family for f in datasets.font_split(held_out=True)})
    return {"command": "eval anomaly", "device": runtime.device_name(), "tables": [result_table(
        f"Digits against letters, {count} each, in held-out fonts ({', '.join(fonts)}) with wider "
        f"distortions; digit-like letters ({DIGIT_LIKE_LETTERS}) apart. Threshold: 5% of calibration "
        "digits above it.",
        ["Model", "Scoring", "AUROC letters", "AUROC digit-like", "False-positive rate",
         "Detection rate"], rows)]}


EVALS = {"anomaly": eval_anomaly}


def eval_captures(count: int = 600, seed: int = 9090) -> dict:
    """Characters as people capture them (engine.core.capture_corpus: handwriting-like glyphs in
    held-out fonts on paper, photographed in simulation), prepared by engine.prepare_character,
    against the same characters prepared from their clean renders and against the preparation
    before captures were searched (the whole picture into the MNIST steps): the digit
    classifier's accuracy on the digits and the anomaly detector's AUROC, digits against
    letters. Then what must be refused: blank sheets, pages of text and photos."""
    import numpy as np

    from engine.core import capture_corpus, datasets
    from engine.core.imaging import ImageError, prepare_character, prepare_clean_character
    from engine.tasks.anomaly.serve import DIGIT_LIKE_LETTERS, anomaly_scores, roc
    from engine.tasks.generate.serve import classify_digits

    unlike = "".join(c for c in datasets.LETTERS if c not in DIGIT_LIKE_LETTERS)
    digits = capture_corpus.capture_corpus(count // 2, datasets.DIGITS, seed=seed)
    letters = capture_corpus.capture_corpus(count - count // 2, unlike, seed=seed + 1)
    refused: dict[str, int] = {}

    def prepared(captures, how) -> tuple[np.ndarray, np.ndarray]:
        out, missed = [], []
        for c in captures:
            try:
                out.append(how(c))
                missed.append(False)
            except ImageError as err:
                refused[type(err).__name__] = refused.get(type(err).__name__, 0) + 1
                out.append(np.zeros((28, 28), np.float32))
                missed.append(True)
        return np.stack(out), np.array(missed)

    ways = {"clean renders of the same characters": lambda c: prepare_clean_character(c.glyphs[0]),
            "captures, prepared as before (the whole picture)": lambda c: prepare_clean_character(c.image),
            "captures, prepared now (the character found)": lambda c: prepare_character(c.image)}
    labels = np.array([int(c.labels[0]) for c in digits])
    rows, counts = [], {}
    for name, how in ways.items():
        refused.clear()
        (d, d_missed), (letter, l_missed) = prepared(digits, how), prepared(letters, how)
        accuracy = float(((classify_digits(d).argmax(axis=1) == labels) & ~d_missed).mean())
        # a refusal counts against the detector: a refused digit as flagged, a refused letter as passed
        d_scores, l_scores = anomaly_scores(d), anomaly_scores(letter)
        answered = roc(d_scores[~d_missed], l_scores[~l_missed]).auroc
        top, bottom = max(d_scores.max(), l_scores.max()) + 1, min(d_scores.min(), l_scores.min()) - 1
        d_scores[d_missed], l_scores[l_missed] = top, bottom
        auroc = roc(d_scores, l_scores).auroc
        rows.append([name, round(accuracy, 4), round(auroc, 4), round(answered, 4)])
        counts[name] = sum(refused.values())
    clean_accuracy, clean_auroc = rows[0][1], rows[0][2]
    for row in rows:
        row += [round(row[1] / clean_accuracy, 3) if clean_accuracy else None, round(row[2] - clean_auroc, 4),
                round(row[3] - clean_auroc, 4), counts[row[0]]]

    rng = np.random.default_rng(seed + 2)
    fonts = datasets.font_split(held_out=True)
    nothing = {"blank sheets": [capture_corpus.render_capture("", rng).image for _ in range(20)],
               "pages of text": [datasets.render_text_page(400, 400, fonts=fonts, seed=seed + s) for s in range(10)],
               "photos (scikit-image's)": list(_photos())}
    refusal_rows = []
    for name, pictures in nothing.items():
        answers = []
        for picture in pictures:
            try:
                prepare_character(picture)
                answers.append("accepted")
            except ImageError as err:
                answers.append(type(err).__name__)
        refusal_rows.append([name, len(pictures), sum(a != "accepted" for a in answers),
                             ", ".join(sorted(set(a for a in answers if a != "accepted")))])
    conditions = ", ".join(capture_corpus.CONDITIONS)
    return {"command": "eval captures", "device": runtime.device_name(), "tables": [
        result_table(f"{len(digits)} digits and {len(letters)} letters captured in simulation (held-out fonts, "
                     f"a hand's wobble; at random: {conditions}). Accuracy: the digit classifier on the digits; "
                     "AUROC: the anomaly detector, digits against letters. A refused capture counts as a miss (a refused digit "
                     "as misread and flagged, a refused letter as passed); the AUROC of the answered leaves the refused "
                     "out (the page asks for another picture).",
                     ["Input", "Digit accuracy", "AUROC", "AUROC of the answered", "Accuracy / clean", "AUROC - clean",
                      "Answered AUROC - clean", "Refused"], rows),
        result_table("Pictures with no single character: refused with a clear message",
                     ["Pictures", "Count", "Refused", "How"], refusal_rows)]}


def _photos():
    from skimage import data

    for name in ("astronaut", "chelsea", "coffee", "camera", "coins", "grass"):
        yield getattr(data, name)()


EVALS["captures"] = eval_captures
