"""Training jobs that run in the background: a page starts one, keeps it in its session and
shows its progress on every rerun; other sessions are not blocked (each job is a thread, and
at most JOB_SLOTS train at once; the rest wait their turn). A job always ends: it finishes
(pages bound the steps they ask for, so a user who leaves lets it run to its end), is stopped
(its stop button) or fails with its error kept for the page to show."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.core.progress import Progress
from engine.core.runtime import cpu_count

JOB_SLOTS = max(1, cpu_count() // 2)
_slots = threading.BoundedSemaphore(JOB_SLOTS)
JobUpdate = Progress   # what a job reports: the one progress type


@dataclass
class Job:
    """One background run of `work(job)`. `work` reports with job.report(...) and should
    check job.should_stop() between steps; its return value becomes job.result."""

    work: Callable[[Job], Any]
    name: str = "training"
    state: str = "queued"              # queued, running, done, stopped, failed
    updates: list[Progress] = field(default_factory=list)
    result: Any = None
    error: BaseException | None = None
    started: float = 0.0
    finished: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> Job:
        self._thread = threading.Thread(target=self._run, name=f"job-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        with _slots:
            if self._stop.is_set():
                self.state, self.finished = "stopped", time.time()
                return
            self.state, self.started = "running", time.time()
            try:
                self.result = self.work(self)
                self.state = "stopped" if self._stop.is_set() else "done"
            except BaseException as err:   # kept for the page; the thread must not die silently
                self.error, self.state = err, "failed"
            finally:
                self.finished = time.time()

    def report(self, update: Progress) -> None:
        """The job's progress callback: pass it as `progress=job.report` to anything that trains."""
        self.updates.append(update)

    def stop(self) -> None:
        """Ask the job to stop at its next step (a queued job never starts)."""
        self._stop.set()

    def should_stop(self) -> bool:
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        return self.state in ("queued", "running")

    @property
    def fraction(self) -> float:
        if self.state == "done":
            return 1.0
        last = self.updates[-1] if self.updates else None
        return 0.0 if last is None else min(1.0, last.step / max(1, last.steps))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (tests and the command line); True if it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running


def start_job(work: Callable[[Job], Any], name: str = "training") -> Job:
    return Job(work=work, name=name).start()
