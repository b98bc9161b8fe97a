"""Prediction: any image (PIL, numpy, file, Gradio sketch dict) -> the digit, or the number, and its probabilities."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .checkpoint import BUNDLED_DEFAULT, LoadedModel, load_model
from .config import TrainConfig
from .models import as_input, digit_logits, refusal_margin
from .number import split_digits
from .preprocess import to_mnist
from .presets import BEST_PRESET, PRESETS
from .refusal import refuses

# The recipe of the bundled default model (checkpoints/README.md), also used to train one when
# the file is missing: the `cnn_ensemble_best` preset, which pins every field.
DEFAULT_RECIPE = PRESETS[BEST_PRESET].values

_train_lock = threading.Lock()

# The three answers to "what is this?": a digit; something drawn that is not a digit (refused by a
# model that learned to, mnist_core/refusal.py); nothing to read (a blank image).
DIGIT, NOT_A_DIGIT, NO_DIGIT = "digit", "not a digit", "no digit"


def _answer_json(answer: Prediction | DigitReading) -> dict:
    """What every answer says first, in JSON: which of the three it is, the digit read, the hint, the confidence."""
    return {"kind": answer.kind, "digit": answer.digit, "closest": answer.closest, "confidence": answer.confidence}


@dataclass
class Prediction:
    """What one image is (`kind`: DIGIT, NOT_A_DIGIT or NO_DIGIT). `digit` is the digit read, None unless
    kind is DIGIT; `closest` the digit it looks most like (the hint kept for a refused drawing), None
    when there is nothing to read. `probabilities` are the ten digits'; `image` the 28x28 input the model
    saw; `score` and `threshold` the refusal score and the model's threshold (None: it never refuses)."""

    digit: int | None
    probabilities: list[float]
    image: np.ndarray | None = None
    kind: str = DIGIT
    closest: int | None = None
    score: float | None = None
    threshold: float | None = None

    def __post_init__(self) -> None:
        if self.closest is None and self.digit is not None:
            self.closest = self.digit

    @property
    def confidence(self) -> float:
        return max(self.probabilities) if self.digit is not None else 0.0

    @classmethod
    def nothing(cls) -> Prediction:
        """No digit to read: all ten probabilities zero."""
        return cls(None, [0.0] * 10, None, kind=NO_DIGIT)

    def as_json(self) -> dict:
        """{"kind", "digit" (None unless a digit), "closest", "confidence", "probabilities", "score", "threshold"}."""
        return {
            **_answer_json(self),
            "probabilities": list(self.probabilities),
            "score": self.score,
            "threshold": self.threshold,
        }


@dataclass(frozen=True)
class DigitReading:
    """One mark of a number: the ten probabilities it was read with, its box and the 28x28 image the model
    saw; `refused` when the model says it is not a digit (`closest` is then only the hint).

    `box` is (x0, y0, x1, y1) in the input's own pixels (x1, y1 exclusive), whatever the input's size.
    """

    closest: int
    probabilities: list[float]
    box: tuple[int, int, int, int]
    image28: np.ndarray
    refused: bool = False
    score: float | None = None

    @property
    def digit(self) -> int | None:
        """The digit read, None when the mark is refused as not a digit."""
        return None if self.refused else self.closest

    @property
    def kind(self) -> str:
        return NOT_A_DIGIT if self.refused else DIGIT

    @property
    def confidence(self) -> float:
        return self.probabilities[self.closest]

    def top(self, k: int = 3) -> list[tuple[int, float]]:
        """The k likeliest digits with their probabilities, likeliest first (the first is `digit`)."""
        order = sorted(range(10), key=lambda d: -self.probabilities[d])  # stable: ties keep argmax's order
        return [(d, self.probabilities[d]) for d in order[:k]]

    def as_json(self) -> dict:
        """{"kind", "digit" (None if refused), "closest", "confidence", "box", "top3": [[digit, probability], ...]}."""
        return {
            **_answer_json(self),
            "box": list(self.box),
            "top3": [list(pair) for pair in self.top(3)],
        }


@dataclass(frozen=True)
class NumberReading:
    """The marks of an image, left to right, from one forward pass; no marks when there is nothing to read."""

    digits: list[DigitReading]

    @property
    def kind(self) -> str:
        """NO_DIGIT (nothing drawn), NOT_A_DIGIT (some mark is refused) or DIGIT (every mark is a digit)."""
        if not self.digits:
            return NO_DIGIT
        return NOT_A_DIGIT if any(d.refused for d in self.digits) else DIGIT

    @property
    def number(self) -> str | None:
        """The digits as a string ("2026"); None when there is none or a mark is not a digit."""
        if self.kind != DIGIT:
            return None
        return "".join(str(d.digit) for d in self.digits)

    def as_json(self) -> dict:
        """The API's answer: {"kind", "number": "2026" or None, "digits": [DigitReading.as_json(), ...]}."""
        return {"kind": self.kind, "number": self.number, "digits": [d.as_json() for d in self.digits]}


def ensure_default_model(path: Path = BUNDLED_DEFAULT, progress: Callable[[str], None] = print) -> Path:
    """Return the bundled default model's path, training it first (visibly) if it is missing."""
    with _train_lock:
        if not path.exists():
            from .progress import ConsoleProgress
            from .train import train

            progress(f"No trained model at {path}: training the default recipe now (10-25 minutes on a 2-core CPU)...")
            cfg = TrainConfig.from_dict(DEFAULT_RECIPE)
            with ConsoleProgress(cfg) as bar:
                train(cfg, callback=bar, checkpoint_path=path)
    return path


