"""Look inside, measured on the bundled model: map build time (first and cached), explain latency,
where the attribution lies, whether the nearest training digits agree, and the learning probe's cost.

- map: `inside_index` over the full MNIST, cache removed first (first time), then read back.
- latency: `Predictor.explain(uint8 test digit)` end to end (preprocessing, activations,
  Integrated Gradients, 8 neighbours among 60,000, map position); median and p90 of --n-latency.
- ink: share of the positive attribution on ink (pixel >= 0.5) and within 1 and 2 px of it, over
  --n-ink test digits (IG batched with the same settings), beside plain gradients (Captum Saliency,
  signed) for comparison: a method not tied to the ink by construction.
- neighbours: over all 10,000 test digits, the share of their 8 nearest training digits that carry
  the predicted label (and the true label).
- probe: LearningProbe (50 fixed digits + first-layer filters) against a window of training steps
  between two step events of the default `cnn` (batch 128), interleaved.

    python benchmarks/inside_checks.py --map umap
    python benchmarks/inside_checks.py --map pca --threads 1 --skip map,ink,neighbours
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mnist_core.checkpoint import BUNDLED_DEFAULT  # noqa: E402
from mnist_core.config import TrainConfig  # noqa: E402
from mnist_core.data import load_mnist_cached  # noqa: E402
from mnist_core.embedding import cache_path_for, inside_index  # noqa: E402
from mnist_core.explain import LearningProbe, attribute  # noqa: E402
from mnist_core.models import build_model  # noqa: E402
from mnist_core.predict import Predictor  # noqa: E402
from mnist_core.preprocess import to_mnist  # noqa: E402
from mnist_core.train import STEP_POINTS_PER_EPOCH  # noqa: E402


def near_ink(images: np.ndarray, radius: int) -> np.ndarray:
    ink = torch.from_numpy((images >= 0.5).astype(np.float32)).unsqueeze(1)
    if radius == 0:
        return ink[:, 0].numpy() > 0
    return F.max_pool2d(ink, 2 * radius + 1, stride=1, padding=radius)[:, 0].numpy() > 0


def positive_share(attr: np.ndarray, mask: np.ndarray) -> float:
    pos = np.clip(attr, 0, None)
    return float(pos[mask].sum() / pos.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--map", default="umap")
    parser.add_argument("--n-latency", type=int, default=30)
    parser.add_argument("--n-ink", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: map,latency,ink,neighbours,probe")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads {torch.get_num_threads()}; load average {Path('/proc/loadavg').read_text().split()[:3]}")
    data = load_mnist_cached()
    predictor = Predictor.from_checkpoint(BUNDLED_DEFAULT)
    model = predictor.model

    cache = cache_path_for(BUNDLED_DEFAULT)
    if "map" not in skip:  # time a first build; with map skipped, a valid cache is used
        cache.unlink(missing_ok=True)
    t0 = time.perf_counter()
    index = inside_index(BUNDLED_DEFAULT, model, data, method=args.map, log=print)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    inside_index(BUNDLED_DEFAULT, model, data, method=args.map)
    print(f"map ({args.map}): built in {first:.1f} s; read from cache in {time.perf_counter() - t0:.2f} s")
    print(f"cache {cache.name}: {cache.stat().st_size / 1e6:.1f} MB")
    predictor._index = index

    if "latency" not in skip:
        times = []
        for i in range(args.n_latency):
            image = data.test_images[i].numpy()
            t0 = time.perf_counter()
            predictor.explain(image)
            times.append(time.perf_counter() - t0)
        times = times[1:]  # the first call warms oneDNN and Captum up
        print(
            f"explain latency: median {statistics.median(times) * 1000:.0f} ms, "
            f"p90 {np.percentile(times, 90) * 1000:.0f} ms over {len(times)} digits"
        )

    if "ink" not in skip:
        images = np.stack([to_mnist(data.test_images[i].numpy()) for i in range(args.n_ink)])
        with torch.inference_mode():
            preds = model(torch.from_numpy(images).unsqueeze(1)).argmax(1).numpy()
        t0 = time.perf_counter()
        ig = np.concatenate(
            [attribute(model, images[s : s + 50], preds[s : s + 50]) for s in range(0, len(images), 50)]
        )
        print(f"IG for {len(images)} digits in batches of 50: {time.perf_counter() - t0:.1f} s")
        from captum.attr import Saliency

        x = torch.from_numpy(images).unsqueeze(1).requires_grad_()
        grad = Saliency(model).attribute(x, target=torch.from_numpy(preds), abs=False)[:, 0].detach().numpy()
        for name, attr in (("Integrated Gradients", ig), ("plain gradient", grad)):
            shares = [positive_share(attr, near_ink(images, r)) for r in (0, 1, 2)]
            print(
                f"{name}: positive attribution on ink {shares[0]:.1%}, within 1 px {shares[1]:.1%}, 2 px {shares[2]:.1%}"
            )

    if "neighbours" not in skip:
        test = index.test_features.astype(np.float32)
        train = index.train_features.astype(np.float32)
        agree_pred, agree_true = [], []
        for s in range(0, len(test), 1000):
            scores = test[s : s + 1000] @ train.T
            top = np.argpartition(-scores, 8, axis=1)[:, :8]
            labels = index.train_labels[top]
            agree_pred.append((labels == index.test_predictions[s : s + 1000, None]).mean(1))
            agree_true.append((labels == index.test_labels[s : s + 1000, None]).mean(1))
        agree_pred, agree_true = np.concatenate(agree_pred), np.concatenate(agree_true)
        wrong = index.misclassified
        print(
            f"8 nearest training digits carrying the predicted label: {agree_pred.mean():.1%} "
            f"(true label {agree_true.mean():.1%}); on the {wrong.sum()} misclassified: "
            f"predicted {agree_pred[wrong].mean():.1%}, true {agree_true[wrong].mean():.1%}"
        )

    if "probe" not in skip:
        cfg = TrainConfig(model="cnn")
        torch.manual_seed(0)
        net = build_model(cfg).train()
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
        probe = LearningProbe(data)
        steps_per_event = max(1, (60_000 - cfg.val_size) // cfg.batch_size // STEP_POINTS_PER_EPOCH)
        window, probe_times = [], []
        for _ in range(6):
            t0 = time.perf_counter()
            for _ in range(steps_per_event):
                idx = torch.randint(0, 60_000, (cfg.batch_size,))
                x = data.train_images[idx].float().div(255).unsqueeze(1)
                loss = F.cross_entropy(net(x), data.train_labels[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
            window.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            probe(net)
            probe_times.append(time.perf_counter() - t0)
        w, p = statistics.median(window[1:]), statistics.median(probe_times[1:])
        print(
            f"probe: {p * 1000:.1f} ms per step event vs {w * 1000:.0f} ms of training between events "
            f"({steps_per_event} steps of {cfg.batch_size}): +{p / w:.1%}"
        )


if __name__ == "__main__":
    main()
