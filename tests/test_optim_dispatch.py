"""Optimizers and schedules come from tables keyed by the config's choices; an unknown name fails loudly."""

from __future__ import annotations

import pytest
import torch

from mnist_core import config
from mnist_core.config import TrainConfig
from mnist_core.train import OPTIMIZER_BUILDERS, SCHEDULER_BUILDERS, make_optimizer, make_scheduler


def _params() -> list[torch.nn.Parameter]:
    return list(torch.nn.Linear(4, 2).parameters())


def test_tables_cover_exactly_the_config_choices():
    assert tuple(OPTIMIZER_BUILDERS) == config.OPTIMIZERS
    assert tuple(SCHEDULER_BUILDERS) == config.SCHEDULERS


@pytest.mark.parametrize(
    "name, cls",
    [
        ("adamw", torch.optim.AdamW),
        ("adam", torch.optim.Adam),
        ("sgd", torch.optim.SGD),
        ("adadelta", torch.optim.Adadelta),
    ],
)
def test_each_optimizer_name_builds_that_optimizer(name, cls):
    opt = make_optimizer(TrainConfig(optimizer=name, lr=0.123), _params())
    assert type(opt) is cls and opt.param_groups[0]["lr"] == pytest.approx(0.123)


@pytest.mark.parametrize(
    "name, cls, per_batch",
    [
        ("onecycle", torch.optim.lr_scheduler.OneCycleLR, True),
        ("cosine", torch.optim.lr_scheduler.CosineAnnealingLR, True),
        ("step", torch.optim.lr_scheduler.StepLR, False),
        ("none", type(None), False),
    ],
)
def test_each_scheduler_name_builds_that_schedule(name, cls, per_batch):
    cfg = TrainConfig(scheduler=name)
    scheduler, stepped_per_batch = make_scheduler(cfg, make_optimizer(cfg, _params()), steps_per_epoch=10)
    assert type(scheduler) is cls and stepped_per_batch is per_batch


def test_unknown_optimizer_raises_instead_of_falling_back():
    with pytest.raises(ValueError, match=r"^optimizer: 'rmsprop' is not one of"):
        make_optimizer(TrainConfig(optimizer="rmsprop"), _params())  # constructed, deliberately not validated


def test_unknown_scheduler_raises_instead_of_running_unscheduled():
    cfg = TrainConfig(scheduler="exponential")
    with pytest.raises(ValueError, match=r"^scheduler: 'exponential' is not one of"):
        make_scheduler(cfg, make_optimizer(TrainConfig(), _params()), steps_per_epoch=10)
