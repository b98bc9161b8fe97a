"""Before Start: how many steps a config takes and about how long on this server's device.

The speed (training images per second) comes from earlier runs of the same network at the same
batch size on the same kind of device (their checkpoints hold the config, the device and each
epoch's cumulative training `seconds`), else from a probe that times a few training steps of that
network on random images (cached per network and batch size), else from earlier runs of that
network at the nearest batch size. The time is training only, as the history measures it: data
loading and the per-epoch validation come on top.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .augment import random_affine
from .config import TrainConfig
from .device import precision_autocast, resolve_device, threads, training_threads, uses_bf16
from .models import as_input, build_model
from .optim import Optimizer

PROBE_MAX_BATCH = 512  # larger batches are probed at this size: per-image cost has flattened by then
PROBE_MIN_SECONDS = 0.25  # time at least this long (after two warm-up steps)...
PROBE_MIN_STEPS, PROBE_MAX_STEPS = 3, 50  # ...and at least / at most this many steps
_probe_lock = threading.Lock()  # one probe at a time: two would slow each other down
PROBE_CACHE_SIZE = 128
_probed: dict[tuple, float] = {}  # speed_key -> images per second measured by probe_speed


@dataclass(frozen=True)
class Estimate:
    """`seconds` of training (None when no speed is known) for `steps` optimisation steps."""

    steps: int
    steps_per_epoch: int
    images_per_epoch: int
    device: str
    samples_per_sec: float | None
    seconds: float | None
    source: str  # "runs", "probe", "similar runs" or "none"
    basis: str  # where the speed comes from, in words

    def text(self) -> str:
        """One line for the page, e.g. '4,300 steps (430 per epoch), about 1 min 20 s on cpu (...)'."""
        steps = f"{self.steps:,} steps ({self.steps_per_epoch:,} per epoch)"
        if self.seconds is None:
            return f"{steps}; time unknown: {self.basis}"
        return f"{steps}, about {format_duration(self.seconds)} of training on {self.device} ({self.basis})"


def format_duration(seconds: float) -> str:
    """'8 s', '3 min 20 s', '1 h 05 min': rounded as an estimate deserves."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds / 10) * 10, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min"


def steps_per_epoch(cfg: TrainConfig) -> int:
    """Optimisation steps in one epoch, as train() counts them."""
    return math.ceil(cfg.train_images / cfg.batch_size)


def speed_key(cfg: TrainConfig, device: str) -> tuple:
    """What a run's speed depends on, beyond noise: device, network (and MLP widths), batch size,
    BatchNorm, whether the batch is augmented (a grid_sample per batch), the precision it computes in
    (bf16 is about twice as fast where the CPU has it) and the non-digits each batch carries besides its
    digits (a speed counts digits: 0.25 of them makes each step a quarter longer)."""
    hidden = cfg.hidden_sizes if cfg.model == "mlp" else ""
    augmented = bool(cfg.rotation or cfg.shift or cfg.scale)
    try:
        precision = "bf16" if uses_bf16(cfg.precision, torch.device(device)) else "fp32"
    except RuntimeError:  # a device name this torch does not know: keep the key distinct
        precision = cfg.precision
    return (device, cfg.model, hidden, cfg.batch_size, cfg.batch_norm, augmented, precision, round(cfg.not_digits, 4))


def _get(run: Any, name: str, default: Any = None) -> Any:
    return run.get(name, default) if isinstance(run, Mapping) else getattr(run, name, default)


def run_speed(run: Any) -> float | None:
    """Training images per second of one earlier run (a registry RunInfo or a checkpoint payload)."""
    cfg = _get(run, "config")
    epochs = (_get(run, "history") or {}).get("epochs") or []
    if not isinstance(cfg, TrainConfig) or not epochs:
        return None
    seconds = epochs[-1].get("seconds") or 0.0  # cumulative training seconds after that epoch
    return cfg.train_images * len(epochs) / seconds if seconds > 0 else None


