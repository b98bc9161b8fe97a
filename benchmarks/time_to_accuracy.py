"""Time to accuracy: seconds of training until the test accuracy first reaches a target.

Our side: for each seed, the recipe (TrainConfig defaults plus any --set overrides) is trained with
epochs = 1, 2, ... up to --max-epochs, each a fresh run, because the one-cycle schedule spans the
whole run: exactly what `python -m mnist_core train --epochs E` does. The test accuracy is checked
once per run, after training. The time is `train()`'s `train_seconds` for the first run that reaches
the target: optimisation steps only, with the data already loaded and resident. The per-epoch
validation pass and the test evaluation fall outside it.

Reference: the classic PyTorch MNIST example (pytorch/examples mnist/main.py): two 3x3 convs
32->64, max-pool, dropout 0.25/0.5, 9216->128->10, Adadelta lr 1.0, StepLR gamma 0.7, batch 64,
a DataLoader over torchvision's MNIST with ToTensor + Normalize. It is slow on a CPU, so by default
it runs for --reference-steps steps, and the time per step is extrapolated to a whole epoch (938
steps) times its epochs to the target: 2, from the example's published logs, unless
--reference-epochs trains it for whole epochs and measures the test accuracy after each.

    python -m benchmarks.time_to_accuracy --seeds 5 --target 99.0
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from mnist_core.allocator import keep_freed_memory
from mnist_core.config import TrainConfig
from mnist_core.data import data_dir, load_mnist
from mnist_core.device import resolve_device
from mnist_core.train import train

# Epochs to 99% assumed for the classic example when extrapolating (the issue cites its published
# logs; measured here it needs more, see RESULTS.md: assuming 2 favours the reference).
REFERENCE_EPOCHS_TO_TARGET = 2


def time_our_recipe(cfg: TrainConfig, data, target: float, max_epochs: int) -> dict:
    """Train `cfg` with epochs 1..max_epochs until the test accuracy reaches `target` (a fraction)."""
    result = {"seed": cfg.seed, "reached": False}
    for epochs in range(1, max_epochs + 1):
        metrics = train(cfg.replace(epochs=epochs), data).metrics
        result.update(epochs=epochs, seconds=metrics["train_seconds"], accuracy=metrics["test_accuracy"])
        print(
            f"  seed {cfg.seed}  epochs {epochs}  {metrics['train_seconds']:6.2f} s  "
            f"test accuracy {metrics['test_accuracy']:.2%}",
            flush=True,
        )
        if metrics["test_accuracy"] >= target:
            result["reached"] = True
            break
    return result


class ReferenceNet(nn.Module):
    """The network of the classic PyTorch MNIST example, unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = self.dropout1(F.max_pool2d(x, 2))
        x = self.dropout2(F.relu(self.fc1(torch.flatten(x, 1))))
        return F.log_softmax(self.fc2(x), dim=1)


def _reference_loaders(device: torch.device):
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    root = str(data_dir())
    train_set = datasets.MNIST(root, train=True, download=False, transform=transform)
    test_set = datasets.MNIST(root, train=False, download=False, transform=transform)
    extra = {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=64, shuffle=True, **extra)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=1000, **extra)
    return train_loader, test_loader


@torch.no_grad()
def _reference_test(model: nn.Module, loader, device: torch.device) -> float:
    model.eval()
    correct = sum((model(x.to(device)).argmax(1) == y.to(device)).sum().item() for x, y in loader)
    return correct / len(loader.dataset)


