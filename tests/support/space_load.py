"""A shared Space under load (issue 20): many visitors drawing while some of them queue training runs.

Every visitor draws as the Draw tab's pad does (draw_pad.js): while a stroke goes, the drawing so far is
sent to the pad's server function `read_drawing` every 250 ms (one request in flight), then the whole
digit at pen-up, whose answer is timed (the pad's pen-up to answer, less the browser's PNG encoding
and rendering, a few ms); then the visitor looks at it, clears and draws the next. Some visitors also
press Start once, each through its own `gradio_client` session (so each is its own owner), a second
apart and each after the one before has had its answer (so the server gets them in that order), and
follow their job through `status` once a second, as a page's poll would. `run_space_load` returns
pen-up to answer p50/p95 while a run trained and while none did, errors, and whether every queued run
trained, in the order it was accepted (first come, first served), and is listed in `runs`.
Used by `python -m benchmarks.load_test --space` and tests/test_load.py.
"""

from __future__ import annotations

import base64
import io
import random
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.support.drawings import ONE, SEVEN, drawing

# A visitor's run: one epoch of the default CNN on 10,000 images.
SPACE_TRAINING = {"model": "cnn", "train_size": 10_000, "epochs": 1}
THROTTLE = 0.25  # s between the pad's sends while a stroke goes (draw_pad.js THROTTLE_MS)
LOOK = 1.0  # s a visitor looks at the answer before clearing and drawing again
ENDED = ("done", "stopped", "failed")


