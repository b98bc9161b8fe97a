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
from .models import as_input
from .number import split_digits
from .preprocess import to_mnist
from .presets import BEST_PRESET, PRESETS

# The recipe of the bundled default model (checkpoints/README.md), also used to train one when
# the file is missing: the `cnn_large_best` preset, which pins every field.
DEFAULT_RECIPE = PRESETS[BEST_PRESET].values

_train_lock = threading.Lock()


@dataclass
class Prediction:
    """`digit` is None when there is no digit to read; `image` is the 28x28 input the model saw."""

    digit: int | None
    probabilities: list[float]
    image: np.ndarray | None = None

    @property
    def confidence(self) -> float:
        return max(self.probabilities) if self.digit is not None else 0.0

    @classmethod
    def nothing(cls) -> Prediction:
        """No digit to read: all ten probabilities zero."""
        return cls(None, [0.0] * 10, None)


@dataclass(frozen=True)
class DigitReading:
    """One digit of a number: the ten probabilities it was read with, its box and the 28x28 image the model saw.

    `box` is (x0, y0, x1, y1) in the input's own pixels (x1, y1 exclusive), whatever the input's size.
    """

    digit: int
    probabilities: list[float]
    box: tuple[int, int, int, int]
    image28: np.ndarray

    @property
    def confidence(self) -> float:
        return self.probabilities[self.digit]

    def top(self, k: int = 3) -> list[tuple[int, float]]:
        """The k likeliest digits with their probabilities, likeliest first (the first is `digit`)."""
        order = sorted(range(10), key=lambda d: -self.probabilities[d])  # stable: ties keep argmax's order
        return [(d, self.probabilities[d]) for d in order[:k]]

    def as_json(self) -> dict:
        """{"digit", "confidence", "box", "top3": [[digit, probability], ...]}: plain types."""
        return {
            "digit": self.digit,
            "confidence": self.confidence,
            "box": list(self.box),
            "top3": [list(pair) for pair in self.top(3)],
        }


@dataclass(frozen=True)
class NumberReading:
    """The digits of an image, left to right, from one forward pass; no digits when there is nothing to read."""

    digits: list[DigitReading]

    @property
    def number(self) -> str | None:
        """The digits as a string ("2026"), or None when there is none."""
        return "".join(str(d.digit) for d in self.digits) or None

    def as_json(self) -> dict:
        """The API's answer: {"number": "2026" or None, "digits": [{"digit", "confidence", "box", "top3"}, ...]}."""
        return {"number": self.number, "digits": [d.as_json() for d in self.digits]}


def ensure_default_model(path: Path = BUNDLED_DEFAULT, progress: Callable[[str], None] = print) -> Path:
    """Return the bundled default model's path, training it first (visibly) if it is missing."""
    with _train_lock:
        if not path.exists():
            from .progress import ConsoleProgress
            from .train import train

            progress(
                f"No trained model at {path}: training the default recipe now (about 4 minutes on a 2-core CPU)..."
            )
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
        self._index_lock = threading.Lock()
        self._index = None

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike | None = None, device: str = "cpu") -> Predictor:
        """Load a checkpoint (None = the bundled default, trained first if missing)."""
        path = Path(path) if path is not None else ensure_default_model()
        return cls(load_model(path, device), path)

    @torch.inference_mode()
    def probabilities(self, images28: np.ndarray) -> np.ndarray:
        """Softmax probabilities for float images (N, 28, 28) in [0, 1]."""
        x = as_input(images28, next(self.model.parameters()).device)
        return torch.softmax(self.model(x).float() / self.temperature, dim=1).cpu().numpy()

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
        probabilities = self.probabilities(np.stack([crop.image28 for crop in crops]))
        return NumberReading(
            [
                DigitReading(int(p.argmax()), p.astype(float).tolist(), crop.box, crop.image28)
                for crop, p in zip(crops, probabilities)
            ]
        )

    def predict_batch(self, images: list[Any]) -> list[Prediction]:
        """Read many images with one forward pass; blank ones get digit=None."""
        small = [to_mnist(image) for image in images]
        readable = [i for i, s in enumerate(small) if s is not None]
        results = [Prediction.nothing() for _ in images]
        if readable:
            probs = self.probabilities(np.stack([small[i] for i in readable]))
            for i, p in zip(readable, probs):
                results[i] = Prediction(int(p.argmax()), p.astype(float).tolist(), small[i])
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
        return explain(self.model, small, index, target, temperature=self.temperature)