def estimate(cfg: TrainConfig | Mapping[str, Any], runs: Iterable[Any] = (), probe: bool = True) -> Estimate:
    """Steps and expected training seconds of `cfg` on this server (see the module docstring).

    `runs`: earlier runs, each with `config` (TrainConfig), `history` and `device` (attributes, as
    the app's run registry lists them, or keys, as `read_checkpoint` returns them).
    `probe=False` never trains (instant): an earlier probe of this network, else similar runs, else no time.
    Raises ValueError for an invalid config (the message names the field).
    """
    cfg = cfg if isinstance(cfg, TrainConfig) else TrainConfig.from_dict(dict(cfg))
    cfg.validate()
    per_epoch = steps_per_epoch(cfg)
    shape = dict(steps=cfg.epochs * per_epoch, steps_per_epoch=per_epoch, images_per_epoch=cfg.train_images)
    try:
        device = resolve_device(cfg.device).type
    except ValueError as exc:
        return Estimate(**shape, device=cfg.device, samples_per_sec=None, seconds=None, source="none", basis=str(exc))

    key = speed_key(cfg, device)
    measured = [(speed_key(_get(r, "config"), str(_get(r, "device"))), run_speed(r)) for r in runs]
    measured = [(k, s) for k, s in measured if s]
    same = [s for k, s in measured if k == key]
    speed, source, basis = None, "none", "no earlier run of this network on this device"
    if same:
        speed, source = statistics.median(same), "runs"
        basis = f"measured in {len(same)} earlier run{'s' if len(same) > 1 else ''} of this network"
    elif probe:
        speed, source = probe_speed(key), "probe"
        basis = f"a probe of {cfg.model} at batch {min(cfg.batch_size, PROBE_MAX_BATCH)}"
    elif (probed := _probed.get(key)) is not None:  # probed before (another form, a page): the same answer
        speed, source = probed, "probe"
        basis = f"a probe of {cfg.model} at batch {min(cfg.batch_size, PROBE_MAX_BATCH)}"
    else:
        similar = [
            (abs(math.log2(k[3] / cfg.batch_size)), s, k[3]) for k, s in measured if k[:3] + k[4:] == key[:3] + key[4:]
        ]
        if similar:
            _, speed, batch = min(similar)
            source, basis = "similar runs", f"an earlier run of this network at batch {batch}"
    seconds = cfg.epochs * cfg.train_images / speed if speed else None
    return Estimate(**shape, device=device, samples_per_sec=speed, seconds=seconds, source=source, basis=basis)


def probe_speed(key: tuple) -> float:
    """Training images per second of the network `key` (see speed_key) on random images: a few
    timed steps after two warm-up steps, at most PROBE_MAX_BATCH images a step. Cached per key, and
    the cache is read by estimates that may not probe (probe=False), so that a config has one estimate
    whichever way it reached the page (a preset picked, a link opened while a run trains)."""
    if (speed := _probed.get(key)) is not None:
        return speed
    # Untuned, glibc's malloc made these steps 20-40% slower than the run's: the process that probes
    # sets it as the training process does (allocator.py; the app's server at warm-up).
    # With as many threads as a training process: the app's server reads drawings on one thread, and a
    # probe on that thread measured 7.1-7.8k images/s where train() ran at 9.9-12.0k (2-core AVX2 AMD
    # EPYC, default recipe, 3 interleaved rounds), so every estimate was about 1.5x too long.
    # The lock first: two probes would slow each other down, and each restores the count it found.
    with _probe_lock, threads(training_threads()):
        speed = _time_steps(key)
    if len(_probed) >= PROBE_CACHE_SIZE:
        _probed.pop(next(iter(_probed)))  # the oldest
    _probed[key] = speed
    return speed


def forget_probes() -> None:
    """Empty the probes' cache (tests)."""
    _probed.clear()


def _time_steps(key: tuple) -> float:
    """Training digits per second of a few steps of the network `key` (see probe_speed)."""
    device, model, hidden, batch_size, batch_norm, augmented, precision, not_digits = key
    cfg = TrainConfig(model=model, hidden_sizes=hidden or "256,128", batch_size=batch_size, batch_norm=batch_norm)
    autocast = precision_autocast(precision, torch.device(device))
    batch = min(batch_size, PROBE_MAX_BATCH)
    aug = (10.0, 0.1, 0.1) if augmented else (0.0, 0.0, 0.0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = build_model(cfg).to(device).train()
        optimizer = Optimizer(cfg, net.parameters())
        whole = batch + round(batch * not_digits)  # the digits and the non-digits that go with them
        x = torch.randint(0, 256, (whole, 28, 28), dtype=torch.uint8, device=device)
        y = torch.randint(0, 10, (whole,), device=device)

        def step() -> None:
            images = random_affine(as_input(x), *aug)
            with autocast:  # as train() computes the forward pass
                loss = F.cross_entropy(net(images), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        for _ in range(2):
            step()
        _sync(device)
        steps, started = 0, time.perf_counter()
        while steps < PROBE_MIN_STEPS or (
            time.perf_counter() - started < PROBE_MIN_SECONDS and steps < PROBE_MAX_STEPS
        ):
            step()
            steps += 1
            if steps >= PROBE_MIN_STEPS:
                _sync(device)
        return steps * batch / max(time.perf_counter() - started, 1e-9)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()
