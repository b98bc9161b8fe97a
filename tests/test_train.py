import threading

import pytest
import torch

from mnist_core.augment import random_affine
from mnist_core.checkpoint import load_model
from mnist_core.config import TrainConfig
from mnist_core.evaluate import evaluate
from mnist_core.train import TrainEvent, train

SMALL = dict(model="mlp", hidden_sizes="64", train_size=6000, val_size=1000, epochs=2, batch_size=128)


def test_mlp_learns_on_a_subset(mnist, tmp_path):
    events = []
    out = tmp_path / "mlp.pt"
    result = train(TrainConfig(**SMALL), mnist, callback=events.append, checkpoint_path=out)
    assert result.metrics["test_accuracy"] > 0.90
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("epoch") == 2
    assert kinds.count("step") >= 2 * 40  # ~50 loss points per epoch for a live curve
    epoch = [e for e in events if e.kind == "epoch"][-1].metrics
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"} <= set(epoch)
    assert all(e.samples_per_sec > 0 for e in events if e.kind == "step")
    loaded = load_model(out)
    assert loaded.payload["metrics"]["test_accuracy"] == result.metrics["test_accuracy"]
    assert len(loaded.payload["history"]["epochs"]) == 2


def test_the_first_step_is_reported_at_once_with_the_untrained_loss(mnist):
    # The live curve's first point is what a person waits for after Start: it must not wait for a
    # window of steps (3 of the 188 steps of 32 here), and it starts where an untrained net is (ln 10).
    events = []
    train(TrainConfig(**{**SMALL, "epochs": 1, "batch_size": 32}), mnist, callback=events.append)
    steps = [e.step for e in events if e.kind == "step"]
    assert steps[:3] == [1, 4, 7]  # then one point per window of 3 steps, as before
    assert 1.8 < next(e.loss for e in events if e.kind == "step") < 2.8


@pytest.mark.slow
def test_default_cnn_one_epoch_reaches_99_percent(mnist):
    result = train(TrainConfig(epochs=1), mnist)
    assert result.metrics["test_accuracy"] >= 0.99


def test_same_seed_same_result(mnist):
    cfg = TrainConfig(**{**SMALL, "epochs": 1, "train_size": 1000, "rotation": 10.0, "dropout": 0.2})
    a, b = train(cfg, mnist), train(cfg, mnist)
    for (name, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert torch.equal(x, y), name
    c = train(cfg.replace(seed=1), mnist)
    assert not torch.equal(a.model.state_dict()["2.weight"], c.model.state_dict()["2.weight"])


def test_hooks_and_events_are_given_by_keyword(mnist):
    """A callback passed where the stop flag goes, or an event's fields in the wrong order, fail loudly."""
    with pytest.raises(TypeError):
        train(TrainConfig(**SMALL), mnist, print)
    with pytest.raises(TypeError):
        TrainEvent("step", 1, 2, 3, 4, 0.5, 0.1)


def test_stop_keeps_the_last_completed_epoch(mnist, tmp_path):
    stop = threading.Event()
    out = tmp_path / "stopped.pt"
    seen = []

    def callback(event):
        seen.append(event)
        # Ask to stop from another thread half-way through epoch 2.
        if event.kind == "step" and event.epoch == 2 and not stop.is_set():
            threading.Thread(target=stop.set).start()

    result = train(TrainConfig(**{**SMALL, "epochs": 5}), mnist, callback=callback, stop=stop, checkpoint_path=out)
    assert result.stopped and result.metrics["epochs_completed"] == 1
    payload = load_model(out).payload
    assert payload["stopped"] is True and len(payload["history"]["epochs"]) == 1
    assert "stopped" in seen[-1].message


def test_stop_before_first_epoch_saves_nothing(mnist, tmp_path):
    stop = threading.Event()
    stop.set()
    result = train(TrainConfig(**SMALL), mnist, stop=stop, checkpoint_path=tmp_path / "none.pt")
    assert result.stopped and result.checkpoint is None and not (tmp_path / "none.pt").exists()


def test_batch_larger_than_the_subset_is_refused(mnist):
    with pytest.raises(ValueError, match="batch_size"):
        train(TrainConfig(**{**SMALL, "train_size": 100, "batch_size": 512}), mnist)


@pytest.mark.parametrize("model", ["cnn", "cnn_large", "cnn_deep", "cnn_ensemble"])
def test_cnns_train_a_few_steps(mnist, model, tmp_path):
    result = train(
        TrainConfig(model=model, train_size=2048, val_size=100, batch_size=64), mnist, checkpoint_path=tmp_path / "m.pt"
    )
    assert result.metrics["epochs_completed"] == 1 and result.metrics["test_accuracy"] > 0.6
    net = load_model(result.checkpoint).model.eval()
    for member in getattr(net, "members", [net]):  # each member of an ensemble learned to read on its own
        assert evaluate(member, mnist.test_images[:500], mnist.test_labels[:500]).accuracy > 0.6


@pytest.mark.parametrize("optimizer, scheduler", [("sgd", "step"), ("adam", "cosine"), ("adadelta", "none")])
def test_optimizers_and_schedules_run(mnist, optimizer, scheduler):
    lr = {"sgd": 0.05, "adam": 1e-3, "adadelta": 1.0}[optimizer]
    cfg = TrainConfig(**{**SMALL, "epochs": 1, "optimizer": optimizer, "scheduler": scheduler, "lr": lr})
    assert train(cfg, mnist).metrics["test_accuracy"] > 0.8


def test_random_affine_keeps_shape_and_moves_pixels():
    x = torch.zeros(8, 1, 28, 28)
    x[:, :, 10:18, 12:16] = 1.0
    assert random_affine(x, 0, 0, 0) is x
    y = random_affine(x, 30.0, 0.1, 0.1, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    assert not torch.allclose(y, x)
    assert 0.5 < y.sum() / x.sum() < 1.5  # ink is moved, not created or lost


@pytest.mark.parametrize("precision, training_dtype", [("bf16", torch.bfloat16), ("fp32", torch.float32)])
def test_precision_sets_the_training_steps_arithmetic_only(mnist, monkeypatch, precision, training_dtype):
    import mnist_core.train as engine

    seen = []  # (training?, dtype of the first conv's output)

    def build(cfg):
        model = real_build(cfg)
        model[1].register_forward_hook(lambda module, inputs, out: seen.append((module.training, out.dtype)))
        return model

    real_build = engine.build_model
    monkeypatch.setattr(engine, "build_model", build)
    cfg = TrainConfig(**{**SMALL, "epochs": 1, "train_size": 512, "model": "cnn", "precision": precision})
    result = train(cfg, mnist)
    assert {dtype for training, dtype in seen if training} == {training_dtype}
    assert {dtype for training, dtype in seen if not training} == {torch.float32}  # evaluation stays fp32
    assert next(result.model.parameters()).dtype == torch.float32  # the weights stay fp32
    assert result.metrics["test_accuracy"] > 0.3


def test_precision_auto_follows_the_hardware(monkeypatch):
    from mnist_core import device as dev

    cpu = torch.device("cpu")
    monkeypatch.setattr(dev, "native_bf16", lambda d: True)
    assert (
        dev.precision_autocast("auto", cpu).fast_dtype == torch.bfloat16
        and dev.precision_autocast("auto", cpu)._enabled
    )
    assert not dev.precision_autocast("fp32", cpu)._enabled
    monkeypatch.setattr(dev, "native_bf16", lambda d: False)
    assert not dev.precision_autocast("auto", cpu)._enabled
    assert dev.precision_autocast("bf16", cpu)._enabled
