"""Runs on a shared server (issue 20): each visitor sees their runs marked and first, downloads and deletes
only their own, keeps their chosen model; the server keeps at most MNIST_KEEP_RUNS runs.

The handlers are the app's (tests/support/lab.py), called as two visitors; the runs are trained by the
real job manager, which records their owners, or written as fake checkpoints owned as it records them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from gradio_client import Client

from mnist_core.app.jobs import Caps, InThread, JobManager
from mnist_core.app.ownership import FILE_NAME, Owners
from mnist_core.app.registry import DEFAULT_NAME, RunRegistry
from tests.support.fixtures import TINY, fake_checkpoint
from tests.support.hold import RunHold, hold_runs
from tests.support.lab import Lab
from tests.support.server import AppServer

ANN, BOB = "browser:ann", "browser:bob"


def wait_done(jobs: JobManager) -> None:
    assert jobs.wait_for(lambda s: not s.active and s.status != "idle", 120) is not None
    assert jobs.wait(60)


def train_as(lab: Lab, owner: str) -> str:
    """A real tiny run started by `owner` through the job manager; its name."""
    name = lab.ctx.jobs.start({**TINY, "epochs": 1}, owner=owner).name
    wait_done(lab.ctx.jobs)
    return name


def fake_run(folder: Path, name: str, owner: str | None, age: float = 0.0) -> Path:
    """A fake checkpoint `name`, `age` seconds older than now, owned as the job manager records owners."""
    path = fake_checkpoint(folder / f"{name}.pt")
    then = time.time() - age
    os.utime(path, (then, then))
    if owner:
        Owners(lambda: folder).record(name, owner)
    return path


def rows(table) -> list[tuple[str, str]]:
    table = table.data  # the page's Styler holds the values
    return list(zip(table["name"], table["yours"], strict=True))


def test_each_visitor_sees_their_runs_marked_and_first(lab):
    ann_run = train_as(lab, ANN)
    fake_run(lab.folder, "bob-run", BOB, age=100)
    table, _ = lab.runs.runs_table("all", ANN)
    assert rows(table) == [(ann_run, "yes"), (DEFAULT_NAME, ""), ("bob-run", "")]
    table, _ = lab.runs.runs_table("all", BOB)
    assert rows(table) == [("bob-run", "yes"), (DEFAULT_NAME, ""), (ann_run, "")]
    assert rows(lab.runs.runs_table("mine", ANN)[0]) == [(ann_run, "yes")]
    assert rows(lab.runs.runs_table("mine", "browser:carol")[0]) == []
    # The page's poll sends each visitor their own table.
    ann_table = lab.curves.poll({}, [], DEFAULT_NAME, ANN, "mine")[7]
    assert rows(ann_table) == [(ann_run, "yes")]


def test_a_sweep_owns_its_trials(lab):
    lab.ctx.registry.owners.record_study("bobs-study", BOB)  # as JobManager.start_sweep records it
    fake_run(lab.folder, "bobs-study-trial0", None)
    assert rows(lab.runs.runs_table("mine", BOB)[0]) == [("bobs-study-trial0", "yes")]


def test_only_the_owner_downloads(lab):
    path = fake_run(lab.folder, "ann-run", ANN)
    mine = lab.runs.download_for("ann-run", ANN)
    assert mine.interactive and mine.constructor_args["value"] == str(path) and "ann-run" in mine.label
    assert Path(mine.value["path"]).read_bytes() == path.read_bytes()  # the file the button serves
    for visitor, model in ((BOB, "ann-run"), (ANN, DEFAULT_NAME), (ANN, "no-such-run")):
        theirs = lab.runs.download_for(model, visitor)
        assert theirs.interactive is False and theirs.constructor_args["value"] is None


def test_a_checkpoint_outside_what_gradio_serves_is_offered_as_a_copy(tmp_path, monkeypatch):
    from mnist_core.app.tabs import runs

    folder, served = tmp_path / "data", tmp_path / "tmp"
    folder.mkdir(), served.mkdir()
    path = folder / "run.pt"
    path.write_bytes(b"weights")
    monkeypatch.setattr(runs.tempfile, "gettempdir", lambda: str(served))
    monkeypatch.chdir(served)
    copy = runs.servable(path)
    assert copy.parent.parent == served and copy.name == "run.pt" and copy.read_bytes() == b"weights"
    monkeypatch.chdir(folder)  # under the working folder: served as it is
    assert runs.servable(path) == path


def test_only_the_owner_deletes_and_the_run_goes_whole(lab):
    path = fake_run(lab.folder, "ann-run", ANN)
    side = Path(f"{path}.inside.npz")
    side.write_bytes(b"cache")
    lab.ctx.registry.predictor("ann-run")  # loaded: the cache must not keep serving it
    said = lab.runs.delete_run("ann-run", BOB)
    assert "not yours" in said and path.exists()
    assert "bundled model cannot be deleted" in lab.runs.delete_run(DEFAULT_NAME, ANN)
    assert "no run called" in lab.runs.delete_run("../../etc/passwd", ANN)
    assert "Choose a run" in lab.runs.delete_run("", ANN)

    picker, table, said = lab.runs.delete_active("ann-run", "all", ANN)
    assert said == "Deleted **ann-run**."
    assert not path.exists() and not side.exists()
    assert Owners(lambda: lab.folder).owner_of("ann-run") is None
    assert picker.constructor_args["value"] == DEFAULT_NAME and "ann-run" not in picker.constructor_args["choices"]
    assert list(table.data["name"]) == [DEFAULT_NAME]
    with pytest.raises(Exception, match="unknown model"):
        lab.ctx.registry.predictor("ann-run")


def test_a_running_or_queued_run_is_not_deleted(lab, monkeypatch):
    begun = hold_runs(monkeypatch, RunHold(epoch=1))
    running = lab.ctx.jobs.start({**TINY, "epochs": 1}, owner=ANN)
    assert begun.wait(120)  # held at its first step: its checkpoint may already exist (written per epoch)
    fake_run(lab.folder, running.name, None)  # as a saved epoch would leave it
    Owners(lambda: lab.folder).record(running.name, ANN)
    said = lab.runs.delete_run(running.name, ANN)
    assert "training or waiting in line" in said and (lab.folder / f"{running.name}.pt").exists()
    lab.ctx.jobs.stop(ANN)
    wait_done(lab.ctx.jobs)


def test_the_chosen_model_is_restored_if_it_still_exists(lab):
    fake_run(lab.folder, "ann-run", ANN)
    assert lab.runs.restore_model("ann-run").constructor_args["value"] == "ann-run"
    gone = lab.runs.restore_model("removed-run")
    assert gone.constructor_args["value"] == DEFAULT_NAME and "removed-run" in gone.constructor_args["info"]
    assert lab.runs.restore_model("") == lab.runs.restore_model(None)  # nothing remembered: left alone


def test_a_page_whose_model_is_removed_falls_back_and_says_so(lab):
    picker = lab.curves.poll({}, [], "ann-run", ANN, "all")[5]
    assert picker.constructor_args["value"] == DEFAULT_NAME
    assert "ann-run, was removed" in picker.constructor_args["info"]


@pytest.fixture
def keep_two(tmp_path, monkeypatch, mnist, default_checkpoint) -> Lab:
    """The lab on a server with MNIST_KEEP_RUNS=2."""
    folder = tmp_path / "runs"
    folder.mkdir()
    monkeypatch.setenv("MNIST_CHECKPOINT_DIR", str(folder))
    monkeypatch.setenv("MNIST_KEEP_RUNS", "2")
    caps = Caps.from_env()
    assert caps.keep_runs == 2
    jobs = JobManager(caps=caps, runner=InThread(lambda: mnist))
    return Lab(jobs, RunRegistry(bundled=default_checkpoint), folder)


def test_a_run_that_ends_removes_the_oldest_beyond_the_limit(keep_two):
    lab, folder = keep_two, keep_two.folder
    oldest = fake_run(folder, "oldest", BOB, age=300)
    Path(f"{oldest}.inside.npz").write_bytes(b"cache")
    fake_run(folder, "older", BOB, age=200)
    assert lab.ctx.registry.names() == [DEFAULT_NAME, "older", "oldest"]  # two: nothing removed yet
    new = train_as(lab, ANN)
    seen = lab.curves.poll({}, [], DEFAULT_NAME, ANN, "all")  # the next listing after the run ended
    assert [n for n in seen[5].constructor_args["choices"]] == [DEFAULT_NAME, new, "older"]
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{new}.pt", "older.pt", FILE_NAME])
    assert Owners(lambda: folder).owner_of("oldest") is None and Owners(lambda: folder).owner_of(new) == ANN


def test_retention_spares_the_bundled_model_protected_runs_models_in_use_and_the_newest(keep_two, monkeypatch):
    lab, folder = keep_two, keep_two.folder
    for i, name in enumerate(["in-use", "protected", "old", "new", "newest"]):
        fake_run(folder, name, BOB, age=500 - 100 * i)
    monkeypatch.setattr(lab.ctx.jobs, "protected_runs", lambda: {"protected"})  # a queued job's run
    picker = lab.curves.poll({}, [], "in-use", ANN, "all")[5]  # a page shows "in-use"; this tick's listing prunes
    # Oldest first, "old" and "new" go; the rest stay, over the limit while they are spared.
    assert picker.constructor_args["choices"] == [DEFAULT_NAME, "newest", "protected", "in-use"]
    assert sorted(p.stem for p in folder.glob("*.pt")) == ["in-use", "newest", "protected"]


def test_a_run_spared_while_shown_goes_once_no_page_shows_it(keep_two, monkeypatch):
    from mnist_core.app import registry as registry_module

    clock = [1000.0]
    monkeypatch.setattr(registry_module.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(keep_two.ctx.jobs, "protected_runs", lambda: {"queued"})
    lab, folder = keep_two, keep_two.folder
    for i, name in enumerate(["shown", "queued", "newest"]):
        fake_run(folder, name, BOB, age=300 - 100 * i)
    lab.curves.poll({}, [], "shown", ANN, "all")  # all three spared: one over the limit
    clock[0] += 5  # the page still shows it
    lab.curves.poll({}, [], "shown", ANN, "all")
    assert lab.ctx.registry.names() == [DEFAULT_NAME, "newest", "queued", "shown"]
    clock[0] += registry_module.IN_USE_SECONDS  # the page was closed: no poll has reported it since
    assert lab.ctx.registry.names() == [DEFAULT_NAME, "newest", "queued"]  # no new run needed to notice


def test_unlimited_keeps_everything(lab):
    for i in range(4):
        fake_run(lab.folder, f"run{i}", BOB, age=10 * i)
    assert lab.ctx.jobs.caps.keep_runs is None and len(lab.ctx.registry.names()) == 5


# ------------------------------------------------------------------------------------- through gradio_client
@pytest.fixture(scope="module")
def server():
    with AppServer() as app_server:
        yield app_server


def test_an_api_client_cannot_delete_another_visitors_run(server):
    ann, bob = Client(server.url, verbose=False), Client(server.url, verbose=False)
    started = ann.predict(**{**TINY, "epochs": 1}, api_name="/train")
    assert "run" in started.lower()
    deadline = time.monotonic() + 180
    while (status := ann.predict(api_name="/status"))["status"] not in ("done", "stopped", "failed"):
        assert time.monotonic() < deadline, status
        time.sleep(0.5)
    name = status["run"]
    assert (server.checkpoints / f"{name}.pt").exists()
    said = bob.predict(name, api_name="/delete_run")
    assert "not yours" in said and (server.checkpoints / f"{name}.pt").exists()
    bobs_table = bob.predict("mine", api_name="/runs")[0]
    assert bobs_table["data"] == []
    anns_table = ann.predict("mine", api_name="/runs")[0]
    assert [row[0] for row in anns_table["data"]] == [name]
    assert ann.predict(name, api_name="/delete_run") == f"Deleted **{name}**."
    assert not (server.checkpoints / f"{name}.pt").exists()
    assert not server.tracebacks()


def test_a_run_removed_while_it_is_being_listed_is_simply_not_listed(lab, monkeypatch):
    """A listing that stat()ed a checkpoint just before its removal reads nothing: no run, and no problem."""
    from mnist_core import checkpoint

    path = fake_run(lab.folder, "going", ANN)
    real = checkpoint.read_checkpoint

    def removed_first(p):
        if Path(p) == path:
            lab.ctx.registry.remove("going")  # a delete on another request, between the stat and the read
        return real(p)

    monkeypatch.setattr(checkpoint, "read_checkpoint", removed_first)
    listing = lab.ctx.registry.listing()
    assert listing.names == [DEFAULT_NAME] and listing.problems == []
