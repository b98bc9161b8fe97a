"""Command line: python -m mnist_core {data,train,evaluate,predict,explain,export,sweep}.

Every training flag is generated from TrainConfig's fields, so --help always shows the real
defaults and ranges, and bad values are rejected by the same validation the app uses.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .config import TrainConfig, describe_range, field_type, fields
from .presets import PRESETS, get_preset


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field; values stay raw strings until TrainConfig.from_dict checks them."""
    group = parser.add_argument_group("hyperparameters (from TrainConfig; defaults shown, or the --preset's)")
    for f in fields():
        # argparse treats % as a format character.
        help_text = f"{f.metadata['help']}; {describe_range(f)} (default: {f.default})".replace("%", "%%")
        if field_type(f) is bool:
            group.add_argument(_flag(f.name), action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            group.add_argument(_flag(f.name), default=None, metavar=f.name.upper(), help=help_text)


def config_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> TrainConfig:
    """The preset's values (if --preset was given), overridden by every flag given."""
    given = {f.name: getattr(args, f.name) for f in fields() if getattr(args, f.name) is not None}
    try:
        base = get_preset(args.preset).values if getattr(args, "preset", None) else {}
        return TrainConfig.from_dict({**base, **given})
    except ValueError as exc:
        parser.error(str(exc))  # exits with status 2


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(prog="python -m mnist_core", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    subs = {}

    def add(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--data-dir", default=None, help="MNIST root (default: $MNIST_DATA_DIR or ./data)")
        subs[name] = p
        return p

    add("data", "obtain MNIST (offline if need be) and verify the four files by MD5")

    p = add("train", "train a model and save its checkpoint")
    p.add_argument(
        "--preset",
        default=None,
        choices=list(PRESETS),
        metavar="NAME",
        help="start from a named recipe; the flags given override it. "
        + "; ".join(f"{p.name}: {p.title}" for p in PRESETS.values()).replace("%", "%%"),
    )
    add_config_flags(p)
    p.add_argument("--out", default=None, help="checkpoint path (default: checkpoints/<model>-<time>.pt)")
    p.add_argument("--json", action="store_true", help="print the final metrics as one JSON object")

    p = add("evaluate", "evaluate a checkpoint on the 10,000 test images")
    p.add_argument("--checkpoint", default=None, help="checkpoint file (default: the bundled model)")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = add("predict", "read digits from image files, or from random test digits")
    p.add_argument("images", nargs="*", help="image files (PNG, JPEG, ... any size)")
    p.add_argument("--random", type=int, default=0, metavar="N", help="predict N random test digits")
    p.add_argument("--seed", type=int, default=None, help="seed for --random")
    p.add_argument("--number", action="store_true", help="read each image as a whole number, digits left to right")
    p.add_argument("--checkpoint", default=None, help="checkpoint file (default: the bundled model)")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = add("explain", "explain one image: attribution, activations, nearest training digits, map (PNGs)")
    p.add_argument("image", help="image file (PNG, JPEG, ... any size)")
    p.add_argument("--out", required=True, help="folder for the pictures and explanation.json")
    p.add_argument("--checkpoint", default=None, help="checkpoint file (default: the bundled model)")
    p.add_argument("--target", type=int, default=None, choices=range(10), metavar="D", help="attribute digit D (0-9)")
    p.add_argument("--map", default=None, choices=("umap", "tsne", "pca"), help="test-set map method (default: pca)")

    p = add("export", "export a checkpoint as a self-contained torch.export .pt2 file")
    p.add_argument("--checkpoint", default=None, help="checkpoint file (default: the bundled model)")
    p.add_argument("--out", default="mnist.pt2", help="output .pt2 path")

    p = add(
        "sweep", "search hyperparameters with Optuna (TPE, median pruning); workers sharing --storage join one study"
    )
    p.add_argument("--study", required=True, help="study name; the same name and storage join an existing study")
    p.add_argument("--trials", type=int, default=10, help="trials this process runs (default: 10)")
    p.add_argument(
        "--storage",
        default=None,
        help="Optuna RDB URL, e.g. postgresql://user:pw@host/db (default: sqlite checkpoints/sweeps.db)",
    )
    p.add_argument(
        "--vary",
        default=None,
        help="fields to search, comma separated (default: lr,batch_size,dropout,weight_decay,label_smoothing)",
    )
    p.add_argument("--fix", default=None, help="pinned fields, e.g. model=cnn,epochs=2,train_size=10000")
    p.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="end the sweep after this many seconds (the running trial stops)",
    )
    p.add_argument(
        "--sampler-seed",
        type=int,
        default=None,
        help="seed of the TPE sampler (one worker only: workers with one seed repeat each other)",
    )
    p.add_argument("--json", action="store_true", help="print the outcome as one JSON object")
    return parser, subs


def cmd_data(args) -> int:
    from .data import data_dir, ensure_mnist, verify

    source = ensure_mnist(args.data_dir)
    print(f"MNIST in {data_dir(args.data_dir).resolve()} (source: {source})")
    for name, status in verify(args.data_dir).items():
        print(f"  {name:26} {status}")
    return 0


def cmd_train(args, parser) -> int:
    from .allocator import keep_freed_memory
    from .checkpoint import checkpoint_dir, new_run_path
    from .data import load_mnist
    from .progress import ConsoleProgress
    from .train import train

    keep_freed_memory()  # this process trains: steps reuse their buffers (allocator.py)
    cfg = config_from_args(parser, args)
    out = Path(args.out) if args.out else new_run_path(checkpoint_dir(), cfg)
    data = load_mnist(args.data_dir, log=lambda msg: print(msg, file=sys.stderr))
    try:
        with ConsoleProgress(cfg) as progress:
            result = train(cfg, data, callback=progress, checkpoint_path=out)
    except ValueError as exc:  # e.g. batch size larger than the chosen subset, device not present
        parser.error(str(exc))
    m = result.metrics
    if args.json:
        print(json.dumps({**m, "checkpoint": str(result.checkpoint), "config": cfg.to_dict()}))
    else:
        print(
            f"test accuracy {m.get('test_accuracy', float('nan')):.2%}  test loss {m.get('test_loss', float('nan')):.4f}"
        )
        print(f"training seconds {m['train_seconds']:.1f}  ({m['epochs_completed']} epoch(s))")
        print(f"checkpoint {result.checkpoint}")
    return 0


def _predictor(args, parser):
    from .checkpoint import CheckpointError
    from .predict import Predictor

    try:
        return Predictor.from_checkpoint(args.checkpoint)
    except CheckpointError as exc:
        parser.error(str(exc))


def cmd_evaluate(args, parser) -> int:
    from .data import load_mnist
    from .evaluate import evaluate

    predictor = _predictor(args, parser)
    data = load_mnist(args.data_dir, log=lambda msg: print(msg, file=sys.stderr))
    started = time.perf_counter()
    result = evaluate(predictor.model, data.test_images, data.test_labels)
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps({"checkpoint": str(predictor.path), **result.to_dict(), "seconds": round(seconds, 3)}))
        return 0
    print(f"{predictor.path}: test accuracy {result.accuracy:.2%}, loss {result.loss:.4f} ({seconds:.2f} s)")
    print("confusion matrix (rows: true digit, columns: predicted)")
    print("     " + "".join(f"{d:>6}" for d in range(10)))
    for t, row in enumerate(result.confusion):
        print(f"{t:>5}" + "".join(f"{c:>6}" for c in row))
    print("digit precision recall")
    for d in range(10):
        print(f"{d:>5} {result.precision[d]:9.2%} {result.recall[d]:6.2%}")
    return 0


def cmd_predict(args, parser) -> int:
    from .preprocess import ImageError

    if not args.images and not args.random:
        parser.error("give image files or --random N")
    if args.random < 0:
        parser.error("--random: must be a positive number of digits")
    if args.number and args.random:
        parser.error("--number reads image files, not --random test digits")
    predictor = _predictor(args, parser)
    rows = []
    for path in args.images:
        try:
            if args.number:  # {"kind", "number": "2026" or None, "digits": [{"kind", "digit", "closest", ...}]}
                rows.append({"input": path, **predictor.read_number(Path(path)).as_json()})
                continue
            rows.append({"input": path, **_answer(predictor.predict(Path(path)))})
        except (ImageError, OSError) as exc:
            rows.append({"input": path, "error": str(exc)})
    if args.random:
        from .data import load_mnist, sample_test

        data = load_mnist(args.data_dir, log=lambda msg: print(msg, file=sys.stderr))
        indices = sample_test(data, args.random, args.seed)
        preds = predictor.predict_batch([data.test_images[i].numpy() for i in indices])
        for i, p in zip(indices, preds):
            rows.append(
                {
                    "input": f"test[{i}]",
                    "label": int(data.test_labels[i]),
                    **_answer(p),
                }
            )
    if args.json:
        print(json.dumps({"checkpoint": str(predictor.path), "predictions": rows}))
    else:
        for row in rows:
            if "error" in row:
                print(f"{row['input']}: error: {row['error']}")
                continue
            if "number" in row:
                print(f"{row['input']}: {_number_text(row)}")
                continue
            truth = f"  true {row['label']}" if "label" in row else ""
            print(f"{row['input']}: {_digit_text(row)}{truth}")
    return 1 if any("error" in row for row in rows) else 0


def _answer(p) -> dict:
    """A Prediction as the JSON row of `predict`: kind ("digit", "not a digit", "no digit"), the digit
    (None unless a digit), the closest digit (the hint when refused), probabilities and refusal score."""
    return {k: v for k, v in p.as_json().items() if k != "confidence"}


def _digit_text(row: dict) -> str:
    if row["kind"] == "no digit":
        return "no digit"
    if row["kind"] == "not a digit":
        return f"not a digit (closest: {row['closest']})"
    return f"{row['digit']} ({max(row['probabilities']):.1%})"


def _number_text(row: dict) -> str:
    if row["kind"] == "no digit":
        return "no digit"
    marks = ", ".join(
        f"{d['digit']} {d['confidence']:.1%}" if d["kind"] == "digit" else f"not a digit (closest {d['closest']})"
        for d in row["digits"]
    )
    return f"{row['number'] or 'not a digit'}  ({marks})"


def cmd_explain(args, parser) -> int:
    from .data import load_mnist
    from .inside_pictures import write_pictures
    from .layers import first_layer_filters
    from .preprocess import ImageError

    predictor = _predictor(args, parser)
    data = load_mnist(args.data_dir, log=lambda msg: print(msg, file=sys.stderr))
    kwargs = {"method": args.map} if args.map else {}
    try:
        e = predictor.explain(Path(args.image), args.target, data=data, **kwargs)
    except (ImageError, OSError) as exc:
        parser.error(f"{args.image}: {exc}")
    index = predictor.inside_index(data) if e.image is not None else None
    neighbour_images = [data.train_images[i].numpy() / 255.0 for i, _ in e.neighbours]
    written = write_pictures(e, args.out, first_layer_filters(predictor.model).numpy(), neighbour_images, index)
    if e.digit is None:
        print(f"{args.image}: {e.message}")
    else:
        print(f"{args.image}: reads {e.digit} ({max(e.probabilities):.1%}); attribution for {e.target} ({e.method})")
    if e.neighbours:
        print(
            "nearest training digits: "
            + ", ".join(f"#{i} ({label}, {d:.2f})" for (i, label), d in zip(e.neighbours, e.neighbour_distances))
        )
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def cmd_export(args, parser) -> int:
    from .checkpoint import BUNDLED_DEFAULT, CheckpointError
    from .export import export_checkpoint

    try:
        out = export_checkpoint(args.checkpoint or BUNDLED_DEFAULT, args.out)
    except CheckpointError as exc:
        parser.error(str(exc))
    print(f"exported {out} (load with torch.export.load(path).module(); input float (N,1,28,28) in [0,1])")
    return 0


def cmd_sweep(args, parser) -> int:
    import optuna

    from .allocator import keep_freed_memory
    from .data import load_mnist
    from .search_space import SearchSpaceError, build_space
    from .sweep import SweepError, SweepSpec, open_study, run_sweep

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own one line per trial instead
    keep_freed_memory()  # this process trains the trials (allocator.py)
    spec = SweepSpec(args.study, args.trials, args.storage, args.vary, args.fix, args.max_seconds, args.sampler_seed)
    try:
        build_space(spec.vary, spec.fixed)  # refuse bad fields before touching storage or data
        spec.validate(flag_prefix="--")
        open_study(spec.study, spec.storage)  # refuse an unreachable database before loading MNIST
        data = load_mnist(args.data_dir, log=lambda msg: print(msg, file=sys.stderr))
        result = run_sweep(spec, data, callback=_print_sweep_event)
    except (SearchSpaceError, SweepError) as exc:
        parser.error(str(exc))
    out = result.to_dict()
    if args.json:
        keys = ("study", "complete", "pruned", "failed", "best_value", "best_params", "best_checkpoint")
        print(json.dumps({**{k: out[k] for k in keys}, **{k: v for k, v in out.items() if k not in keys}}))
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
        return 1
    return 0


def _print_sweep_event(event) -> None:
    if event.kind == "trial_end":
        value = "" if event.value is None else f" val_acc {event.value:.2%}"
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in event.params.items())
        print(f"trial {event.trial} {event.state}{value} ({params}) {event.message}", file=sys.stderr)
    elif event.kind == "end":
        print(event.message, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser, subs = build_parser()
    args = parser.parse_args(argv)
    sub = subs[args.command]
    if args.command == "data":
        return cmd_data(args)
    commands = {
        "train": cmd_train,
        "evaluate": cmd_evaluate,
        "predict": cmd_predict,
        "export": cmd_export,
        "explain": cmd_explain,
        "sweep": cmd_sweep,
    }
    return commands[args.command](args, sub)
