"""Prediction: any image (PIL, numpy, file, Gradio sketch dict) -> the digit and ten probabilities."""

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
from .preprocess import to_mnist

# The recipe of the bundled default model (checkpoints/README.md), also used to train one when
# the file is missing. Keep the two in step.
DEFAULT_RECIPE = dict(
    model="cnn_large",
    epochs=20,
    batch_size=128,
    optimizer="adamw",
    lr=0.02,
    beta1=0.7,
    beta2=0.9,
    scheduler="onecycle",
    label_smoothing=0.1,
    dropout=0.25,
    rotation=10.0,
    shift=0.1,
    scale=0.1,
)

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

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike | None = None, device: str = "cpu") -> Predictor:
        """Load a checkpoint (None = the bundled default, trained first if missing)."""
        path = Path(path) if path is not None else ensure_default_model()
        return cls(load_model(path, device), path)

    @torch.inference_mode()
    def probabilities(self, images28: np.ndarray) -> np.ndarray:
        """Softmax probabilities for float images (N, 28, 28) in [0, 1]."""
        device = next(self.model.parameters()).device
        x = torch.from_numpy(np.ascontiguousarray(images28, dtype=np.float32)).to(device).unsqueeze(1)
        return torch.softmax(self.model(x).float() / self.temperature, dim=1).cpu().numpy()

    def predict(self, image: Any) -> Prediction:
        """Read one image: PIL, numpy (L/RGB/RGBA uint8), file path, or Gradio's sketch dict."""
        return self.predict_batch([image])[0]

    def read_number(self, image: Any) -> dict:
        """Read a number left to right: {"number": "2026" or None, "digits": [{"digit", "confidence", "box"}]}."""
        from .number import read_number

        return read_number(self, image)

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