class Predictor:
    """A loaded model ready to read digits; thread-safe for concurrent predictions."""

    def __init__(self, loaded: LoadedModel, path: Path):
        self.model: nn.Module = loaded.model.eval()
        self.config = loaded.config
        self.metrics = loaded.payload.get("metrics", {})
        self.path = path
        # Fitted on the validation split at the end of training (mnist_core/calibrate.py); older files: 1.
        self.temperature = float(loaded.payload.get("temperature") or 1.0)
        # The refusal threshold, fitted there too (mnist_core/refusal.py); None: this model never refuses.
        refusal = loaded.payload.get("refusal")
        self.threshold: float | None = float(refusal["threshold"]) if refusal else None
        self._index_lock = threading.Lock()
        self._index = None

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike | None = None, device: str = "cpu") -> Predictor:
        """Load a checkpoint (None = the bundled default, trained first if missing)."""
        path = Path(path) if path is not None else ensure_default_model()
        return cls(load_model(path, device), path)

    @torch.inference_mode()
    def probabilities(self, images28: np.ndarray) -> np.ndarray:
        """The ten digits' softmax probabilities for float images (N, 28, 28) in [0, 1]."""
        return self.read(images28)[0]

    @torch.inference_mode()
    def read(self, images28: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """One forward pass over float images (N, 28, 28): the ten digits' probabilities (N, 10) at the
        calibrated temperature, and each image's refusal score (N,), None for a model that never refuses."""
        logits = self.model(as_input(images28, next(self.model.parameters()).device)).float()
        probabilities = torch.softmax(digit_logits(logits) / self.temperature, dim=1).cpu().numpy()
        if self.threshold is None:
            return probabilities, None
        return probabilities, refusal_margin(logits).cpu().numpy()

    def refuses(self, score: float | None) -> bool:
        """Whether a refusal score is over this model's threshold (a model without one never refuses)."""
        return refuses(score, self.threshold)

    def predict(self, image: Any) -> Prediction:
        """Read one image: PIL, numpy (L/RGB/RGBA uint8), file path, or Gradio's sketch dict."""
        return self.predict_batch([image])[0]

    def read_number(self, image: Any) -> NumberReading:
        """Read a number left to right (mnist_core/number.py splits it) with one forward pass.

        A single digit reads exactly as `predict` reads it.
        """
        crops = split_digits(image)
        if not crops:
            return NumberReading([])
        probabilities, scores = self.read(np.stack([crop.image28 for crop in crops]))
        marks = []
        for i, (crop, p) in enumerate(zip(crops, probabilities)):
            score = None if scores is None else float(scores[i])
            marks.append(
                DigitReading(
                    int(p.argmax()), p.astype(float).tolist(), crop.box, crop.image28, self.refuses(score), score
                )
            )
        return NumberReading(marks)

    def predict_batch(self, images: list[Any]) -> list[Prediction]:
        """Read many images with one forward pass; blank ones are NO_DIGIT, refused ones NOT_A_DIGIT."""
        small = [to_mnist(image) for image in images]
        readable = [i for i, s in enumerate(small) if s is not None]
        results = [Prediction.nothing() for _ in images]
        if readable:
            probs, scores = self.read(np.stack([small[i] for i in readable]))
            for row, (i, p) in enumerate(zip(readable, probs)):
                score = None if scores is None else float(scores[row])
                closest = int(p.argmax())
                refused = self.refuses(score)
                results[i] = Prediction(
                    None if refused else closest,
                    p.astype(float).tolist(),
                    small[i],
                    kind=NOT_A_DIGIT if refused else DIGIT,
                    closest=closest,
                    score=score,
                    threshold=self.threshold,
                )
        return results

    def inside_index(self, data=None, cache: Any = "default", method: str | None = None):
        """This checkpoint's features and test-set map (mnist_core.embedding), built once and cached.

        `data` (an MNISTTensors; default the full MNIST), `cache` (a path, None for no file, default
        `<checkpoint>.inside.npz`) and `method` (umap, tsne, pca) are for tests, benchmarks and the
        CLI; the first call decides (later calls return the same index).
        """
        from .embedding import inside_index

        with self._index_lock:
            if self._index is None:
                kwargs = {} if cache == "default" else {"cache": cache}
                if method:
                    kwargs["method"] = method
                self._index = inside_index(self.path, self.model, data, **kwargs)
            return self._index

    @property
    def index_ready(self) -> bool:
        """Whether inside_index() would answer at once (else its first call builds or reads the cache)."""
        return self._index is not None

    def explain(
        self,
        image: Any,
        target: int | None = None,
        use_index: bool = True,
        data=None,
        cache: Any = "default",
        method: str | None = None,
    ):
        """Explain one image (any input `predict` takes): mnist_core.explain.Explanation.

        Attribution for `target` (default: the predicted digit), activations, the 8 nearest
        training digits and the map position; digit None and a message for a blank image.
        `use_index=False` skips neighbours and map position (no index is built or read): a UI
        can answer at once while inside_index() is still being prepared in the background.
        """
        from .explain import check_target, explain

        check_target(target)
        small = to_mnist(image)
        if small is None:
            return explain(self.model, None)
        index = self.inside_index(data, cache, method) if use_index else None
        return explain(self.model, small, index, target, temperature=self.temperature, threshold=self.threshold)
