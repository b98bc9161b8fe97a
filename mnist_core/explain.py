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

A model that can refuse (an 11th output "not a digit" and a fitted threshold) is explained with its
refusal: the score (models.refusal_margin, from the same forward pass) against the threshold, as
Predictor.predict decides it, and how far the image lies from the training digits in feature space
(the cosine distance to its nearest ones, against the typical distance of a test digit to its nearest).

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
from .models import as_input, digit_logits, refusal_margin
from .predict import DIGIT, NO_DIGIT, NOT_A_DIGIT
from .refusal import refuses

METHOD = "Integrated Gradients"
IG_STEPS = 32  # map correlation with 512 steps: median 0.992, min 0.973 (20 test digits); RESULTS.md
NOTHING = "nothing to explain: no digit found in the image"
# How far an image lies from the training digits, by the share of test digits nearer to theirs.
FAR, FARTHER = 0.99, 0.9


@dataclass
class Explanation:
    """One image explained, with the three answers of Prediction (`kind`: DIGIT, NOT_A_DIGIT, NO_DIGIT).

    `digit` is the digit read, None when refused or blank (as in Prediction); `closest` the digit it
    looks most like (the hint for a refused image, and the attribution's default target), None when
    blank. `message` says why when there is no digit (blank, or refused).
    - `attribution`: float32 (28, 28), positive = evidence for `target` (`closest` unless asked).
    - `activations`: [(stage name, array)] in order; conv stages (C, H, W), dense stages (D,), and
      "output" the ten digits' probabilities.
    - `score`, `threshold`: the refusal score (logit "not a digit" - best digit's; None for a model
      without that output) and the model's threshold (None: it never refuses); refused when above it.
    - `neighbours`: [(train_index, label)] of the 8 nearest training digits, nearest first, and
      `neighbour_distances` their cosine distances in feature space (ascending).
    - `typical_distance`: the median distance of a test digit to its nearest training digit, and
      `farther_than` the share of test digits nearer to theirs than this image is (None without them).
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
    kind: str = DIGIT
    closest: int | None = None
    score: float | None = None
    threshold: float | None = None
    neighbour_distances: list[float] = field(default_factory=list)
    typical_distance: float | None = None
    farther_than: float | None = None

    def __post_init__(self) -> None:
        if self.closest is None and self.digit is not None:
            self.closest = self.digit

    @property
    def refused(self) -> bool:
        """Whether the model says this is not a digit (its score above its threshold)."""
        return self.kind == NOT_A_DIGIT

    @property
    def neighbour_agreement(self) -> float:
        """Share of the nearest training digits that carry the digit read (the closest one, if refused)."""
        if not self.neighbours or self.closest is None:
            return 0.0
        return sum(label == self.closest for _, label in self.neighbours) / len(self.neighbours)

    @property
    def how_far(self) -> str | None:
        """The nearest training digit's distance in words, against the test digits' to theirs: "far"
        (farther than FAR of them), "farther than usual" (FARTHER) or "close"; None without them."""
        if self.farther_than is None:
            return None
        if self.farther_than >= FAR:
            return "far"
        return "farther than usual" if self.farther_than >= FARTHER else "close"


def nothing_to_explain(message: str = NOTHING) -> Explanation:
    """The explanation of a blank image: nothing read, nothing drawn."""
    return Explanation(digit=None, probabilities=[0.0] * 10, message=message, kind=NO_DIGIT)


def refusal_message(closest: int, score: float, threshold: float) -> str:
    """The one line that says why an image was refused (Explanation.message, printed by the CLI)."""
    return (
        f"not a digit: its 'not a digit' score {score:.2f} is above the model's threshold {threshold:.2f}"
        f" (closest digit: {closest})"
    )


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
    threshold: float | None = None,
) -> Explanation:
    """Explain one float (28, 28) image in [0, 1] (None = blank) for a model in eval mode.

    `temperature` divides the digits' logits and `threshold` refuses by the refusal score, as
    Predictor does (the checkpoint's calibration; None: never refuses), from this one forward pass.
    Without an `index` the neighbours, their distances and the map position stay empty.
    """
    target = check_target(target)
    if image28 is None:
        return nothing_to_explain()
    with torch.inference_mode():
        out = forward_stages(model, as_input(image28, next(model.parameters()).device))
        logits = out.logits.float()
        probs = torch.softmax(digit_logits(logits) / temperature, 1)[0].cpu().numpy()
        margin = refusal_margin(logits)
        stages = [(name, t[0].float().cpu().numpy()) for name, t in out.stages[:-1]]
        stages.append(("output", probs.astype(np.float32)))
        feature = out.features[0].float().cpu().numpy()
    closest = int(probs.argmax())
    score = None if margin is None else float(margin[0])
    refused = refuses(score, threshold)
    wanted = closest if target is None else target
    result = Explanation(
        digit=None if refused else closest,
        probabilities=probs.astype(float).tolist(),
        image=np.asarray(image28, dtype=np.float32),
        target=wanted,
        attribution=attribute(model, image28, wanted),
        activations=stages,
        message=refusal_message(closest, score, threshold) if refused else "",
        kind=NOT_A_DIGIT if refused else DIGIT,
        closest=closest,
        score=score,
        threshold=threshold,
    )
    if index is not None:
        near = index.neighbour_distances(feature, neighbours)
        result.neighbours = [(i, label) for i, label, _ in near]
        result.neighbour_distances = [d for _, _, d in near]
        result.map_position = index.place(feature)
        result.typical_distance = index.typical_distance
        if near:
            result.farther_than = index.farther_than(near[0][2])
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
                preds = digit_logits(model(self.images.to(device))).argmax(1).cpu().numpy()
        finally:
            model.train(was_training)
        return LearningSnapshot(preds, preds == self.labels, first_layer_filters(model).numpy())
