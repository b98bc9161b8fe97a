"""The training engine: data resident on the device, batched augmentation, progress events.

`train()` reports progress to a callback as TrainEvents (a UI draws live curves from them), can be
stopped from another thread between steps, and then keeps the last completed epoch. It reads as
its steps: `_set_up` (data on the device, seeded model, optimizer and generators), `_one_epoch`
(the optimisation steps, with step and mid-epoch 'val' events), `_end_of_epoch` (validation,
checkpoint, 'epoch' event) and `_finish` (back to the last completed epoch if stopped, test,
temperature, final checkpoint, 'end' event).
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

from .augment import random_affine, random_thicken
from .calibrate import fit_temperature
from .checkpoint import save_checkpoint
from .config import TrainConfig
from .data import MNISTTensors, load_mnist_cached, split_indices
from .device import precision_autocast, resolve_device
from .evaluate import as_input, evaluate
from .models import NOT_A_DIGIT, build_model, combine, digit_logits, member_logits
from .optim import Optimizer, Schedule, make_schedule
from .refusal import fit_refusal

# About this many step-loss points per epoch reach the callback: enough for a smooth curve, few
# enough that reading the loss back from a GPU does not stall the pipeline.
STEP_POINTS_PER_EPOCH = 50
# Mid-epoch validation ('val' events, asked for by sweeps to prune within one epoch) scores this many
# validation images: ~0.3 s for the cnn on two CPU cores, against ~1.5 s for the usual 5,000.
VAL_POINT_IMAGES = 1000
# At most this many generated non-digits (nondigits.bank) for a run that learns to refuse: about 100 s to
# make once per machine; each batch draws from them at random, warped as the digits are.
BANK_IMAGES = 24_000


@dataclass(kw_only=True)
class TrainEvent:
    """One progress report. kind: 'start', 'step', 'epoch', 'end', or 'val' (mid-epoch, if asked for)."""

    kind: str
    epoch: int  # epochs completed (for 'step' and 'val': the epoch in progress, 1-based)
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
    *,
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
    run = _set_up(cfg, data or load_mnist_cached(), val_points)
    run.emit, run.stop = callback or run.emit, stop or run.stop
    run.checkpoint_path, run.extra, run.probe = checkpoint_path, checkpoint_extra or {}, probe
    run.event("start", epoch=0, elapsed=0.0)
    for epoch in range(1, cfg.epochs + 1):
        sums = _one_epoch(run, epoch)
        if run.stopped:
            break
        _end_of_epoch(run, epoch, *sums)
    return _finish(run)


@dataclass(eq=False)
class _Run:
    """One run's set-up and its progress so far, handed from step to step."""

    cfg: TrainConfig
    data: MNISTTensors
    device: torch.device
    train_x: torch.Tensor  # the whole training set on the device, uint8
    train_y: torch.Tensor
    train_idx: torch.Tensor  # the images this run trains on (a step indexes train_x through it)
    val_x: torch.Tensor
    val_y: torch.Tensor
    outliers: torch.Tensor | None  # the non-digits on the device, uint8, when the model learns to refuse
    model: nn.Module
    optimizer: Optimizer
    schedule: Schedule
    shuffle_gen: torch.Generator
    augment_gen: torch.Generator
    steps_per_epoch: int
    log_every: int  # steps per step event
    val_marks: set[int]  # batch numbers after which a mid-epoch 'val' event is scored
    emit: Callable[[TrainEvent], None] = lambda event: None
    stop: threading.Event = field(default_factory=threading.Event)
    checkpoint_path: str | Path | None = None
    extra: dict = field(default_factory=dict)  # plain keys for the checkpoint (a sweep's study and trial)
    probe: Callable[[nn.Module], dict] | None = None
    history: dict = field(default_factory=new_history)
    saved: Path | None = None
    last_epoch_state: dict | None = None  # weights after the last completed epoch, restored on stop
    val_logits: torch.Tensor | None = None  # of last_epoch_state, on the validation split: for the temperature
    step: int = 0
    train_seconds: float = 0.0
    stopped: bool = False

    @property
    def n(self) -> int:
        return len(self.train_idx)

    @property
    def total_steps(self) -> int:
        return self.cfg.epochs * self.steps_per_epoch

    def event(self, kind: str, **fields) -> None:
        """Emit a TrainEvent of this run: the run's epochs, step, steps and rate unless given."""
        self.emit(
            TrainEvent(
                kind=kind,
                **{
                    "epochs": self.cfg.epochs,
                    "step": self.step,
                    "steps": self.total_steps,
                    "lr": self.optimizer.lr,
                    **fields,
                },
            )
        )

    def save(self, metrics: dict, stopped: bool, **extra) -> None:
        """Write the checkpoint (if the run has a path) with the weights the model holds now."""
        if self.checkpoint_path:
            self.saved = save_checkpoint(
                self.checkpoint_path,
                self.model,
                self.cfg,
                self.history,
                metrics,
                device=self.device.type,
                stopped=stopped,
                **extra,
            )


