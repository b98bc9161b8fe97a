"""Sweeps: search space from TrainConfig, CLI refusals, storage faults, stop, pruning, and a real PostgreSQL
shared by two worker processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from mnist_core.checkpoint import read_checkpoint
from mnist_core.cli import main
from mnist_core.config import fields
from mnist_core.search_space import DEFAULT_VARY, build_space, parse_fixed, searchable
from mnist_core.sweep import CHECKPOINT_KEY, SweepSpec, open_study, run_sweep, trial_checkpoint
from tests.support.fixtures import TINY
from tests.support.postgres import PostgresServer, free_port, pg_bin

REPO = Path(__file__).resolve().parent.parent
TINY_FIX = ",".join(f"{k}={v}" for k, v in TINY.items())


@pytest.fixture
def ckpt_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "checkpoints"
    monkeypatch.setenv("MNIST_CHECKPOINT_DIR", str(folder))
    return folder


@pytest.fixture
def postgres():
    if pg_bin() is None:
        pytest.skip("PostgreSQL binaries absent (Debian: apt-get install postgresql; .ci/run does)")
    server = PostgresServer().start()
    yield server
    server.close()


# --- search space and CLI refusals (no training) ---


def test_search_space_comes_from_config_metadata():
    by_name = {f.name: f for f in fields()}
    space = build_space()
    assert tuple(space.distributions) == DEFAULT_VARY
    batch = space.distributions["batch_size"]
    assert (batch.low, batch.high, batch.log) == (*by_name["batch_size"].metadata["search"], True)
    lr = space.distributions["lr"]
    assert (lr.low, lr.high, lr.log) == (*by_name["lr"].metadata["search"], True)
    drop = space.distributions["dropout"]  # no search range: the field's own bounds
    assert (drop.low, drop.high) == (by_name["dropout"].metadata["min"], by_name["dropout"].metadata["max"])
    model = build_space("model,batch_norm").distributions
    assert model["model"].choices == tuple(by_name["model"].metadata["choices"])
    assert model["batch_norm"].choices == (False, True)
    assert not searchable(by_name["seed"]) and not searchable(by_name["hidden_sizes"])


def test_fixed_values_pin_the_base_config_and_keep_commas_of_lists():
    assert parse_fixed("model=mlp,hidden_sizes=256,128,epochs=2") == {
        "model": "mlp",
        "hidden_sizes": "256,128",
        "epochs": "2",
    }
    space = build_space("lr", "model=mlp,hidden_sizes=256,128,epochs=2")
    assert (space.base.model, space.base.hidden, space.base.epochs) == ("mlp", (256, 128), 2)
    assert space.config({"lr": 0.01}).lr == 0.01


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--vary", "lr,nope,dropout"], "unknown field(s): nope"),
        (["--fix", "bogus=1"], "unknown field(s): bogus"),
        (["--vary", "lr,dropout", "--fix", "dropout=0.1,lr=0.1"], "both varied and fixed: lr, dropout"),
        (["--vary", "seed,lr"], "cannot vary: seed"),
        (["--fix", "epochs=0"], "epochs: 0 is outside the allowed range"),
        (["--fix", "val_size=0"], "no validation images"),
        (["--fix", "model"], "not of the form field=value"),
        (["--trials", "0"], "--trials: 0 is not a positive number"),
        (["--study", "bad name/.."], "study name"),
    ],
)
def test_cli_refuses_bad_requests_naming_them(argv, message, ckpt_dir, capsys):
    args = ["sweep", "--study", "s", *argv] if "--study" not in argv else ["sweep", *argv]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not ckpt_dir.exists() or not list(ckpt_dir.glob("*.pt"))


@pytest.mark.parametrize(
    "storage, message",
    [
        ("not a url", "cannot be parsed"),
        ("nosuchdb://x/y", "cannot be parsed"),
        ("postgresql://me:secret@127.0.0.1:{port}/db", "cannot be reached"),
        ("sqlite:///{tmp}/missing/folder/s.db", "cannot be reached"),
    ],
)
def test_bad_storage_is_refused_before_training_and_creates_nothing(storage, message, ckpt_dir, tmp_path, capsys):
    url = storage.format(port=free_port(), tmp=tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "--study", "s", "--trials", "1", "--storage", url])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err
    assert "secret" not in err  # the password is masked
    assert not (tmp_path / "missing").exists()
    assert not ckpt_dir.exists()  # no sqlite file, no checkpoint


def test_a_new_sqlite_file_whose_tables_another_process_is_creating_opens(tmp_path):
    # The app's server and its training child open a new sweeps.db together: between SQLAlchemy's
    # "does the table exist?" and its CREATE TABLE, the other process created it (CI: "Sweep failed:
    # storage ... cannot be reached: table trial_values already exists").
    import sqlite3

    from optuna.storages._rdb import models
    from sqlalchemy import event
    from sqlalchemy.schema import CreateTable

    from mnist_core.sweep import open_storage

    path = tmp_path / "sweeps.db"
    table = models.TrialValueModel.__table__
    raced = []

    def the_other_process_creates_it_first(target, connection, **kw):
        if not raced:
            raced.append(True)
            with sqlite3.connect(path) as other:
                other.execute(str(CreateTable(target).compile(connection)))

    event.listen(table, "before_create", the_other_process_creates_it_first)
    try:
        storage = open_storage(f"sqlite:///{path}")
    finally:
        event.remove(table, "before_create", the_other_process_creates_it_first)
    assert raced
    study = optuna.create_study(study_name="after-a-race", storage=storage, direction="maximize")
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    assert len(study.trials) == 2


# --- real sweeps on a small subset (SQLite) ---


def test_tiny_sweep_saves_marked_checkpoints_and_names_the_best(mnist, ckpt_dir):
    events = []
    spec = SweepSpec("tiny", trials=3, vary="lr,dropout", fixed=TINY, sampler_seed=1)
    result = run_sweep(spec, mnist, callback=events.append)

    assert result.complete + result.pruned + result.failed == 3 and result.ran["complete"] == result.complete
    assert result.failed == 0 and not result.error and not result.stopped
    study = open_study("tiny")  # the default storage: sqlite next to the checkpoints
    assert (ckpt_dir / "sweeps.db").is_file() and len(study.trials) == 3
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    best = max(complete, key=lambda t: t.value)
    assert (result.best_trial, result.best_value, result.best_params) == (best.number, best.value, best.params)
    assert result.best_checkpoint == str(trial_checkpoint("tiny", best.number))
    for t in complete:
        payload = read_checkpoint(t.user_attrs["checkpoint"])
        assert payload[CHECKPOINT_KEY] == {"study": "tiny", "trial": t.number}
        assert payload["config"].lr == t.params["lr"] and payload["config"].model == "mlp"
        assert payload["history"]["epochs"][-1]["val_acc"] == t.value
        # three mid-epoch validation points and the epoch's end reached the pruner
        assert sorted(t.intermediate_values) == [0, 1, 2, 3]
    kinds = [e.kind for e in events]
    assert kinds.count("trial_start") == kinds.count("trial_end") == 3 and kinds[-1] == "end"
    assert {e.kind for e in events} >= {"step", "val", "epoch"}


def test_a_trial_below_the_median_is_pruned_mid_epoch_and_leaves_no_checkpoint(mnist, ckpt_dir):
    spec = SweepSpec("prune", trials=1, vary="lr", fixed=TINY)
    study = open_study("prune")
    perfect = {i: 1.0 for i in range(4)}  # five finished trials at 100% at every point: any real trial is worse
    dist = build_space("lr").distributions
    for _ in range(5):
        study.add_trial(
            optuna.trial.create_trial(params={"lr": 0.01}, distributions=dist, value=1.0, intermediate_values=perfect)
        )
    steps = []
    result = run_sweep(spec, mnist, callback=lambda e: e.train and steps.append(e.train))

    assert result.ran == {"complete": 0, "pruned": 1, "failed": 0}
    trial = open_study("prune").trials[-1]
    assert trial.state == TrialState.PRUNED
    assert max(trial.intermediate_values) == 1  # pruned at the half-epoch point (step 0 is warm-up)
    assert steps[-1].step < steps[-1].steps  # its training ended there, inside the only epoch
    assert not trial_checkpoint("prune", trial.number).exists()


def test_stop_ends_the_running_trial_at_the_next_step_and_keeps_completed_trials(mnist, ckpt_dir):
    stop = threading.Event()
    stopped_at = []

    def on_event(event):
        if event.trial == 1 and event.kind == "step" and not stop.is_set():
            stop.set()
            stopped_at.append(event.train.step)
        if event.trial == 1 and event.kind == "step":
            assert event.train.step == stopped_at[0], "a step ran after Stop"

    result = run_sweep(SweepSpec("stop", trials=5, vary="lr", fixed=TINY), mnist, on_event, stop)

    assert result.stopped == "stop" and result.ran == {"complete": 1, "pruned": 0, "failed": 1}
    first, second = open_study("stop").trials
    assert first.state == TrialState.COMPLETE and Path(first.user_attrs["checkpoint"]).is_file()
    assert second.state == TrialState.FAIL and second.user_attrs["fail_reason"] == "stopped"
    assert not trial_checkpoint("stop", 1).exists()  # no epoch of it completed


def test_time_cap_starts_no_trial_after_it(mnist, ckpt_dir):
    result = run_sweep(SweepSpec("cap", trials=3, vary="lr", fixed=TINY, max_seconds=1e-9), mnist)
    assert result.stopped == "time cap" and result.ran == {"complete": 0, "pruned": 0, "failed": 0}


# --- a real PostgreSQL server ---


@pytest.mark.slow
def test_two_worker_processes_share_one_postgres_study(postgres, ckpt_dir):
    env = {**os.environ, "MNIST_CHECKPOINT_DIR": str(ckpt_dir)}
    cmd = [sys.executable, "-m", "mnist_core", "sweep", "--study", "shared", "--storage", postgres.url]
    cmd += ["--trials", "2", "--vary", "lr,dropout", "--fix", TINY_FIX, "--json"]
    workers = [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in "ab"]
    outs = [w.communicate(timeout=600) for w in workers]
    for worker, (_, err) in zip(workers, outs):
        assert worker.returncode == 0, err.decode()[-2000:]
    reports = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outs]
    assert [sum(r["ran"].values()) for r in reports] == [2, 2]

    trials = open_study("shared", postgres.url).trials
    numbers = [t.number for t in trials]
    assert sorted(numbers) == [0, 1, 2, 3]  # both workers' trials, in one study, no number twice
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials) == 4
    for t in trials:
        if t.state == TrialState.COMPLETE:
            assert read_checkpoint(trial_checkpoint("shared", t.number))[CHECKPOINT_KEY]["trial"] == t.number
    last = max(reports, key=lambda r: r["complete"] + r["pruned"])
    assert last["study"] == "shared" and last["best_value"] == max(t.value for t in trials if t.value is not None)


@pytest.mark.slow
def test_database_stopped_mid_sweep_ends_it_with_a_message_and_keeps_checkpoints(postgres, mnist, ckpt_dir):
    def kill_database(event):
        if event.trial == 1 and event.kind == "step" and postgres.running():
            postgres.stop("immediate")

    spec = SweepSpec("outage", trials=4, storage=postgres.url, vary="lr", fixed=TINY)
    result = run_sweep(spec, mnist, kill_database)

    assert "database stopped answering during trial 1" in result.error
    assert result.ran == {"complete": 1, "pruned": 0, "failed": 1}
    assert read_checkpoint(trial_checkpoint("outage", 0))[CHECKPOINT_KEY] == {"study": "outage", "trial": 0}
    postgres.start()
    trials = open_study("outage", postgres.url).trials
    assert [t.state for t in trials][:1] == [TrialState.COMPLETE] and len(trials) == 2  # no trial after the outage


# A worker that trains a long trial and says so at its first step (then is killed by the test).
DYING_WORKER = """
import sys
from mnist_core.sweep import SweepSpec, run_sweep
from tests.support.fixtures import TINY

