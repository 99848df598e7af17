"""Training jobs that run in the background: a page starts one, keeps it in its session and
shows its progress on every rerun; other sessions are not blocked (each job is a thread).

A shared server must not be piled up by its visitors, so jobs are admitted by one queue:
- at most JOB_SLOTS train at once and at most JOB_WAITING wait their turn, in order; a job
  beyond that is refused (JobsBusyError) rather than queued without bound;
- an owner (a page passes its visitor's session) has at most one job going at a time: a second
  is refused (OwnJobRunningError, naming the job that is going);
- a job whose `alive()` answers False (its visitor has gone) is stopped by a watchdog; queued,
  it leaves the queue and never starts.

A job always ends: it finishes (pages bound the steps and time they ask for), is stopped (its
stop button, or its owner gone) or fails with its error kept for the page to show. The queue
forgets a job once it has ended, and the job drops its work function (which holds the training
data), so what remains is the result, held only by whoever holds the job (a page's session)."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from engine.core.progress import Progress
from engine.core.runtime import cpu_count

log = logging.getLogger(__name__)

# A training run's torch uses every CPU it may (engine.nn.train), so two at once on a 2-core host
# only slow each other down: one slot per two CPUs. Waiting jobs hold little (their inputs, not a
# model), but each waits for a whole run (up to minutes): two per slot keeps the last one's wait
# to a few minutes and the server's worst case to 3 jobs on 2 cores; a fourth visitor is asked
# to try again in a minute.
JOB_SLOTS = max(1, cpu_count() // 2)
JOB_WAITING = 2 * JOB_SLOTS
WATCH_SECONDS = 5.0   # how often the watchdog asks the owners of jobs whether they are still there
JobUpdate = Progress   # what a job reports: the one progress type
HOLD_POLL_SECONDS = 0.2   # how often a paused loop asks whether it should stop


class PauseGate:
    """Pause, resume and single steps of a training loop that runs in another thread. The loop
    calls hold(...) before every step: it returns at once while the gate is open; while paused it
    calls `on_hold` once (show the model as it is now), then waits until the gate is opened, one
    step is allowed (step()), or `stop()` answers True. Time spent held is counted, so a run can
    report its training time without its pauses."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._paused = False
        self._steps = 0                 # single steps allowed while paused
        self._held = False              # the loop is waiting at the gate now
        self._holds = 0                 # how many times the loop has come to a halt at the gate
        self.held_seconds = 0.0

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def held(self) -> bool:
        """Whether the loop is waiting at the gate now (paused, its current step shown)."""
        return self._held

    def pause(self, timeout: float | None = 0.0) -> bool:
        """Hold the loop before its next step, waiting up to `timeout` seconds (None: for ever)
        until it is held; True if it is."""
        with self._changed:
            self._paused, self._steps = True, 0
            self._changed.notify_all()
            return self._changed.wait_for(lambda: self._held or not self._paused, timeout) and self._paused

    def resume(self) -> None:
        with self._changed:
            self._paused, self._steps = False, 0
            self._changed.notify_all()

    def step(self, timeout: float | None = None) -> bool:
        """While paused, let the loop take one more step and wait (up to `timeout` seconds) until
        it is held again after it; True if it is. Does nothing while running."""
        with self._changed:
            if not self._paused:
                return False
            holds = self._holds
            self._steps += 1
            self._changed.notify_all()
            return self._changed.wait_for(lambda: self._holds > holds or not self._paused, timeout) \
                and self._paused

    def hold(self, stop: Callable[[], bool], on_hold: Callable[[], None] | None = None) -> None:
        """The loop's call before every step (see the class)."""
        if not self._paused:
            return
        if on_hold is not None:
            on_hold()
        began = time.perf_counter()
        with self._changed:
            if self._paused and not self._steps:
                self._held, self._holds = True, self._holds + 1
                self._changed.notify_all()
            while self._paused and not self._steps and not stop():
                self._changed.wait(HOLD_POLL_SECONDS)
            self._held = False
            if self._steps:
                self._steps -= 1
        self.held_seconds += time.perf_counter() - began


class JobsBusyError(RuntimeError):
    """No job can start now: the server trains and queues as many as it takes. The message is fit
    for the user."""

    def __init__(self, running: int, waiting: int) -> None:
        self.running, self.waiting = running, waiting
        super().__init__(f"The server is busy training for other visitors ({running} running, {waiting} waiting "
                         "their turn: as many as it takes at once). Try again in a minute.")


class OwnJobRunningError(RuntimeError):
    """Its owner already has `job` going (one job per owner at a time). The message is fit for
    the user and names the job."""

    def __init__(self, job: Job) -> None:
        self.job = job
        going = "is stopping" if job.should_stop() else "is still going"
        super().__init__(f"Your run «{job.label or job.name}» {going}: one run at a time for each visitor. "
                         "Stop it, or wait for it to end, then start this one.")


