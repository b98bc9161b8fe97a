"""Import hygiene: a training command loads only what it needs (each heavy package costs it seconds)."""

import json
import subprocess
import sys

HEAVY = ("torchvision", "gradio", "pandas", "plotly")

# Runs a real training command in a fresh interpreter, then reports which heavy packages it loaded.
TRAIN_AND_LIST = """
import json, sys
from mnist_core.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "loaded": [m for m in %r if m in sys.modules]}))
"""


def test_train_command_imports_no_torchvision_gradio_pandas_or_plotly(mnist, tmp_path):
    flags = ["--model", "cnn", "--train-size", "1000", "--val-size", "500"]  # the real files: ensure_mnist passes
    args = ["train", "--out", str(tmp_path / "run.pt"), *flags]
    result = subprocess.run(
        [sys.executable, "-c", TRAIN_AND_LIST % (HEAVY,), *args], capture_output=True, text=True, timeout=300
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
lazy_before = "torch._dynamo" in sys.modules
warm_up()
print(json.dumps({"lazy_before": lazy_before, "lazy_after": "torch._dynamo" in sys.modules,
                  "rng_kept": bool(torch.equal(before, torch.random.get_rng_state()))}))
"""


def test_warm_up_does_the_lazy_set_up_of_a_first_run_and_keeps_the_random_state():
    result = subprocess.run([sys.executable, "-c", WARM_AND_CHECK], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"lazy_before": False, "lazy_after": True, "rng_kept": True}
