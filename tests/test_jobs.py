"""Background training jobs: they finish, stop when asked, keep their errors, and never run
more at once than there are slots."""
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


def test_a_failing_job_keeps_its_error():
    def work(job):
        raise ValueError("no photos")

    job = jobs.start_job(work)
    assert job.wait(10) and job.state == "failed" and str(job.error) == "no photos"
    assert not job.running


def test_jobs_beyond_the_slots_wait_and_a_stopped_queued_job_never_runs(monkeypatch):
    monkeypatch.setattr(jobs, "_slots", threading.BoundedSemaphore(1))
    gate = threading.Event()
    ran = []

    def blocking(job):
        gate.wait(10)
        return "first"

    first = jobs.start_job(blocking)
    while first.state != "running":
        time.sleep(0.005)
    second = jobs.start_job(lambda job: ran.append(1))
    time.sleep(0.05)
    assert second.state == "queued" and second.running
    second.stop()
    gate.set()
    assert first.wait(10) and second.wait(10)
    assert first.result == "first" and second.state == "stopped" and ran == []


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
