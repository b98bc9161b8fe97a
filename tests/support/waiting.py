"""Waiting for a condition, never for a length of time: every wait polls with a generous deadline,
which only turns a hang into a failure (a loaded machine is slow, never wrong)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from mnist_core.app.jobs import JobManager, JobState

T = TypeVar("T")
TIMEOUT = 600.0  # s: a guard against a hang, not a measure of speed
ACTIVE = ("starting", "running", "stopping", "queued")  # "queued": a job waiting in line has not ended either


def wait_for(condition: Callable[[], T], what: str, timeout: float = TIMEOUT, interval: float = 0.005) -> T:
    """Poll `condition()` until it returns something truthy (returned); fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(interval)


def finished(jobs: JobManager, timeout: float = TIMEOUT) -> JobState:
    """The job manager's state once its run or sweep has ended."""
    assert jobs.wait(timeout), f"the job did not end within {timeout:g} s: {jobs.snapshot().message}"
    return jobs.snapshot()


def run_ended(client: Any, timeout: float = TIMEOUT) -> dict:
    """The app's /status (through a gradio_client Client) once its run is no longer active."""
    return wait_for(
        lambda: (status := client.predict(api_name="/status"))["status"] not in ACTIVE and status,
        "the run to end",
        timeout,
        interval=0.5,
    )
