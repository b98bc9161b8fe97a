"""Not a digit: how many held-out non-digits a model refuses, how many real digits it refuses, and what
refusing costs per prediction.

Non-digits come from tests/support/nondigits_held.py: fonts, shapes, objects and scribbles the model
was never trained on, drawn as on the Draw tab's canvas and preprocessed as any drawing is. Each kind
is reported with all its glyphs and without the glyphs drawn as a digit is (DIGIT_LIKE: O, l, Z, q,
...), which no reader could refuse; those are listed apart with the digit each is read as. Digits:
MNIST's test set, and the digits of other benchmarks (edge_digits' crops, sketchset's drawings,
whole_numbers' numbers, each mark read by read_number). Cost: Predictor.read on one image against the
model's bare forward on the same input, interleaved, medians. A model without a refusal threshold
(trained before issue 21, or with not_digits = 0) refuses nothing.

    python -m benchmarks.not_a_digit                            # bundled model, 400 per kind
    python -m benchmarks.not_a_digit --checkpoint run.pt --per-kind 100
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter, defaultdict

import numpy as np
import torch

from mnist_core.data import load_mnist
from mnist_core.models import as_input
from mnist_core.nondigits import DIGIT_LIKE
from mnist_core.predict import Predictor
from tests.support.edgeset import crop_to_ink, render, variants
from tests.support.nondigits_held import KINDS, held_out
from tests.support.numberset import make_number_set
from tests.support.sketchset import make_sketch_set

BATCH = 1000


def read_all(predictor: Predictor, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(closest digit, refused) per image for uint8 (N, 28, 28) images, ink high; read in batches."""
    closest, refused = [], []
    for start in range(0, len(images), BATCH):
        probs, scores = predictor.read(images[start : start + BATCH].astype(np.float32) / 255)
        closest.append(probs.argmax(1))
        refused.append(scores > predictor.threshold if scores is not None else np.zeros(len(probs), bool))
    if not closest:
        return np.zeros(0, int), np.zeros(0, bool)
    return np.concatenate(closest), np.concatenate(refused)


def share(hits: int, n: int) -> float | None:
    return round(hits / n, 4) if n else None


def non_digits(predictor: Predictor, per_kind: int, seed: int) -> dict:
    """Held-out non-digits refused per kind, with and without DIGIT_LIKE glyphs, and per digit-like glyph."""
    kinds, glyphs = {}, defaultdict(lambda: {"n": 0, "refused": 0, "read_as": Counter()})
    total = Counter()
    for kind, (names, images) in held_out(per_kind, seed).items():
        closest, refused = read_all(predictor, images)
        plain = np.array([name not in DIGIT_LIKE for name in names], bool)
        kinds[kind] = {
            "n": len(names),
            "refused": share(int(refused.sum()), len(names)),
            "n_plain": int(plain.sum()),
            "refused_plain": share(int(refused[plain].sum()), int(plain.sum())),
        }
        total.update(n=len(names), refused=int(refused.sum()), n_plain=int(plain.sum()))
        total.update(refused_plain=int(refused[plain].sum()))
        for name, c, r in zip(names, closest, refused):
            if name in DIGIT_LIKE:
                g = glyphs[name]
                g["n"] += 1
                g["refused"] += int(r)
                if not r:
                    g["read_as"][int(c)] += 1
    kinds["all held-out"] = {
        "n": total["n"],
        "refused": share(total["refused"], total["n"]),
        "n_plain": total["n_plain"],
        "refused_plain": share(total["refused_plain"], total["n_plain"]),
    }
    digit_like = {
        name: {
            "n": g["n"],
            "refused": share(g["refused"], g["n"]),
            "read_as": g["read_as"].most_common(1)[0][0] if g["read_as"] else None,
        }
        for name, g in sorted(glyphs.items(), key=lambda item: (item[1]["refused"] / item[1]["n"], item[0]))
    }
    return {"kinds": kinds, "digit_like": digit_like}


