"""Evaluation on held-out data: `python -m engine eval TASK`.

The tables of each task live in engine/tasks/*/evaluate.py; this module gathers them (the speed
benchmark is engine/bench.py). Each returns a JSON-able dict with a "tables" list;
`format_tables` prints them readably."""
from __future__ import annotations

from engine.core.report import format_tables
from engine.tasks.anomaly.evaluate import EVALS as ANOMALY
from engine.tasks.colorize.evaluate import EVALS as COLORIZE
from engine.tasks.denoise.evaluate import EVALS as DENOISE
from engine.tasks.generate.evaluate import EVALS as GENERATE
from engine.tasks.impute.evaluate import EVALS as IMPUTE
from engine.tasks.search.evaluate import EVALS as SEARCH
from engine.tasks.semisupervised.evaluate import EVALS as SEMISUPERVISED
from engine.tasks.sequence.evaluate import EVALS as SEQUENCE
from engine.tasks.studio.evaluate import EVALS as STUDIO

__all__ = ["EVALS", "format_tables"]

EVALS = {**DENOISE, **ANOMALY, **SEARCH, **GENERATE, **COLORIZE, **SEQUENCE, **SEMISUPERVISED, **IMPUTE, **STUDIO}
