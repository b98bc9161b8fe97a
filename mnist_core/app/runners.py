"""Where a job trains: a `Runner` runs one run or sweep at a time, blocking, and reports back.

`TrainingProcess` (the default, on POSIX) trains in a long-lived child process: PyTorch's CPU ops use
a GNU OpenMP pool per calling thread, and once a process holds more pool threads than cores (a
server's handler threads and a training thread) every step pays for thread wake-ups: in a server
thread the engine trained about 1.8x slower, and slower still while someone was drawing
(benchmarks/RESULTS.md). The child's side, and the messages the two exchange, are in
train_process.py. `InThread` trains in the calling thread, for tests that inject faults with
monkeypatch and for platforms without the child.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..config import TrainConfig

if TYPE_CHECKING:
    from ..sweep import SweepSpec

log = logging.getLogger(__name__)

# The folder holding the mnist_core package, on the child's path wherever the app was started from.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
POLL_SECONDS = 0.05  # how often the parent looks at the stop flag while waiting for the child


class Runner(Protocol):
    """Where a job trains. `run` and `sweep` block until the job ends: they call `on_running()` once
    the data is loaded and training begins, `on_event(event)` for every TrainEvent or SweepEvent (a
    sweep's SweepResult last), end early when `stop` is set, and raise if the job failed."""

    def start(self) -> None:
        """Get ready before the first job asks (e.g. start the child); a no-op where nothing needs it."""

    def run(
        self,
        cfg: TrainConfig,
        path: Path,
        stop: threading.Event,
        on_running: Callable[[], None],
        on_event: Callable[[Any], None],
    ) -> None:
        """Train `cfg`, saving to `path`."""

    def sweep(
        self, spec: SweepSpec, stop: threading.Event, on_running: Callable[[], None], on_event: Callable[[Any], None]
    ) -> None:
        """Run the sweep `spec`, its SweepResult as the last event."""

    def close(self) -> None:
        """Release what `start` took."""


def default_runner() -> Runner:
    """The child process where it can be started (POSIX: it inherits a socket), else this process."""
    return TrainingProcess() if os.name == "posix" else InThread()


class RunFailed(RuntimeError):
    """The run raised in the child (kind: the exception's type name), or the child itself died."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class TrainingProcess:
    """The parent's handle on the training child: starts it on demand and runs one job at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one run at a time over the one connection
        self._proc: subprocess.Popen | None = None
        self._conn: Connection | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id while it is running (for tests and diagnostics)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def start(self) -> None:
        """Start the child now (importing torch and loading MNIST) unless it is already up."""
        with self._lock:
            self._ensure_child()

    def run(
        self,
        cfg: TrainConfig,
        path: Path,
        stop: threading.Event,
        on_running: Callable[[], None],
        on_event: Callable[..., None],
    ) -> None:
        """Train `cfg` in the child, saving to `path`; forward `stop`; call back as the child reports.

        Returns when the child has finished the run; raises RunFailed if the run or the child failed.
        """
        self._job(("train", cfg.to_dict(), str(path)), stop, on_running, on_event)

    def sweep(self, spec, stop: threading.Event, on_running: Callable[[], None], on_event: Callable[..., None]) -> None:
        """Run the sweep `spec` (a SweepSpec) in the child; the same contract as `run`, the SweepResult last."""
        self._job(("sweep", spec), stop, on_running, on_event)

    def _job(self, request: tuple, stop: threading.Event, on_running, on_event) -> None:
        with self._lock:
            conn = self._ensure_child()
            stop_sent = False
            try:
                conn.send(request)
                while True:
                    if stop.is_set() and not stop_sent:
                        conn.send(("stop",))
                        stop_sent = True
                    if not conn.poll(POLL_SECONDS):
                        continue
                    message = conn.recv()
                    if message[0] == "event":
                        on_event(message[1])
                    elif message[0] == "running":
                        on_running()
                    elif message[0] == "failed":
                        raise RunFailed(message[1], message[2])
                    elif message[0] == "finished":
                        return
            except (EOFError, OSError):
                code = self._reap()
                how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                raise RunFailed("TrainingProcessDied", f"the training process ended unexpectedly ({how})") from None

    def close(self) -> None:
        """End the child (it exits when its connection closes)."""
        with self._lock:
            self._reap()

    def _ensure_child(self) -> Connection:
        if self._proc is not None and self._proc.poll() is None and self._conn is not None:
            return self._conn
        self._reap()
        ours, theirs = socket.socketpair()
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))
        )
        with theirs:
            fd = theirs.fileno()
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "mnist_core.app.train_process", str(fd)], pass_fds=(fd,), env=env
            )
        self._conn = Connection(ours.detach())
        log.info("started the training process (pid %d)", self._proc.pid)
        return self._conn

    def _reap(self) -> int | None:
        """Close the connection and wait for the child to exit; its exit code (None if never started)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a run that does not reach its next stop check
            proc.kill()
            return proc.wait()


class InThread:
    """Train in the calling thread, on data from `data_loader` (default: MNIST, loaded once).

    For tests that inject faults with monkeypatch, and where the training process cannot start.
    """

    def __init__(self, data_loader: Callable[[], Any] | None = None) -> None:
        self._data_loader = data_loader

    def start(self) -> None:
        """Nothing to start: the data loads with the first run."""

    def run(self, cfg, path, stop, on_running, on_event) -> None:
        """Train here, now; the same contract as `TrainingProcess.run`."""
        from ..data import load_mnist_cached
        from ..train import train
        from .train_process import learning_probe

        data = (self._data_loader or load_mnist_cached)()
        on_running()
        train(cfg, data, callback=on_event, stop=stop, checkpoint_path=path, probe=learning_probe(data))

    def sweep(self, spec, stop, on_running, on_event) -> None:
        """Run the sweep here, now; the same contract as `TrainingProcess.sweep`."""
        from ..data import load_mnist_cached
        from ..sweep import run_sweep

        data = (self._data_loader or load_mnist_cached)()
        on_running()
        on_event(run_sweep(spec, data, callback=on_event, stop=stop))

    def close(self) -> None:
        """Nothing to close."""