def on_event(event):
    if event.kind == "step":
        print("training", event.trial, flush=True)

spec = SweepSpec("crash", trials=1, storage=sys.argv[1], vary="lr", fixed={**TINY, "epochs": 100}, heartbeat_seconds=600)
run_sweep(spec, callback=on_event)
"""


def backdate_heartbeat(storage_url: str, study: str, number: int, by: timedelta) -> None:
    """Date trial `number`'s last heartbeat `by` earlier, as if its worker had been silent that long."""
    from optuna.storages._rdb import models

    storage = optuna.storages.RDBStorage(storage_url)
    trial_id = storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study), number)
    session = storage.scoped_session()
    try:
        beat = models.TrialHeartbeatModel.where_trial_id(trial_id, session)
        beat.heartbeat -= by
        session.commit()
    finally:
        session.close()
        storage.remove_session()


@pytest.mark.slow
def test_a_killed_workers_trial_is_marked_failed_by_the_next_worker(postgres, mnist, ckpt_dir):
    env = {**os.environ, "MNIST_CHECKPOINT_DIR": str(ckpt_dir)}
    dying = subprocess.Popen(
        [sys.executable, "-c", DYING_WORKER, postgres.url], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert dying.stdout.readline().split() == ["training", "0"]
    finally:
        dying.kill()  # as a machine lost mid-trial: no chance to tell the study anything
        dying.wait()
    assert [t.state for t in open_study("crash", postgres.url).trials] == [TrialState.RUNNING]

    # Heartbeats every 600 s: a trial silent for twice that is a dead worker's. The clock is the
    # database's, and the test moves the heartbeat instead of waiting: no real time passes.
    spec = SweepSpec("crash", trials=1, storage=postgres.url, vary="lr", fixed=TINY, heartbeat_seconds=600)
    result = run_sweep(spec, mnist)  # seconds after the kill: the trial may still be alive, it is left alone
    assert open_study("crash", postgres.url).trials[0].state == TrialState.RUNNING and result.running == 1
    backdate_heartbeat(postgres.url, "crash", 0, timedelta(seconds=2 * 600 + 60))
    result = run_sweep(spec, mnist)  # the next trial any worker starts marks it failed
    trials = open_study("crash", postgres.url).trials
    assert trials[0].state == TrialState.FAIL and result.running == 0 and result.failed == 1
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials[1:])  # live ones were left alone
    assert len(trials) == 3


