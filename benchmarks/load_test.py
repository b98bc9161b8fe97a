"""Load test: many `gradio_client` clients call the `predict` API while a training run goes.

Each client is a thread with its own `gradio_client.Client`; it uploads a PNG of a real MNIST test
digit (drawn black on white at 280x280, like a photo of a digit) and waits for the answer, again and
again, for --seconds. Just before the clients start, a training run is started through the `train`
API; after the clients stop, the script waits for that run to end. It reports requests/s, latency
p50/p90/p99 (upload + queue + prediction, as a client sees it), errors (any exception or an answer
without a label), wrong digits (counted, not errors), the server log's tracebacks, and whether the
training run finished and how.

    python benchmarks/load_test.py                              # its own app: 16 clients, 60 s
    python benchmarks/load_test.py --clients 4 --seconds 10 --json out.json
    python benchmarks/load_test.py --url http://127.0.0.1:7860/ # an app that is already running

Without --url it starts `python app.py` on a free port with an empty temporary checkpoint folder
and no training caps, and stops it afterwards. `AppServer` (tests/support/server.py) is what the tests use too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.server import AppServer  # noqa: E402

# The run trained during the load: the default CNN on a third of the set, one epoch.
DEFAULT_TRAINING = {"model": "cnn", "train_size": 20_000, "val_size": 1000, "epochs": 1}


def digit_images(folder: Path, count: int = 10) -> list[tuple[Path, int]]:
    """PNG files of `count` MNIST test digits, black on white at 280x280, with their labels."""
    from PIL import Image, ImageOps

    from mnist_core.data import load_mnist_cached

    data = load_mnist_cached(log=lambda msg: None)
    images = []
    for i in range(count):
        pixels = data.test_images[i].numpy()
        image = ImageOps.invert(Image.fromarray(pixels, "L")).resize((280, 280), Image.Resampling.BICUBIC)
        path = folder / f"digit-{i}.png"
        image.save(path)
        images.append((path, int(data.test_labels[i])))
    return images


@dataclass
class ClientLog:
    latencies: list[float] = field(default_factory=list)
    wrong: int = 0
    errors: list[str] = field(default_factory=list)


def _client_loop(
    n: int, url: str, images: list[tuple[Path, int]], start: threading.Barrier, end: list[float], model: str | None
) -> ClientLog:
    from gradio_client import Client, handle_file

    log = ClientLog()
    client = Client(url, verbose=False)
    start.wait()
    i = n  # clients start on different digits
    while time.monotonic() < end[0]:
        path, label = images[i % len(images)]
        i += 1
        began = time.perf_counter()
        try:
            top, _probs, _seen, _text = client.predict(handle_file(str(path)), model, api_name="/predict")
        except Exception as exc:  # noqa: BLE001 - every failure counts, whatever it is
            log.errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            continue
        log.latencies.append(time.perf_counter() - began)
        if not isinstance(top, dict) or "label" not in top:
            log.errors.append(f"answer without a label: {str(top)[:200]}")
        elif str(top["label"]) != str(label):
            log.wrong += 1
    return log


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def run_load(
    url: str,
    clients: int = 16,
    seconds: float = 60,
    training: Mapping[str, Any] | None = DEFAULT_TRAINING,
    train_timeout: float = 900,
    images: list[tuple[Path, int]] | None = None,
    model: str | None = None,
) -> dict:
    """Drive `url` with `clients` predicting clients for `seconds` while `training` runs; return the figures.

    `images` are (file, true label) pairs (default: 10 MNIST test digits as 280x280 PNGs); `model`
    is the run name the clients ask for (default: the app's).
    """
    from gradio_client import Client

    with tempfile.TemporaryDirectory(prefix="mnist-load-") as tmp:
        images = images or digit_images(Path(tmp))
        control = Client(url, verbose=False)
        barrier = threading.Barrier(clients + 1)
        end = [float("inf")]
        logs: list[ClientLog] = [ClientLog() for _ in range(clients)]

        def worker(n: int) -> None:
            try:
                logs[n] = _client_loop(n, url, images, barrier, end, model)
            except Exception as exc:  # noqa: BLE001 - a client that could not even connect
                logs[n].errors.append(f"client setup: {type(exc).__name__}: {exc}")
                barrier.abort()

        threads = [threading.Thread(target=worker, args=(n,), name=f"client-{n}") for n in range(clients)]
        for thread in threads:
            thread.start()
        training_result: dict[str, Any] = {"requested": dict(training) if training else None}
        if training:
            try:
                training_result["started"] = control.predict(**training, api_name="/train")
            except Exception as exc:  # noqa: BLE001 - e.g. training disabled on that server
                training_result["refused"] = str(exc)
        began = time.monotonic()
        end[0] = began + seconds
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - began

        status = control.predict(api_name="/status")
        training_result["active_when_load_ended"] = status["status"] in ("starting", "running", "stopping")
        deadline = time.monotonic() + train_timeout
        while status["status"] in ("starting", "running", "stopping") and time.monotonic() < deadline:
            time.sleep(1)  # a report, not a test: polling the server's status once a second
            status = control.predict(api_name="/status")
        training_result.update(
            status=status["status"],
            message=status["message"],
            finished=status["status"] == "done",
            test_accuracy=status["metrics"].get("test_accuracy"),
            train_seconds=status["metrics"].get("train_seconds"),
            seconds_after_load_ended=round(time.monotonic() - began - wall, 1),
        )

    latencies = [t for log in logs for t in log.latencies]
    errors = [e for log in logs for e in log.errors]
    return {
        "url": url,
        "clients": clients,
        "seconds": round(wall, 2),
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / wall, 2) if wall else None,
        "latency_s": {
            "p50": _round(_percentile(latencies, 50)),
            "p90": _round(_percentile(latencies, 90)),
            "p99": _round(_percentile(latencies, 99)),
            "max": _round(max(latencies) if latencies else None),
            "mean": _round(statistics.fmean(latencies) if latencies else None),
        },
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:10],
        "wrong_digits": sum(log.wrong for log in logs),
        "training": training_result,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


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
