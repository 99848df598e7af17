"""Pieces several pages share: the start of a background training job for this visitor and its
panel (a progress bar, a stop button and a live chart, redrawn every second; the whole page
reruns once the job has ended), and the messages for errors and unreadable uploads."""

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

import engine
from app_pages.logic.links import unused_note, unused_parameters
from app_pages.text import plain


@st.cache_data(max_entries=64, show_spinner=False)
def png(image: np.ndarray) -> bytes:
    """An image (uint8, or float in [0, 1]) as PNG bytes, encoded once: given an array, st.image
    encodes it again for every visitor and rerun (a third of a second for a page of photos)."""
    return engine.encode_png(image, fast=True)


def running_text(job: engine.Job, stopping: str) -> str:
    """The progress bar's words for a job that reports engine.JobUpdate."""
    last = job.updates[-1] if job.updates else None
    if job.should_stop():
        return stopping
    if job.state == "queued":
        return "Waiting for another training run to finish…"
    if last is None:
        return "Training: the first steps…"
    return f"Step {last.step} of {last.steps} · loss {last.loss:.4f} · {last.seconds:.0f} s"


@st.fragment(run_every=1.0)
def job_panel(job: engine.Job, key: str, text: Callable[[], str], figure: Callable[[], object | None]) -> None:
    """`text` gives the progress bar's words and `figure` the live chart (None: none yet); `key`
    keeps this panel's widgets apart from another's on the same page."""
    if not job.running:
        st.rerun(scope="app")
    st.progress(job.fraction, text=text())
    st.button("Stop", key=f"{key}_stop", on_click=job.stop, disabled=job.should_stop(), icon=":material/stop:")
    chart = figure()
    if chart is not None:
        st.plotly_chart(chart, key=f"{key}_live")


def number_columns(formats: dict[str, str]) -> dict:
    """st.dataframe's column_config for columns given as {name: printf format}."""
    return {name: st.column_config.NumberColumn(format=form) for name, form in formats.items()}


def report(error: Exception, what: str, log: logging.Logger) -> None:
    """An error as a message for the user; the page goes on."""
    if isinstance(error, engine.ImageError):
        st.error(str(error), icon=":material/broken_image:")
    elif isinstance(error, (engine.ModelError, ValueError)):
        st.error(f"Could not {what}: {error}", icon=":material/error:")
    else:
        log.exception("Could not %s", what)
        st.error(f"Something went wrong while trying to {what}. Try other settings.", icon=":material/error:")


def read_upload(upload, prepare: Callable[[bytes], Any], log: logging.Logger) -> Any | None:
    """prepare(the upload's bytes), or None after an error message naming the file."""
    try:
        return prepare(upload.getvalue())
    except engine.ImageError as error:
        st.error(f"Could not read **{plain(upload.name)}**: {error}", icon=":material/broken_image:")
    except Exception:
        log.exception("Preparing %r failed", upload.name)
        st.error(f"Something went wrong while reading **{plain(upload.name)}**. Try another picture.",
                 icon=":material/error:")
    return None


def session_alive(session_id: str) -> Callable[[], bool]:
    """Whether the visitor of `session_id` is still there, asked from any thread: their session
    is connected, or has been disconnected for less than `server.disconnectedSessionTTL` (the
    time Streamlit keeps it for the visitor to come back after a network blip; a closed tab
    never does). With no Streamlit server (AppTest, a bare script) there is nobody to ask: True."""
    ttl = float(st.get_option("server.disconnectedSessionTTL"))
    gone_since: float | None = None

    def alive() -> bool:
        nonlocal gone_since
        if not Runtime.exists() or Runtime.instance().is_active_session(session_id):
            gone_since = None
            return True
        gone_since = gone_since or time.monotonic()
        return time.monotonic() - gone_since < ttl

    return alive


