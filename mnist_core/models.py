"""The networks: an MLP, a small fast CNN (the default) and a larger CNN for top accuracy.

Every model takes images as floats in [0, 1], shape (N, 1, 28, 28), and normalises inside
`forward`, so a checkpoint or a torch.export file needs no preprocessing code beside it.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import TrainConfig

# Mean and standard deviation of the MNIST training pixels (in [0, 1]).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "mish": nn.Mish,
    "gelu": nn.GELU,
}


class Normalize(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - MNIST_MEAN) / MNIST_STD


def _norm(use: bool, width: int, conv: bool) -> nn.Module:
    if not use:
        return nn.Identity()
    return nn.BatchNorm2d(width) if conv else nn.BatchNorm1d(width)


def mlp(cfg: TrainConfig) -> nn.Sequential:
    layers: list[nn.Module] = [Normalize(), nn.Flatten()]
    width = 28 * 28
    for size in cfg.hidden:
        layers += [nn.Linear(width, size), _norm(cfg.batch_norm, size, False), ACTIVATIONS[cfg.activation]()]
        if cfg.dropout:
            layers.append(nn.Dropout(cfg.dropout))
        width = size
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def _conv_block(cfg: TrainConfig, c_in: int, c_out: int, kernel: int) -> list[nn.Module]:
    # Bias is redundant before BatchNorm.
    conv = nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=not cfg.batch_norm)
    return [conv, _norm(cfg.batch_norm, c_out, True), ACTIVATIONS[cfg.activation]()]


def cnn(cfg: TrainConfig) -> nn.Sequential:
    """Small and fast: three conv+pool stages then one linear layer (about 47k weights)."""
    return nn.Sequential(
        Normalize(),
        *_conv_block(cfg, 1, 24, 5),
        nn.MaxPool2d(2),  # 14x14
        *_conv_block(cfg, 24, 48, 3),
        nn.MaxPool2d(2),  # 7x7
        *_conv_block(cfg, 48, 64, 3),
        nn.MaxPool2d(2),  # 3x3
        nn.Flatten(),
        nn.Dropout(cfg.dropout),
        nn.Linear(64 * 3 * 3, 10),
    )


def cnn_large(cfg: TrainConfig) -> nn.Sequential:
    """Wider, with paired convs per stage, for the best accuracy (about 0.3M weights)."""
    return nn.Sequential(
        Normalize(),
        *_conv_block(cfg, 1, 32, 3),
        *_conv_block(cfg, 32, 32, 3),
        nn.MaxPool2d(2),  # 14x14
        *_conv_block(cfg, 32, 64, 3),
        *_conv_block(cfg, 64, 64, 3),
        nn.MaxPool2d(2),  # 7x7
        *_conv_block(cfg, 64, 128, 3),
        nn.MaxPool2d(2),  # 3x3
        nn.Flatten(),
        nn.Dropout(cfg.dropout),
        nn.Linear(128 * 3 * 3, 10),
    )


BUILDERS = {"mlp": mlp, "cnn": cnn, "cnn_large": cnn_large}


def init_weights(model: nn.Module) -> None:
    """Kaiming (He) init for conv and linear weights, suited to ReLU-family activations."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def build_model(cfg: TrainConfig) -> nn.Sequential:
    """The network `cfg` describes, freshly initialised (seed the RNG first for reproducibility)."""
    model = BUILDERS[cfg.model](cfg)
    init_weights(model)
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
