"""The networks: an MLP, a small fast CNN (the default) and a larger CNN for top accuracy.

Every model takes images as floats in [0, 1], shape (N, 1, 28, 28), and normalises inside
`forward`, so a checkpoint or a torch.export file needs no preprocessing code beside it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .config import TrainConfig

# Mean and standard deviation of the MNIST training pixels (in [0, 1]).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081

# A model trained with non-digits (TrainConfig.not_digits) has an 11th output, "not a digit", after the
# ten digits: everything that reads digits reads the first ten (digit_logits), the 11th only refuses.
DIGITS = 10
NOT_A_DIGIT = 10  # the index of that output


def outputs(cfg: TrainConfig) -> int:
    """How many outputs the network of `cfg` has: the ten digits, and "not a digit" when it learns one."""
    return DIGITS + 1 if cfg.not_digits > 0 else DIGITS


def digit_logits(logits: torch.Tensor) -> torch.Tensor:
    """The ten digits' logits of a model's output (10 or 11 columns)."""
    return logits[..., :DIGITS]


def refusal_margin(logits: torch.Tensor) -> torch.Tensor | None:
    """How much more the model says "not a digit" than its best digit (logit difference), per image;
    None for a model without that output. The refusal score a threshold is fitted on."""
    if logits.shape[-1] <= DIGITS:
        return None
    return logits[..., NOT_A_DIGIT] - digit_logits(logits).max(-1).values


ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "mish": nn.Mish,
    "gelu": nn.GELU,
}


def as_input(images: torch.Tensor | np.ndarray, device: torch.device | str | None = None) -> torch.Tensor:
    """Images as every model takes them: float (N, 1, 28, 28) in [0, 1], on `device` (default: where they are).

    uint8 images (0..255, MNIST's tensors) are divided by 255; float ones are taken to be in [0, 1]
    already. Any of (28, 28), (N, 28, 28) or (N, 1, 28, 28), a tensor or a numpy array.
    """
    x = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    if device is not None:
        x = x.to(device, non_blocking=True)  # uint8 travels: a quarter of the bytes of float32
    x = x.reshape(-1, 1, 28, 28)
    return x.float().div_(255) if x.dtype == torch.uint8 else x.float()


class Normalize(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - MNIST_MEAN) / MNIST_STD


def _channels_last(grad: torch.Tensor) -> torch.Tensor:
    return grad.contiguous(memory_format=torch.channels_last)


class Flatten(nn.Flatten):
    """nn.Flatten that hands its gradient back in the layout of its input. The convs' outputs are
    channels-last and a flattened gradient comes back contiguous: the ReLU before the flatten then
    ran its backward on two layouts, 0.60 ms instead of 0.02 ms, a tenth of the default cnn's step."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.requires_grad and x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
            x.register_hook(_channels_last)
        return super().forward(x)


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
    layers.append(nn.Linear(width, outputs(cfg)))
    return nn.Sequential(*layers)


def _norm_act(cfg: TrainConfig, width: int, conv: bool = True) -> list[nn.Module]:
    return [_norm(cfg.batch_norm, width, conv), ACTIVATIONS[cfg.activation]()]


def _conv(cfg: TrainConfig, width_in: int, width: int, kernel: int, **kwargs) -> nn.Conv2d:
    """A conv whose bias a following BatchNorm would cancel is left out."""
    return nn.Conv2d(width_in, width, kernel, bias=not cfg.batch_norm, **kwargs)


def _head(cfg: TrainConfig, features: int) -> list[nn.Module]:
    """Every CNN's end: the flattened feature maps, a hidden layer of 256 (the Inside tab's features), the outputs."""
    return [
        Flatten(),
        nn.Linear(features, 256, bias=not cfg.batch_norm),
        *_norm_act(cfg, 256, conv=False),
        nn.Dropout(cfg.dropout),
        nn.Linear(256, outputs(cfg)),
    ]


def cnn(cfg: TrainConfig) -> nn.Sequential:
    """Small and fast (the default): a strided 5x5 conv and a conv + max-pool shrink 28x28 to 5x5
    at once, then a wide hidden layer does the rest (about 213k weights, 0.7M multiply-adds per
    image). Cheap where the images are large, wide where they are small; channel counts are
    multiples of 16, which oneDNN's AVX-512 kernels fill exactly. See benchmarks/RESULTS.md."""
    return nn.Sequential(
        Normalize(),
        _conv(cfg, 1, 16, 5, stride=2),  # 12x12
        *_norm_act(cfg, 16),
        _conv(cfg, 16, 32, 3),  # 10x10
        nn.MaxPool2d(2),  # 5x5; pooling before the norm leaves it a quarter of the values
        *_norm_act(cfg, 32),
        *_head(cfg, 32 * 5 * 5),
    )


def cnn_large(cfg: TrainConfig) -> nn.Sequential:
    """For the best accuracy: the cnn's strided stem, two convs at 12x12, one more at 5x5 (about
    430k weights, 7.4M multiply-adds per image: 10,000 test images in under a second on 2 CPU cores).
    """
    return nn.Sequential(
        Normalize(),
        _conv(cfg, 1, 32, 5, stride=2),  # 12x12
        *_norm_act(cfg, 32),
        _conv(cfg, 32, 64, 3, padding=1),  # 12x12
        *_norm_act(cfg, 64),
        _conv(cfg, 64, 64, 3),  # 10x10
        nn.MaxPool2d(2),  # 5x5
        *_norm_act(cfg, 64),
        _conv(cfg, 64, 128, 3),  # 3x3
        *_norm_act(cfg, 128),
        *_head(cfg, 128 * 3 * 3),
    )


def cnn_deep(cfg: TrainConfig) -> nn.Sequential:
    """VGG-style, for the best accuracy: two 3x3 convs at full 28x28 resolution, two at 14x14, one at
    7x7 (about 960k weights, 22M multiply-adds per image, 3x cnn_large). Its first layers see every
    pixel, where cnn_large's strided stem skips every other one."""
    return nn.Sequential(
        Normalize(),
        _conv(cfg, 1, 32, 3, padding=1),  # 28x28
        *_norm_act(cfg, 32),
        _conv(cfg, 32, 32, 3, padding=1),
        *_norm_act(cfg, 32),
        nn.MaxPool2d(2),  # 14x14
        _conv(cfg, 32, 64, 3, padding=1),
        *_norm_act(cfg, 64),
        _conv(cfg, 64, 64, 3, padding=1),
        *_norm_act(cfg, 64),
        nn.MaxPool2d(2),  # 7x7
        _conv(cfg, 64, 128, 3),  # 5x5
        *_norm_act(cfg, 128),
        *_head(cfg, 128 * 5 * 5),
    )


class Ensemble(nn.Module):
    """Networks trained side by side on the same batches, each with its own loss, answering together.
    Two architectures make different mistakes: a cnn_large and a cnn_deep trained apart (99.66-99.72%,
    99.74%) read 99.77-99.82% of the test set together, two cnn_larges at most 99.74% (benchmarks/RESULTS.md)."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return combine([member(x) for member in self.members])


def combine(logits: list[torch.Tensor]) -> torch.Tensor:
    """The members' answers as one, itself logits that calibration and refusal read: the digits are the
    mean of the members' log-probabilities (a geometric mean of the probabilities, which softmax
    renormalises); "not a digit" is the first member's, placed so that the refusal margin is its own.
    Why: cnn_deep refused 98% of 200 drawn 0s (smooth ellipses, like the ring of a smiley it learned to
    refuse), cnn_large 0.5%, their mean 61% (benchmarks/RESULTS.md, "The bundled ensemble")."""
    if len(logits) == 1:
        return logits[0]
    mean = torch.stack([each.float().log_softmax(-1) for each in logits]).mean(0)
    first_margin = refusal_margin(logits[0].float())
    if first_margin is None:
        return mean
    digits = digit_logits(mean)
    return torch.cat([digits, (digits.max(-1).values + first_margin).unsqueeze(-1)], -1)


def member_logits(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Each member's logits for `x` (one network: its own), so that training gives each member its loss."""
    if isinstance(model, Ensemble):
        return [member(x) for member in model.members]
    return [model(x)]


def cnn_ensemble(cfg: TrainConfig) -> Ensemble:
    """cnn_large and cnn_deep as one model (30M multiply-adds per image): the bundled model."""
    return Ensemble([cnn_large(cfg), cnn_deep(cfg)])


BUILDERS = {"mlp": mlp, "cnn": cnn, "cnn_large": cnn_large, "cnn_deep": cnn_deep, "cnn_ensemble": cnn_ensemble}


def init_weights(model: nn.Module) -> None:
    """Kaiming (He) init for conv and linear weights, suited to ReLU-family activations."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def build_model(cfg: TrainConfig) -> nn.Module:
    """The network `cfg` describes, freshly initialised (seed the RNG first for reproducibility).

    Conv nets come channels-last: oneDNN's convolutions, pooling and norms run faster in that
    layout on CPU (and GPU), for training and inference alike; loading a state dict keeps it.
    """
    model = BUILDERS[cfg.model](cfg)
    init_weights(model)
    return model if cfg.model == "mlp" else model.to(memory_format=torch.channels_last)
