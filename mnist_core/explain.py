"""Why the network says what it says: attribution, each layer's activations, nearest training digits.

`explain(model, image28, index, target)` answers for one 28x28 digit (see Predictor.explain for
any image). Attribution is Captum's Integrated Gradients from a black (blank paper) baseline: for
each pixel, how much going from no ink to this image's ink there moved the score of the target
digit; positive = evidence for it. IG satisfies completeness (the exact integral sums to the change
in the target's logit), which plain saliency maps do not. 32 Gauss-Legendre steps, all in one
batch, give maps that correlate 0.99 (median) with a 512-step reference on the bundled model, at a
sixteenth of the cost; their sum can miss the logit change by ~20%, so read the map, not its total.
With a black baseline, blank pixels get exactly zero: the map says which strokes counted, not
where missing ink would have helped.

For "watch it learn", `LearningProbe` reads a fixed set of test digits and the first-layer filters
from a model while it trains, cheaply enough to run at every step event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .data import MNISTTensors
from .embedding import InsideIndex
from .layers import first_layer_filters, forward_stages
from .models import as_input

METHOD = "Integrated Gradients"
IG_STEPS = 32  # map correlation with 512 steps: median 0.992, min 0.973 (20 test digits); RESULTS.md
NOTHING = "nothing to explain: no digit found in the image"


@dataclass
class Explanation:
    """One digit explained. `digit` is None (and `message` says why) when the image holds no digit.

    - `attribution`: float32 (28, 28), positive = evidence for `target` (the prediction unless asked).
    - `activations`: [(stage name, array)] in order; conv stages (C, H, W), dense stages (D,), and
      "output" the ten probabilities.
    - `neighbours`: [(train_index, label)] of the 8 nearest training digits, nearest first.
    - `map_position`: (x, y) on the test-set map (InsideIndex.map_xy, in [-1, 1]).
    """

    digit: int | None
    probabilities: list[float]
    image: np.ndarray | None = None
    target: int | None = None
    attribution: np.ndarray | None = None
    method: str = METHOD
    activations: list[tuple[str, np.ndarray]] = field(default_factory=list)
    neighbours: list[tuple[int, int]] = field(default_factory=list)
    map_position: tuple[float, float] | None = None
    message: str = ""

    @property
    def neighbour_agreement(self) -> float:
        """Share of the nearest training digits that carry the predicted label."""
        if not self.neighbours or self.digit is None:
            return 0.0
        return sum(label == self.digit for _, label in self.neighbours) / len(self.neighbours)


def nothing_to_explain(message: str = NOTHING) -> Explanation:
    return Explanation(digit=None, probabilities=[0.0] * 10, message=message)


def check_target(target: int | None) -> int | None:
    """None, or a digit 0-9 (ValueError with a plain message otherwise)."""
    if target is None:
        return None
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or not 0 <= int(target) <= 9:
        raise ValueError(f"target: {target!r} is not a digit from 0 to 9")
    return int(target)


def attribute(
    model: nn.Module, images: np.ndarray, target: int | list[int] | np.ndarray, steps: int = IG_STEPS
) -> np.ndarray:
    """Integrated Gradients (black baseline) of the target logit for one float (28, 28) image in [0, 1]
    (target an int) or a batch (N, 28, 28) (one target per image): float32 of the images' shape."""
    from captum.attr import IntegratedGradients

    device = next(model.parameters()).device
    x = as_input(images, device)
    t = torch.as_tensor(np.atleast_1d(np.asarray(target, dtype=np.int64)), device=device)
    attr = IntegratedGradients(model).attribute(x, baselines=torch.zeros_like(x), target=t, n_steps=steps)
    return attr.detach().float().cpu().numpy().reshape(np.shape(images))


def explain(
    model: nn.Module,
    image28: np.ndarray | None,
    index: InsideIndex | None = None,
    target: int | None = None,
    neighbours: int = 8,
    temperature: float = 1.0,
) -> Explanation:
    """Explain one float (28, 28) digit in [0, 1] (None = blank) for a model in eval mode.

    `temperature` divides the logits, as Predictor does (the checkpoint's calibration).

    Without an `index` the neighbours and map position stay empty (the rest is computed).
    """
    target = check_target(target)
    if image28 is None:
        return nothing_to_explain()
    with torch.inference_mode():
        out = forward_stages(model, as_input(image28, next(model.parameters()).device))
        probs = torch.softmax(out.logits.float() / temperature, 1)[0].cpu().numpy()
        stages = [(name, t[0].float().cpu().numpy()) for name, t in out.stages[:-1]]
        stages.append(("output", probs.astype(np.float32)))
        feature = out.features[0].float().cpu().numpy()
    digit = int(probs.argmax())
    wanted = digit if target is None else target
    result = Explanation(
        digit=digit,
        probabilities=probs.astype(float).tolist(),
        image=np.asarray(image28, dtype=np.float32),
        target=wanted,
        attribution=attribute(model, image28, wanted),
        activations=stages,
    )
    if index is not None:
        result.neighbours = index.neighbours(feature, neighbours)
        result.map_position = index.place(feature)
    return result


# ------------------------------------------------------------------------------------------
# Watch it learn: the library side of the live grid of test digits and the first-layer filters.


def learning_digits(data: MNISTTensors, per_digit: int = 5, seed: int = 0) -> np.ndarray:
    """Indices of a fixed, balanced set of test digits (per_digit of each label; 50 by default)."""
    rng = np.random.default_rng(seed)
    labels = data.test_labels.numpy()
    chosen = [rng.choice(np.flatnonzero(labels == d), per_digit, replace=False) for d in range(10)]
    return np.stack(chosen, axis=1).reshape(-1)  # 0,1,...,9,0,1,...: each row of ten shows every digit


@dataclass
class LearningSnapshot:
    """The model's current answers for the fixed digits, whether each is right, and its first-layer filters."""

    predictions: np.ndarray  # (n,) int64
    correct: np.ndarray  # (n,) bool
    filters: np.ndarray  # (F, k, k) float32

    def to_dict(self) -> dict:
        """Plain lists (a few KB), to ride on a step TrainEvent from the training process to the page."""
        return {
            "predictions": self.predictions.tolist(),
            "correct": self.correct.tolist(),
            "filters": np.round(self.filters, 4).tolist(),
        }


class LearningProbe:
    """Reads the fixed digits with a model mid-training: one eval-mode forward pass, no autograd.

    The model's train/eval mode is restored afterwards, so the training loop is unaffected.
    """

    def __init__(self, data: MNISTTensors, indices: np.ndarray | None = None):
        self.indices = learning_digits(data) if indices is None else np.asarray(indices)
        idx = torch.as_tensor(self.indices)
        self.images = as_input(data.test_images[idx])
        self.labels = data.test_labels[idx].numpy()

    def __call__(self, model: nn.Module) -> LearningSnapshot:
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                device = next(model.parameters()).device
                preds = model(self.images.to(device)).argmax(1).cpu().numpy()
        finally:
            model.train(was_training)
        return LearningSnapshot(preds, preds == self.labels, first_layer_filters(model).numpy())
