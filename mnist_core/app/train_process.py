"""The training child: the process the app's runs and sweeps train in (runners.TrainingProcess starts it).

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
Run as `python -m mnist_core.app.train_process FD` by `runners.TrainingProcess`, not by hand.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import sys
import threading
from multiprocessing.connection import Connection

from ..allocator import keep_freed_memory
from ..config import TrainConfig

log = logging.getLogger(__name__)

# The child yields the CPU to the server and to a browser on the same machine: on 2 cores, drawing
# while a run trained answered in 71-86 ms (p50) and up to 0.6 s at niceness 0, 48-51 ms and at most
# 0.23 s at 10, with the run's speed through the app unchanged within noise (benchmarks/RESULTS.md).
TRAINING_NICENESS = 10


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