def _partial(strokes: list[tuple[float, float]], fraction: float) -> list[tuple[float, float]]:
    """The first `fraction` of a polyline (by length): what the canvas shows partway through the stroke."""
    lengths = [((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 for (x0, y0), (x1, y1) in zip(strokes, strokes[1:])]
    left, points = fraction * sum(lengths), [strokes[0]]
    for (x0, y0), (x1, y1), length in zip(strokes, strokes[1:], lengths):
        step = min(1.0, left / length) if length else 1.0
        points.append((x0 + step * (x1 - x0), y0 + step * (y1 - y0)))
        left -= length
        if left <= 0:
            break
    return points


def _data_url(strokes: list[tuple[float, float]]) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(drawing(strokes)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def digit_frames() -> list[tuple[str, list[str], str]]:
    """(digit, the drawings sent while drawing it, the drawing at pen-up) for a 7 and a 1."""
    return [
        (digit, [_data_url(_partial(s, f)) for f in (0.35, 0.7)], _data_url(s))
        for digit, s in (("7", SEVEN), ("1", ONE))
    ]


@dataclass
class Visitor:
    """What one visitor saw: pen-up answers (when, how long, right or not) and every failure."""

    pen_ups: list[tuple[float, float]] = field(default_factory=list)  # (monotonic time of pen-up, seconds to answer)
    wrong: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class Trainer:
    """One visitor's queued run: when its Start was accepted, what the server said, and how its job went."""

    index: int
    accepted: float | None = None  # monotonic time the `train` call returned
    answer: str = ""
    run: str | None = None
    positions: list[int] = field(default_factory=list)  # its place in line, as polled
    running: float | None = None  # first poll that saw it running
    ended: float | None = None  # first poll that saw it ended
    status: dict = field(default_factory=dict)  # the last status polled
    errors: list[str] = field(default_factory=list)


def _draw(url: str, pad: int, n: int, frames: list, until: list[float], start: threading.Barrier) -> Visitor:
    import httpx

    seen, rng = Visitor(), random.Random(n)
    session = uuid.uuid4().hex[:11]
    with httpx.Client(base_url=url, timeout=60) as http:

        def read(image: str) -> dict:
            body = {"data": {"image": image, "model": None}, "component_id": pad, "fn_name": "read_drawing"}
            reply = http.post("gradio_api/component_server/", json={**body, "session_hash": session})
            reply.raise_for_status()
            answer = reply.json()
            if not isinstance(answer, dict) or answer.get("error"):
                raise RuntimeError(f"no reading: {str(answer)[:200]}")
            return answer

        start.wait()
        time.sleep(rng.uniform(0, 2 * LOOK))  # visitors do not all lift the pen in step
        i = n
        while time.monotonic() < until[0]:
            digit, partials, whole = frames[i % len(frames)]
            i += 1
            try:
                for image in partials:
                    time.sleep(THROTTLE)
                    read(image)
                time.sleep(THROTTLE)
                pen_up = time.monotonic()
                answer = read(whole)
                seen.pen_ups.append((pen_up, time.monotonic() - pen_up))
                seen.wrong += answer.get("number") != digit
            except Exception as exc:  # noqa: BLE001 - every failure counts, whatever it is
                seen.errors.append(f"draw: {type(exc).__name__}: {str(exc)[:200]}")
            time.sleep(LOOK)
    return seen


def _train(
    url: str,
    trainer: Trainer,
    training: Mapping[str, Any],
    at: float,
    after: threading.Event | None,
    pressed: threading.Event,
    deadline: list[float],
) -> None:
    """Press Start at monotonic time `at`, once the visitor before has had its answer (`after`), so the server
    accepts the presses in index order; then follow the job once a second."""
    from gradio_client import Client

    try:
        client = Client(url, verbose=False)
        if after is not None:
            after.wait()
        time.sleep(max(0.0, at - time.monotonic()))
        trainer.answer = str(client.predict(**training, api_name="/train"))
        trainer.accepted = time.monotonic()
    except Exception as exc:  # noqa: BLE001 - a refusal is an error here: the line has room for every trainer
        trainer.errors.append(f"train: {type(exc).__name__}: {str(exc)[:200]}")
        return
    finally:
        pressed.set()
    while time.monotonic() < deadline[0]:
        try:
            status = client.predict(api_name="/status")
        except Exception as exc:  # noqa: BLE001
            trainer.errors.append(f"status: {type(exc).__name__}: {str(exc)[:200]}")
            time.sleep(1)
            continue
        now, trainer.status = time.monotonic(), status
        trainer.run = status.get("run") or trainer.run
        if status.get("status") == "queued" and status.get("position") is not None:
            trainer.positions.append(status["position"])
        if status.get("status") in ("starting", "running", "stopping") and trainer.running is None:
            trainer.running = now
        if status.get("status") in ENDED:
            trainer.ended = now
            trainer.running = trainer.running or now
            return
        time.sleep(1)  # as the page's poll: once a second
    trainer.errors.append(f"its job had not ended: {trainer.status}")


def _listed_runs(client: Any) -> list[dict]:
    """The `runs` API's table as dicts by header (the table is its answer, or the answer's first part)."""
    answer = client.predict(api_name="/runs")
    table = next((a for a in answer if isinstance(a, dict)), None) if isinstance(answer, (list, tuple)) else answer
    headers = table.get("headers", []) if isinstance(table, dict) else []
    return [dict(zip(headers, row)) for row in (table.get("data", []) if isinstance(table, dict) else [])]


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "max_ms": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 1)

    return {"n": len(ordered), "p50_ms": at(0.5), "p95_ms": at(0.95), "max_ms": round(1000 * ordered[-1], 1)}


def run_space_load(
    url: str,
    visitors: int = 30,
    trainers: int = 10,
    seconds: float = 120,
    training: Mapping[str, Any] = SPACE_TRAINING,
    train_timeout: float = 900,
    stagger: float = 1.0,
) -> dict:
    """`visitors` drawing for `seconds`, the first `trainers` of them also queueing a run each, `stagger`
    seconds apart; then wait (up to `train_timeout`) for every run to end. Returns the figures."""
    import httpx
    from gradio_client import Client

    config = httpx.get(url + "config", timeout=60).json()
    pad = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "draw-pad")
    frames = digit_frames()
    barrier = threading.Barrier(visitors + 1)
    until, deadline = [float("inf")], [float("inf")]
    seen = [Visitor() for _ in range(visitors)]
    queued = [Trainer(i) for i in range(trainers)]

    def visitor(n: int) -> None:
        try:
            seen[n] = _draw(url, pad, n, frames, until, barrier)
        except Exception as exc:  # noqa: BLE001 - a visitor that could not even start
            seen[n].errors.append(f"visitor: {type(exc).__name__}: {exc}")
            barrier.abort()

    drawers = [threading.Thread(target=visitor, args=(n,), name=f"visitor-{n}") for n in range(visitors)]
    for thread in drawers:
        thread.start()
    began = time.monotonic()
    until[0], deadline[0] = began + seconds, began + seconds + train_timeout
    barrier.wait()
    pressed = [threading.Event() for _ in queued]
    followers = [
        threading.Thread(
            target=_train,
            args=(url, t, training, began + 1 + t.index * stagger, pressed[t.index - 1] if t.index else None),
            kwargs=dict(pressed=pressed[t.index], deadline=deadline),
        )
        for t in queued
    ]
    for thread in followers:
        thread.start()
    for thread in drawers:
        thread.join()
    drew_until = time.monotonic()
    for thread in followers:
        thread.join()

    runs = _listed_runs(Client(url, verbose=False))
    listed = {str(row.get("name")): row for row in runs}
    accepted = sorted((t for t in queued if t.accepted is not None), key=lambda t: t.accepted)
    by_start = sorted((t for t in queued if t.running is not None), key=lambda t: t.running)
    by_saved = sorted((t for t in queued if t.run in listed), key=lambda t: str(listed[t.run].get("created")))
    training_spans = [(t.running, t.ended) for t in queued if t.running is not None and t.ended is not None]
    during = [s for v in seen for at, s in v.pen_ups if any(a <= at <= b for a, b in training_spans)]
    idle = [s for v in seen for at, s in v.pen_ups if not any(a <= at <= b for a, b in training_spans)]
    errors = [e for v in seen for e in v.errors] + [e for t in queued for e in t.errors]
    errors += [
        f"run of trainer {t.index} ended {t.status.get('status')}"
        for t in queued
        if t.ended and t.status.get("status") != "done"
    ]
    return {
        "url": url,
        "visitors": visitors,
        "trainers": trainers,
        "training": dict(training),
        "seconds_drawing": round(drew_until - began, 1),
        "seconds_until_last_run_ended": round(max((t.ended for t in queued if t.ended), default=began) - began, 1),
        "pen_up_to_answer_while_training": _percentiles(during),
        "pen_up_to_answer_otherwise": _percentiles(idle),
        "pen_ups": len(during) + len(idle),
        "wrong_digits": sum(v.wrong for v in seen),
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:10],
        "runs_done": sum(t.status.get("status") == "done" for t in queued),
        "runs_listed": sum(t.run in listed for t in queued),
        "most_waiting_seen": max((max(t.positions) for t in queued if t.positions), default=0),
        "order_accepted": [t.index for t in accepted],
        "order_started": [t.index for t in by_start],
        "order_saved": [t.index for t in by_saved],
        "in_order": len(accepted) == trainers
        and [t.index for t in accepted] == [t.index for t in by_start] == [t.index for t in by_saved],
        "trainers_seen": [
            {
                "index": t.index,
                "run": t.run,
                "answer": t.answer[:160],
                "positions": sorted(set(t.positions), reverse=True),
            }
            for t in queued
        ],
    }
