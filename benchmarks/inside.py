"""Look inside, measured on the bundled model: the map's build, explain latency, the Inside tab, and checks.

- `map`: in a fresh process, as the app's Inside tab meets it: features of the 60,000 training and
  10,000 test digits, the 2-D map and its cache file (a temporary one) the first time, then read
  back; then `Predictor.explain` of --digits test digits with that index (attribution, activations,
  8 nearest training digits, map position). The app's server computes on 1 torch thread.
- `tab`: the library's explain without the index against the tab's handler (explain + PNG pictures),
  interleaved over the same test digits; the map's background build is switched off, so the handler
  answers as it does while the map is still being computed.
- `checks`: where the attribution lies (share of the positive Integrated Gradients on ink, pixel
  >= 0.5, and within 1 and 2 px of it, over --n-ink test digits, beside plain gradients: a method
  not tied to the ink by construction); whether the 8 nearest training digits of all 10,000 test
  digits carry the predicted (and the true) label; and the learning probe's cost (LearningProbe: 50
  fixed digits + first-layer filters) against the training steps between two step events of the
  default `cnn`, interleaved. Uses the checkpoint's own index cache (built first if missing).

    python -m benchmarks.inside map --threads 1
    python -m benchmarks.inside map                  # torch's default threads (all cores), as the CLI
    python -m benchmarks.inside tab --digits 15 --threads 1
    python -m benchmarks.inside checks --skip probe
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def load_average() -> list[str]:
    return Path("/proc/loadavg").read_text().split()[:3]


def map_build(method: str | None, digits: int) -> None:
    """The map's first build and its cached read, then explain with the index."""
    import torch

    from mnist_core.checkpoint import BUNDLED_DEFAULT
    from mnist_core.data import load_mnist_cached
    from mnist_core.embedding import DEFAULT_MAP, inside_index
    from mnist_core.predict import Predictor

    method = method or DEFAULT_MAP
    predictor = Predictor.from_checkpoint(BUNDLED_DEFAULT)
    data = load_mnist_cached(log=lambda _msg: None)
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder) / "default.pt.inside.npz"
        started = time.perf_counter()
        inside_index(BUNDLED_DEFAULT, predictor.model, data, method=method, cache=cache, log=print)
        built = time.perf_counter() - started
        started = time.perf_counter()
        inside_index(BUNDLED_DEFAULT, predictor.model, data, method=method, cache=cache)
        read = time.perf_counter() - started
        size = cache.stat().st_size
        seconds = []
        for image in data.test_images[: digits + 1].numpy():
            started = time.perf_counter()
            predictor.explain(image, data=data, cache=cache, method=method)
            seconds.append(time.perf_counter() - started)
    print(f"{method}, {torch.get_num_threads()} thread(s), load {load_average()}")
    print(f"map: first build {built:.1f} s, from the cache {read:.2f} s; cache {size / 1e6:.1f} MB")
    first, rest = seconds[0] * 1e3, [t * 1e3 for t in seconds[1:]]
    print(
        f"explain with the index: first {first:.0f} ms (imports Captum), then median {statistics.median(rest):.0f} ms,"
        f" max {max(rest):.0f} ms over {len(rest)} digits"
    )


def tab_latency(digits: int) -> None:
    """The library's explain (no index) against the Inside tab's handler (explain + pictures)."""
    import torch

    from mnist_core.app.context import AppContext
    from mnist_core.app.jobs import InThread, JobManager
    from mnist_core.app.registry import RunRegistry
    from mnist_core.app.tabs.inside import InsideTab
    from mnist_core.data import load_mnist_cached

    data = load_mnist_cached(log=lambda _msg: None)
    tab = InsideTab(AppContext(JobManager(runner=InThread()), RunRegistry()))
    tab.warm_index = lambda model: None  # time the answer, not the background build
    predictor = tab.ctx.registry.predictor(None)
    library, handler = [], []
    for i in range(digits + 1):
        image = data.test_images[i].float().div(255).numpy()
        t0 = time.perf_counter()
        predictor.explain(image, use_index=False)
        t1 = time.perf_counter()
        tab.explain(image, None, None)
        t2 = time.perf_counter()
        if i:  # the first round warms Captum and the caches
            library.append((t1 - t0) * 1000)
            handler.append((t2 - t1) * 1000)
    print(f"threads {torch.get_num_threads()}, load {load_average()}, {digits} digits")
    print(f"library explain (no index): median {statistics.median(library):.0f} ms")
    print(f"tab handler (explain + pictures): median {statistics.median(handler):.0f} ms")


