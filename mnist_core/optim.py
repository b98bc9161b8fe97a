"""Optimizers and learning-rate schedules on torch's functional optimizer API.

Why not `torch.optim.AdamW` and `torch.optim.lr_scheduler.OneCycleLR`: the first `torch.optim.Optimizer`
a process creates imports `torch._dynamo` (its methods are wrapped in `torch._disable_dynamo`, which
imports it on first call), 1.0 s of the 4-5 s that `python -m mnist_core train` takes on this machine.
The update math here is still torch's own (`torch.optim.adamw.adamw` and its siblings, public and
fused where torch fuses them), and the schedules are the closed forms of torch's schedulers with their
defaults; tests/test_optim.py checks both against the torch.optim classes, step by step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.optim.adadelta import adadelta
from torch.optim.adam import adam
from torch.optim.adamw import adamw
from torch.optim.sgd import sgd

from .config import OPTIMIZERS, SCHEDULERS, TrainConfig


@dataclass(frozen=True)
class Schedule:
    """The learning rate (and SGD momentum, when it cycles) after `n` steps (`per_step`) or epochs."""

    lr: Callable[[int], float]
    momentum: Callable[[int], float] | None = None
    per_step: bool = True


class Optimizer:
    """One parameter group's update (`cfg.optimizer`: adamw, adam, sgd or adadelta) with the state
    it keeps; `lr` and `momentum` are plain attributes a Schedule sets between steps."""

    def __init__(self, cfg: TrainConfig, params) -> None:
        if cfg.optimizer not in UPDATES:
            raise ValueError(f"optimizer: {cfg.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        self.cfg, self.lr, self.momentum = cfg, cfg.lr, cfg.momentum
        self.state: dict[int, dict[str, torch.Tensor | None]] = {}
        # torch fuses Adam(W) into one kernel per step on CPU and CUDA (about 10% faster cnn steps on CPU).
        self.fused = self.params[0].device.type in ("cpu", "cuda")

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """Update every parameter that has a gradient, as the torch.optim class of the same name would."""
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if live:
            UPDATES[self.cfg.optimizer](self, live)

    def follow(self, schedule: Schedule, n: int) -> None:
        """Set the learning rate (and momentum) the schedule gives after `n` steps or epochs."""
        self.lr = schedule.lr(n)
        if schedule.momentum is not None:
            self.momentum = schedule.momentum(n)

    def _state(self, i: int, **make: Callable[[torch.Tensor], torch.Tensor | None]) -> dict:
        if i not in self.state:
            self.state[i] = {name: build(self.params[i]) for name, build in make.items()}
        return self.state[i]

    def _lists(self, live: list[int], **make: Callable[[torch.Tensor], torch.Tensor | None]) -> dict[str, list]:
        """Parameters, gradients and each named state (made by `make` on first use), as parallel
        lists: the form torch's functional optimizers take."""
        states = [self._state(i, **make) for i in live]
        lists = {name: [s[name] for s in states] for name in make}
        lists["params"] = [self.params[i] for i in live]
        lists["grads"] = [self.params[i].grad for i in live]
        return lists