@dataclass
class Job:
    """One background run of `work(job)`. `work` reports with job.report(...) and should
    check job.should_stop() between steps (a loop that can pause also holds at job.gate); its
    return value becomes job.result. `owner`
    (None: nobody in particular) and `alive` (None: always there) are the queue's; `label`
    says what the job does, in words for its owner."""

    work: Callable[[Job], Any] | None
    name: str = "training"
    label: str = ""
    owner: Hashable | None = None
    alive: Callable[[], bool] | None = field(default=None, repr=False)
    state: str = "queued"              # queued, running, done, stopped, failed
    updates: list[Progress] = field(default_factory=list)
    result: Any = None
    error: BaseException | None = None
    started: float = 0.0
    finished: float = 0.0
    gate: PauseGate = field(default_factory=PauseGate, repr=False)   # pause, resume, single steps
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _queue: JobQueue | None = field(default=None, repr=False)

    def _run(self) -> None:
        queue, ended = self._queue, "stopped"   # stopped, or its owner gone, before it had a slot
        try:
            if queue is None or queue.take_slot(self):
                ended = self._work()
        finally:
            self.work = None   # it holds the training data: let it go with the run
            if queue is not None:
                queue.leave(self)   # before the state says so: its owner may start another at once
            self.finished = time.time()
            self.state = ended

    def _work(self) -> str:
        """Run the work; how it ended."""
        try:
            self.result = self.work(self)
            return "stopped" if self._stop.is_set() else "done"
        except BaseException as err:   # kept for the page; the thread must not die silently
            err.__traceback__ = None   # its frames hold the model and the data (the page logged it)
            self.error = err
            return "failed"

    def report(self, update: Progress) -> None:
        """The job's progress callback: pass it as `progress=job.report` to anything that trains."""
        self.updates.append(update)

    def stop(self) -> None:
        """Ask the job to stop at its next step (a queued job leaves the queue and never starts)."""
        self._stop.set()
        self.gate.resume()   # a paused run goes on to its stop at once
        if self._queue is not None:
            self._queue.wake()

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def owner_alive(self) -> bool:
        """Whether the job's owner is still there (True when it cannot tell)."""
        try:
            return self.alive is None or bool(self.alive())
        except Exception:   # a checker that fails does not stop a run: the run's own bounds end it
            log.exception("Could not tell whether the owner of job %s is still there", self.name)
            return True

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


class JobQueue:
    """The jobs admitted and not yet ended, in order of arrival: at most `slots` running and
    `waiting` queued, one per owner; a watchdog stops those whose owner has gone, every
    `watch_seconds` while any job has an owner to watch."""

    def __init__(self, slots: int = JOB_SLOTS, waiting: int = JOB_WAITING, watch_seconds: float = WATCH_SECONDS):
        self.slots, self.waiting, self.watch_seconds = slots, waiting, watch_seconds
        self._jobs: list[Job] = []
        self._changed = threading.Condition()   # a job admitted, stopped, started or ended
        self._watchdog: threading.Thread | None = None

    def jobs(self) -> list[Job]:
        """The jobs admitted and not yet ended (a copy), oldest first."""
        with self._changed:
            return list(self._jobs)

    def owned_by(self, owner: Hashable) -> Job | None:
        """The job `owner` has going, if any."""
        with self._changed:
            return next((job for job in self._jobs if job.owner is not None and job.owner == owner), None)

    def admit(self, job: Job) -> None:
        """Take `job` in, or raise OwnJobRunningError (its owner has one going) or JobsBusyError
        (full)."""
        with self._changed:
            if job.owner is not None and (going := self.owned_by(job.owner)) is not None:
                raise OwnJobRunningError(going)
            running = sum(1 for j in self._jobs if j.state == "running")
            if len(self._jobs) >= self.slots + self.waiting:
                raise JobsBusyError(running, len(self._jobs) - running)
            job._queue = self
            self._jobs.append(job)
            if job.alive is not None and self._watchdog is None:
                self._watchdog = threading.Thread(target=self._watch, name="job-watchdog", daemon=True)
                self._watchdog.start()

    def take_slot(self, job: Job) -> bool:
        """Wait until `job` may run (a slot is free and every job before it has one) and mark it
        running; False if it was stopped, or its owner left, first."""
        if not job.owner_alive():
            job.stop()
        with self._changed:
            while True:
                if job.should_stop():
                    return False
                running = sum(1 for j in self._jobs if j.state == "running")
                waiting = [j for j in self._jobs if j.state == "queued" and not j.should_stop()]
                if running < self.slots and waiting[0] is job:
                    job.state, job.started = "running", time.time()
                    return True
                self._changed.wait()

    def leave(self, job: Job) -> None:
        """Forget `job`, which has ended, and let the next one start."""
        with self._changed:
            if job in self._jobs:
                self._jobs.remove(job)
            self._changed.notify_all()

    def wake(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _watch(self) -> None:
        while True:
            with self._changed:
                watched = [job for job in self._jobs if job.alive is not None]
                if not watched:
                    self._watchdog = None
                    return
            for job in watched:
                if not job.should_stop() and not job.owner_alive():
                    log.info("Stopping job %s (%s): its owner has gone", job.name, job.state)
                    job.stop()
            time.sleep(self.watch_seconds)


_queue = JobQueue()


def start_job(work: Callable[[Job], Any], name: str = "training", label: str = "", owner: Hashable | None = None,
              alive: Callable[[], bool] | None = None) -> Job:
    """Start `work` in the background, or raise JobsBusyError (the server is full) or
    OwnJobRunningError (`owner` has a job going); see the module's notes."""
    job = Job(work=work, name=name, label=label, owner=owner, alive=alive)
    _queue.admit(job)
    job._thread = threading.Thread(target=job._run, name=f"job-{name}", daemon=True)
    job._thread.start()
    return job
