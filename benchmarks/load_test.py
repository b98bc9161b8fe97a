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

Without --url it starts `python app.py` on a free port with an empty temporary checkpoint folder
and no training caps, and stops it afterwards. The clients (tests/support/load.py) and `AppServer`
(tests/support/server.py) are what tests/test_load.py uses too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from tests.support.load import DEFAULT_TRAINING, run_load
from tests.support.server import AppServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16, help="concurrent predicting clients (default 16)")
    parser.add_argument("--seconds", type=float, default=60, help="how long the clients run (default 60)")
    parser.add_argument("--url", help="an app that is already running (default: start one)")
    parser.add_argument(
        "--train",
        default=json.dumps(DEFAULT_TRAINING),
        help=f"JSON hyperparameters of the run trained meanwhile, or '' for none (default {json.dumps(DEFAULT_TRAINING)})",
    )
    parser.add_argument("--train-timeout", type=float, default=900, help="seconds to wait for the run after the load")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    training = json.loads(args.train) if args.train else None

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
