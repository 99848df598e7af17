"""The models trained in this session, as the pages share them. The Training studio keeps its runs
in the session under one key; this module is the one place that knows it: the studio records
and reads its runs here, other pages see them as StudioModel."""
from __future__ import annotations

import dataclasses

import streamlit as st

import engine
from app_pages.logic.studio import Run

STUDIO_RUNS = "studio_runs"  # session-state key: the studio's runs (a list of Run), oldest first
STUDIO_SOURCE = "Training studio"  # how other pages name where the models come from


@dataclasses.dataclass(frozen=True)
class StudioModel:
    """A model trained on the Training studio page, as another page may use it."""

    label: str  # the run's label, e.g. "#2 sparse (L1, λ=0.01), code 16"
    onnx: bytes  # input `input` (N, 1, side, side), outputs `reconstruction` and `code`
    side: int  # it takes side x side grey images


def run_log() -> list[Run]:
    """The session's studio runs, the very list (made empty on first use): the studio's
    background jobs append to it."""
    return st.session_state.setdefault(STUDIO_RUNS, [])


def kept_runs() -> list[Run]:
    """A copy of the session's studio runs, oldest first (none: empty)."""
    return list(st.session_state.get(STUDIO_RUNS, []))


def as_model(run: Run) -> StudioModel | None:
    """What other pages may use of a run (None: it has no exported model)."""
    result = getattr(run, "result", None)
    onnx = getattr(result, "onnx", None)
    if not onnx:
        return None
    return StudioModel(run.label, onnx, int(result.heldout.shape[-1]))


def studio_runs() -> list[StudioModel]:
    """The models trained on the Training studio page in this session, oldest first."""
    return [model for model in map(as_model, kept_runs()) if model is not None]


def character_models() -> dict[str, bytes]:
    """The session's studio models that take characters (28x28 grey), by the name other pages
    show ("Training studio: <label>")."""
    return {f"{STUDIO_SOURCE}: {model.label}": model.onnx for model in studio_runs()
            if engine.takes_characters(model.onnx)}
