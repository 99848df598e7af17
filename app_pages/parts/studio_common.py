"""What several tabs of the Training studio show alike: a picture at its own size, a finished
run in full (Train, Compare runs), and a background run's progress (Train, Training methods)."""
from typing import Any

import numpy as np
import streamlit as st

import engine
from app_pages.common import job_panel, png, running_text
from app_pages.logic import studio as logic
from app_pages.text import plain

LIVE_VIEWS_EVERY = 5.0   # seconds between redraws of the live views
HOLD_WAIT = 5.0          # seconds Pause and One step wait for the run to halt before redrawing


def show_image(pixels: np.ndarray, caption: str, where: Any = st) -> None:
    """At its own size (enlarged by logic.strip): st.image would otherwise fit it to its caption.
    `where` is st or a column."""
    where.image(pixels, caption=caption, width=int(pixels.shape[1]), output_format="PNG")


def job_progress(key: str) -> None:
    """The panel of the background run kept in the session under `key`, if any."""
    pending: logic.Pending | None = st.session_state.get(key)
    if pending is None:
        return

    def text() -> str:
        if pending.job.should_stop() or pending.job.state == "queued":
            return running_text(pending.job, logic.STOPPING)
        return logic.progress_words(pending)

    job_panel(pending.job, key, text,
              lambda: logic.curves_figure(list(pending.reports), "Learning so far") if pending.reports else None)
    live_views(pending, f"{key}_views")


@st.fragment(run_every=LIVE_VIEWS_EVERY)
def live_views(pending: logic.Pending, key: str) -> None:
    """Pause, resume and one step at a time, and the latest snapshot of a run that is training,
    redrawn on its own, slower clock than the progress bar's: a snapshot comes once an epoch (and
    at every pause and single step, which redraw at once), so a redraw every second would mostly
    repeat it, on the CPU the training needs."""
    if not pending.job.running:
        return
    pause_controls(pending.job.gate, key)
    live = pending.live
    if live.snapshots and live.originals is not None:
        snapshot = live.snapshots[-1]
        if snapshot.step not in live.pictures:   # each snapshot is drawn once; a redraw sends the same pictures
            live.pictures = {snapshot.step: snapshot_pngs(snapshot, live)}
        show_snapshot(snapshot, live.originals, live.labels, key, pictures=live.pictures[snapshot.step])


STRIP_CAPTIONS = ("Held-out originals", "Their reconstructions at this point")
PICTURE_CAPTION = "The code's values and the held-out codes' map at this point (the replay after the run has them as charts)"


def snapshot_pngs(snapshot: engine.StudioSnapshot, live: logic.LiveViews) -> list[tuple[bytes, int, str]]:
    """A training snapshot as still pictures (PNG, width, caption), encoded once: the originals and
    their reconstructions (as strips, for images) and the code's histogram beside its map."""
    pixels = [logic.strip(live.originals), logic.strip(snapshot.reconstructions)] if live.originals.ndim == 3 else []
    pixels.append(engine.snapshot_picture(snapshot.codes, snapshot.map, live.labels, logic.DIGIT_COLOURS,
                                          names=live.label_names))
    return [(png(p), int(p.shape[1]), caption) for p, caption in zip(pixels, [*STRIP_CAPTIONS[:len(pixels) - 1],
                                                                             PICTURE_CAPTION], strict=True)]


def pause_controls(gate: engine.PauseGate, key: str) -> None:
    """Pause or Resume, and One step while paused; each waits (briefly) until the run is held at
    its step, so the redraw that follows shows that step's snapshot."""
    left, right, _ = st.columns([1, 1, 4])
    if gate.paused:
        left.button("Resume", key=f"{key}_resume", on_click=gate.resume, icon=":material/play_arrow:")
        right.button("One step", key=f"{key}_step", on_click=lambda: gate.step(timeout=HOLD_WAIT),
                     icon=":material/skip_next:", help="One batch of training, then paused again with its snapshot.")
    else:
        left.button("Pause", key=f"{key}_pause", on_click=lambda: gate.pause(timeout=HOLD_WAIT), icon=":material/pause:",
                    help="Hold the run after its current step, to look at it or take it one step at a time.")


def show_snapshot(snapshot: engine.StudioSnapshot, originals: np.ndarray, labels: np.ndarray | None, key: str,
                  pictures: list[tuple[bytes, int, str]] | None = None, names: tuple[str, ...] | None = None) -> None:
    """One snapshot: the watched held-out images and their reconstructions, the code's histogram
    and the codes' map: as charts, or (while training, `pictures` of snapshot_pngs) as still
    pictures."""
    st.caption(logic.snapshot_caption(snapshot))
    if pictures is not None:
        for picture, width, caption in pictures:
            st.image(picture, caption=caption, width=width)
        return
    if originals.ndim == 3:
        show_image(logic.strip(originals), STRIP_CAPTIONS[0])
        show_image(logic.strip(snapshot.reconstructions), STRIP_CAPTIONS[1])
    histogram, code_map = snapshot_figures(snapshot.codes, snapshot.map, labels, names)
    left, right = st.columns(2)
    left.plotly_chart(histogram, key=f"{key}_histogram")
    right.plotly_chart(code_map, key=f"{key}_map")


