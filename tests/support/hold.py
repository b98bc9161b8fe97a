"""Hold a training run at a known point until the test lets it go, so that no test races a run's speed.

A run's speed differs a hundredfold between a loaded 2-core VM and a GPU: a test that stops a run "a
third of the way into epoch 2", or expects it to still be going when a second Start arrives, must
not depend on it. A hold makes the point exact instead:

- `RunHold` wraps `mnist_core.train.train`: at its point (the run's 'start' event, or the first step
  event of epoch N), after the event has been reported, training waits until the run's stop is set
  (Stop, the time cap, a pruned trial), then takes the very next stop check. `run` limits the hold
  to the n-th train() call of the process (a sweep's n-th trial).
- `SaveHold` stops the n-th checkpoint write of the process before its rename, for good: the new
  file is on disk under its temporary name and the previous version is still in place. Only a
  kill ends it.

In the test's own process (the in-thread runner) apply them with monkeypatch (`hold_runs`); in a
process the test cannot reach (the app's training child, `python app.py`), `child_env` returns the
environment that makes `child_site/sitecustomize.py` apply them there at start-up. Each hold that
begins appends "<what> <pid>" to the marker file, so a test knows the process is held and its pid.
Stdlib only: the training child imports this before torch.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SITE = Path(__file__).resolve().parent / "child_site"  # holds the sitecustomize.py that calls install_from_env
RUN_VARIABLE, SAVE_VARIABLE, MARKER_VARIABLE = "MNIST_TEST_HOLD_RUN", "MNIST_TEST_HOLD_SAVE", "MNIST_TEST_HOLD_MARKER"
GUARD_SECONDS = 600.0  # a hold nobody ends gives up after this long (the test has failed by then)


def _mark(marker: str | os.PathLike | None, what: str) -> None:
    if marker:
        with open(marker, "a") as fh:
            fh.write(f"{what} {os.getpid()}\n")


def held_pids(marker: str | os.PathLike, what: str) -> list[int]:
    """The pids of the processes that have begun the hold `what` ('run' or 'save') so far."""
    path = Path(marker)
    lines = path.read_text().splitlines() if path.exists() else []
    return [int(pid) for kind, pid in (line.split() for line in lines) if kind == what]


@dataclass(frozen=True)
class RunHold:
    """Where to hold a run: at its 'start' event (epoch None) or at the first step event of `epoch`."""

    epoch: int | None = 1
    run: int | None = None  # only the n-th train() call of the process (1-based); None: every call

    def spec(self) -> str:
        return f"{self.epoch or 'start'}:{self.run or ''}"

    @classmethod
    def parse(cls, text: str) -> RunHold:
        epoch, _, run = text.partition(":")
        return cls(None if epoch == "start" else int(epoch), int(run) if run else None)

    def reached(self, event: Any) -> bool:
        if self.epoch is None:
            return event.kind == "start"
        return event.kind == "step" and event.epoch >= self.epoch

    def wrap(self, train: Callable, on_hold: Callable[[], None] = lambda: None) -> Callable:
        """`train` holding at this point; `on_hold()` is called as the hold begins."""
        calls = iter(range(1, 1 << 62))
        lock = threading.Lock()

        @functools.wraps(train)
        def held_train(*args: Any, **kwargs: Any) -> Any:
            with lock:
                number = next(calls)
            if self.run is not None and number != self.run:
                return train(*args, **kwargs)
            callback = kwargs.get("callback") or (lambda event: None)
            stop = kwargs.get("stop") or threading.Event()
            begun = []

            def holding_callback(event: Any) -> None:
                callback(event)  # reported first: the test sees the event it waits for
                if not begun and self.reached(event):
                    begun.append(True)
                    on_hold()
                    deadline = time.monotonic() + GUARD_SECONDS
                    # Polled: a sweep trial's stop (_TrialStop) is set through its is_set(), not its wait().
                    while not stop.is_set() and time.monotonic() < deadline:
                        time.sleep(0.01)

            return train(*args, **{**kwargs, "callback": holding_callback, "stop": stop})

        return held_train


@dataclass(frozen=True)
class SaveHold:
    """Stop the n-th checkpoint write (a '.tmp' renamed over a '.pt') of the process before its rename."""

    save: int = 2

    def wrap(self, replace: Callable, on_hold: Callable[[], None] = lambda: None) -> Callable:
        """`os.replace` that never returns from the n-th checkpoint rename (until the process is killed)."""
        count = []

        @functools.wraps(replace)
        def held_replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
            if str(src).endswith(".tmp") and str(dst).endswith(".pt"):
                count.append(dst)
                if len(count) == self.save:
                    on_hold()
                    time.sleep(GUARD_SECONDS)
                    raise RuntimeError("a held checkpoint write was never killed")
            return replace(src, dst, *args, **kwargs)

        return held_replace


def hold_runs(monkeypatch: Any, hold: RunHold) -> threading.Event:
    """Hold this process's train() calls (the in-thread runner, run_sweep); the Event is set as a hold begins."""
    import mnist_core.train

    begun = threading.Event()
    monkeypatch.setattr(mnist_core.train, "train", hold.wrap(mnist_core.train.train, begun.set))
    return begun


def child_env(marker: str | os.PathLike, run: RunHold | None = None, save: SaveHold | None = None) -> dict[str, str]:
    """Environment variables for `python app.py` or the training child that apply these holds in there."""
    env = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SITE), os.environ.get("PYTHONPATH")])),
        MARKER_VARIABLE: str(marker),
    }
    if run is not None:
        env[RUN_VARIABLE] = run.spec()
    if save is not None:
        env[SAVE_VARIABLE] = str(save.save)
    return env


def install_from_env() -> None:
    """In a child process at start-up (sitecustomize): apply the holds the environment asks for."""
    marker = os.environ.get(MARKER_VARIABLE)
    if os.environ.get(SAVE_VARIABLE):
        os.replace = SaveHold(int(os.environ[SAVE_VARIABLE])).wrap(os.replace, lambda: _mark(marker, "save"))
    if os.environ.get(RUN_VARIABLE):
        hold = RunHold.parse(os.environ[RUN_VARIABLE])
        _after_import("mnist_core.train", lambda module: _hold_module(module, hold, marker))


def _hold_module(module: Any, hold: RunHold, marker: str | None) -> None:
    module.train = hold.wrap(module.train, lambda: _mark(marker, "run"))


def _after_import(name: str, patch: Callable[[Any], None]) -> None:
    """Call `patch(module)` as soon as `name` has been imported (the child imports torch only later)."""
    import importlib.abc
    import importlib.util
    import sys

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
            if fullname != name:
                return None
            sys.meta_path.remove(self)  # once: find the real module, then step aside
            spec = importlib.util.find_spec(fullname)
            real_exec = spec.loader.exec_module

            def exec_module(module: Any) -> None:
                real_exec(module)
                patch(module)

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, Finder())
