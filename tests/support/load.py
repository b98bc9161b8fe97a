"""Many `gradio_client` clients calling the app's `predict` API while a training run goes.

Shared by tests/test_load.py (a short run) and `python -m benchmarks.load_test` (the full one):
each client is a thread with its own `Client` that uploads PNGs of real MNIST test digits and
checks every answer; `run_load` returns requests/s, latency percentiles, errors, wrong digits and
how the training run ended.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    """What one client saw: each answer's latency, wrong digits, and every failure's message."""

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
