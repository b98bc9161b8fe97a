"""The training engine: data resident on the device, batched augmentation, progress events.

`train()` reports progress to a callback as TrainEvents (a UI draws live curves from them), can be
stopped from another thread between steps, and then keeps the last completed epoch.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .augment import random_affine
from .calibrate import fit_temperature
from .checkpoint import save_checkpoint
from .config import TrainConfig
from .data import MNISTTensors, load_mnist_cached, split_indices
from .device import precision_autocast, resolve_device
from .evaluate import as_input, evaluate
from .models import build_model
from .optim import Optimizer, make_schedule

# About this many step-loss points per epoch reach the callback: enough for a smooth curve, few
# enough that reading the loss back from a GPU does not stall the pipeline.
STEP_POINTS_PER_EPOCH = 50
# Mid-epoch validation ('val' events, asked for by sweeps to prune within one epoch) scores this many
# validation images: ~0.3 s for the cnn on two CPU cores, against ~1.5 s for the usual 5,000.
VAL_POINT_IMAGES = 1000


@dataclass
class TrainEvent:
    """One progress report. kind: 'start', 'step', 'epoch', 'end', or 'val' (mid-epoch, if asked for)."""

    kind: str
    epoch: int  # epochs completed (for 'step': the epoch in progress, 1-based)
    epochs: int
    step: int  # optimisation steps done
    steps: int  # total steps of the run
    elapsed: float  # seconds of training so far (validation excluded)
    lr: float
    loss: float | None = None  # 'step': mean training loss since the previous step event
    samples_per_sec: float = 0.0
    metrics: dict = field(default_factory=dict)  # 'epoch': train/val loss and accuracy; 'end': test; 'val': val
    message: str = ""
    snapshot: dict | None = None  # 'step' with a probe: what the probe read from the model (watch it learn)


@dataclass
class TrainResult:
    config: TrainConfig
    model: nn.Module
    history: dict
    metrics: dict
    stopped: bool
    checkpoint: Path | None


def warm_up(cfg: TrainConfig | None = None) -> None:
    """One training step of `cfg`'s model (default: the default recipe) on a blank batch, leaving the
    random state as it was. A process that will train soon calls it while idle: the first steps set
    up the compute kernels, so the first run's first curve point would otherwise come late."""
    cfg = cfg or TrainConfig()
    device = resolve_device(cfg.device)
    with torch.random.fork_rng(devices=[]):
        model = build_model(cfg).to(device).train()
        optimizer = Optimizer(cfg, model.parameters())
        x = torch.zeros(cfg.batch_size, 1, 28, 28, device=device)
        with precision_autocast(cfg.precision, device):
            logits = model(x)
        F.cross_entropy(logits.float(), torch.zeros(cfg.batch_size, dtype=torch.long, device=device)).backward()
        optimizer.step()


def new_history() -> dict:
    return {"steps": [], "epochs": []}


