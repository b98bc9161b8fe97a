"""Test infrastructure shared by tests and benchmarks: the app in a subprocess and Debian's chromium.

`AppServer` starts `python app.py` on a free port with its own checkpoint folder, in a process group of
its own (the app and its training child), so that a kill ends both, as when a container is killed;
`CHROMIUM` and `CHROMIUM_ARGS` launch the system browser so that it never reaches for the network.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CAP_VARIABLES = (
    "MNIST_TRAINING_DISABLED",
    "MNIST_MAX_EPOCHS",
    "MNIST_MAX_TRAIN_SECONDS",
    "MNIST_MAX_SWEEP_TRIALS",
    "MNIST_MAX_SWEEP_SECONDS",
    "MNIST_MAX_QUEUE",
    "MNIST_KEEP_RUNS",
    "SPACE_ID",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_gone(pid: int) -> bool:
    """Whether process `pid` has ended (a zombie waiting for its parent to reap it has ended too)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return state in ("Z", "X")


# Debian's chromium, started so that it never reaches for the network (tests and benchmarks).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


class AppServer:
    """`python app.py` in a subprocess on a free port; a context manager yielding itself (`.url`).

    `env` is added to the environment (after the training caps are cleared, so a test sets exactly
    the caps it means); MNIST_CHECKPOINT_DIR defaults to a new temporary folder (`.checkpoints`);
    `app_dir` runs another checkout's app.py (default: this repository's).
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        checkpoints: str | os.PathLike | None = None,
        app_dir: str | os.PathLike | None = None,
    ) -> None:
        self.app_dir = (
            Path(app_dir) if app_dir else REPO
        )  # another checkout's app.py, e.g. for a before/after benchmark
        self._tmp = None if checkpoints else tempfile.TemporaryDirectory(prefix="mnist-runs-")
        self.checkpoints = Path(checkpoints or self._tmp.name)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = {k: v for k, v in os.environ.items() if k not in CAP_VARIABLES and not k.startswith("GRADIO_SERVER")}
        self.env.update(
            MNIST_CHECKPOINT_DIR=str(self.checkpoints), PYTHONUNBUFFERED="1", GRADIO_ANALYTICS_ENABLED="False"
        )
        self.env.update(env or {})
        self.log: list[str] = []
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> AppServer:
        """Start the app and block (on its own output, with a deadline) until it serves."""
        self.proc = subprocess.Popen(
            [sys.executable, str(self.app_dir / "app.py"), "--port", str(self.port)],
            cwd=self.app_dir,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: the app and the training child it starts
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            for line in self.proc.stdout:
                self.log.append(line)
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, name="app-log", daemon=True).start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise RuntimeError(f"the app did not serve within {timeout:.0f} s:\n{self.output()}") from None
            if line is None:
                self.stop()
                raise RuntimeError(f"the app exited before serving:\n{self.output()}")
            if "Running on local URL" in line:
                return self

    def output(self) -> str:
        return "".join(self.log)

    def tracebacks(self) -> list[str]:
        """The server log's tracebacks (each one's last line): an unhandled error in a handler."""
        found, inside = [], False
        for line in self.log:
            if line.startswith("Traceback"):
                inside = True
            elif inside and line.strip() and not line.startswith((" ", "\t", "The above", "During handling")):
                found.append(line.strip())
                inside = False
        return found

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL to the app and its training child at once: no clean-up of any kind, as when a container is killed."""
        if self.proc is not None:
            self._kill_group()
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """Ask the app to end (SIGTERM), then kill whatever of its group is left (a training child)."""
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        if self.proc is not None:
            self._kill_group()
            self.proc.wait(timeout=30)
        if self._tmp is not None:
            self._tmp.cleanup()

    def _kill_group(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group's id is the app's pid (start_new_session)
        except ProcessLookupError:  # nobody left in it
            pass

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