def start_logged_job(work: Callable[[engine.Job], Any], name: str, what: str, log: logging.Logger,
                     expected: tuple[type[Exception], ...] = ()) -> engine.Job | None:
    """engine.start_job for this visitor's session (one run at a time; stopped once they have
    gone), with an unexpected error logged here, once (the job keeps it for the page to show);
    errors of the `expected` types are the user's to read and are not logged. None, after a
    message saying why, when it cannot start: the server is full, or the visitor has a run going
    (the message names it, with its Stop button here, wherever its page is)."""
    def logged(job: engine.Job) -> Any:
        try:
            return work(job)
        except expected:
            raise
        except Exception:
            log.exception("%s failed", what)
            raise

    # Jobs import scikit-learn, which imports pandas; plotly's validators, on the page's thread, look
    # pandas up in sys.modules and would take a half-imported one (AttributeError: partially initialized
    # module 'pandas'). Imported here first, once per process, before any job can be importing it.
    import pandas  # noqa: F401

    ctx = get_script_run_ctx()
    owner = None if ctx is None else ctx.session_id
    try:
        return engine.start_job(logged, name=name, label=what, owner=owner,
                                alive=None if owner is None else session_alive(owner))
    except engine.JobsBusyError as busy:
        st.warning(str(busy), icon=":material/hourglass_top:")
    except engine.OwnJobRunningError as refused:
        st.info(str(refused), icon=":material/model_training:")
        st.button(f"Stop «{refused.job.label or refused.job.name}»", key=f"{name}_stop_other",
                  on_click=refused.job.stop, disabled=refused.job.should_stop(), icon=":material/stop:")
    return None


def render_open_tab(names: list[str], render: dict[str, tuple[Callable[[], None], str]], key: str,
                    log: logging.Logger) -> None:
    """Tabs of which only the open one runs (on_change="rerun"), so a rerun costs what one tab
    costs; `render` maps a tab to (its function, what it does, for an error message)."""
    for tab, label in zip(st.tabs(names, key=key, on_change="rerun", bind="query-params"), names, strict=True):
        if tab.open:
            run, what = render[label]
            with tab:
                try:
                    run()
                except Exception as error:
                    report(error, what, log)


# On a narrow screen (a phone) Streamlit stacks columns full-width, one under another: a
# comparison of four images becomes four screens of scrolling. Columns made by side_by_side
# keep their row at any width (the images shrink instead).
SIDE_BY_SIDE_PREFIX = "side_"
# Words are never cut off with an ellipsis: a metric's label, value and delta, a button's and a
# page link's words, an uploader's instructions wrap onto another line in a narrow column; a
# formula wider than the screen scrolls instead of being cut.
WRAPPED = ", ".join(f'[data-testid="stMain"] [data-testid="{testid}"] *' for testid in (
    "stMetricLabel", "stMetricValue", "stMetricDelta", "stButton", "stDownloadButton", "stPageLink-NavLink",
    "stFileUploaderDropzoneInstructions", "stFormSubmitButton"))
STYLE = f"""<style>
{WRAPPED} {{ white-space: normal !important; text-overflow: clip !important; overflow: visible !important;
             overflow-wrap: normal !important; word-break: normal !important; }}
[class*="st-key-{SIDE_BY_SIDE_PREFIX}"] [data-testid="stColumn"] {{ min-width: 0 !important; }}
[data-testid="stMain"] .katex-display {{ overflow-x: auto; overflow-y: hidden; }}
@media (max-width: 640px) {{
  [class*="st-key-{SIDE_BY_SIDE_PREFIX}"] [data-testid="stHorizontalBlock"] {{ gap: 0.4rem !important; }}
}}
</style>"""


def page_style() -> None:
    """The app's own CSS, once per run (streamlit_app.py): it takes no room on the page."""
    st.html(STYLE)


def side_by_side(spec, key: str, where: Any = st, **kwargs) -> list:
    """st.columns(spec, **kwargs) in `where` (st or a container), kept in one row on a phone;
    `key` names the comparison (unique on its page)."""
    return where.container(key=f"{SIDE_BY_SIDE_PREFIX}{key}").columns(spec, **kwargs)


def note_unused_link_settings(place: Any) -> None:
    """After a page has drawn its widgets: name, in `place`, the link's parameters that no widget
    took (a stale or misspelt link opens the page with its defaults, and says so)."""
    unused = unused_parameters(st.query_params.to_dict(), st.session_state)
    if unused:
        place.caption(unused_note(unused))
