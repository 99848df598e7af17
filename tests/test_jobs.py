"""Background training jobs: they finish, stop when asked, keep their errors, never run more at
once than there are slots nor queue more than the queue takes, one per owner, stop when their
owner has gone, and are forgotten once they end."""
import threading
import time

import pytest

from engine.core import jobs


def _counting(steps: int, pause: float = 0.0):
    def work(job: jobs.Job) -> int:
        done = 0
        for step in range(steps):
            if job.should_stop():
                break
            time.sleep(pause)
            done += 1
            job.report(jobs.JobUpdate(step + 1, steps, 1.0 / (step + 1), 0.0))
        return done
    return work


def test_a_job_runs_to_the_end_in_the_background():
    job = jobs.start_job(_counting(20))
    assert job.wait(10) and job.state == "done" and job.result == 20
    assert [u.step for u in job.updates] == list(range(1, 21)) and job.fraction == 1.0
    assert job.finished >= job.started > 0


def test_a_job_stops_when_asked():
    job = jobs.start_job(_counting(10_000, pause=0.001))
    while not job.updates:
        time.sleep(0.005)
    job.stop()
    assert job.wait(10) and job.state == "stopped"
    assert 0 < job.result < 10_000 and 0 < job.fraction < 1


def _gated(steps: int):
    """Counts steps, held at the job's pause gate before each; records the step of every halt."""
    def work(job: jobs.Job) -> list[int]:
        halts = []
        for step in range(steps):
            job.gate.hold(job.should_stop, lambda: halts.append(step))
            if job.should_stop():
                break
            job.report(jobs.JobUpdate(step + 1, steps, 1.0, 0.0))
        return halts
    return work


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never came"
        time.sleep(0.005)


def test_a_paused_job_holds_takes_single_steps_and_resumes():
    job = jobs.Job(work=_gated(50))
    job.gate.pause()   # paused before its first step
    job._thread = threading.Thread(target=job._run)
    job._thread.start()
    _wait_for(lambda: job.gate.held)
    time.sleep(0.05)
    assert job.updates == [] and job.running   # held: no step taken
    assert job.gate.step(timeout=10) and [u.step for u in job.updates] == [1]   # exactly one step, then held again
    assert job.gate.step(timeout=10) and [u.step for u in job.updates] == [1, 2]
    assert job.gate.held_seconds > 0.04
    job.gate.resume()
    assert job.wait(10) and job.state == "done" and len(job.updates) == 50
    assert job.result == [0, 1, 2]   # it halted before steps 0, 1 and 2 (each showed its step)
    assert not job.gate.step(timeout=0.1)   # not paused: a single step is nothing


def test_a_paused_job_stops_when_asked():
    job = jobs.Job(work=_gated(50))
    job.gate.pause()
    job._thread = threading.Thread(target=job._run)
    job._thread.start()
    _wait_for(lambda: job.gate.held)
    job.stop()
    assert job.wait(10) and job.state == "stopped" and job.updates == []


def test_a_failing_job_keeps_its_error():
    def work(job):
        raise ValueError("no photos")

    job = jobs.start_job(work)
    assert job.wait(10) and job.state == "failed" and str(job.error) == "no photos"
    assert not job.running


def _until_stopped(started: threading.Event | None = None):
    """Work that holds its slot until it is asked to stop, saying once it runs."""
    def work(job: jobs.Job) -> str:
        if started is not None:
            started.set()
        job._stop.wait(60)
        return "held"
    return work


@pytest.fixture
def queue(monkeypatch) -> jobs.JobQueue:
    """One slot, one place in the queue, a watchdog that looks often."""
    fresh = jobs.JobQueue(slots=1, waiting=1, watch_seconds=0.01)
    monkeypatch.setattr(jobs, "_queue", fresh)
    yield fresh
    for job in fresh.jobs():
        job.stop()
        job.wait(10)


def test_jobs_beyond_the_slots_wait_and_a_stopped_queued_job_never_runs(queue):
    started, ran = threading.Event(), []
    first = jobs.start_job(_until_stopped(started))
    assert started.wait(10) and first.state == "running"
    second = jobs.start_job(lambda job: ran.append(1))
    assert second.state == "queued" and second.running
    second.stop()
    assert second.wait(10) and second.state == "stopped" and ran == [] and second.result is None
    assert first.running
    first.stop()
    assert first.wait(10) and first.result == "held" and first.state == "stopped"


def test_a_queued_job_starts_when_the_slot_frees(queue):
    first = jobs.start_job(_until_stopped())
    second = jobs.start_job(lambda job: "second")
    assert second.state == "queued"
    first.stop()
    assert second.wait(10) and second.state == "done" and second.result == "second"


def test_beyond_the_slots_and_the_queue_a_job_is_refused_until_one_ends(queue):
    started = threading.Event()
    first = jobs.start_job(_until_stopped(started), owner="a")
    assert started.wait(10)
    second = jobs.start_job(_until_stopped(), owner="b")
    with pytest.raises(jobs.JobsBusyError, match="1 running, 1 waiting.*Try again in a minute") as busy:
        jobs.start_job(lambda job: "never", owner="c")
    assert isinstance(busy.value, RuntimeError) and (busy.value.running, busy.value.waiting) == (1, 1)
    assert queue.jobs() == [first, second]    # the refused one was never taken in
    second.stop()
    assert second.wait(10)
    third = jobs.start_job(lambda job: "third", owner="c")   # room again
    first.stop()
    assert third.wait(10) and third.result == "third"