def train(
    cfg: TrainConfig,
    data: MNISTTensors | None = None,
    callback: Callable[[TrainEvent], None] | None = None,
    stop: threading.Event | None = None,
    checkpoint_path: str | Path | None = None,
    val_points: int = 0,
    checkpoint_extra: dict | None = None,
    probe: Callable[[nn.Module], dict] | None = None,
) -> TrainResult:
    """Train the network `cfg` describes; evaluate on the test set; save to `checkpoint_path` if given.

    `probe(model)`, if given, runs at every step event and its dict rides on the event (`snapshot`).
    The checkpoint is written after every completed epoch, so a stop or a crash keeps the last one.
    `val_points` > 0 also scores VAL_POINT_IMAGES validation images at that many evenly spaced points
    inside each epoch ('val' events; their time is not counted as training). `checkpoint_extra`
    adds plain keys to the checkpoint (a sweep's study and trial).
    """
    cfg.validate()
    device = resolve_device(cfg.device)
    data = data or load_mnist_cached()
    emit = callback or (lambda event: None)
    stop = stop or threading.Event()

    train_idx, val_idx = split_indices(len(data.train_images), cfg.val_size, cfg.seed, cfg.train_size)
    val_x, val_y = data.train_images[val_idx], data.train_labels[val_idx]
    n = len(train_idx)
    if cfg.batch_size > n:  # validate() checked against MNIST; `data` may be a smaller set
        raise ValueError(f"batch_size: {cfg.batch_size} is larger than the training set ({n} images)")
    # The whole set lives on the device as uint8; a step only indexes it (through train_idx).
    train_x, train_y, train_idx = data.train_images.to(device), data.train_labels.to(device), train_idx.to(device)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    autocast = precision_autocast(cfg.precision, device)
    total_steps = cfg.epochs * steps_per_epoch

    torch.manual_seed(cfg.seed)
    model = build_model(cfg).to(device)
    optimizer = Optimizer(cfg, model.parameters())
    schedule = make_schedule(cfg, steps_per_epoch)
    optimizer.follow(schedule, 0)
    shuffle_gen = torch.Generator().manual_seed(cfg.seed + 1)
    augment_gen = torch.Generator().manual_seed(cfg.seed + 2)
    log_every = max(1, steps_per_epoch // STEP_POINTS_PER_EPOCH)
    val_marks = (
        {round(steps_per_epoch * k / (val_points + 1)) for k in range(1, val_points + 1)} if len(val_x) else set()
    )
    val_marks.discard(0)
    extra = checkpoint_extra or {}

    history = new_history()
    saved: Path | None = None
    best_state = None  # weights after the last completed epoch, restored on stop
    val_logits = None  # of best_state, on the validation split: the temperature is fitted to them
    step, train_seconds, stopped = 0, 0.0, False
    emit(TrainEvent("start", 0, cfg.epochs, 0, total_steps, 0.0, optimizer.lr))

    for epoch in range(1, cfg.epochs + 1):
        model.train()
        epoch_start = time.perf_counter()
        order = train_idx[torch.randperm(n, generator=shuffle_gen).to(device)]
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        window_loss, window_steps, window_start = torch.zeros((), device=device), 0, time.perf_counter()
        for batch_no, batch_start in enumerate(range(0, n, cfg.batch_size), 1):
            if stop.is_set():
                stopped = True
                break
            idx = order[batch_start : batch_start + cfg.batch_size]
            if len(idx) < 2 and cfg.batch_norm:
                continue  # BatchNorm cannot train on a single sample
            x = random_affine(as_input(train_x[idx], device), cfg.rotation, cfg.shift, cfg.scale, augment_gen)
            y = train_y[idx]
            with autocast:
                logits = model(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if schedule.per_step:
                optimizer.follow(schedule, step)
            detached = loss.detach()
            loss_sum += detached * len(idx)
            correct += (logits.detach().argmax(1) == y).sum()
            window_loss += detached
            window_steps += 1
            # The first step reports at once: the live curve's first point (the untrained loss) is what
            # a person waits for after Start, and it would otherwise wait log_every steps.
            if window_steps == log_every or step == 1:
                now = time.perf_counter()
                elapsed = train_seconds + now - epoch_start
                rate = window_steps * cfg.batch_size / max(now - window_start, 1e-9)
                point = {
                    "step": step,
                    "epoch": round(step / steps_per_epoch, 4),
                    "loss": window_loss.item() / window_steps,
                    "lr": optimizer.lr,
                }
                history["steps"].append(point)
                event = TrainEvent(
                    "step", epoch, cfg.epochs, step, total_steps, elapsed, point["lr"], point["loss"], rate
                )
                event.snapshot = probe(model) if probe else None
                emit(event)
                window_loss.zero_()
                window_steps, window_start = 0, time.perf_counter()
            if batch_no in val_marks:
                val_start = time.perf_counter()
                val = evaluate(model, val_x[:VAL_POINT_IMAGES], val_y[:VAL_POINT_IMAGES])
                point = {
                    "epoch_fraction": round(batch_no / steps_per_epoch, 4),
                    "val_loss": val.loss,
                    "val_acc": val.accuracy,
                }
                emit(
                    TrainEvent(
                        "val",
                        epoch,
                        cfg.epochs,
                        step,
                        total_steps,
                        train_seconds + val_start - epoch_start,
                        optimizer.lr,
                        metrics=point,
                    )
                )
                spent = time.perf_counter() - val_start  # validation is not training time
                epoch_start += spent
                window_start += spent
        train_seconds += time.perf_counter() - epoch_start
        if stopped:
            break

        if not schedule.per_step:
            optimizer.follow(schedule, epoch)
        record = {
            "epoch": epoch,
            "train_loss": loss_sum.item() / n,
            "train_acc": correct.item() / n,
            "lr": optimizer.lr,
            "seconds": round(train_seconds, 3),
        }
        if len(val_x):
            val = evaluate(model, val_x, val_y)
            record.update(val_loss=val.loss, val_acc=val.accuracy)
            val_logits = val.logits
        history["epochs"].append(record)
        best_state = copy.deepcopy(model.state_dict())
        metrics = {"epochs_completed": epoch, "train_seconds": round(train_seconds, 3)}
        if checkpoint_path:
            saved = save_checkpoint(
                checkpoint_path, model, cfg, history, metrics, device=device.type, stopped=False, **extra
            )
        emit(
            TrainEvent(
                "epoch",
                epoch,
                cfg.epochs,
                step,
                total_steps,
                train_seconds,
                record["lr"],
                metrics=record,
                samples_per_sec=n * epoch / max(train_seconds, 1e-9),
            )
        )

    if stopped and best_state is not None:
        model.load_state_dict(best_state)  # back to the last completed epoch
    completed = len(history["epochs"])
    metrics = {"epochs_completed": completed, "train_seconds": round(train_seconds, 3)}
    if completed:
        test = evaluate(model, data.test_images, data.test_labels)
        metrics.update(test_accuracy=test.accuracy, test_loss=test.loss)
        # Calibrated confidence (mnist_core/calibrate.py); None without a validation split.
        temperature = fit_temperature(val_logits, val_y) if val_logits is not None else None
        calibrated = {**extra, "temperature": temperature}
        if checkpoint_path:
            saved = save_checkpoint(
                checkpoint_path, model, cfg, history, metrics, device=device.type, stopped=stopped, **calibrated
            )
    message = "stopped" if stopped else "done"
    if stopped:
        message += (
            f" after {completed} completed epoch(s)"
            if completed
            else " before the first epoch completed; nothing saved"
        )
    emit(
        TrainEvent(
            "end",
            completed,
            cfg.epochs,
            step,
            total_steps,
            train_seconds,
            optimizer.lr,
            metrics=metrics,
            message=message,
        )
    )
    return TrainResult(cfg, model.eval(), history, metrics, stopped, saved)
