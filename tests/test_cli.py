import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image


def run_cli(*args, check=True):
    result = subprocess.run([sys.executable, "-m", "mnist_core", *args], capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_help_lists_every_hyperparameter_with_its_range():
    from mnist_core.config import fields

    out = run_cli("train", "--help").stdout
    for f in fields():
        assert "--" + f.name.replace("_", "-") in out
    assert "one of adamw, adam, sgd, adadelta" in " ".join(out.split())  # as read, whatever argparse's wrapping


@pytest.mark.parametrize(
    "args, field",
    [
        (["--lr", "nan"], "lr"),
        (["--batch-size", "0"], "batch_size"),
        (["--optimizer", "foo"], "optimizer"),
        (["--hidden-sizes", "abc"], "hidden_sizes"),
        (["--epochs", "1000000"], "epochs"),
    ],
)
def test_invalid_arguments_exit_2_naming_the_field(args, field):
    result = run_cli("train", *args, check=False)
    assert result.returncode == 2
    assert f"error: {field}:" in result.stderr


def test_data_command_verifies_md5(mnist):
    out = run_cli("data").stdout
    assert out.count(" ok") == 4


def test_train_small_run_prints_seconds_and_saves(mnist, tmp_path):
    out = tmp_path / "run.pt"
    result = run_cli(
        "train",
        "--model",
        "mlp",
        "--hidden-sizes",
        "32",
        "--train-size",
        "2000",
        "--val-size",
        "500",
        "--out",
        str(out),
    )
    assert "training seconds" in result.stdout and "test accuracy" in result.stdout
    assert "val_acc" in result.stderr  # the per-epoch table
    assert out.exists()


def test_evaluate_json(default_checkpoint, mnist):
    report = json.loads(run_cli("evaluate", "--json").stdout)
    assert report["accuracy"] >= 0.994
    assert np.array(report["confusion"]).sum() == 10_000


def test_predict_json_files_and_blank(default_checkpoint, mnist, tmp_path):
    Image.fromarray(mnist.test_images[1].numpy()).save(tmp_path / "two.png")
    Image.new("L", (200, 200), 255).save(tmp_path / "blank.png")
    (tmp_path / "fake.png").write_text("not an image")
    result = run_cli(
        "predict",
        "--json",
        str(tmp_path / "two.png"),
        str(tmp_path / "blank.png"),
        str(tmp_path / "fake.png"),
        check=False,
    )
    rows = json.loads(result.stdout)["predictions"]
    assert rows[0]["digit"] == 2 and abs(sum(rows[0]["probabilities"]) - 1) < 1e-4
    assert rows[1]["digit"] is None
    assert "error" in rows[2] and result.returncode == 1


def test_predict_random_shows_true_labels(default_checkpoint, mnist):
    rows = json.loads(run_cli("predict", "--random", "5", "--seed", "1", "--json").stdout)["predictions"]
    assert len(rows) == 5 and all("label" in r for r in rows)
    assert sum(r["label"] == r["digit"] for r in rows) >= 4


def test_export_loads_without_the_package(default_checkpoint, mnist, tmp_path):
    out = tmp_path / "mnist.pt2"
    run_cli("export", "--out", str(out))
    # A fresh interpreter that never imports mnist_core.
    code = (
        "import json, sys, torch; m = torch.export.load(sys.argv[1]).module(); x = torch.load(sys.argv[2]);"
        "logits, refused = m(x); print(json.dumps([logits.argmax(1).tolist(), refused.tolist()]))"
    )
    x = mnist.test_images[:4].unsqueeze(1).float() / 255
    torch.save(x, tmp_path / "x.pt")
    result = subprocess.run(
        [sys.executable, "-c", code, str(out), str(tmp_path / "x.pt")], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [mnist.test_labels[:4].tolist(), [False] * 4]  # digits, none refused


def test_two_runs_in_the_same_second_both_keep_their_checkpoint(mnist, tmp_path, monkeypatch, capsys):
    """The CLI's default --out never reuses a name on disk (the same rule as the app's runs)."""
    import time

    from mnist_core.cli import main

    monkeypatch.setenv("MNIST_CHECKPOINT_DIR", str(tmp_path))
    monkeypatch.setattr(time, "strftime", lambda fmt, *args: "20260101-000000")  # both start "in one second"
    args = ["train", "--model", "mlp", "--hidden-sizes", "8", "--train-size", "256", "--val-size", "64"]
    for seed in ("1", "2"):
        assert main([*args, "--batch-size", "64", "--seed", seed]) == 0
    saved = sorted(p.name for p in tmp_path.glob("*.pt"))
    assert saved == ["mlp-20260101-000000-2.pt", "mlp-20260101-000000.pt"]
    seeds = {torch.load(tmp_path / name, weights_only=True)["config"]["seed"] for name in saved}
    assert seeds == {1, 2}