def _zeros(p: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(p, memory_format=torch.preserve_format)


def _adam(decoupled: bool) -> Callable[[Optimizer, list[int]], None]:
    def update(opt: Optimizer, live: list[int]) -> None:
        # The step counter lives where torch.optim.Adam keeps it: on the device when fused, else on the CPU.
        def count(p: torch.Tensor) -> torch.Tensor:
            return torch.zeros((), dtype=torch.float32, device=p.device if opt.fused else "cpu")

        s = opt._lists(live, exp_avgs=_zeros, exp_avg_sqs=_zeros, steps=count)
        cfg, fn = opt.cfg, adamw if decoupled else adam
        fn(
            s["params"], s["grads"], s["exp_avgs"], s["exp_avg_sqs"], [], s["steps"],
            fused=opt.fused or None, amsgrad=False, beta1=cfg.beta1, beta2=cfg.beta2, lr=opt.lr,
            weight_decay=cfg.weight_decay, eps=1e-8, maximize=False,
        )  # fmt: skip

    return update


def _sgd(opt: Optimizer, live: list[int]) -> None:
    s = opt._lists(live, buffers=lambda p: None)
    buffers = s["buffers"]  # sgd() creates each momentum buffer in this list on its first step
    sgd(
        s["params"], s["grads"], buffers, weight_decay=opt.cfg.weight_decay, momentum=opt.momentum,
        lr=opt.lr, dampening=0.0, nesterov=opt.cfg.nesterov, maximize=False,
    )  # fmt: skip
    for i, buffer in zip(live, buffers):
        opt.state[i]["buffers"] = buffer


def _adadelta(opt: Optimizer, live: list[int]) -> None:
    s = opt._lists(live, square_avgs=_zeros, acc_deltas=_zeros, steps=lambda p: torch.zeros((), dtype=torch.float32))
    adadelta(
        s["params"], s["grads"], s["square_avgs"], s["acc_deltas"], s["steps"], lr=opt.lr, rho=0.9, eps=1e-6,
        weight_decay=opt.cfg.weight_decay, maximize=False,
    )  # fmt: skip


# One update per name in config.OPTIMIZERS (a test checks the keys match).
UPDATES: dict[str, Callable[[Optimizer, list[int]], None]] = {
    "adamw": _adam(decoupled=True),
    "adam": _adam(decoupled=False),
    "sgd": _sgd,
    "adadelta": _adadelta,
}


def _cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def one_cycle(max_lr: float, total: int, cycle_momentum: bool) -> Schedule:
    """OneCycleLR's defaults: 30% of the steps up from max_lr/25 to max_lr, then down to max_lr/25e4,
    cosine-shaped; with momentum cycling, momentum goes 0.95 -> 0.85 -> 0.95 the other way round."""
    warm_end = 0.3 * total - 1  # OneCycleLR's phase boundaries, fractional as in torch
    phases = (  # (end step, start lr, end lr, start momentum, end momentum)
        (warm_end, max_lr / 25, max_lr, 0.95, 0.85),
        (total - 1, max_lr, max_lr / 25 / 1e4, 0.85, 0.95),
    )

    def at(n: int) -> tuple[float, float]:
        start = 0.0
        for k, (end, lr0, lr1, m0, m1) in enumerate(phases):
            if n <= end or k == len(phases) - 1:
                pct = (n - start) / (end - start)
                return _cos(lr0, lr1, pct), _cos(m0, m1, pct)
            start = end
        raise AssertionError("unreachable: the last phase always answers")

    return Schedule(lambda n: at(n)[0], (lambda n: at(n)[1]) if cycle_momentum else None)


def make_schedule(cfg: TrainConfig, steps_per_epoch: int) -> Schedule:
    """The schedule `cfg.scheduler` names: onecycle and cosine per step over the whole run, step per epoch."""
    total = cfg.epochs * steps_per_epoch
    if cfg.scheduler == "onecycle":
        # Momentum cycling only for SGD: for Adam it would overwrite the configured beta1 with 0.85-0.95,
        # and Adadelta has no momentum to cycle.
        return one_cycle(cfg.lr, total, cycle_momentum=cfg.optimizer == "sgd")
    if cfg.scheduler == "cosine":  # CosineAnnealingLR(T_max=total, eta_min=0)
        return Schedule(lambda n: cfg.lr * (1 + math.cos(math.pi * n / total)) / 2)
    if cfg.scheduler == "step":  # StepLR(step_size, gamma), stepped once per epoch
        return Schedule(lambda n: cfg.lr * cfg.gamma ** (n // cfg.step_size), per_step=False)
    if cfg.scheduler == "none":
        return Schedule(lambda n: cfg.lr)
    raise ValueError(f"scheduler: {cfg.scheduler!r} is not one of {', '.join(SCHEDULERS)}")
