"""One training loop for every model: seeded, with a progress callback, a cosine schedule,
and optionally a validation at every report with early stopping."""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from engine.core.progress import Progress
from engine.core.runtime import cpu_count


@dataclass
class TrainConfig:
    steps: int = 2000
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.0
    seed: int = 0
    clip_norm: float = 1.0
    threads: int | None = None   # torch CPU threads; None: the CPUs this process may use
    optimizer: str = "adamw"     # OPTIMIZERS: the lecture's networks name Adam, RMSProp or Adadelta
    schedule: str = "cosine"     # "cosine" (after a short warm-up) or "constant" (as Keras trains by default)


OPTIMIZERS = {
    "adamw": lambda params, c: torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay),
    "adam": lambda params, c: torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay),
    "rmsprop": lambda params, c: torch.optim.RMSprop(params, lr=c.lr, alpha=0.9, weight_decay=c.weight_decay),
    "adadelta": lambda params, c: torch.optim.Adadelta(params, lr=c.lr, rho=0.95, weight_decay=c.weight_decay),
}


class TrainHistory(list):
    """What fit returns: the loss of every step (a plain list of floats to every caller that
    only wants that), plus every report, the best one when early stopping watched, whether
    patience ran out and whether the stop callable ended training."""

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[Progress] = []
        self.best: Progress | None = None
        self.stopped_early = False      # patience ran out; the best report's weights were restored
        self.stopped = False            # `stop` answered True


# A batch maker gets (step, numpy Generator) and returns (inputs, targets) as float32 arrays;
# inputs may be a tuple of arrays for a model with several inputs (a conditional VAE's label).
BatchFn = Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]]


# A loss gets (model outputs, targets) and returns a scalar tensor.
LossFn = Callable[[dict, torch.Tensor], torch.Tensor]


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def fit(model: nn.Module, make_batch: BatchFn, config: TrainConfig, *,
        loss_fn: LossFn | None = None,
        progress: Callable[[Progress], None] | None = None,
        report_every: int = 50, stop: Callable[[], bool] | None = None,
        validate: Callable[[nn.Module], float] | None = None,
        patience: int | None = None) -> TrainHistory:
    """Train `model` in place for config.steps steps; returns the loss of every step (a
    TrainHistory: a list that also keeps the reports). Batches are made on the fly, so noise
    is fresh at every step. `stop` is asked before every step; when it answers True training
    ends there (a user's stop button, a deadline). A report comes every `report_every` steps
    and at the last; `validate(model)` (lower is better) is asked at each, with the model in
    eval mode, without gradients and on the training device, and its value goes into the
    report. With `patience`, training ends once that many reports in a row bring no better
    validation, and however it ends the model keeps the weights of its best report. The loss is
    the model's own `loss(outputs, targets)` unless `loss_fn` is given."""
    if patience is not None and (validate is None or patience < 1):
        raise ValueError("early stopping needs a validate callable and a patience of at least 1")
    loss_fn = loss_fn or model.loss
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    torch.set_num_threads(config.threads or cpu_count())
    device = pick_device()
    model.to(device).train()
    if config.optimizer not in OPTIMIZERS or config.schedule not in ("cosine", "constant"):
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)} and schedule cosine or constant")
    optimizer = OPTIMIZERS[config.optimizer](model.parameters(), config)
    warmup = max(1, config.steps // 50)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, (lambda s: 1.0) if config.schedule == "constant" else (
        lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * s / config.steps))))
    losses = TrainHistory()
    best_state: dict[str, torch.Tensor] | None = None
    start = time.perf_counter()
    for step in range(config.steps):
        if stop is not None and stop():
            losses.stopped = True
            break
        inputs, targets = make_batch(step, rng)
        inputs = inputs if isinstance(inputs, tuple) else (inputs,)
        outputs = model(*(torch.from_numpy(x).to(device) for x in inputs))
        loss = loss_fn(outputs, torch.from_numpy(targets).to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        # Impulse noise makes rare huge gradients; clipping keeps one bad batch from
        # knocking the network into a dead state.
        nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if (step + 1) % report_every == 0 or step + 1 == config.steps:
            report = Progress(step + 1, config.steps, float(np.mean(losses[-report_every:])),
                                   time.perf_counter() - start, _validation(model, validate))
            losses.reports.append(report)
            if progress:
                progress(report)
            if patience is not None:
                if losses.best is None or report.validation < losses.best.validation:
                    losses.best = report
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                elif sum(r.step > losses.best.step for r in losses.reports) >= patience:
                    losses.stopped_early = True
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.to("cpu").eval()
    return losses


def _validation(model: nn.Module, validate: Callable[[nn.Module], float] | None) -> float | None:
    if validate is None:
        return None
    model.eval()
    with torch.no_grad():
        value = float(validate(model))
    model.train()
    return value
