"""Page tests' control of background training runs, on a machine of any speed: a run held at
its first report until it is asked to stop, and a run let go to its end before the page is
looked at again."""
import time

from page_helpers import wait_for_job

import engine

HOLD_LIMIT = 240  # seconds a held run waits for its stop, should a failing test never press it


def hold_at_first_report(monkeypatch, name: str) -> None:
    """Replace engine.training.<name> (a training function taking progress= and stop=) by one
    whose run, once it has made its first report, waits until stop() answers True; it then
    ends with the steps done so far. A test then presses Stop while the run is surely going
    and knows how many steps it did."""
    real = getattr(engine.training, name)

    def held(*args, progress, stop, **kwargs):
        def report(update) -> None:
            progress(update)
            deadline = time.monotonic() + HOLD_LIMIT
            while not stop() and time.monotonic() < deadline:
                time.sleep(0.02)

        return real(*args, progress=report, stop=stop, **kwargs)

    monkeypatch.setattr(engine.training, name, held)


def hold_job_reports(monkeypatch) -> None:
    """Every background job holds after each report it makes until it is asked to stop: a test
    presses Stop while the run is surely going, whatever trains inside the job."""
    report = engine.Job.report

    def report_and_hold(job: engine.Job, update: engine.Progress) -> None:
        report(job, update)
        deadline = time.monotonic() + HOLD_LIMIT
        while not job.should_stop() and time.monotonic() < deadline:
            time.sleep(0.02)

    monkeypatch.setattr(engine.Job, "report", report_and_hold)


def run_to_end(at, key: str, timeout: float = 240) -> engine.Job:
    """Wait for the job in session_state[key] to end without rerunning the page meanwhile (a
    rerun every half second takes CPU the run needs), then rerun the page as its poller does."""
    job = at.session_state[key]
    job.wait(timeout)
    return wait_for_job(at, key, lambda j: not j.running, timeout)