def test_an_owner_has_one_job_at_a_time_and_is_told_which(monkeypatch):
    monkeypatch.setattr(jobs, "_queue", jobs.JobQueue(slots=2, waiting=2))
    exported = threading.Event()

    def fine_tuning(job):   # once stopped, it exports what it has: it goes on until told it has
        job._stop.wait(60)
        exported.wait(60)

    first = jobs.start_job(fine_tuning, name="colorize-finetune", label="Fine-tuning the colorizer", owner="visitor")
    with pytest.raises(jobs.OwnJobRunningError, match="«Fine-tuning the colorizer» is still going") as refused:
        jobs.start_job(lambda job: "second", owner="visitor")
    assert refused.value.job is first and not isinstance(refused.value, jobs.JobsBusyError)
    other = jobs.start_job(lambda job: "other", owner="someone else")   # others are not held back
    assert other.wait(10) and other.result == "other"
    nobody = [jobs.start_job(lambda job: "free") for _ in range(2)]     # nor jobs with no owner
    first.stop()
    with pytest.raises(jobs.OwnJobRunningError, match="is stopping"):
        jobs.start_job(lambda job: "second", owner="visitor")
    exported.set()
    assert first.wait(10) and all(job.wait(10) for job in nobody)
    again = jobs.start_job(lambda job: "again", owner="visitor")        # once it has ended
    assert again.wait(10) and again.result == "again"


def test_a_running_job_is_stopped_when_its_owner_has_gone(queue):
    here, started = threading.Event(), threading.Event()
    here.set()
    job = jobs.start_job(_until_stopped(started), owner="visitor", alive=here.is_set)
    assert started.wait(10)
    here.clear()   # the visitor closed the tab
    assert job.wait(30) and job.state == "stopped" and job.result == "held"
    assert queue.jobs() == []


def test_a_queued_job_whose_owner_has_gone_never_starts(queue):
    here, ran = threading.Event(), []
    here.set()
    first = jobs.start_job(_until_stopped(), owner="a")
    queued = jobs.start_job(lambda job: ran.append(1), owner="b", alive=here.is_set)
    here.clear()
    assert queued.wait(30) and queued.state == "stopped" and ran == []
    assert queue.jobs() == [first] and first.running   # its place is free at once, not when the slot frees
    jobs.start_job(lambda job: None, owner="c")
    first.stop()


def test_a_job_whose_owner_has_gone_before_its_turn_never_runs(queue):
    ran = []
    job = jobs.start_job(lambda job: ran.append(1), alive=lambda: False)
    assert job.wait(10) and job.state == "stopped" and ran == []


def test_an_owner_checker_that_fails_does_not_stop_the_run(queue):
    def broken() -> bool:
        raise LookupError("no runtime")

    job = jobs.start_job(lambda job: "done", alive=broken)
    assert job.wait(10) and job.state == "done"


def test_the_queue_forgets_ended_jobs_and_a_job_lets_its_data_go(queue):
    data = bytearray(1000)

    def uses(job):
        return len(data)

    done = jobs.start_job(uses)
    assert done.wait(10) and done.result == 1000
    failed = jobs.start_job(lambda job: 1 / 0)
    assert failed.wait(10) and failed.state == "failed" and failed.error.__traceback__ is None
    stopped = jobs.start_job(_until_stopped())
    stopped.stop()
    assert stopped.wait(10)
    assert queue.jobs() == []
    assert all(job.work is None for job in (done, failed, stopped))
    # nothing else refers to a finished job: the one who holds it (a session) decides its life
    import gc
    import weakref

    gone = weakref.ref(done)
    del done
    gc.collect()
    assert gone() is None


def test_the_default_queue_suits_the_cpus():
    assert jobs.JOB_SLOTS == max(1, jobs.cpu_count() // 2) and jobs.JOB_WAITING == 2 * jobs.JOB_SLOTS
    assert (jobs._queue.slots, jobs._queue.waiting) == (jobs.JOB_SLOTS, jobs.JOB_WAITING)


@pytest.mark.parametrize("state, running", [("queued", True), ("running", True), ("done", False),
                                            ("stopped", False), ("failed", False)])
def test_running_follows_the_state(state, running):
    assert jobs.Job(work=lambda job: None, state=state).running is running


def test_reports_are_kept_in_order_and_give_the_fraction_done():
    job = jobs.Job(work=lambda job: None)
    studio = jobs.Progress(10, 100, 0.5, 1.5, epoch=1.0, phase="pretraining layer 1 of 2")
    job.report(studio)
    job.report(jobs.Progress(20, 100, 0.25, 3.0, validation=0.3))
    assert job.updates[0] is studio
    assert job.updates[1] == jobs.Progress(20, 100, 0.25, 3.0, 0.3)
    assert job.fraction == 0.2