def digit_sets(predictor: Predictor, n_suite: int) -> dict:
    """Real digits refused: MNIST's test set, and the edge, sketch and whole-number benchmarks' digits."""
    data = load_mnist(log=lambda msg: None)
    images, labels = data.test_images.numpy(), data.test_labels.numpy()
    closest, refused = read_all(predictor, images)
    kept = ~refused
    out = {
        "MNIST test": {
            "n": len(labels),
            "refused": share(int(refused.sum()), len(labels)),
            "accuracy_kept": share(int((closest[kept] == labels[kept]).sum()), int(kept.sum())),
            "accuracy_all": share(int((closest == labels).sum()), len(labels)),
        }
    }
    rows = variants(n_suite, 0)
    edge = [render(crop_to_ink(images[i]), side, pol, fmt) for i, side, pol, fmt in rows]
    sketches, sketch_labels = make_sketch_set(images, labels, n_suite, 0)
    for name, inputs, truth in (
        ("edge digits (cropped to ink)", edge, [int(labels[i]) for i, *_ in rows]),
        ("sketches", sketches, list(sketch_labels)),
    ):
        preds = predictor.predict_batch(inputs)
        read = [(p.kind == "not a digit", p.closest == t) for p, t in zip(preds, truth) if p.closest is not None]
        n_kept = sum(not r for r, _ in read)
        out[name] = {
            "n": len(read),
            "refused": share(sum(r for r, _ in read), len(read)),
            "accuracy_kept": share(sum(ok for r, ok in read if not r), n_kept),
            "accuracy_all": share(sum(ok for _, ok in read), len(read)),
        }
    marks = refused_marks = right = right_kept = 0
    for image, truth, _ in make_number_set(images, labels, n_suite // 3, 0, (0.1, 0.6)):
        digits = predictor.read_number(image).digits
        if len(digits) != len(truth):  # split wrongly: no digit to compare with
            continue
        for mark, t in zip(digits, truth):
            marks += 1
            refused_marks += mark.refused
            right += str(mark.closest) == t
            right_kept += not mark.refused and str(mark.closest) == t
    out["whole-number marks"] = {
        "n": marks,
        "refused": share(refused_marks, marks),
        "accuracy_kept": share(right_kept, marks - refused_marks),
        "accuracy_all": share(right, marks),
    }
    return out


def cost(predictor: Predictor, reps: int) -> dict:
    """Median ms of Predictor.read on one image vs the model's bare forward on it, interleaved."""
    image = load_mnist(log=lambda msg: None).test_images[:1].numpy().astype(np.float32) / 255
    x = as_input(image, next(predictor.model.parameters()).device)

    def forward() -> None:
        with torch.inference_mode():
            predictor.model(x)

    def read() -> None:
        predictor.read(image)

    for _ in range(20):
        read(), forward()
    times: dict[str, list[float]] = {"read": [], "forward": []}
    for rep in range(reps):
        order = (("read", read), ("forward", forward)) if rep % 2 else (("forward", forward), ("read", read))
        for name, fn in order:
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    med = {name: 1000 * statistics.median(seconds) for name, seconds in times.items()}
    return {
        "read_ms": round(med["read"], 4),
        "forward_ms": round(med["forward"], 4),
        "added_ms": round(med["read"] - med["forward"], 4),
        "reps": reps,
    }


def pct(value: float | None, decimals: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{decimals}f}%"


def report(result: dict) -> str:
    """The results as markdown tables."""
    lines = [
        f"model {result['model']} ({result['checkpoint']}), threshold {result['threshold']}, "
        f"seed {result['seed']}, {result['per_kind']} per kind, torch threads {result['threads']}",
    ]
    if result["threshold"] is None:
        lines.append("\n**This model has no refusal threshold: it never refuses.**")
    lines += [
        "",
        "| held-out non-digits | n | refused | n w/o digit-like | refused w/o digit-like |",
        "|---|---|---|---|---|",
    ]
    for kind, k in result["non_digits"]["kinds"].items():
        name = kind if kind in KINDS else f"**{kind}**"
        lines.append(f"| {name} | {k['n']} | {pct(k['refused'])} | {k['n_plain']} | {pct(k['refused_plain'])} |")
    lines += [
        "",
        "| digits | n | refused | accuracy on the kept | accuracy, nothing refused |",
        "|---|---|---|---|---|",
    ]
    for name, d in result["digits"].items():
        lines.append(
            f"| {name} | {d['n']} | {pct(d['refused'], 2)} | {pct(d['accuracy_kept'], 2)} | {pct(d['accuracy_all'], 2)} |"
        )
    c = result["cost"]
    lines += [
        "",
        f"cost per single-image prediction (medians of {c['reps']}, interleaved): Predictor.read {c['read_ms']:.3f} ms, "
        f"bare forward {c['forward_ms']:.3f} ms: refusal adds {c['added_ms']:+.3f} ms",
        "",
        "digit-like glyphs, % refused (→ the digit read when kept): "
        + ", ".join(
            f"{name}: {100 * g['refused']:.0f}%" + (f" (→{g['read_as']})" if g["read_as"] is not None else "")
            for name, g in result["non_digits"]["digit_like"].items()
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="default: the bundled checkpoints/default.pt")
    parser.add_argument("--per-kind", type=int, default=400, help="held-out non-digits per kind (default 400)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--suite", type=int, default=300, help="edge digits and sketches (numbers: a third)")
    parser.add_argument("--reps", type=int, default=2000, help="timed single-image predictions")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    predictor = Predictor.from_checkpoint(args.checkpoint)
    result = {
        "model": predictor.config.model,
        "checkpoint": str(predictor.path),
        "threshold": predictor.threshold,
        "seed": args.seed,
        "per_kind": args.per_kind,
        "threads": torch.get_num_threads(),
        "non_digits": non_digits(predictor, args.per_kind, args.seed),
        "digits": digit_sets(predictor, args.suite),
        "cost": cost(predictor, args.reps),
    }
    print(json.dumps(result) if args.json else report(result))


if __name__ == "__main__":
    main()
