"""The torch API: everything that trains or fine-tunes a model. A call site that reads
`engine.training.X` needs PyTorch; `engine.X` never does.

    from engine import training
    if training.available():
        result = training.train_model("convolutional", images, epochs=5)

On a serving-only install (requirements.txt, no torch) `available()` is False and using any
other name raises TrainingUnavailable, whose message names the install command.
"""
from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

INSTALL_COMMAND = "pip install -r requirements-train.txt"

# public name -> the module under engine/ that defines it (the same names as the TYPE_CHECKING imports below)
_API = {
    "train_model": "tasks.studio.build",
    "compare_family": "tasks.studio.build",
    "plane_and_curve": "tasks.studio.build",
    "digits_projection": "tasks.studio.build",
    "compression_lessons": "tasks.studio.build",
    "FAMILIES": "tasks.studio.model",
    "fine_tune_colorizer": "tasks.colorize.build",
    "train_sequence_models": "tasks.sequence.build",
    "run_labels": "tasks.semisupervised.build",
    "accuracy_curve": "tasks.semisupervised.build",
}

__all__ = sorted([*_API, "available", "TrainingUnavailable", "INSTALL_COMMAND"])

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time names resolve on first use
    from .tasks.colorize.build import fine_tune_colorizer  # noqa: F401
    from .tasks.semisupervised.build import accuracy_curve, run_labels  # noqa: F401
    from .tasks.sequence.build import train_sequence_models  # noqa: F401
    from .tasks.studio.build import (  # noqa: F401
        compare_family,
        compression_lessons,
        digits_projection,
        plane_and_curve,
        train_model,
    )
    from .tasks.studio.model import FAMILIES  # noqa: F401


class TrainingUnavailable(ImportError):
    """PyTorch is not installed: this install can serve models but not train them."""


def available() -> bool:
    """Whether PyTorch is installed, so that training and fine-tuning can run here."""
    return importlib.util.find_spec("torch") is not None


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'engine.training' has no attribute {name!r}")
    if not available():
        raise TrainingUnavailable(f"Training needs PyTorch, which is not installed here. "
                                  f"Install it with `{INSTALL_COMMAND}`.")
    value = getattr(importlib.import_module(f"engine.{module}"), name)
    globals()[name] = value  # later look-ups skip this hook
    return value


def __dir__() -> list[str]:
    return __all__
