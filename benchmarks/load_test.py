"""Load test: many `gradio_client` clients call the `predict` API while a training run goes.

Each client is a thread with its own `gradio_client.Client`; it uploads a PNG of a real MNIST test
digit (drawn black on white at 280x280, like a photo of a digit) and waits for the answer, again and
again, for --seconds. Just before the clients start, a training run is started through the `train`
API; after the clients stop, the script waits for that run to end. It reports requests/s, latency
p50/p90/p99 (upload + queue + prediction, as a client sees it), errors (any exception or an answer
without a label), wrong digits (counted, not errors), the server log's tracebacks, and whether the
training run finished and how.

    python -m benchmarks.load_test                              # its own app: 16 clients, 60 s
    python -m benchmarks.load_test --clients 4 --seconds 10 --json out.json
    python -m benchmarks.load_test --url http://127.0.0.1:7860/ # an app that is already running
    python -m benchmarks.load_test --space                      # a shared Space: 30 visitors, 2 minutes

--space (issue 20) is a shared Space on its defaults (SPACE_ID set): --visitors (30) draw for --seconds
(120) as the Draw tab's pad does, timing pen-up to answer; the first --trainers (10) of them also press
Start once each, a second apart, through their own gradio_client sessions, queueing one epoch of the
CNN on 10,000 images each (--train), and follow their job through `status`. It reports pen-up to answer
p50/p95 while a run trained and while none did, errors, and whether every run trained in the order it
was accepted and is listed in `runs` (tests/support/space_load.py).

Without --url it starts `python app.py` on a free port with an empty temporary checkpoint folder
and no training caps (--space: the Space defaults), and stops it afterwards. The clients
(tests/support/load.py, space_load.py) and `AppServer` (tests/support/server.py) are what
tests/test_load.py uses too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from tests.support.load import DEFAULT_TRAINING, run_load
from tests.support.server import AppServer
from tests.support.space_load import SPACE_TRAINING, run_space_load

SPACE = {"SPACE_ID": "someone/mnist-lab"}  # the server applies a Space's defaults (mnist_core/app/caps.py)


def cpu_model() -> str:
    """The CPU's model name and core count, for the report."""
    try:
        names = [line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")]
    except OSError:
        return "unknown"
    return f"{names[0]} ({len(names)} logical cores)" if names else "unknown"


def space_main(args: argparse.Namespace, training: dict) -> int:
    """The shared-Space mode: visitors drawing while some queue runs, on the Space defaults."""
    with contextlib.ExitStack() as stack:
        server = None if args.url else stack.enter_context(AppServer(env=SPACE))
        url = args.url or server.url
        print(f"{args.visitors} visitors for {args.seconds:g} s, {args.trainers} queueing {training}, against {url}")
        result = run_space_load(url, args.visitors, args.trainers, args.seconds, training, args.train_timeout)
        result["cpu"] = cpu_model()
        if server is not None:
            result["server_tracebacks"] = server.tracebacks()
            result["server_alive"] = server.alive()
    during, otherwise = result["pen_up_to_answer_while_training"], result["pen_up_to_answer_otherwise"]
    print(
        f"pen-up to answer while training: p50 {during['p50_ms']} ms, p95 {during['p95_ms']} ms (n {during['n']}); "
        f"otherwise p50 {otherwise['p50_ms']} ms, p95 {otherwise['p95_ms']} ms (n {otherwise['n']}); "
        f"runs done {result['runs_done']}/{args.trainers}, listed {result['runs_listed']}, in order {result['in_order']}; "
        f"errors {result['errors']}; {result['cpu']}"
    )
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    ok = result["errors"] == 0 and result["in_order"] and result["runs_listed"] == args.trainers
    return 0 if ok and not result.get("server_tracebacks") else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16, help="concurrent predicting clients (default 16)")
    parser.add_argument("--seconds", type=float, help="how long the clients run (default 60; --space: 120)")
    parser.add_argument("--url", help="an app that is already running (default: start one)")
    parser.add_argument(
        "--train",
        help=f"JSON hyperparameters of the run trained meanwhile, or '' for none (default {json.dumps(DEFAULT_TRAINING)}; "
        f"--space: each queued run, default {json.dumps(SPACE_TRAINING)})",
    )
    parser.add_argument("--train-timeout", type=float, default=900, help="seconds to wait for the run after the load")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--space", action="store_true", help="a shared Space: visitors drawing, some queueing runs")
    parser.add_argument("--visitors", type=int, default=30, help="--space: visitors drawing (default 30)")
    parser.add_argument(
        "--trainers", type=int, default=10, help="--space: of them, visitors queueing a run (default 10)"
    )
    args = parser.parse_args(argv)
    if args.space:
        args.seconds = 120 if args.seconds is None else args.seconds
        return space_main(args, json.loads(args.train) if args.train else SPACE_TRAINING)
    args.seconds = 60 if args.seconds is None else args.seconds
    train = json.dumps(DEFAULT_TRAINING) if args.train is None else args.train
    training = json.loads(train) if train else None

    with contextlib.ExitStack() as stack:
        server = None
        url = args.url
        if not url:
            server = stack.enter_context(AppServer())
            url = server.url
        print(f"{args.clients} clients for {args.seconds:g} s against {url}, training {training}", flush=True)
        result = run_load(url, args.clients, args.seconds, training, args.train_timeout)
        if server is not None:
            result["server_tracebacks"] = server.tracebacks()
            result["server_alive"] = server.alive()
    lat = result["latency_s"]
    print(
        f"{result['requests']} requests in {result['seconds']} s: {result['requests_per_s']} requests/s, "
        f"latency p50 {lat['p50']} s, p90 {lat['p90']} s, p99 {lat['p99']} s, max {lat['max']} s; "
        f"errors {result['errors']}, wrong digits {result['wrong_digits']}"
    )
    t = result["training"]
    print(f"training: {t.get('status')} ({t.get('message')}); finished: {t.get('finished')}")
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["errors"] == 0 and not result.get("server_tracebacks") else 1


if __name__ == "__main__":
    sys.exit(main())
