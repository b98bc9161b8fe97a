"""Refusing non-digits: the threshold on a model's "not a digit" score, fitted like the temperature.

A model trained with non-digits (TrainConfig.not_digits) has an 11th output. Its refusal score is the
margin of that output over the best digit (models.refusal_margin); an image scoring above the
threshold is refused as "not a digit". The threshold is the REFUSE_QUANTILE quantile of the score on
the run's own validation digits, so about 1 - REFUSE_QUANTILE of real digits are refused: fitted at the
end of training and stored in the checkpoint (payload key `refusal`). A checkpoint without one (trained
before this, or with not_digits = 0, or without a validation split) never refuses.
Why this design: docs/research/not-a-digit/README.md (scores without outliers refused under half).
"""

from __future__ import annotations

import torch

from .models import refusal_margin

# 0.2% of validation digits above the threshold: on MNIST's test set this lands near 0.3% refused (the
# quantile of 5,000 validation digits wobbles by about 0.1 point), the most the issue allows.
REFUSE_QUANTILE = 0.998


def fit_refusal(val_logits: torch.Tensor, quantile: float = REFUSE_QUANTILE) -> dict | None:
    """The refusal threshold of a model from its logits on validation digits; None when it has no
    "not a digit" output or there are no validation digits."""
    margin = refusal_margin(val_logits.float())
    if margin is None or len(margin) == 0:
        return None
    threshold = float(torch.quantile(margin.cpu(), quantile))
    return {
        "score": "margin",  # logit("not a digit") - the best digit's logit
        "threshold": round(threshold, 4),
        "quantile": quantile,
        "val_refused": float((margin > threshold).float().mean()),
    }


def refuses(score: float | None, threshold: float | None) -> bool:
    """Whether an image with this refusal score is "not a digit": above the threshold (a model without a
    score or a threshold never refuses). Predictor and explain decide by it."""
    return threshold is not None and score is not None and score > threshold
