"""The t-SNE map of a visitor's own gallery: seconds to a minute of work, so it runs as a
background job (engine.start_job, through the one queue that bounds every visitor's share of the
CPU) with a progress bar, the time left and a Stop button, while the rest of the page stays
usable. A finished map is kept in the visitor's session for that gallery and code space."""
from __future__ import annotations

import logging

import numpy as np
import streamlit as st

import engine
from app_pages.common import job_panel, report, start_logged_job

log = logging.getLogger(__name__)

MAPS = "search_tsne_maps"   # session state: (gallery key, code space) -> the map's points
JOB = "search_tsne_job"     # session state: ((gallery key, code space), the job drawing it)
WHAT = "Drawing the t-SNE map of your gallery"


def progress_text(job: engine.Job) -> str:
    """The progress bar's words: waiting, the stage, and the time left at the pace so far."""
    if job.should_stop():
        return "Stopping after this stage…"
    if job.state == "queued":
        return "Waiting for another visitor's run to finish…"
    last = job.updates[-1] if job.updates else None
    if last is None:
        return f"t-SNE: stage 1 of {engine.TSNE_STAGES}…"
    left = last.seconds / last.step * (last.steps - last.step)
    return f"t-SNE: stage {last.step} of {last.steps} done · about {left:.0f} s left"


def tsne_points(key: str, space: str, gallery: engine.Gallery) -> np.ndarray | None:
    """The t-SNE map of this visitor's gallery in `space`: the points once drawn; until then None,
    with the job's progress (started here the first time), or why there is no map and a button
    to draw it again (after a stop or an error)."""
    maps: dict = st.session_state.setdefault(MAPS, {})
    wanted = (key, space)
    if wanted in maps:
        return maps[wanted]
    held = st.session_state.get(JOB)
    if held is not None and held[0] == wanted:
        job = held[1]
        if job.running:
            job_panel(job, "search_tsne", lambda: progress_text(job), lambda: None)
            return None
        if job.state == "done":
            maps[wanted] = job.result
            del st.session_state[JOB]
            return job.result
        if job.state == "failed":
            report(job.error, "draw the t-SNE map", log)
        else:
            st.info("The t-SNE map was stopped.", icon=":material/stop_circle:")
        if not st.button("Draw the t-SNE map", key="search_tsne_again", icon=":material/scatter_plot:"):
            return None
    if held is not None and held[1].running:   # the map of another gallery or code space: no longer wanted
        held[1].stop()
        job_panel(held[1], "search_tsne", lambda: "Stopping the map of the previous gallery or code space…",
                  lambda: None)   # the page runs again once it has stopped, and starts this one
        return None
    job = start_logged_job(
        lambda job: engine.project(gallery, space, "tsne", progress=job.report, should_stop=job.should_stop),
        "search-tsne", WHAT, log)
    if job is not None:
        st.session_state[JOB] = (wanted, job)
        job_panel(job, "search_tsne", lambda: progress_text(job), lambda: None)
    return None
