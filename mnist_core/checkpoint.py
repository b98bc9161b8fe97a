"""Checkpoints: one file per trained model, written atomically, loaded with weights_only=True only.

A file holds the config, the state dict, the metrics history, the dataset, the creation time and
library versions. Only plain containers, numbers, strings and tensors go in, so that
`torch.load(..., weights_only=True)` can read it and no pickled code can ever run.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .atomic import atomic_write
from .checkpoint_paths import (  # noqa: F401 - re-exported: the paths and errors are part of this module's API
    BUNDLED_DEFAULT,
    REPO_ROOT,
    STALE_TEMP_SECONDS,
    CheckpointError,
    CheckpointWriteError,
    _write_error,
    check_writable,
    checkpoint_dir,
    new_run_path,
    remove_stale_temp_files,
)
from .config import TrainConfig
from .models import build_model

FORMAT = "mnist_core.checkpoint"
FORMAT_VERSION = 1


def _save_error(path: Path, exc: OSError) -> CheckpointWriteError:
    cause = exc.strerror or str(exc)
    return _write_error(f"cannot save checkpoint {path.name}: {cause}; any earlier version of it is unchanged", exc)


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    try:  # read from its metadata: importing torchvision would cost a training command 0.3-0.5 s
        torchvision_version = version("torchvision")
    except PackageNotFoundError:
        torchvision_version = "not installed"
    return {
        "mnist_core": __version__,
        "torch": str(torch.__version__),  # TorchVersion is not a plain str: weights_only refuses it
        "torchvision": torchvision_version,
        "python": platform.python_version(),
    }


def save_checkpoint(
    path: str | os.PathLike, model: nn.Module, config: TrainConfig, history: dict, metrics: dict, **extra: Any
) -> Path:
    """Write the checkpoint atomically: a temporary file in the same folder, fsync, then rename.

    A crash mid-write leaves the previous file intact and at most a hidden `.tmp` file behind, which
    the next save (or run listing) in the folder removes once it is a minute old.
    """
    path = Path(path)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "history": history,
        "metrics": metrics,
        "dataset": {"name": "MNIST", "train_size": 60_000, "test_size": 10_000},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": library_versions(),
        **extra,
    }
    saver = _Saver(payload)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(path.parent)
        atomic_write(path, saver.save)
    except BaseException as exc:
        cause = exc if isinstance(exc, OSError) else saver.error
        if cause:  # read-only folder, disk full, I/O error: name the cause, not torch's "unexpected pos 2176"
            raise _save_error(path, cause) from exc
        raise
    return path


class _Saver:
    """torch.save through a file wrapper that remembers the OSError of a failed write, which torch.save
    turns into a vague RuntimeError."""

    def __init__(self, payload: dict) -> None:
        self.payload = payload
        self.fh = None
        self.error: OSError | None = None

    def save(self, fh) -> None:
        self.fh = fh
        torch.save(self.payload, self)

    def write(self, data) -> int:
        try:
            return self.fh.write(data)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def flush(self) -> None:
        self.fh.flush()


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load and check a checkpoint's contents (weights_only=True); CheckpointError if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated zip, pickle payload, random bytes: all the same to a user
        raise CheckpointError(f"{path.name}: not a readable checkpoint ({_reason(exc)})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path.name}: not a mnist_core checkpoint")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path.name}: checkpoint format {payload.get('format_version')} is not supported")
    try:
        # Checkpoints from before TrainConfig.precision existed were all trained in fp32, and those from
        # before not_digits have ten outputs: they load as they were and never refuse.
        payload["config"] = TrainConfig.from_dict({"precision": "fp32", "not_digits": 0.0, **payload["config"]})
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path.name}: invalid config in checkpoint ({exc})") from None
    return payload


def _reason(exc: Exception) -> str:
    """The informative sentence of torch.load's long error (e.g. the refused pickle global), for users."""
    if isinstance(exc, (KeyError, IndexError, EOFError)):  # bare "'101'" or "": not a torch file at all
        return "not a PyTorch file, or an empty or damaged one"
    text = str(exc)
    # The cause follows this marker (random bytes: on the next line); torch's advice around it (re-run
    # with weights_only=False, file an issue) is not for a visitor of the app.
    refused = "WeightsUnpickler error:" in text
    text = text.split("WeightsUnpickler error:", 1)[1] if refused else text
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    sentence = (lines[0].split(". ")[0].strip(" .") if lines else "") or type(exc).__name__
    return (f"refused by the weights-only loader: {sentence}" if refused else sentence)[:300]


@dataclass
class LoadedModel:
    model: nn.Module
    config: TrainConfig
    payload: dict


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> LoadedModel:
    """Rebuild the network from the checkpoint's config and load its weights (strictly)."""
    payload = read_checkpoint(path)
    config = payload["config"]
    model = build_model(config)
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except (KeyError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()
        raise CheckpointError(
            f"{Path(path).name}: weights do not match the config ({config.model}): {first[0][:200] if first else exc}"
        ) from None
    model.to(device).eval()
    return LoadedModel(model, config, payload)
