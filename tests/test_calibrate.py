"""Calibrated confidence: the fitted temperature, the ECE, and their path through training and prediction."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import mnist_core.calibrate
import mnist_core.evaluate
from mnist_core.calibrate import calibrate_checkpoint, expected_calibration_error, fit_temperature, model_temperature
from mnist_core.checkpoint import read_checkpoint
from mnist_core.config import TrainConfig
from mnist_core.data import split_indices
from mnist_core.predict import Predictor
from mnist_core.train import train
from tests.support.fixtures import TINY, fake_checkpoint


def sampled(true_temperature: float, n: int = 20_000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits, and labels drawn from softmax(logits / T): T is the temperature that calibrates them."""
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, 10, generator=gen) * 3
    labels = torch.multinomial(torch.softmax(logits / true_temperature, 1), 1, generator=gen).squeeze(1)
    return logits, labels


@pytest.mark.parametrize("true_temperature", [0.3, 1.0, 4.0])
def test_fit_recovers_the_temperature_that_generated_the_labels(true_temperature):
    logits, labels = sampled(true_temperature)
    assert fit_temperature(logits, labels) == pytest.approx(true_temperature, rel=0.06)


def test_fit_is_the_minimum_of_the_nll():
    logits, labels = sampled(0.5, n=3000, seed=1)
    fitted = fit_temperature(logits, labels)
    grid = torch.exp(torch.linspace(-3, 3, 3001))
    best = grid[torch.stack([F.cross_entropy(logits / t, labels) for t in grid]).argmin()].item()
    assert fitted == pytest.approx(best, rel=0.005)


def test_a_model_confidently_wrong_everywhere_gets_the_largest_temperature():
    # The NLL falls all the way to T_RANGE's top; the former Newton loop stepped the wrong way here and kept T = 1.
    logits = torch.zeros(1000, 10)
    logits[:, 0] = 50.0
    assert fit_temperature(logits, torch.ones(1000, dtype=torch.long)) == mnist_core.calibrate.T_RANGE[1]


def test_fit_of_nothing_is_one():
    assert fit_temperature(torch.zeros(0, 10), torch.zeros(0, dtype=torch.long)) == 1.0


def test_ece():
    # Always 90% sure and always right: 10% off. Sure in proportion to being right: 0.
    sure = torch.tensor([[0.9] + [0.1 / 9] * 9] * 100)
    assert expected_calibration_error(sure, torch.zeros(100, dtype=torch.long)) == pytest.approx(0.1, abs=1e-6)
    logits, labels = sampled(1.0, n=50_000)
    assert expected_calibration_error(torch.softmax(logits, 1), labels) < 0.01
    assert expected_calibration_error(torch.softmax(logits / 0.3, 1), labels) > 0.1


def test_predictor_divides_the_logits_by_the_checkpoint_temperature(tmp_path):
    old = Predictor.from_checkpoint(fake_checkpoint(tmp_path / "old.pt"))  # written without a temperature
    assert old.temperature == 1.0
    path = fake_checkpoint(tmp_path / "new.pt")
    payload = torch.load(path, weights_only=True)
    payload["temperature"] = 0.25
    torch.save(payload, path)
    new = Predictor.from_checkpoint(path)
    assert new.temperature == 0.25
    images = np.random.default_rng(0).random((4, 28, 28), dtype=np.float32)
    with torch.inference_mode():
        logits = new.model(torch.from_numpy(images).unsqueeze(1))[:, :10]  # the ten digits ("not a digit" apart)
    expected = torch.softmax(logits / 0.25, 1).numpy()
    assert np.allclose(new.probabilities(images), expected, atol=1e-6)
    assert np.allclose(old.probabilities(images), torch.softmax(logits, 1).numpy(), atol=1e-6)


def test_training_stores_a_fitted_temperature(mnist, tmp_path):
    result = train(TrainConfig(**TINY), mnist, checkpoint_path=tmp_path / "run.pt")
    temperature = read_checkpoint(result.checkpoint)["temperature"]
    assert isinstance(temperature, float) and 0.05 <= temperature <= 20 and temperature != 1.0
    assert Predictor.from_checkpoint(result.checkpoint).temperature == temperature
    # Without a validation split there is nothing to fit on: no temperature, the predictor uses 1.
    bare = train(TrainConfig(**{**TINY, "val_size": 0}), mnist, checkpoint_path=tmp_path / "bare.pt")
    assert read_checkpoint(bare.checkpoint)["temperature"] is None
    assert Predictor.from_checkpoint(bare.checkpoint).temperature == 1.0


@pytest.mark.parametrize("stop_after_epoch", [None, 1])
def test_the_temperature_fits_the_saved_model_from_the_last_validation_pass(
    mnist, tmp_path, monkeypatch, stop_after_epoch
):
    cfg = TrainConfig(**{**TINY, "epochs": 2})
    _, val_idx = split_indices(len(mnist.train_images), cfg.val_size, cfg.seed, cfg.train_size)
    val_x, val_y = mnist.train_images[val_idx], mnist.train_labels[val_idx]
    passes = []  # how often the validation split goes through the network

    def counted(fn):
        def wrapper(model, images, *args, **kwargs):
            passes.append(len(images) == len(val_x) and torch.equal(images, val_x))
            return fn(model, images, *args, **kwargs)

        return wrapper

    for module in (mnist_core.evaluate, mnist_core.calibrate):
        monkeypatch.setattr(module, "predict_logits", counted(module.predict_logits))
    stop = threading.Event()

    def on_event(event):
        if event.kind == "epoch" and event.epoch == stop_after_epoch:
            stop.set()  # the run stops in epoch 2 and goes back to epoch 1's weights

    result = train(cfg, mnist, callback=on_event, stop=stop, checkpoint_path=tmp_path / "run.pt")
    assert result.stopped is (stop_after_epoch is not None)
    assert sum(passes) == len(result.history["epochs"])  # once per completed epoch, none for the fit
    monkeypatch.undo()
    saved = read_checkpoint(result.checkpoint)["temperature"]
    assert saved == model_temperature(result.model, val_x, val_y)  # fitted to the weights that were saved


def test_calibrating_a_checkpoint_adds_only_the_temperature(mnist, tmp_path):
    path = train(TrainConfig(**TINY), mnist, checkpoint_path=tmp_path / "run.pt").checkpoint
    before = torch.load(path, weights_only=True)
    del before["temperature"]
    torch.save(before, path)  # as a checkpoint written before temperatures existed
    temperature, ece_before, ece_after = calibrate_checkpoint(path)
    after = torch.load(path, weights_only=True)
    assert after.pop("temperature") == temperature
    assert after.keys() == before.keys() and after["metrics"] == before["metrics"]
    assert all(torch.equal(after["state_dict"][k], v) for k, v in before["state_dict"].items())
    assert ece_after < ece_before


def test_bundled_model_is_calibrated(default_checkpoint, mnist):
    predictor = Predictor.from_checkpoint()
    assert 0.3 < predictor.temperature < 0.8  # label smoothing 0.1 makes it under-confident
    seven = predictor.predict(mnist.test_images[0].numpy())  # an obvious 7
    assert seven.digit == 7 and seven.confidence > 0.99


def test_explanations_show_the_calibrated_probabilities(default_checkpoint, mnist):
    predictor = Predictor.from_checkpoint()
    seven = mnist.test_images[0].numpy()
    explained = predictor.explain(seven, use_index=False)
    assert np.allclose(explained.probabilities, predictor.predict(seven).probabilities, atol=1e-5)
