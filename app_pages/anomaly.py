"""Anomaly detection: an autoencoder that knows only digits judges whether a character is one."""

import logging

import numpy as np
import pandas as pd
import streamlit as st

import engine
from app_pages import display
from app_pages.common import render_open_tab, side_by_side
from app_pages.logic import anomaly as logic
from app_pages.logic.anomaly import MODELS
from app_pages.parts import char_sources
from app_pages.text import plain

log = logging.getLogger(__name__)

MAX_UPLOAD_MB = engine.MAX_UPLOAD_BYTES // 2**20  # also server.maxUploadSize in .streamlit/config.toml
SCORING_LABELS = {"tolerant": "Tolerant of small shifts (default)", "mse": "Mean squared error"}
PRESELECTED = ("'3'", "'A'", "'8'", "'K'")  # an 'A' beside an '8' is the lesson
MAX_DETAILED = 6  # characters shown with their reconstructions; the table holds them all


@st.cache_resource(show_spinner=False)
def examples() -> dict[str, np.ndarray]:
    return engine.anomaly_examples()


@st.cache_resource(max_entries=4, show_spinner=False)
def shipped_detector(model: str, scoring: str) -> engine.AnomalyDetector:
    return engine.AnomalyDetector.shipped(model, scoring=scoring)


def detector(model: str, scoring: str, false_positive_rate: float) -> engine.AnomalyDetector:
    return shipped_detector(model, scoring).with_false_positive_rate(false_positive_rate)


@st.cache_data(max_entries=8, show_spinner="Reconstructing…")
def explain(chars: np.ndarray, model: str, scoring: str, false_positive_rate: float) -> engine.AnomalyResult:
    return engine.explain_anomalies(chars, detector(model, scoring, false_positive_rate))


@st.cache_resource(max_entries=4, show_spinner="Scoring the evaluation set…")
def evaluation_scores(model: str, scoring: str) -> dict[str, np.ndarray]:
    return engine.anomaly_evaluation_scores(model, scoring)


st.title("Anomaly detection")
st.markdown(
    "This autoencoder was trained on **digits only**: it has never seen a letter. It rebuilds a digit "
    "well and anything else badly, so how far the reconstruction lies from the input scores how "
    "unlike a digit a character is. Pick built-in characters, drop your own (a photo or scan of "
    "handwriting, one character or a few side by side), draw one or use the camera, and compare the "
    "network with PCA of the same code size, a linear model fit on the same digits."
)

# --- Input and settings ----------------------------------------------------------------------
input_col, settings_col = st.columns([3, 2], gap="large")
with input_col:
    names: list[str] = []
    chars: list[np.ndarray] = []
    uploads = st.file_uploader(
        f"Drop images of characters (PNG, JPEG, GIF, BMP, WebP or TIFF, up to {MAX_UPLOAD_MB} MB each): "
        "a scan, a phone photo of paper, one character or a few side by side",
        type=list(engine.UPLOAD_TYPES),
        accept_multiple_files=True,
        max_upload_size=MAX_UPLOAD_MB,
        key="uploads",
    )
    pictures = [(upload.name, upload.getvalue()) for upload in uploads or []] + char_sources.own_pictures("anomaly")
    for number, (name, picture) in enumerate(pictures):  # a bad one is reported and skipped; the others count
        if (answer := char_sources.characters_or_report(name, picture, log)) is None:
            continue
        image, found, boxes = answer
        char_sources.show_what_was_found(image, found, boxes, name, key=f"anomaly_{number}")
        names += [name] if len(found) == 1 else [f"{name} ({k + 1})" for k in range(len(found))]
        chars += list(found)
    chosen = st.multiselect(
        "Built-in examples",
        list(examples()),
        default=logic.preselected(list(examples()), PRESELECTED),
        key="examples", bind="query-params",
        help="Rendered in fonts that none of the models saw in training.",
    )
    for name in chosen:
        names.append(name)
        chars.append(examples()[name])