def _set_up(cfg: TrainConfig, data: MNISTTensors, val_points: int) -> _Run:
    """Validate; put the data on the device; seed and build the model, optimizer, schedule and generators."""
    cfg.validate()
    device = resolve_device(cfg.device)
    train_idx, val_idx = split_indices(len(data.train_images), cfg.val_size, cfg.seed, cfg.train_size)
    val_x, val_y = data.train_images[val_idx], data.train_labels[val_idx]
    n = len(train_idx)
    if cfg.batch_size > n:  # validate() checked against MNIST; `data` may be a smaller set
        raise ValueError(f"batch_size: {cfg.batch_size} is larger than the training set ({n} images)")
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    outliers = None
    if cfg.not_digits > 0:  # made once per machine and cached (nondigits.bank), before the model is seeded
        from .nondigits import bank

        outliers = bank(min(BANK_IMAGES, math.ceil(n * cfg.not_digits))).to(device)
    # Seeded in this order (model, then shuffle and augmentation generators): the same seed, the same weights.
    torch.manual_seed(cfg.seed)
    model = build_model(cfg).to(device)
    optimizer = Optimizer(cfg, model.parameters())
    schedule = make_schedule(cfg, steps_per_epoch)
    optimizer.follow(schedule, 0)
    val_marks = (
        {round(steps_per_epoch * k / (val_points + 1)) for k in range(1, val_points + 1)} if len(val_x) else set()
    )
    val_marks.discard(0)
    return _Run(
        cfg=cfg,
        data=data,
        device=device,
        # The whole set lives on the device as uint8; a step only indexes it (through train_idx).
        train_x=data.train_images.to(device),
        train_y=data.train_labels.to(device),
        train_idx=train_idx.to(device),
        val_x=val_x,
        val_y=val_y,
        outliers=outliers,
        model=model,
        optimizer=optimizer,
        schedule=schedule,
        shuffle_gen=torch.Generator().manual_seed(cfg.seed + 1),
        augment_gen=torch.Generator().manual_seed(cfg.seed + 2),
        steps_per_epoch=steps_per_epoch,
        log_every=max(1, steps_per_epoch // STEP_POINTS_PER_EPOCH),
        val_marks=val_marks,
    )


def _one_epoch(run: _Run, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The optimisation steps of one epoch, with step and 'val' events; the summed loss and the count
    of right answers, on the device. Sets `run.stopped` when the stop flag ends the epoch early."""
    cfg, device, model, optimizer = run.cfg, run.device, run.model, run.optimizer
    autocast = precision_autocast(cfg.precision, device)
    model.train()
    epoch_start = time.perf_counter()
    order = run.train_idx[torch.randperm(run.n, generator=run.shuffle_gen).to(device)]
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    window_loss, window_steps, window_start = torch.zeros((), device=device), 0, time.perf_counter()
    for batch_no, batch_start in enumerate(range(0, run.n, cfg.batch_size), 1):
        if run.stop.is_set():
            run.stopped = True
            break
        idx = order[batch_start : batch_start + cfg.batch_size]
        if len(idx) < 2 and cfg.batch_norm:
            continue  # BatchNorm cannot train on a single sample
        x, y = _batch(run, idx)
        with autocast:
            outputs = member_logits(model, x)
        # Each member of an ensemble learns from its own loss, as it would alone: the pair was measured
        # so (benchmarks/RESULTS.md), and members trained only on their mean answer lean on each other.
        loss = sum(F.cross_entropy(out.float(), y, label_smoothing=cfg.label_smoothing) for out in outputs)
        loss = loss / len(outputs)
        logits = combine(outputs)
        digits = len(idx)  # the batch's first rows; any after them are non-digits
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        run.step += 1
        if run.schedule.per_step:
            optimizer.follow(run.schedule, run.step)
        detached = loss.detach()
        loss_sum += detached * len(idx)
        correct += (digit_logits(logits.detach()[:digits]).argmax(1) == y[:digits]).sum()
        window_loss += detached
        window_steps += 1
        # The first step reports at once: the live curve's first point (the untrained loss) is what
        # a person waits for after Start, and it would otherwise wait log_every steps.
        if window_steps == run.log_every or run.step == 1:
            now = time.perf_counter()
            _step_event(
                run,
                epoch,
                window_loss.item() / window_steps,
                run.train_seconds + now - epoch_start,
                window_steps * cfg.batch_size / max(now - window_start, 1e-9),
            )
            window_loss.zero_()
            window_steps, window_start = 0, time.perf_counter()
        if batch_no in run.val_marks:
            val_start = time.perf_counter()
            _val_event(run, epoch, batch_no, run.train_seconds + val_start - epoch_start)
            spent = time.perf_counter() - val_start  # validation is not training time
            epoch_start += spent
            window_start += spent
    run.train_seconds += time.perf_counter() - epoch_start
    return loss_sum, correct


def _batch(run: _Run, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The images `idx` (a share of them thickened) and their labels, then (when the model learns to refuse)
    round(len(idx) * not_digits) non-digits drawn at random from the bank, labelled NOT_A_DIGIT; all warped alike."""
    cfg = run.cfg
    x, y = as_input(run.train_x[idx], run.device), run.train_y[idx]
    x = random_thicken(x, cfg.thicken, run.augment_gen)
    if run.outliers is not None:
        k = round(len(idx) * cfg.not_digits)
        pick = torch.randint(len(run.outliers), (k,), generator=run.augment_gen).to(run.device)
        x = torch.cat([x, as_input(run.outliers[pick], run.device)])
        y = torch.cat([y, torch.full((k,), NOT_A_DIGIT, dtype=y.dtype, device=y.device)])
    return random_affine(x, cfg.rotation, cfg.shift, cfg.scale, run.augment_gen), y


def _step_event(run: _Run, epoch: int, loss: float, elapsed: float, rate: float) -> None:
    """Record a point of the step curve and report it (with the probe's snapshot, if any)."""
    point = {"step": run.step, "epoch": round(run.step / run.steps_per_epoch, 4), "loss": loss, "lr": run.optimizer.lr}
    run.history["steps"].append(point)
    snapshot = run.probe(run.model) if run.probe else None
    run.event("step", epoch=epoch, elapsed=elapsed, lr=point["lr"], loss=loss, samples_per_sec=rate, snapshot=snapshot)


def _val_event(run: _Run, epoch: int, batch_no: int, elapsed: float) -> None:
    """Score VAL_POINT_IMAGES validation images mid-epoch and report them (sweeps prune on it)."""
    val = evaluate(run.model, run.val_x[:VAL_POINT_IMAGES], run.val_y[:VAL_POINT_IMAGES])
    point = {"epoch_fraction": round(batch_no / run.steps_per_epoch, 4), "val_loss": val.loss, "val_acc": val.accuracy}
    run.event("val", epoch=epoch, elapsed=elapsed, metrics=point)


def _end_of_epoch(run: _Run, epoch: int, loss_sum: torch.Tensor, correct: torch.Tensor) -> None:
    """After a completed epoch: the schedule's epoch step, validation, the epoch's record, its weights
    kept (restored if a later epoch is stopped), the checkpoint, and the 'epoch' event."""
    if not run.schedule.per_step:
        run.optimizer.follow(run.schedule, epoch)
    record = {
        "epoch": epoch,
        "train_loss": loss_sum.item() / run.n,
        "train_acc": correct.item() / run.n,
        "lr": run.optimizer.lr,
        "seconds": round(run.train_seconds, 3),
    }
    if len(run.val_x):
        val = evaluate(run.model, run.val_x, run.val_y)
        record.update(val_loss=val.loss, val_acc=val.accuracy)
        run.val_logits = val.logits
    run.history["epochs"].append(record)
    run.last_epoch_state = copy.deepcopy(run.model.state_dict())
    run.save({"epochs_completed": epoch, "train_seconds": round(run.train_seconds, 3)}, stopped=False, **run.extra)
    run.event(
        "epoch",
        epoch=epoch,
        elapsed=run.train_seconds,
        lr=record["lr"],
        metrics=record,
        samples_per_sec=run.n * epoch / max(run.train_seconds, 1e-9),
    )


def _finish(run: _Run) -> TrainResult:
    """Back to the last completed epoch if stopped; test it, fit the temperature, save, report 'end'."""
    if run.stopped and run.last_epoch_state is not None:
        run.model.load_state_dict(run.last_epoch_state)
    completed = len(run.history["epochs"])
    metrics = {"epochs_completed": completed, "train_seconds": round(run.train_seconds, 3)}
    if completed:
        test = evaluate(run.model, run.data.test_images, run.data.test_labels)
        metrics.update(test_accuracy=test.accuracy, test_loss=test.loss)
        # Calibrated confidence (mnist_core/calibrate.py); None without a validation split.
        temperature, refusal = None, None
        if run.val_logits is not None:
            temperature = fit_temperature(run.val_logits, run.val_y)
            refusal = fit_refusal(run.val_logits)  # None for a model that never refuses
        run.save(metrics, stopped=run.stopped, **{**run.extra, "temperature": temperature, "refusal": refusal})
    message = "stopped" if run.stopped else "done"
    if run.stopped:
        message += (
            f" after {completed} completed epoch(s)"
            if completed
            else " before the first epoch completed; nothing saved"
        )
    run.event("end", epoch=completed, elapsed=run.train_seconds, metrics=metrics, message=message)
    return TrainResult(run.cfg, run.model.eval(), run.history, metrics, run.stopped, run.saved)
