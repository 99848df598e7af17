"""The one report of a training run, whoever trains: the training loop (engine.nn.train.fit),
the studio (per epoch and phase), background jobs and the pages that draw their curves."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Progress:
    step: int                          # steps done (over every phase of the run)
    steps: int                         # steps the run was asked for
    loss: float                        # the training objective, mean since the last report
    seconds: float                     # since the run started
    validation: float | None = None    # the validation error at this report, when watched
    epoch: float | None = None         # step / steps per epoch, where epochs mean something
    phase: str = "training"            # "training", "pretraining layer 2 of 3", "fine-tuning"