with settings_col:
    scoring = st.radio(
        "Scoring",
        list(engine.ANOMALY_SCORINGS),
        index=list(engine.ANOMALY_SCORINGS).index(engine.ANOMALY_DEFAULT_SCORING),
        format_func=SCORING_LABELS.get,
        captions=list(engine.ANOMALY_SCORINGS.values()),
        key="scoring", bind="query-params",
        help="Tolerant is the default: handwriting and fonts put strokes a pixel or two apart, which "
        "says nothing about what the character is, while a missing or extra stroke does.",
    )
    false_positive_rate = (
        st.slider(
            "False-positive rate allowed on digits",
            0.5,
            20.0,
            5.0,
            0.5,
            format="%.1f%%",
            key="false_positive_rate", bind="query-params",
            help="Each model's threshold is set so that this share of its calibration digits "
            "(held-out digits it never trained on) scores above it and would be flagged. "
            "Lower means fewer digits wrongly flagged, but more letters let through.",
        )
        / 100
    )
    try:
        detectors = {model: detector(model, scoring, false_positive_rate) for model in MODELS}
    except engine.ModelError as error:  # a missing or damaged model file: say which, and how to rebuild it
        st.error(str(error), icon=":material/error:")
        st.stop()
    for model, label in MODELS.items():   # one under the other: side by side a narrow column cuts them
        st.metric(f"{label} threshold", f"{detectors[model].threshold:.4g}")
    st.caption(f"Calibration: {detectors['anomaly_char'].calibration_data}.")


def your_characters() -> None:
    """The chosen characters, each with its reconstructions, error maps and verdicts, and the table."""
    if not chars:
        st.info("Drop images above, or pick built-in examples.")
        return
    try:
        batch = np.stack(chars)  # (N, 28, 28)
        results = {model: explain(batch, model, scoring, false_positive_rate) for model in MODELS}
    except engine.ModelError as error:
        st.error(str(error), icon=":material/error:")
        st.stop()
    except Exception:
        log.exception("Anomaly detection failed")
        st.error("Something went wrong while scoring these characters. Try other images or settings.")
        st.stop()

    st.markdown(
        "Each model rebuilds the character as best it can. Neither has learnt to draw anything but "
        "digits, so a letter comes back as the nearest digit they can draw: an **'A' often comes "
        "back looking like an '8'**, and the error map lights up where the two differ."
    )
    for index, name in enumerate(names[:MAX_DETAILED]):
        with st.container(border=True):
            char_col, *model_cols = side_by_side([1, 2, 2], f"char_{index}", gap="small")
            char_col.markdown(f"**{plain(name)}**")
            char_col.image(display.enlarge(batch[index]), caption="Prepared input", clamp=True, output_format="PNG")
            for column, (model, label) in zip(model_cols, MODELS.items(), strict=True):
                result = results[model]
                column.markdown(f"**{label}**")
                rebuilt_col, error_col = column.columns(2)
                rebuilt_col.image(
                    display.enlarge(result.reconstructions[index]),
                    caption="Reconstruction",
                    clamp=True,
                    output_format="PNG",
                )
                error_col.image(logic.heat_map(result.errors[index]), caption="Error", output_format="PNG")
                column.markdown(logic.verdict(float(result.scores[index]), detectors[model].threshold))
    if len(names) > MAX_DETAILED:
        st.caption(f"The first {MAX_DETAILED} characters are shown in detail, all {len(names)} in the table.")

    # Long on a phone, and the same as the details above for a few characters: folded unless it holds more.
    # Drawn only when open: the browser loads a data grid's code (1.2 MB) for the first one on a page.
    table = st.expander("Every character as a table", expanded=len(names) > MAX_DETAILED, key="anomaly_table",
                        on_change="rerun")
    if not table.open:
        return
    with table:
        st.dataframe(
            logic.verdict_table(names, batch, results),
            hide_index=True,
            column_config={
                "Character": st.column_config.ImageColumn("Character", help="The prepared input"),
                **{
                    f"{label} score": st.column_config.NumberColumn(format="%.4g", help="Higher: less digit-like")
                    for label in MODELS.values()
                },
            },
        )


