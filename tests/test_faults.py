"""Faults (issue 5): SIGKILL while a checkpoint is written, stop during an epoch, a read-only or full
checkpoint folder, and two Start requests at once (threads, two API clients, two browsers).

Every wait polls a condition with a deadline. The real read-only and disk-full cases mount a small
tmpfs when the test runs as root with mount rights (as root, chmod 0o555 does not stop writes); a
non-root run uses chmod instead; the simulated cases (an OSError injected at the system call) always
run.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr
import pytest
import torch
from gradio_client import Client, handle_file

from mnist_core.app.jobs import Caps, InThread, JobBusyError, JobError, JobManager
from mnist_core.app.registry import DEFAULT_NAME, RunRegistry
from mnist_core.checkpoint import CheckpointWriteError, load_model, read_checkpoint, save_checkpoint
from mnist_core.config import TrainConfig
from mnist_core.models import build_model
from tests.support.drawings import seven_png
from tests.support.fixtures import TINY, fake_checkpoint
from tests.support.hold import RunHold, SaveHold, child_env, held_pids
from tests.support.page_watch import WATCH_ANSWERS_JS
from tests.support.server import AppServer, process_gone
from tests.support.waiting import finished, run_ended, wait_for

REPO = Path(__file__).resolve().parent.parent


def hidden_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ------------------------------------------------------------------------------- SIGKILL
# The child saves the same checkpoint over and over, every weight set to the generation number, and
# prints each generation once it is on disk. A file holding a mix of two writes, or a torn one,
# cannot pass the checks below. Given "hold", its second save stops once 1 MB of the file is written
# and says "held": the kill that follows lands mid-write on any machine.
WRITER = """
import sys, time, torch
from mnist_core.checkpoint import save_checkpoint
from mnist_core.config import TrainConfig
from mnist_core.models import build_model

class Torn:  # a file that stops being written once 1 MB of it is out
    def __init__(self, fh):
        self.fh, self.written = fh, 0
    def write(self, data):
        n = self.fh.write(data)
        self.written += len(data)
        if self.written > 1 << 20:
            self.fh.flush()
            print("held", flush=True)
            time.sleep(600)
        return n
    def flush(self):
        self.fh.flush()

real_save = torch.save
cfg = TrainConfig(model="mlp", hidden_sizes="2048,2048", batch_norm=False)
model = build_model(cfg)
generation = 0
while True:
    generation += 1
    if sys.argv[2] == "hold" and generation == 2:
        torch.save = lambda obj, f, *args, **kwargs: real_save(obj, Torn(f), *args, **kwargs)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(generation)
    save_checkpoint(sys.argv[1], model, cfg, {"steps": [], "epochs": []}, {"generation": generation})
    print(generation, flush=True)