def time_reference(device: torch.device, steps: int, epochs: int, target: float, assume_epochs: int) -> dict:
    """Time the classic example: whole epochs until `target` (at most `epochs`), else `steps` steps
    extrapolated to `assume_epochs` epochs."""
    torch.manual_seed(1)  # the example's default seed
    train_loader, test_loader = _reference_loaders(device)
    model = ReferenceNet().to(device)
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    steps_per_epoch = len(train_loader)
    done, seconds, accuracies = 0, 0.0, []
    for _ in range(epochs or 1):
        model.train()
        start = time.perf_counter()
        for x, y in train_loader:  # the DataLoader's work is part of the example's training time
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            F.nll_loss(model(x), y).backward()
            optimizer.step()
            done += 1
            if not epochs and done == steps:
                break
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds += time.perf_counter() - start
        scheduler.step()
        if epochs:
            accuracies.append(_reference_test(model, test_loader, device))
            print(
                f"  reference epoch {len(accuracies)}: {seconds:.1f} s, test accuracy {accuracies[-1]:.2%}", flush=True
            )
            if accuracies[-1] >= target:
                break
    result = {
        "seconds_per_step": seconds / done,
        "steps_per_epoch": steps_per_epoch,
        "accuracy_after_epoch": accuracies,
        "lower_bound": False,
    }
    if epochs and accuracies[-1] >= target:
        result.update(epochs_to_target=len(accuracies), seconds_to_target=seconds)
        result["method"] = f"measured: trained whole epochs until the target; test accuracy after each {accuracies}"
    elif epochs:
        result.update(epochs_to_target=None, seconds_to_target=seconds, lower_bound=True)
        result["method"] = (
            f"measured: target not reached in {epochs} epochs (test accuracy after each {accuracies}); "
            "the time and the ratio are lower bounds"
        )
    else:
        result.update(
            epochs_to_target=assume_epochs, seconds_to_target=seconds / done * steps_per_epoch * assume_epochs
        )
        result["method"] = (
            f"timed {done} steps, extrapolated to {steps_per_epoch} steps/epoch x {assume_epochs} epochs "
            f"(epochs to target assumed, not measured; --reference-epochs N measures it)"
        )
    return result


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set expects KEY=VALUE, got {pair!r}")
        out[key.replace("-", "_")] = value
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (0, 1, ...)")
    parser.add_argument("--target", type=float, default=99.0, help="test accuracy to reach, percent")
    parser.add_argument("--max-epochs", type=int, default=3, help="give up on a seed after this many epochs")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="TrainConfig override")
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps (default: cpu)")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    parser.add_argument("--reference-steps", type=int, default=200, help="reference steps to time (0: skip it)")
    parser.add_argument(
        "--reference-epochs",
        type=int,
        default=0,
        help="instead train the reference whole epochs until the target, at most this many (slow)",
    )
    parser.add_argument(
        "--reference-assume-epochs",
        type=int,
        default=REFERENCE_EPOCHS_TO_TARGET,
        help="epochs to the target assumed when extrapolating from --reference-steps",
    )
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    keep_freed_memory()  # as the CLI and the app's training process do before training (allocator.py)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    target = args.target / 100
    base = TrainConfig.from_dict({**parse_overrides(args.set), "device": args.device})
    data = load_mnist(ensure=False)
    load = os.getloadavg()[0]
    print(
        f"torch {torch.__version__}  device {device}  threads {torch.get_num_threads()}  "
        f"CPU {platform.processor() or platform.machine()} x{os.cpu_count()}  load {load:.2f}"
    )
    print(f"recipe: {base.to_dict()}")
    print(f"accuracy check: test set after each run of 1..{args.max_epochs} whole epochs; evaluation not timed")

    runs = [time_our_recipe(base.replace(seed=seed), data, target, args.max_epochs) for seed in range(args.seeds)]
    hits = [r for r in runs if r["reached"]]
    seconds = [r["seconds"] for r in hits]
    summary = {
        "torch": torch.__version__,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "load_before": load,
        "target": target,
        "recipe": base.to_dict(),
        "runs": runs,
        "reached": f"{len(hits)}/{len(runs)}",
    }
    # ru_maxrss is in KiB on Linux: the peak of this process, measured before the reference runs.
    summary["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nreached {args.target:.2f}% in {len(hits)}/{len(runs)} seeds  (peak RSS {summary['peak_rss_mb']:.0f} MB)")
    if seconds:
        summary.update(
            median_s=statistics.median(seconds),
            min_s=min(seconds),
            max_s=max(seconds),
            epochs=[r["epochs"] for r in hits],
        )
        print(
            f"time to {args.target:.2f}%: median {summary['median_s']:.2f} s  min {summary['min_s']:.2f} s  "
            f"max {summary['max_s']:.2f} s  (epochs {summary['epochs']}, accuracies "
            f"{[round(r['accuracy'], 4) for r in runs]})"
        )
    if args.reference_steps or args.reference_epochs:
        print("reference: classic PyTorch MNIST example")
        ref = time_reference(device, args.reference_steps, args.reference_epochs, target, args.reference_assume_epochs)
        summary["reference"] = ref
        print(f"  {ref['method']}")
        bound = ">= " if ref["lower_bound"] else ""
        print(f"  reference time to {args.target:.2f}%: {bound}{ref['seconds_to_target']:.1f} s")
        if seconds:
            summary["ratio"] = ref["seconds_to_target"] / summary["median_s"]
            print(f"speed-up over the reference (our median): {bound}{summary['ratio']:.1f}x")
    summary["load_after"] = os.getloadavg()[0]
    print(f"load average after: {summary['load_after']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    return 0 if len(hits) == len(runs) else 1


if __name__ == "__main__":
    sys.exit(main())
