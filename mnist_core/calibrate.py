"""Calibrated confidence: one temperature T, fitted on the validation split, divides the logits.

Label smoothing caps a network's top probability (an obvious digit shows ~91%), and other recipes
make it over-confident; either way the shown confidence does not match how often it is right.
Temperature scaling (Guo et al., 2017) fixes that without changing any prediction: T minimises the
negative log-likelihood of softmax(logits / T) on held-out images. `train` stores it in the
checkpoint (payload key `temperature`) and `Predictor` uses it; checkpoints without one use T = 1.

    python -m mnist_core.calibrate checkpoints/default.pt   # add a temperature to an existing checkpoint
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .atomic import atomic_write
from .evaluate import predict_logits
from .models import digit_logits

T_RANGE = (0.05, 20.0)  # the fitted T is kept inside: outside it, something is broken
ECE_BINS = 15


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The T in T_RANGE minimising the NLL of softmax(logits / T) over the ten digits (an 11th output, "not
    a digit", is left out: the confidence shown is among digits), by SciPy's bounded minimiser (~15 ms)."""
    from scipy.optimize import minimize_scalar  # here, not at the top: ~0.3 s that only a fit needs

    # numpy: torch threads cost more than the fit
    z = digit_logits(logits).detach().float().cpu().numpy().astype(np.float64)
    y = labels.detach().long().cpu().numpy()
    if len(z) == 0:
        return 1.0
    z = z - z.max(axis=1, keepdims=True)  # softmax(beta z) is unchanged; exp never overflows
    z_true = z[np.arange(len(z)), y]

    def nll(log_t: float) -> float:
        beta = math.exp(-log_t)
        return float(np.mean(np.log(np.exp(beta * z).sum(axis=1)) - beta * z_true))

    # The NLL is convex in 1/T, so it has one minimum in log T too, which Brent's bounded search finds;
    # searching log T makes the tolerance relative (1e-7 of T, well below the 4 decimals kept).
    bounds = (math.log(T_RANGE[0]), math.log(T_RANGE[1]))
    fit = minimize_scalar(nll, bounds=bounds, method="bounded", options={"xatol": 1e-7})
    return round(math.exp(fit.x), 4)


def model_temperature(model: nn.Module, images_u8: torch.Tensor, labels: torch.Tensor) -> float | None:
    """Fit the temperature of `model` on uint8 images (the validation split); None when there are none."""
    if len(images_u8) == 0:
        return None
    return fit_temperature(predict_logits(model, images_u8), labels)


def expected_calibration_error(probabilities: torch.Tensor, labels: torch.Tensor, bins: int = ECE_BINS) -> float:
    """ECE: the mean |accuracy - confidence| over equal-width confidence bins, weighted by their share."""
    confidence, predicted = probabilities.float().max(dim=1)
    correct = (predicted == labels.to(predicted.device)).float()
    index = torch.clamp((confidence * bins).long(), max=bins - 1)
    gap = torch.zeros(bins).index_add_(0, index.cpu(), (correct - confidence).cpu())
    return float(gap.abs().sum() / max(len(labels), 1))


def calibrate_checkpoint(path: str | os.PathLike) -> tuple[float, float, float]:
    """Fit a temperature on a checkpoint's own validation split and add it to the file (nothing else changes).

    Returns (temperature, test ECE before, test ECE after). The split is recomputed from the stored
    config (seed, val_size, train_size) exactly as `train` made it.
    """
    from .checkpoint import load_model
    from .data import load_mnist_cached, split_train_val

    path = Path(path)
    loaded = load_model(path)
    cfg = loaded.config
    if not cfg.val_size:
        raise ValueError(f"{path.name} was trained without a validation split: there is nothing to fit on")
    data = load_mnist_cached()
    _, _, val_x, val_y = split_train_val(data.train_images, data.train_labels, cfg.val_size, cfg.seed, cfg.train_size)
    temperature = model_temperature(loaded.model, val_x, val_y)
    test_logits = digit_logits(predict_logits(loaded.model, data.test_images))
    before = expected_calibration_error(torch.softmax(test_logits, 1), data.test_labels)
    after = expected_calibration_error(torch.softmax(test_logits / temperature, 1), data.test_labels)
    payload = torch.load(path, map_location="cpu", weights_only=True)  # raw: the config stays a plain dict
    payload["temperature"] = temperature
    atomic_write(path, lambda fh: torch.save(payload, fh))
    return temperature, before, after


def main() -> None:
    parser = argparse.ArgumentParser(description="Add a fitted temperature to existing checkpoints.")
    parser.add_argument("checkpoints", nargs="+", type=Path)
    for path in parser.parse_args().checkpoints:
        temperature, before, after = calibrate_checkpoint(path)
        print(f"{path}: temperature {temperature:.4f}; test ECE ({ECE_BINS} bins) {before:.2%} -> {after:.2%}")


if __name__ == "__main__":
    main()