"""


@pytest.mark.slow
def test_sigkill_while_a_checkpoint_is_written_keeps_the_previous_one(tmp_path):
    folder = tmp_path / "runs"
    earlier = fake_checkpoint(folder / "earlier-run.pt")
    earlier_bytes = earlier.read_bytes()
    target = folder / "run.pt"
    rng = random.Random(5)
    for attempt in range(6):
        held = attempt % 2 == 0  # mid-write for certain; otherwise at a random moment of a save
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(target), "hold" if held else "free"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        try:
            assert child.stdout.readline().strip() == "1", "the writer saved nothing"  # one whole version on disk
            if held:
                assert child.stdout.readline().strip() == "held", "the second save was not held"
            else:
                began = time.monotonic()
                assert child.stdout.readline().strip(), "the writer stopped"
                time.sleep(rng.uniform(0, time.monotonic() - began))  # the moment is the point, not a wait
            child.kill()  # SIGKILL
        finally:
            child.kill()
            child.wait(timeout=30)
        leftovers = [n for n in hidden_files(folder) if n.endswith(".tmp")]
        if held:  # the torn file is there, under its temporary name
            assert len(leftovers) == 1 and (folder / leftovers[0]).stat().st_size > 1 << 20, leftovers

        # The file is one whole generation: every weight equal, and equal to its metadata.
        loaded = load_model(target)
        generation = loaded.payload["metrics"]["generation"]
        values = torch.cat([p.detach().flatten() for p in loaded.model.parameters()]).unique()
        assert generation >= 1 and values.tolist() == [float(generation)], (attempt, generation, values[:5])
        # Restart: a fresh registry lists both runs, reports no problem, and never the half-written file.
        listing = RunRegistry(directory=folder, bundled=None).listing()
        assert sorted(listing.names) == ["earlier-run", "run"] and listing.problems == [], attempt
        assert earlier.read_bytes() == earlier_bytes  # the other run's history untouched
        for name in leftovers:
            (folder / name).unlink()  # each attempt leaves its own evidence


@pytest.mark.slow
def test_app_killed_while_saving_restarts_with_its_runs_intact_and_no_training_left(tmp_path):
    folder = tmp_path / "runs"
    fake_checkpoint(folder / "earlier-run.pt")
    seven = seven_png(tmp_path)
    marker = tmp_path / "held"
    # The training child's second checkpoint write (epoch 2's) stops before its rename until the kill.
    env = child_env(marker, save=SaveHold(2))
    with AppServer(checkpoints=folder, env=env) as server:
        client = Client(server.url, verbose=False)
        started = client.predict(**{**TINY, "epochs": 50}, api_name="/train")
        assert started.startswith("Started run"), started
        [child] = wait_for(lambda: held_pids(marker, "save"), "epoch 2's checkpoint write")
        assert child != server.proc.pid  # the write is the training child's
        server.kill()  # SIGKILL to the app and, in its process group, the training child
        assert not server.alive()
        wait_for(lambda: process_gone(child), "the training child to end", timeout=60)
    [run] = [p.stem for p in folder.glob("*.pt") if p.stem != "earlier-run"]
    assert any(n.startswith(f".{run}.pt.") and n.endswith(".tmp") for n in hidden_files(folder))  # killed mid-save
    kept = read_checkpoint(folder / f"{run}.pt")  # epoch 1's file, whole: the half-saved epoch 2 never replaced it
    assert kept["metrics"]["epochs_completed"] == 1 and len(kept["history"]["epochs"]) == 1
    assert not kept.get("stopped")  # nobody wrote to it after the kill

    with AppServer(checkpoints=folder) as restarted:
        client = Client(restarted.url, verbose=False)
        table, note = client.predict(api_name="/runs")
        names = [row[0] for row in table["data"]]
        assert names[0] == DEFAULT_NAME and {"earlier-run", run} <= set(names), names
        assert note == "", note  # nothing unreadable: the half-written file is not even looked at
        assert all(not name.startswith(".") for name in names)
        for name in ("earlier-run", run):
            top, *_ = client.predict(handle_file(str(seven)), name, api_name="/predict")
            assert isinstance(top, dict) and "label" in top
        assert client.predict(api_name="/status")["status"] == "idle"  # the killed run is not "running"
        assert restarted.tracebacks() == []


# ---------------------------------------------------------------------------- stop mid-epoch
def test_stop_during_an_epoch_keeps_the_last_completed_one_and_the_ui_is_ready(lab, monkeypatch):
    import mnist_core.train

    run = {**TINY, "epochs": 3}  # 2000 images in batches of 64: 32 steps per epoch
    per_epoch = -(-run["train_size"] // run["batch_size"])
    # Hold the training thread inside the second epoch (its 2nd step) until Stop has been pressed.
    real_affine, calls = mnist_core.train.random_affine, []
    paused, resume = threading.Event(), threading.Event()

    def pausing_affine(*args, **kwargs):
        calls.append(1)
        if len(calls) == per_epoch + 2:
            paused.set()
            resume.wait(120)
        return real_affine(*args, **kwargs)

    monkeypatch.setattr(mnist_core.train, "random_affine", pausing_affine)
    assert lab.train.start_training(**run).startswith("Started run")
    wait_for(paused.is_set, "the second epoch to be under way")
    during = lab.ctx.jobs.snapshot()
    assert during.epoch == 1 and during.status == "running"
    lab.train.stop_training()
    resume.set()
    finished(lab.ctx.jobs)
    status = lab.train.training_status()
    assert status["status"] == "stopped" and status["epoch"] == 1, status
    assert "stopped after 1 completed epoch(s)" in status["message"] and status["metrics"]["test_accuracy"] > 0.5
    assert len(calls) == per_epoch + 2  # the thread stopped at the very next step

    payload = read_checkpoint(during.checkpoint)
    assert payload["stopped"] is True and payload["metrics"]["epochs_completed"] == 1
    assert len(payload["history"]["epochs"]) == 1 and "test_accuracy" in payload["metrics"]
    assert RunRegistry(directory=lab.folder, bundled=None).info(during.name).status == "stopped"

    # The page shows the stopped run, and a new run starts at once.
    progress, message, *_ = lab.curves.poll({}, [], DEFAULT_NAME)
    assert 'data-status="stopped"' in progress and "stopped" in message
    monkeypatch.setattr(mnist_core.train, "random_affine", real_affine)
    assert lab.train.start_training(**TINY).startswith("Started run")
    assert finished(lab.ctx.jobs).status == "done"


# ------------------------------------------------------------------- read-only or full disk
@contextlib.contextmanager
def tmpfs(path: Path, size: int | None = None):
    """A real tmpfs at `path` (root with mount rights only; skips otherwise)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" if size else "size=16m"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def make_read_only(folder: Path):
    """Make `folder` really read-only: a remount as root, chmod 0o555 otherwise; skip if writes still work."""
    if os.geteuid() == 0:
        done = subprocess.run(["mount", "-o", "remount,ro", str(folder)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot remount read-only: {done.stderr.strip()}")
    else:
        folder.chmod(0o555)
    try:
        (folder / "probe").write_bytes(b"x")
    except OSError:
        return
    pytest.skip("writes still succeed in the read-only folder")


def _refuses_training_up_front(lab, folder: Path, earlier: Path, reason: str, tmp_path: Path) -> None:
    before = earlier.read_bytes()
    with pytest.raises(
        JobError, match=rf"training is unavailable: no checkpoint can be saved on this server \({reason}"
    ):
        lab.ctx.jobs.start(TrainConfig(**TINY))
    with pytest.raises(gr.Error, match=reason) as refused:
        lab.train.start_training(**TINY)
    assert str(folder) not in refused.value.message
    assert not lab.ctx.jobs.busy() and lab.ctx.jobs.snapshot().status == "idle"
    assert earlier.read_bytes() == before  # nothing else lost: the runs are listed and usable
    label, *_ = lab.draw.predict_upload(str(seven_png(tmp_path)), earlier.stem)
    assert isinstance(label, dict) and len(label) == 10  # an (untrained) model, but a prediction


def test_read_only_checkpoint_folder_simulated(lab, tmp_path, monkeypatch):
    earlier = fake_checkpoint(lab.folder / "earlier-run.pt")

    real_mkstemp = tempfile.mkstemp

    def read_only(*args, dir=None, **kwargs):  # only the checkpoint folder: the app's image files still work
        if dir is not None and Path(dir).resolve() == lab.folder.resolve():
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", read_only)  # every way a checkpoint file is created
    _refuses_training_up_front(lab, lab.folder, earlier, "Read-only file system", tmp_path)


def test_read_only_checkpoint_folder_real(lab, tmp_path, monkeypatch):
    folder = tmp_path / "ro-runs"
    with contextlib.ExitStack() as stack:
        if os.geteuid() == 0:
            stack.enter_context(tmpfs(folder))
        else:
            folder.mkdir()
            stack.callback(folder.chmod, 0o755)
        earlier = fake_checkpoint(folder / "earlier-run.pt")
        make_read_only(folder)
        monkeypatch.setenv("MNIST_CHECKPOINT_DIR", str(folder))
        reason = "Read-only file system" if os.geteuid() == 0 else "Permission denied"
        _refuses_training_up_front(lab, folder, earlier, reason, tmp_path)


def _disk_full_mid_run(lab, folder: Path, earlier: Path) -> None:
    before = earlier.read_bytes()
    state = lab.ctx.jobs.start(TrainConfig(**{**TINY, "epochs": 3}))
    final = finished(lab.ctx.jobs)
    name = Path(state.checkpoint).name
    assert final.status == "failed", final.message
    assert f"cannot save checkpoint {name}: No space left on device; any earlier version of it is unchanged" in (
        final.message
    )
    assert str(folder) not in final.message and final.epoch == 1 and len(final.epochs_history) >= 1
    assert [n for n in hidden_files(folder) if n.endswith(".tmp")] == [], "no half-written file left"
    assert earlier.read_bytes() == before
    kept = read_checkpoint(state.checkpoint)  # this run's first epoch survives
    assert kept["metrics"]["epochs_completed"] == 1
    listing = RunRegistry(directory=folder, bundled=None).listing()
    assert sorted(listing.names) == sorted([earlier.stem, Path(name).stem]) and listing.problems == []
    assert not lab.ctx.jobs.busy()


def test_disk_full_during_a_run_simulated(lab, monkeypatch):
    earlier = fake_checkpoint(lab.folder / "earlier-run.pt")
    real_fsync, calls = os.fsync, []

    def fsync(fd):
        if ".pt." in os.readlink(f"/proc/self/fd/{fd}"):  # a checkpoint's temporary file (not owners.json)
            calls.append(fd)
            if len(calls) >= 2:  # the first epoch's checkpoint is written, then the disk is full
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    _disk_full_mid_run(lab, lab.folder, earlier)
    monkeypatch.setattr(os, "fsync", real_fsync)
    lab.ctx.jobs.start(TrainConfig(**TINY))  # space is back: the next run saves normally
    assert finished(lab.ctx.jobs).status == "done"


def test_disk_full_during_a_run_real(lab, tmp_path, monkeypatch):
    # The disk fills while the run trains (another process): the start's check of free space has passed.
    monkeypatch.setattr("mnist_core.app.disk_space.needed_bytes", lambda cfg, runs=1: 0)
    probe = fake_checkpoint(tmp_path / "probe.pt")  # what one checkpoint of this run weighs
    size = probe.stat().st_size
    folder = tmp_path / "small-disk"
    # Room for the earlier run plus 1.5 checkpoints: the first save fits, the second (written beside
    # the first before replacing it) runs out of space.
    with tmpfs(folder, size=((2 * size + size // 2) // 4096 + 1) * 4096):
        earlier = fake_checkpoint(folder / "earlier-run.pt")
        monkeypatch.setenv("MNIST_CHECKPOINT_DIR", str(folder))
        _disk_full_mid_run(lab, folder, earlier)
        with pytest.raises(CheckpointWriteError, match="No space left on device"):  # torch alone: "unexpected pos"
            save_checkpoint(folder / "another.pt", build_model(TrainConfig(**TINY)), TrainConfig(**TINY), {}, {})


# ------------------------------------------------------------------------ two starts at once
def test_concurrent_starts_on_the_job_manager_start_exactly_one(mnist, tmp_path):
    release = threading.Event()

    def held_loader():
        release.wait(120)  # keep the run in its loading phase while the others try
        return mnist

    jobs = JobManager(caps=Caps(), directory=lambda: tmp_path, runner=InThread(held_loader))
    barrier = threading.Barrier(8)
    started, refused = [], []

    def click():
        barrier.wait()
        try:
            started.append(jobs.start(TrainConfig(**TINY)))
        except JobBusyError as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=click) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(started) == 1 and len(refused) == 7, (started, refused)
    assert all(message.startswith("A run is in progress (epoch 1/1") for message in refused)
    release.set()
    assert finished(jobs).status == "done" and jobs.snapshot().run_id == 1


@pytest.fixture(scope="module")
def server(start_app, tmp_path_factory):
    """The app, each of whose runs holds at its first step until it is stopped: a run that two Start
    requests race can never have ended before the second arrives, however fast the machine."""
    marker = tmp_path_factory.mktemp("hold") / "held"
    return start_app(env=child_env(marker, run=RunHold(epoch=1)))


def stop_the_run(client) -> dict:
    """Stop the server's (held) run and wait until it has ended; its final status."""
    client.predict(api_name="/stop")
    status = run_ended(client)
    assert status["status"] == "stopped", status
    return status


@pytest.mark.slow
def test_two_api_clients_starting_at_once_start_exactly_one_and_queue_the_other(server):
    clients = [Client(server.url, verbose=False) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[tuple[str, str]] = []

    def start(client):
        barrier.wait()
        try:
            results.append(("started", client.predict(**TINY, api_name="/train")))
        except Exception as exc:  # noqa: BLE001 - a refusal arrives as the client's AppError
            results.append(("refused", str(exc)))
        else:
            if results[-1][1].startswith("Queued run"):
                results[-1] = ("queued", results[-1][1])

    threads = [threading.Thread(target=start, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    kinds = sorted(kind for kind, _ in results)
    assert kinds == ["queued", "started"], results  # exactly one runs; the other waits first in line (issue 20)
    statuses = [client.predict(api_name="/status") for client in clients]
    running = next(c for c, s in zip(clients, statuses) if s["status"] == "running")
    waiting = next(c for c, s in zip(clients, statuses) if s["status"] == "queued")
    assert waiting.predict(api_name="/status")["position"] == 1
    stop_the_run(running)
    stop_the_run(waiting)  # it started by itself, and holds like every run here


@pytest.mark.slow
@pytest.mark.browser
def test_two_browsers_clicking_start_at_once_start_exactly_one(server, browser):
    from tests.support.browser import expect

    client = Client(server.url, verbose=False)
    assert run_ended(client)["status"] != "running"
    contexts = [browser.new_context(viewport={"width": 1280, "height": 1000}) for _ in range(2)]
    try:
        pages = [context.new_page() for context in contexts]
        for page in pages:
            # A link fills the form (a small run) and opens the Train tab: no typing into fields
            # that a just-opened group is still mounting, which under load now and then lost a value.
            page.goto(f"{server.url.rstrip('/')}/?train_size=2000&val_size=500")
            page.locator("#group-data").locator("button, .label-wrap").first.click()  # the data settings
            for name, value in (("train_size", "2000"), ("val_size", "500")):
                expect(page.locator(f"#hp-{name} input[type=number]")).to_have_value(value, timeout=60_000)
            page.evaluate(WATCH_ANSWERS_JS)
        for page in pages:  # both clicks leave before either answer comes back
            page.locator("#start").click(no_wait_after=True)

        def answers():
            seen = [sorted(page.evaluate("() => [...window.__answers]")) for page in pages]
            return seen if all(seen) else None

        seen = wait_for(answers, "both browsers to get an answer", interval=0.1)
        assert sorted(seen) == [["queued"], ["started"]], seen  # exactly one run; the other waits in line
        for page in pages:  # each browser stops its own job: the running one, then the one that followed
            page.locator("#stop").click()
    finally:
        for context in contexts:
            context.close()
    wait_for(lambda: client.predict(api_name="/status")["server"]["running"] is None, "both jobs to end")
