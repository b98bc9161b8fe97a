"""mnist_core.optim against torch.optim: the same parameters after the same steps, the same learning
rates (and SGD momentum) from each schedule; unknown names fail loudly."""

from __future__ import annotations

import pytest
import torch

from mnist_core import config
from mnist_core.config import TrainConfig
from mnist_core.optim import UPDATES, Optimizer, make_schedule

TORCH_OPTIMIZERS = {
    "adamw": lambda cfg, p: torch.optim.AdamW(
        p, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay, fused=True
    ),
    "adam": lambda cfg, p: torch.optim.Adam(
        p, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay, fused=True
    ),
    "sgd": lambda cfg, p: torch.optim.SGD(
        p, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay
    ),
    "adadelta": lambda cfg, p: torch.optim.Adadelta(p, lr=cfg.lr, weight_decay=cfg.weight_decay),
}


def _net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))


def test_updates_cover_exactly_the_config_choices():
    assert tuple(UPDATES) == config.OPTIMIZERS


@pytest.mark.parametrize(
    "settings",
    [
        dict(optimizer="adamw", lr=0.04, beta1=0.7, beta2=0.9, weight_decay=1e-4),
        dict(optimizer="adam", lr=0.01, weight_decay=0.01),
        dict(optimizer="sgd", lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4),
        dict(optimizer="sgd", lr=0.1, momentum=0.0),
        dict(optimizer="adadelta", lr=1.0, weight_decay=0.0),
    ],
    ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()),
)
def test_each_optimizer_steps_as_the_torch_optim_class_of_its_name(settings):
    cfg = TrainConfig(**settings)
    ours, theirs = _net(), _net()
    opt, ref = Optimizer(cfg, ours.parameters()), TORCH_OPTIMIZERS[cfg.optimizer](cfg, list(theirs.parameters()))
    gen = torch.Generator().manual_seed(1)
    for step in range(6):
        x, y = torch.randn(8, 6, generator=gen), torch.randint(0, 3, (8,), generator=gen)
        lr = cfg.lr * (1 - step / 10)  # a schedule moves the rate between steps
        opt.lr = lr
        for group in ref.param_groups:
            group["lr"] = lr
        for net, o in ((ours, opt), (theirs, ref)):
            o.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            o.step()
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert any(not torch.equal(a, b) for a, b in zip(ours.parameters(), _net().parameters()))  # it did move


def test_parameters_without_a_gradient_are_left_alone():
    net = _net()
    opt = Optimizer(TrainConfig(), net.parameters())
    net[2](torch.randn(4, 5)).sum().backward()  # only the last layer gets gradients
    first = net[0].weight.detach().clone()
    opt.step()
    assert torch.equal(net[0].weight, first)


def _torch_schedule(cfg: TrainConfig, optimizer: torch.optim.Optimizer, total: int):
    if cfg.scheduler == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=cfg.lr, total_steps=total, cycle_momentum=cfg.optimizer == "sgd"
        )
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    if cfg.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    return None


@pytest.mark.parametrize(
    "settings",
    [
        dict(scheduler="onecycle", epochs=2),
        dict(scheduler="onecycle", optimizer="sgd", momentum=0.5),  # momentum cycles 0.95 -> 0.85 -> 0.95
        dict(scheduler="onecycle", epochs=1, lr=0.3),
        dict(scheduler="cosine", epochs=3),
        dict(scheduler="step", epochs=5, step_size=2, gamma=0.5),
        dict(scheduler="none", epochs=2),
    ],
    ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()),
)
@pytest.mark.parametrize("steps_per_epoch", [1, 7, 215])
def test_each_schedule_gives_the_rates_of_the_torch_scheduler_of_its_name(settings, steps_per_epoch):
    cfg = TrainConfig(**settings)
    schedule = make_schedule(cfg, steps_per_epoch)
    ref_opt = TORCH_OPTIMIZERS[cfg.optimizer](cfg, list(_net().parameters()))
    ref = _torch_schedule(cfg, ref_opt, cfg.epochs * steps_per_epoch)
    opt = Optimizer(cfg, _net().parameters())
    opt.follow(schedule, 0)
    n = cfg.epochs * steps_per_epoch if schedule.per_step else cfg.epochs
    for k in range(n + 1):  # the rate of every step, and the one left after the last
        group = ref_opt.param_groups[0]
        assert opt.lr == pytest.approx(group["lr"], rel=1e-9, abs=1e-15), k
        if cfg.optimizer == "sgd":
            assert opt.momentum == pytest.approx(group["momentum"], rel=1e-12), k
        if k < n:
            ref_opt.step()  # no gradients: a no-op that keeps torch from warning about the order
            if ref is not None:
                ref.step()
            opt.follow(schedule, k + 1)
    assert schedule.per_step is (cfg.scheduler != "step")


def test_unknown_optimizer_raises_instead_of_falling_back():
    with pytest.raises(ValueError, match=r"^optimizer: 'rmsprop' is not one of adamw, adam, sgd, adadelta"):
        Optimizer(TrainConfig(optimizer="rmsprop"), _net().parameters())  # constructed, deliberately not validated


def test_unknown_scheduler_raises_instead_of_running_unscheduled():
    with pytest.raises(ValueError, match=r"^scheduler: 'exponential' is not one of onecycle, cosine"):
        make_schedule(TrainConfig(scheduler="exponential"), steps_per_epoch=10)