def test_sweep_figures_and_table_for_the_tab(ckpt_dir):
    from mnist_core.app.sweep_charts import sweep_figures, trials_table

    study = open_study("figs")
    assert set(sweep_figures(study).values()) == {"no completed trial yet"}
    dist = build_space("lr,dropout").distributions
    for i, (lr, drop) in enumerate([(0.01, 0.1), (0.1, 0.5), (0.001, 0.3)]):
        study.add_trial(
            optuna.trial.create_trial(
                params={"lr": lr, "dropout": drop},
                distributions=dist,
                value=0.9 + i / 100,
                user_attrs={"checkpoint": f"figs-trial{i}.pt", "test_accuracy": 0.95},
            )
        )
    figures = sweep_figures(study)
    assert {k: type(v).__name__ for k, v in figures.items()} == dict.fromkeys(figures, "Figure")
    assert len(figures["history"].data[0].x) == 3
    assert set(figures["importance"].data[0].y) == {"lr", "dropout"}
    # Parallel coordinates' tick labels stay short enough not to run into the next axis on a phone.
    ticks = [note.text for note in figures["parallel"].layout.annotations]
    assert ticks and max(map(len, ticks)) <= 5 and "1e-3" in ticks, ticks
    # Every trial's line reads on a white page and on a dark one (Optuna's best were navy), the best orange.
    lines = [t for t in figures["parallel"].data if t.mode == "lines" and t.y and t.y[0] is not None]
    brightness = [_brightness(t.line.color) for t in lines]
    assert len(lines) == 3 and all(90 < b < 200 for b in brightness), brightness
    assert max(lines, key=lambda t: t.y[0]).line.color == "rgb(255, 127, 14)"
    assert figures["parallel"].layout.margin.l >= 30  # room for the first axis's tick labels, left of it
    bars = figures["importance"]  # the longest bar's value, written after it, stays inside the axis
    assert bars.layout.xaxis.range[1] >= 1.15 * max(bars.data[0].x)
    table = trials_table(study)
    assert list(table["trial"]) == [2, 1, 0] and list(table["state"]) == ["complete"] * 3
    assert list(table["checkpoint"]) == ["figs-trial2.pt", "figs-trial1.pt", "figs-trial0.pt"]


def _brightness(color: str) -> float:
    """Perceived brightness (0-255) of an 'rgb(r, g, b)' colour."""
    r, g, b = (float(v) for v in color[color.index("(") + 1 : color.index(")")].split(","))
    return 0.299 * r + 0.587 * g + 0.114 * b
