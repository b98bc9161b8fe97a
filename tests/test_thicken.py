"""Thickened digits (TrainConfig.thicken): a share of each batch drawn with wider strokes, as the pad's pen
draws a digit small, so that a model that learns "not a digit" still reads such digits."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mnist_core.augment import random_thicken


def _strokes() -> torch.Tensor:
    images = torch.zeros(64, 1, 28, 28)
    images[:, :, 6:22, 13] = 1.0  # a one-pixel 1
    return images


def test_nothing_changes_at_share_zero_and_no_random_number_is_drawn():
    gen = torch.Generator().manual_seed(0)
    images = _strokes()
    assert random_thicken(images, 0.0, gen) is images
    assert torch.equal(torch.rand(1, generator=gen), torch.rand(1, generator=torch.Generator().manual_seed(0)))


def test_a_share_of_the_images_gets_strokes_one_or_two_pixels_wider_each_side():
    images = _strokes()
    out = random_thicken(images, 0.5, torch.Generator().manual_seed(1))
    wide, wider = F.max_pool2d(images, 3, 1, 1), F.max_pool2d(images, 5, 1, 2)
    kinds = [
        "same" if torch.equal(o, i) else "wide" if torch.equal(o, w) else "wider" if torch.equal(o, ww) else "?"
        for o, i, w, ww in zip(out, images, wide, wider)
    ]
    assert "?" not in kinds and kinds.count("wide") > 5 and kinds.count("wider") > 5 and kinds.count("same") > 20
    again = random_thicken(images, 0.5, torch.Generator().manual_seed(1))
    assert torch.equal(out, again)  # the same generator, the same images


def test_training_thickens_only_when_asked(mnist):
    from mnist_core.config import TrainConfig
    from mnist_core.train import train
    from tests.support.fixtures import TINY

    plain = train(TrainConfig(**TINY), mnist)
    thick = train(TrainConfig(**{**TINY, "thicken": 0.5}), mnist)
    assert plain.history["epochs"][0]["train_loss"] != thick.history["epochs"][0]["train_loss"]
    again = train(TrainConfig(**{**TINY, "thicken": 0.5}), mnist)
    assert thick.history["epochs"][0]["train_loss"] == again.history["epochs"][0]["train_loss"]