@st.cache_data(max_entries=8, show_spinner=False)
def snapshot_figures(codes: np.ndarray, points: np.ndarray, labels: np.ndarray | None,
                     names: tuple[str, ...] | None = None) -> tuple[Any, Any]:
    """A snapshot's histogram and map, built once: the live views redraw every LIVE_VIEWS_EVERY
    seconds, the snapshot changes once an epoch."""
    watched = labels[:len(points)] if labels is not None else None
    return logic.code_figures(codes)[0], logic.code_map_figure(points, watched, codes.shape[1] <= 2, names)


def show_run(run: logic.Run, key: str) -> None:
    """A finished run: how it ended, its numbers beside PCA's, held-out reconstructions, the
    code's statistics, its learning curves, and the ONNX model with its metadata."""
    result = run.result
    kind, words, icon = logic.run_status(run)
    getattr(st, kind)(words, icon=icon)
    verdict = logic.pca_verdict(run)
    if verdict is not None:
        getattr(st, verdict[0])(verdict[1], icon=":material/compare_arrows:")
    st.caption(f"Trained on {plain(result.data_note)}.")   # it may name the user's files
    stats = result.code_stats
    columns = st.columns(6)
    columns[0].metric("Held-out MSE", f"{result.heldout_mse:.4f}", help="Mean squared error of the held-out "
                      "images' reconstructions, pixels in [0, 1]")
    if run.pca is not None:
        columns[1].metric(f"PCA, code {run.pca['code_size']}", f"{run.pca['heldout_mse']:.4f}",
                          help="PCA with the same code size, fit on the same training images")
    columns[2].metric("Near-zero share", f"{stats.near_zero_share:.0%}",
                      help=f"Share of code values with |value| < {engine.NEAR_ZERO}: units at rest")
    columns[3].metric("Mean |code|", f"{stats.mean_activation:.3f}")
    columns[4].metric("Parameters", f"{result.parameters:,}")
    columns[5].metric("Training time", f"{result.seconds:.1f} s")

    shown = min(logic.SHOWN, len(result.heldout))
    show_image(logic.strip(result.heldout[:shown]), "Held-out originals")
    show_image(logic.strip(result.reconstructions[:shown]), "Reconstructions")

    histogram, units = logic.code_figures(result.codes)
    left, right = st.columns(2)
    left.plotly_chart(histogram, key=f"{key}_histogram")
    right.plotly_chart(units, key=f"{key}_units")
    st.caption(logic.units_caption(result))
    if result.history:
        st.plotly_chart(logic.curves_figure([("", p) for p in result.history], "Learning curves"),
                        key=f"{key}_curves")
    snapshots = result.snapshots
    if len(snapshots) > 1:
        with st.expander(f"Replay the training ({len(snapshots)} snapshots)", icon=":material/replay:"):
            index = st.select_slider("Snapshot", range(len(snapshots)), value=len(snapshots) - 1, key=f"{key}_replay",
                                     format_func=lambda i: "start" if i == 0 else f"epoch {snapshots[i].epoch:g}")
            show_snapshot(snapshots[index], result.heldout[:engine.SNAPSHOT_RECONSTRUCTIONS], run.watched_labels,
                          f"{key}_replay_views", names=run.label_names)

    download, about = st.columns([1, 2])
    download.download_button(
        "Download the model (ONNX)",
        result.onnx,
        file_name=logic.model_file_name(run),
        mime="application/octet-stream",
        on_click="ignore",
        icon=":material/download:",
        key=f"{key}_download",
    )
    about.caption(logic.model_about(result))
    with st.expander("Model metadata", icon=":material/info:"):
        st.json(logic.onnx_metadata(result.onnx), expanded=1)
    with st.expander("Reproduce in Python", icon=":material/code:"):
        script = logic.reproduce_script(run)
        st.caption("The same model, trained from the command line with the engine's public API"
                   + (": the same digits, settings and seed." if run.data.builtin else
                      ", on a folder of your images (the same ones give the same model)."))
        st.code(script, language="python")
        st.download_button("Download the script", script, file_name=f"studio_{run.number}_{result.family}.py",
                           mime="text/x-python", on_click="ignore", icon=":material/download:", key=f"{key}_script")
