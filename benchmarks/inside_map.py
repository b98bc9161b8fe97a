"""Compare 2-D maps of the test set (UMAP, t-SNE, PCA) for time and readability.

Features: the bundled model's last hidden layer (unit rows) for the 10,000 test digits, taken
from its cached inside index (built first if missing, with a PCA map).
Readability: the share of digits whose 10 nearest map neighbours mostly share their label
(kNN-10 accuracy in 2-D; 1.0 = every digit sits inside its own cluster), the silhouette of the
labels on the map (-1..1, higher = tighter, better separated clusters), and the same kNN accuracy
in the 256-d features as the ceiling. The order of methods alternates between repeats.

    python benchmarks/inside_map.py --repeats 1 --png-dir /tmp/maps
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mnist_core.checkpoint import BUNDLED_DEFAULT  # noqa: E402
from mnist_core.data import load_mnist_cached  # noqa: E402
from mnist_core.embedding import MAP_METHODS, embed_2d, inside_index  # noqa: E402
from mnist_core.predict import Predictor  # noqa: E402


def knn_accuracy(points: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    clf = KNeighborsClassifier(n_neighbors=k + 1).fit(points, labels)
    neigh = clf.kneighbors(points, return_distance=False)[:, 1:]  # drop the point itself
    votes = np.apply_along_axis(lambda row: np.bincount(row, minlength=10).argmax(), 1, labels[neigh])
    return float((votes == labels).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--methods", default=",".join(MAP_METHODS))
    parser.add_argument("--png-dir", default=None, help="also draw each map as a PNG here")
    args = parser.parse_args()
    from sklearn.metrics import silhouette_score

    data = load_mnist_cached()
    model = Predictor.from_checkpoint(BUNDLED_DEFAULT).model
    index = inside_index(BUNDLED_DEFAULT, model, data, method="pca", log=print)
    unit, labels = index.test_features, index.test_labels
    print(f"load average {Path('/proc/loadavg').read_text().split()[:3]}")
    print(f"kNN-10 accuracy in the 256-d features: {knn_accuracy(unit, labels):.4f}")
    methods = args.methods.split(",")
    times: dict[str, list[float]] = {m: [] for m in methods}
    for r in range(args.repeats):
        for m in methods if r % 2 == 0 else reversed(methods):
            t0 = time.perf_counter()
            xy = embed_2d(unit, m)
            times[m].append(time.perf_counter() - t0)
            sample = np.random.default_rng(0).choice(len(xy), 3000, replace=False)
            sil = silhouette_score(xy[sample], labels[sample])
            print(
                f"{m:5} repeat {r}: {times[m][-1]:6.1f} s  kNN-10 acc {knn_accuracy(xy, labels):.4f}  silhouette {sil:.3f}"
            )
            print(f"  load average {Path('/proc/loadavg').read_text().split()[:3]}")
            if args.png_dir:
                from mnist_core.inside_pictures import map_picture

                Path(args.png_dir).mkdir(parents=True, exist_ok=True)
                map_picture(xy, labels, index.test_predictions).save(Path(args.png_dir) / f"map-{m}.png")
    for m in methods:
        print(f"{m:5} median {np.median(times[m]):.1f} s over {len(times[m])}")


if __name__ == "__main__":
    main()