def near_ink(images, radius: int):
    """Boolean masks of the pixels within `radius` px of ink (pixel >= 0.5)."""
    import torch
    import torch.nn.functional as F

    ink = torch.from_numpy((images >= 0.5).astype("float32")).unsqueeze(1)
    if radius == 0:
        return ink[:, 0].numpy() > 0
    return F.max_pool2d(ink, 2 * radius + 1, stride=1, padding=radius)[:, 0].numpy() > 0


def positive_share(attr, mask) -> float:
    """The share of the positive attribution that falls inside `mask`."""
    import numpy as np

    pos = np.clip(attr, 0, None)
    return float(pos[mask].sum() / pos.sum())


def ink_share(model, data, n: int) -> None:
    import numpy as np
    import torch
    from captum.attr import Saliency

    from mnist_core.explain import attribute
    from mnist_core.preprocess import to_mnist

    images = np.stack([to_mnist(data.test_images[i].numpy()) for i in range(n)])
    with torch.inference_mode():
        preds = model(torch.from_numpy(images).unsqueeze(1)).argmax(1).numpy()
    t0 = time.perf_counter()
    ig = np.concatenate([attribute(model, images[s : s + 50], preds[s : s + 50]) for s in range(0, len(images), 50)])
    print(f"IG for {len(images)} digits in batches of 50: {time.perf_counter() - t0:.1f} s")
    x = torch.from_numpy(images).unsqueeze(1).requires_grad_()
    grad = Saliency(model).attribute(x, target=torch.from_numpy(preds), abs=False)[:, 0].detach().numpy()
    for name, attr in (("Integrated Gradients", ig), ("plain gradient", grad)):
        shares = [positive_share(attr, near_ink(images, r)) for r in (0, 1, 2)]
        print(f"{name}: positive attribution on ink {shares[0]:.1%}, within 1 px {shares[1]:.1%}, 2 px {shares[2]:.1%}")


def neighbours_agree(index) -> None:
    import numpy as np

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


def probe_cost(data) -> None:
    import torch
    import torch.nn.functional as F

    from mnist_core.config import TrainConfig
    from mnist_core.explain import LearningProbe
    from mnist_core.models import build_model
    from mnist_core.train import STEP_POINTS_PER_EPOCH

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


def checks(n_ink: int, skip: set[str]) -> None:
    """Ink share of the attribution, neighbours' labels, the learning probe's cost."""
    from mnist_core.checkpoint import BUNDLED_DEFAULT
    from mnist_core.data import load_mnist_cached
    from mnist_core.embedding import inside_index
    from mnist_core.predict import Predictor

    print(f"load average {load_average()}")
    data = load_mnist_cached(log=lambda _msg: None)
    model = Predictor.from_checkpoint(BUNDLED_DEFAULT).model
    if "ink" not in skip:
        ink_share(model, data, n_ink)
    if "neighbours" not in skip:
        neighbours_agree(inside_index(BUNDLED_DEFAULT, model, data, log=print))
    if "probe" not in skip:
        probe_cost(data)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.inside", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("map", help="the map's first build, its cached read, explain with the index")
    build.add_argument("--method", default=None, help="pca, umap or tsne (default: the app's, pca)")
    build.add_argument("--digits", type=int, default=29, help="test digits explained after a first, warming one")
    build.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    tab = commands.add_parser("tab", help="library explain (no index) against the Inside tab's handler")
    tab.add_argument("--digits", type=int, default=15)
    tab.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    check = commands.add_parser("checks", help="attribution on ink, neighbours' labels, learning probe's cost")
    check.add_argument("--n-ink", type=int, default=1000, help="test digits for the ink share")
    check.add_argument("--skip", default="", help="comma-separated parts to skip: ink,neighbours,probe")
    check.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.command == "map":
        map_build(args.method, args.digits)
    elif args.command == "tab":
        tab_latency(args.digits)
    else:
        checks(args.n_ink, set(args.skip.split(",")))


if __name__ == "__main__":
    main()
