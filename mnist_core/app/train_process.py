"""Training in a long-lived child process, so that the web server's threads cannot slow it down.

PyTorch's CPU ops use a GNU OpenMP pool per calling thread. Once a process holds more pool threads
than cores (a server's handler threads and a training thread), OpenMP stops spin-waiting and every
step pays for thread wake-ups: in a server thread the engine trained about 1.8x slower, and slower
still while someone was drawing (benchmarks/RESULTS.md). A child process has OpenMP to itself, so
a run trains as fast as the CLI. The child stays up between runs, with torch imported and MNIST
loaded, so a run starts at once; if it dies, the run is reported failed and the next run starts a
new one.

The two sides exchange pickled tuples over a socket pair (multiprocessing's Connection):
parent to child ("train", config dict, checkpoint path), ("sweep", SweepSpec) and ("stop",); child to
parent ("running",), ("event", TrainEvent or SweepEvent, and a sweep's SweepResult last),
("failed", exception type name, message) and ("finished",). A sweep is one job like a run: its trials
train in the child one after another (mnist_core.sweep.run_sweep), storing to the study's database.
Run as `python -m mnist_core.app.train_process FD` by `TrainingProcess`, not by hand.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

from ..allocator import keep_freed_memory
from ..config import TrainConfig

log = logging.getLogger(__name__)

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # on the child's path, wherever the app runs from
POLL_SECONDS = 0.05  # how often the parent looks at the stop flag while waiting for the child
# The child yields the CPU to the server and to a browser on the same machine: on 2 cores, drawing
# while a run trained answered in 71-86 ms (p50) and up to 0.6 s at niceness 0, 48-51 ms and at most
# 0.23 s at 10, with the run's speed through the app unchanged within noise (benchmarks/RESULTS.md).
TRAINING_NICENESS = 10


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


# ------------------------------------------------------------------------------------ child side
def serve(conn: Connection) -> None:
    """The child's loop: take jobs from the parent, train, report; exit when the parent goes away."""
    from ..data import load_mnist_cached
    from ..train import train, warm_up

    jobs: queue.Queue = queue.Queue()
    current_stop = threading.Event()

    def read() -> None:  # a thread that only waits on the socket, so a stop arrives mid-run
        nonlocal current_stop
        try:
            while True:
                message = conn.recv()
                if message[0] in ("train", "sweep"):
                    current_stop = threading.Event()
                    jobs.put((message, current_stop))
                elif message[0] == "stop":
                    current_stop.set()
        except (EOFError, OSError):  # the parent closed the connection or died
            current_stop.set()
            jobs.put(None)

    threading.Thread(target=read, name="parent-reader", daemon=True).start()
    try:  # warm: the first run should not wait for the data or for lazy set-up (a failure shows in that run)
        load_mnist_cached()
        warm_up()
    except Exception:  # noqa: BLE001
        pass
    while (job := jobs.get()) is not None:
        request, stop = job
        try:
            data = load_mnist_cached()
            conn.send(("running",))
            send = lambda event: conn.send(("event", event))  # noqa: E731
            if request[0] == "sweep":
                from ..sweep import run_sweep

                send(run_sweep(request[1], data, callback=send, stop=stop))
            else:
                cfg, path = TrainConfig.from_dict(request[1]), request[2]
                train(cfg, data, callback=send, stop=stop, checkpoint_path=path, probe=learning_probe(data))
            conn.send(("finished",))
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the parent, the child lives on
            if not _report(conn, exc):
                return  # the parent is gone: nobody to train for


FILTERS_SHOWN = 32


def learning_probe(data):
    """What a step event carries for "watch it learn": the fixed test digits' answers and the filters."""
    from ..explain import LearningProbe

    reader = LearningProbe(data)
    indices = reader.indices.tolist()

    def read(model) -> dict:
        snapshot = reader(model)
        snapshot.filters = snapshot.filters[:FILTERS_SHOWN]  # an MLP has hundreds of 28x28 templates
        return {**snapshot.to_dict(), "indices": indices}

    return read


def _report(conn: Connection, exc: Exception) -> bool:
    """Log the failure and send it to the parent; False if the parent cannot be reached."""
    log.exception("training run failed")
    try:
        conn.send(("failed", type(exc).__name__, str(exc)))
    except OSError:
        return False
    return True


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    # Ctrl+C in the server's terminal reaches the whole process group; the server decides, and the
    # child exits when the server closes the connection.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s training-process %(levelname)s %(message)s")
    lower_priority()
    keep_freed_memory()  # this process trains: steps reuse their buffers (allocator.py)
    serve(Connection(int(argv[0])))


def lower_priority() -> None:
    """Yield the CPU to the server (TRAINING_NICENESS); where the system refuses, train as before."""
    try:
        os.nice(TRAINING_NICENESS)
    except OSError as exc:  # a sandbox without setpriority(2)
        log.warning("training at the server's priority: %s", exc)


if __name__ == "__main__":
    main()
