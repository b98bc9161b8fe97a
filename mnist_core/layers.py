"""One forward pass that keeps every stage's output: the data's path through a network.

A stage ends at each activation function (conv, norm, pool, activation -> "conv2+pool"), and the
output layer is the last stage. We walk the nn.Sequential's children instead of registering
forward hooks: hooks on a model shared by the app's threads would also catch their predictions.
An ensemble shows its first member's stages and features (the space its nearest digits are found
in) and its own output.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .models import Ensemble, combine

ACTIVATION_TYPES = (nn.ReLU, nn.LeakyReLU, nn.Mish, nn.GELU)


@dataclass
class Stages:
    """Outputs of one forward pass: named stage outputs in order, last-hidden features, logits."""

    stages: list[tuple[str, torch.Tensor]]  # (name, (N, C, H, W) or (N, D))
    features: torch.Tensor  # (N, D): the input of the output layer
    logits: torch.Tensor  # (N, 10)


def _children(model: nn.Module) -> list[nn.Module]:
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"layer walk needs an nn.Sequential, got {type(model).__name__}")
    return list(model.children())


def feature_network(model: nn.Module) -> nn.Module:
    """The network whose last hidden layer gives `model`'s features: an ensemble's first member, so
    that the features of 60,000 training digits cost one member's forward pass, not every member's."""
    return model.members[0] if isinstance(model, Ensemble) else model


def output_index(model: nn.Module) -> int:
    """Position of the output layer (the last Linear) among the model's children."""
    children = _children(model)
    linear = [i for i, m in enumerate(children) if isinstance(m, nn.Linear)]
    if not linear:
        raise TypeError("the model has no Linear output layer")
    return linear[-1]


def forward_stages(model: nn.Module, x: torch.Tensor, keep_stages: bool = True) -> Stages:
    """Run `model` on `x` (N, 1, 28, 28) child by child, keeping stage outputs (if asked) and features."""
    if isinstance(model, Ensemble):
        parts = [forward_stages(m, x, keep_stages and i == 0) for i, m in enumerate(model.members)]
        logits = combine([part.logits for part in parts])
        stages = parts[0].stages[:-1] + [("output", logits)] if keep_stages else []
        return Stages(stages, parts[0].features, logits)
    children = _children(model)
    last = output_index(model)
    stages: list[tuple[str, torch.Tensor]] = []
    convs = denses = 0
    pending = ""
    features = x
    for i, layer in enumerate(children):
        if i == last:
            features = x
        x = layer(x)
        if isinstance(layer, nn.Conv2d):
            convs += 1
            pending = f"conv{convs}"
        elif isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)) and pending:
            pending += "+pool"
        elif isinstance(layer, nn.Linear) and i != last:
            denses += 1
            pending = f"dense{denses}"
        elif isinstance(layer, ACTIVATION_TYPES) and keep_stages:
            stages.append((pending or f"stage{len(stages) + 1}", x))
    if keep_stages:
        stages.append(("output", x))
    return Stages(stages, features.flatten(1), x)


def first_layer_filters(model: nn.Module) -> torch.Tensor:
    """The first layer's weights as images: conv kernels (F, k, k), or an MLP's (F, 28, 28) templates
    (an ensemble's first member's)."""
    if isinstance(model, Ensemble):
        return first_layer_filters(model.members[0])
    for layer in _children(model):
        if isinstance(layer, nn.Conv2d):
            return layer.weight.detach()[:, 0].float().cpu().clone()
        if isinstance(layer, nn.Linear):
            return layer.weight.detach().float().cpu().reshape(-1, 28, 28).clone()
    raise TypeError("the model has no Conv2d or Linear layer")
