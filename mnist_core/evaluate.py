"""Evaluation: accuracy, loss, confusion matrix, per-class precision/recall, misclassified digits."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .models import as_input, digit_logits

# Images per forward pass when reading many: small enough that a batch's activations stay within the CPU
# caches. The test set on 2 cores (benchmarks/RESULTS.md): the ensemble 1.7-1.9 s at 256 against 4.7 s at
# 1024, cnn_large 0.43 s against 0.57-0.75 s (and 1.02 s at 4096), the cnn 0.08 s at either.
INFERENCE_BATCH = 256


@torch.inference_mode()
def predict_logits(model: nn.Module, images_u8: torch.Tensor, batch_size: int = INFERENCE_BATCH) -> torch.Tensor:
    """Logits for uint8 images in batches, on the model's device, in eval mode."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        return torch.cat([model(as_input(chunk, device)) for chunk in images_u8.split(batch_size)])
    finally:
        model.train(was_training)


@dataclass
class EvalResult:
    """Metrics of a model on a labelled set. `confusion[t][p]` counts true t predicted p."""

    accuracy: float
    loss: float
    confusion: list[list[int]]
    precision: list[float]
    recall: list[float]
    misclassified: list[int] = field(repr=False)  # indices into the evaluated set
    predicted: list[int] = field(repr=False)  # predicted label of every image
    logits: torch.Tensor | None = field(default=None, repr=False)  # (N, 10 or 11), for calibration and refusal

    def to_dict(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "loss": self.loss,
            "confusion": self.confusion,
            "precision": self.precision,
            "recall": self.recall,
            "misclassified": len(self.misclassified),
        }


def evaluate(model: nn.Module, images_u8: torch.Tensor, labels: torch.Tensor) -> EvalResult:
    """Evaluate `model` on uint8 images (N, 28, 28) and their labels."""
    logits = predict_logits(model, images_u8)
    labels = labels.to(logits.device)
    digits = digit_logits(logits)  # a model that can refuse is scored on the digits it reads
    loss = F.cross_entropy(digits.float(), labels).item()
    pred = digits.argmax(1)
    confusion = torch.bincount(labels * 10 + pred, minlength=100).reshape(10, 10).cpu()
    hits = confusion.diag().double()
    precision = (hits / confusion.sum(0).clamp(min=1)).tolist()
    recall = (hits / confusion.sum(1).clamp(min=1)).tolist()
    wrong = (pred != labels).nonzero().flatten().cpu().tolist()
    return EvalResult(
        accuracy=hits.sum().item() / max(len(labels), 1),
        loss=loss,
        confusion=confusion.tolist(),
        precision=precision,
        recall=recall,
        misclassified=wrong,
        predicted=pred.cpu().tolist(),
        logits=logits,
    )
