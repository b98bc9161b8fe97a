"""Many visitors at once (issue 5): 16 gradio_client clients predict for 10 s while a run trains; and a
shared Space (issue 20): visitors drawing while some queue runs.

A short version of `python -m benchmarks.load_test` (16 clients for 60 s, figures in docs/ROBUSTNESS.md)
with the same clients (tests/support/load.py): zero errors, every answer a label, the run finishes,
no traceback in the server log.
"""

from __future__ import annotations

import pytest

from tests.support.fixtures import TINY
from tests.support.load import run_load
from tests.support.server import AppServer
from tests.support.space_load import run_space_load

pytestmark = pytest.mark.slow


def test_sixteen_clients_predict_without_errors_while_a_run_trains():
    with AppServer() as server:
        result = run_load(server.url, clients=16, seconds=10, training={**TINY, "epochs": 2}, train_timeout=300)
        tracebacks = server.tracebacks()
        alive = server.alive()
    assert result["errors"] == 0, result["error_samples"]
    assert result["requests"] >= 16, result  # every client got answers, not just one
    assert result["wrong_digits"] <= result["requests"] // 10, result  # real answers, from the real model
    training = result["training"]
    assert "started" in training and training["finished"], training
    assert training["status"] == "done" and training["test_accuracy"] > 0.5, training
    assert tracebacks == [] and alive


def test_a_shared_space_trains_every_visitors_queued_run_in_order_while_everyone_draws():
    """The shared-Space mode of the load test, small (issue 20): 3 visitors draw, 2 of them queue a run each
    through their own sessions; no errors, both runs train in the order they were accepted and are listed."""
    with AppServer(env={"SPACE_ID": "someone/mnist-lab"}) as server:
        result = run_space_load(server.url, visitors=3, trainers=2, seconds=5, training=TINY, train_timeout=300)
        tracebacks, alive = server.tracebacks(), server.alive()
    assert result["errors"] == 0, result["error_samples"]
    assert result["pen_ups"] >= 3 and result["wrong_digits"] == 0, result  # every visitor's drawings were read
    assert result["runs_done"] == 2 and result["runs_listed"] == 2, result
    assert result["in_order"], result
    assert tracebacks == [] and alive
