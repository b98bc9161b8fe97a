"""Console progress for training: a tqdm bar over steps and one table row per epoch."""

from __future__ import annotations

import sys

from tqdm import tqdm

from .config import TrainConfig
from .train import TrainEvent

HEADER = f"{'epoch':>5} {'train_loss':>10} {'train_acc':>9} {'val_loss':>8} {'val_acc':>7} {'lr':>9} {'seconds':>8}"


def format_epoch_row(m: dict) -> str:
    val_loss = f"{m['val_loss']:8.4f}" if "val_loss" in m else f"{'-':>8}"
    val_acc = f"{m['val_acc']:7.2%}" if "val_acc" in m else f"{'-':>7}"
    return (
        f"{m['epoch']:>5} {m['train_loss']:10.4f} {m['train_acc']:9.2%} {val_loss} {val_acc} "
        f"{m['lr']:9.2e} {m['seconds']:8.1f}"
    )


class ConsoleProgress:
    """A TrainEvent callback that draws a tqdm bar and prints the per-epoch metrics table."""

    def __init__(self, cfg: TrainConfig, file=sys.stderr):
        self.cfg = cfg
        self.file = file
        self.bar: tqdm | None = None

    def __enter__(self) -> ConsoleProgress:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()

    def __call__(self, event: TrainEvent) -> None:
        if event.kind == "start":
            self.bar = tqdm(total=event.steps, desc=f"training {self.cfg.model}", unit="step", file=self.file)
            tqdm.write(HEADER, file=self.file)
        elif event.kind == "step" and self.bar is not None:
            self.bar.update(event.step - self.bar.n)
            self.bar.set_postfix(loss=f"{event.loss:.4f}", rate=f"{event.samples_per_sec:,.0f}/s")
        elif event.kind == "epoch":
            if self.bar is not None:
                self.bar.update(event.step - self.bar.n)
            tqdm.write(format_epoch_row(event.metrics), file=self.file)
        elif event.kind == "end" and self.bar is not None:
            self.bar.close()
            self.bar = None