def evaluation() -> None:
    """How well each model tells held-out digits from letters: histograms, ROC curves, counts."""
    st.markdown(
        "Held-out digits and letters, rendered in fonts and with distortions no model saw in training. "
        "Letters that share a digit's shape (" + ", ".join(engine.DIGIT_LIKE_LETTERS) + ") are kept "
        "apart and start faint: click *digit-like letters* in a histogram's legend to see them alone "
        "(shift-click adds a group; a double-click on the chart shows them all)."
    )
    scores: dict[str, dict[str, np.ndarray]] = {}
    for column, (model, label) in zip(st.columns(len(MODELS), gap="large"), MODELS.items(), strict=True):
        with column:
            info = engine.model_info(model)
            st.markdown(f"**{label}: {info['name']}**")
            st.caption(info["summary"])
            try:
                scores[label] = evaluation_scores(model, scoring)
            except engine.ModelError as error:
                st.error(str(error), icon=":material/error:")
            except Exception:
                log.exception("Scoring the evaluation set with %s failed", model)
                st.error("Something went wrong while scoring the evaluation set.")
    if not scores:
        return
    shown = {model: label for model, label in MODELS.items() if label in scores}
    thresholds = {label: detectors[model].threshold for model, label in shown.items()}
    # A histogram a model, side by side, then both models' ROC curves on one set of axes. Vega-Lite charts:
    # the browser loads 1/6 of the script plotly needs (and a first visit's tab waited for plotly's).
    histograms = logic.histogram_charts(scores, thresholds)
    for column, (model, label) in zip(st.columns(len(shown), gap="large"), shown.items(), strict=True):
        column.altair_chart(histograms[label], key=f"anomaly_histogram_{model}", width="stretch", height=380)
    curves = {label: engine.anomaly_evaluation_rocs(model, scoring) for model, label in shown.items()}
    roc_chart, aurocs = logic.roc_chart(scores, thresholds, curves)
    st.altair_chart(roc_chart, key="anomaly_roc", width="stretch", height=440)
    for column, (model, label) in zip(st.columns(len(shown), gap="large"), shown.items(), strict=True):
        with column:
            groups, (auroc, alike_auroc) = scores[label], aurocs[label]
            counts = engine.confusion(groups["digits"], groups["letters"], thresholds[label])
            st.markdown(f"**{label}**")
            auroc_col, digits_col, letters_col = side_by_side(3, f"figures_{model}")
            auroc_col.metric("AUROC", f"{auroc:.3f}", help="The chance that a letter scores above a digit")
            digits_col.metric(
                "Digits flagged",
                f"{counts['digits flagged'] / len(groups['digits']):.1%}",
                help="Held-out digits wrongly called 'not a digit' at this threshold",
            )
            letters_col.metric(
                "Letters caught",
                f"{counts['letters flagged'] / len(groups['letters']):.1%}",
                help="Held-out letters called 'not a digit' at this threshold",
            )
            st.markdown(logic.flagged_note(counts["digits flagged"] / len(groups["digits"]), false_positive_rate,
                                           len(groups["digits"])))
            # a static table: two rows of counts need no scrolling or sorting
            st.table(pd.DataFrame(logic.confusion_table(counts)).set_index(""))
            st.caption(
                f"Digit-like letters: AUROC {alike_auroc:.3f}. An 'O' is drawn like a '0', an 'S' like a "
                "'5', a 'B' like an '8': a model that knows digits rebuilds them well, so no reconstruction "
                "score can single them out."
            )


# --- The characters, and the evaluation (a tab of its own: only the open tab runs) -------------
render_open_tab(["Your characters", "How well each model tells digits from letters"],
                {"Your characters": (your_characters, "score the characters"),
                 "How well each model tells digits from letters": (evaluation, "evaluate the models")},
                key="anomaly_tab", log=log)

# --- How it works ----------------------------------------------------------------------------
st.subheader("How an autoencoder detects anomalies")
st.markdown(
    """
The encoder $f$ squeezes a character into a short code and the decoder $g$ draws a
character from that code alone. Trained only on digits, the pair has learnt to draw digits
and nothing else: whatever comes in, out comes the nearest digit it can draw. A digit comes
back nearly unchanged; a letter does not. The score is the reconstruction error, and a
character is called *not a digit* when its score passes a threshold $\\tau$:
"""
)
st.latex(
    r"\begin{aligned}"
    r"s(x) &= \frac{1}{784}\sum_{i=1}^{784}\big(x_i - g(f(x))_i\big)^2 \\"
    r"\text{not a digit} &\iff s(x) > \tau,"
    r"\quad \tau = \text{the } (1-\alpha) \text{ quantile of } s \text{ over held-out digits}"
    r"\end{aligned}"
)
st.markdown(
    """
The **tolerant** scoring (the default) blurs the input and its reconstruction slightly (a
Gaussian of one pixel) before comparing them. A stroke drawn a pixel to the side then costs
about a third of what a missing stroke costs, while a stroke that is missing or extra still
costs in full: the score measures what is drawn more than exactly where. Plain squared error
punishes a digit drawn a pixel off as hard as a missing stroke. On held-out fonts the tolerant
score separates letters from digits better, which is why it is the default.

The threshold needs no letters: you choose the false-positive rate $\\alpha$ you accept on real
digits, and $\\tau$ is the score that only that share of held-out digits, which the model never
trained on, exceeds. In practice you rarely have examples of every kind of anomaly, but you do have normal
data. The ROC curve shows every threshold at once; its area (AUROC) is the chance that a random
letter scores above a random digit, 0.5 being a coin toss.

PCA with a code of the same size is the linear version of the same idea: it keeps the
directions along which digits vary most. A linear model can only add and subtract fixed
patterns, so its reconstructions of letters can drift towards the letter, while the network's
stay closer to real digits; the two ROC curves show how much that matters.
"""
)
