"""Import hygiene: a training command loads only what it needs (each heavy package costs it seconds)."""

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("torchvision", "gradio", "pandas", "plotly")
# What torch.optim's optimizers import on first use (1.0 s here); mnist_core.optim avoids it.
DYNAMO = "torch._dynamo"
REPO = Path(__file__).resolve().parent.parent

# Runs a real training command in a fresh interpreter, then reports which heavy packages it loaded.
TRAIN_AND_LIST = """
import json, sys
from mnist_core.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "loaded": [m for m in %r if m in sys.modules]}))
"""


def test_train_command_imports_no_torchvision_gradio_pandas_plotly_or_dynamo(mnist, tmp_path):
    flags = ["--model", "cnn", "--train-size", "1000", "--val-size", "500"]  # the real files: ensure_mnist passes
    args = ["train", "--out", str(tmp_path / "run.pt"), *flags]
    result = subprocess.run(
        [sys.executable, "-c", TRAIN_AND_LIST % ((*HEAVY, DYNAMO),), *args], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"code": 0, "loaded": []}
    assert (tmp_path / "run.pt").exists()


def test_library_modules_import_no_web_stack():
    modules = "mnist_core.cli, mnist_core.train, mnist_core.data, mnist_core.checkpoint, mnist_core.predict"
    code = f"import sys, {modules}; print([m for m in {HEAVY!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# The training process's warm-up, in a fresh interpreter: what a first run would otherwise wait for.
WARM_AND_CHECK = """
import json, sys, torch
from mnist_core.train import warm_up
before = torch.random.get_rng_state()
warm_up()
print(json.dumps({"dynamo": "torch._dynamo" in sys.modules,
                  "rng_kept": bool(torch.equal(before, torch.random.get_rng_state()))}))
"""


def test_warm_up_trains_a_step_without_dynamo_and_keeps_the_random_state():
    result = subprocess.run([sys.executable, "-c", WARM_AND_CHECK], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"dynamo": False, "rng_kept": True}


# The app's page, built as `python app.py` builds it, in a fresh interpreter.
BUILD_THE_PAGE = """
import json, sys
import app
from mnist_core.app.jobs import JobManager
from mnist_core.app.registry import RunRegistry
jobs = JobManager()
app.configure_queue(app.build_demo(jobs, RunRegistry()))
print(json.dumps({"torch": "torch" in sys.modules}))
"""


def test_the_page_is_built_without_importing_torch(tmp_path):
    """torch (1.3-1.5 s) loads after the first page is served: in the warm-up, or at a handler's first call."""
    env = {**os.environ, "MNIST_CHECKPOINT_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", BUILD_THE_PAGE], capture_output=True, text=True, timeout=300, cwd=REPO, env=env
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"torch": False}
