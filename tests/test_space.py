"""The app as a Hugging Face Space runs it (issue 20, item 5): safe defaults by themselves with SPACE_ID
set, listed in the Train tab and in the README (one table, from caps.LIMITS), the Space card's Python the
one the tests run on, and only requirements.txt needed at run time."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx
import pytest
from gradio_client import Client, handle_file

from mnist_core.app.caps import LIMITS, Caps, readme_table
from mnist_core.app.tabs.train import limits_markdown
from tests.support.drawings import seven_png
from tests.support.fixtures import TINY
from tests.support.runtime_only import dev_only_modules, runtime_only_env
from tests.support.server import REPO, AppServer
from tests.support.waiting import wait_for

SPACE = {"SPACE_ID": "someone/mnist-lab"}
README = (REPO / "README.md").read_text()


def test_the_readme_table_is_the_limits_table():
    assert readme_table() in README, "README's table of limits differs: paste `python -m mnist_core.app.caps`"
    for limit in LIMITS:  # the table really comes from LIMITS: every variable, both defaults
        row = next(line for line in readme_table().splitlines() if f"`{limit.env}`" in line)
        assert row.count("none") == (limit.local is None) + (limit.space is None), row


def test_the_space_card_pins_the_python_the_tests_run_on():
    front_matter = README.split("---\n")[1]
    pinned = re.search(r'^python_version:\s*"?([\d.]+)"?\s*$', front_matter, re.M)
    assert pinned, "the Space card names no python_version"
    assert pinned.group(1) == f"{sys.version_info.major}.{sys.version_info.minor}"


def test_a_space_takes_its_defaults_by_itself_and_each_can_be_changed_or_lifted():
    local, space = Caps.from_env({}), Caps.from_env(SPACE)
    for limit in LIMITS:
        assert getattr(local, limit.field) == limit.local and getattr(space, limit.field) == limit.space, limit
    assert space.space and not local.space
    changed = Caps.from_env({**SPACE, "MNIST_MAX_EPOCHS": "3", "MNIST_KEEP_RUNS": "none", "MNIST_MAX_QUEUE": "0"})
    assert changed.max_epochs == 3 and changed.keep_runs is None  # set, and lifted
    assert changed.max_queue == Caps.from_env(SPACE).max_queue  # 0 is no number of jobs: the default stays
    assert Caps.from_env({"MNIST_MAX_QUEUE": "none"}).max_queue is None


def test_the_train_tab_lists_the_limits_only_where_something_is_limited():
    assert not Caps.from_env({}).limited()  # locally the Train tab's intro stays one line
    assert Caps.from_env({"MNIST_MAX_EPOCHS": "3"}).limited() and Caps.from_env(SPACE).limited()
    text = limits_markdown(Caps.from_env(SPACE))
    assert "this shared Space" in text
    for what, _variable, value in Caps.from_env(SPACE).table():
        assert f"| {what} | {value} |" in text
    assert "epochs per run" not in limits_markdown(Caps.from_env({**SPACE, "MNIST_MAX_EPOCHS": "none"}))
    assert limits_markdown(Caps.from_env({"MNIST_TRAINING_DISABLED": "1"})) == "Training is disabled on this server."


def test_the_runtime_only_environment_blocks_the_dev_packages_and_nothing_the_app_needs():
    blocked = dev_only_modules()
    assert {"pytest", "playwright", "ruff", "umap"} <= set(blocked)
    assert not {"torch", "gradio", "optuna", "captum", "sklearn", "scipy"} & set(blocked)
    probe = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)"
    env = {**os.environ, **runtime_only_env()}
    refused = subprocess.run([sys.executable, "-c", probe, "pytest"], env=env, capture_output=True, text=True)
    assert refused.returncode == 1 and "not in requirements.txt" in refused.stderr, refused.stderr
    fine = subprocess.run([sys.executable, "-c", probe, "gradio", "packaging"], env=env, capture_output=True, text=True)
    assert fine.returncode == 0, fine.stderr


@pytest.fixture(scope="module")
def space():
    """`python app.py` as a Space starts it: SPACE_ID set, bound to 0.0.0.0, only requirements.txt importable."""
    env = {**SPACE, "GRADIO_SERVER_NAME": "0.0.0.0", **runtime_only_env()}
    with AppServer(env=env) as server:
        yield server


@pytest.mark.slow
def test_a_space_serves_on_every_interface_with_its_limits_listed_in_the_train_tab(space):
    assert re.search(rf"Running on local URL:\s+http://0\.0\.0\.0:{space.port}", space.output()), space.output()
    config = httpx.get(space.url + "config", timeout=60).json()
    shown = [c["props"]["value"] for c in config["components"] if c.get("props", {}).get("elem_id") == "train-limits"]
    assert len(shown) == 1, "the Train tab lists no limits"
    for what, _variable, value in Caps.from_env(SPACE).table():
        assert f"| {what} | {value} |" in shown[0]


@pytest.mark.slow
def test_a_space_refuses_a_run_over_its_limit_naming_it_and_trains_one_within(space, tmp_path):
    client = Client(space.url, verbose=False)
    limit = Caps.from_env(SPACE).max_epochs
    with pytest.raises(Exception, match=f"epochs: {limit + 1} is above this server's limit of {limit}"):
        client.predict(**{**TINY, "epochs": limit + 1}, api_name="/train")
    top, *_ = client.predict(handle_file(str(seven_png(tmp_path))), None, api_name="/predict")
    assert top["label"] == "7"
    client.predict(**TINY, api_name="/train")  # the training child runs without the dev packages too
    status = wait_for(
        lambda: (s := client.predict(api_name="/status"))["status"] in ("done", "stopped", "failed") and s,
        "the run to end",
        interval=0.5,
    )
    assert status["status"] == "done", status
    listed = client.predict(api_name="/runs")
    assert status["run"] in str(listed), listed
    assert space.tracebacks() == [] and space.alive(), space.output()
