"""The line through the API (issue 20): three gradio_client sessions are three visitors of one real app.

The app's first run holds at its first step until it is stopped (tests/support/hold.py, in the training
child), so "while A trains" is a known point; the next runs are tiny and train to the end.
"""

from __future__ import annotations

import threading

import pytest
from gradio_client import Client

from tests.support.fixtures import TINY
from tests.support.hold import RunHold, child_env, held_pids
from tests.support.waiting import run_ended, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(start_app, tmp_path_factory):
    marker = tmp_path_factory.mktemp("hold") / "held"
    app = start_app(env={**child_env(marker, run=RunHold(epoch=1, run=1)), "MNIST_MAX_QUEUE": "1"})
    app.marker = marker
    return app


def test_three_sessions_share_one_line(server):
    a, b, c = (Client(server.url, verbose=False) for _ in range(3))
    assert a.predict(**TINY, api_name="/train").startswith("Started run")
    wait_for(lambda: held_pids(server.marker, "run"), "A's run to hold at its first step")

    queued = b.predict(**{**TINY, "seed": 1}, api_name="/train")
    assert queued.startswith("Queued run") and "yours is next" in queued, queued
    status = b.predict(api_name="/status")
    assert (status["status"], status["position"]) == ("queued", 1), status
    assert status["server"]["queued"] == 1 and status["server"]["running"]["yours"] is False
    assert "Another visitor's run is training: epoch 1 of 1" in status["message"]
    assert status["wait_seconds"] is not None and "expected to start in about" in status["message"]  # its pace

    with pytest.raises(Exception, match=r"The line is full: 1 job\(s\) are waiting"):  # MNIST_MAX_QUEUE=1
        c.predict(**TINY, api_name="/train")
    refused = c.predict(api_name="/stop")
    assert "Another visitor's run is training" in refused and "Stop changed nothing" in refused, refused
    assert a.predict(api_name="/status")["status"] == "running"  # A's run goes on
    assert c.predict(api_name="/status")["status"] == "idle"

    a.predict(api_name="/stop")
    assert run_ended(a)["status"] == "stopped"
    done = run_ended(b)  # B's run started by itself when A's ended, with nobody calling for it
    assert done["status"] == "done" and done["position"] is None, done
    table, _ = c.predict(api_name="/runs")
    assert done["run"] in [row[0] for row in table["data"]]


def test_two_sessions_starting_in_the_same_instant_one_runs_and_the_other_is_first_in_line(server):
    clients = [Client(server.url, verbose=False) for _ in range(2)]
    barrier, answers = threading.Barrier(2), {}

    def start(n: int) -> None:
        barrier.wait()
        answers[n] = clients[n].predict(**TINY, api_name="/train")

    threads = [threading.Thread(target=start, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    kinds = sorted(answer.split(" ", 1)[0] for answer in answers.values())
    assert kinds == ["Queued", "Started"], answers
    waiter = next(n for n, answer in answers.items() if answer.startswith("Queued"))
    assert clients[waiter].predict(api_name="/status")["position"] == 1
    for client in clients:
        assert run_ended(client)["status"] == "done"  # each trained once (the hold was the first run's only)
