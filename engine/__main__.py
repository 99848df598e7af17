"""The command line.

  python -m engine train all|denoiser|anomaly [--scale 1.0] [--out DIR]   rebuild models
  python -m engine train precomputed                                 rebuild what every visitor shares
                                                                    (pretrained/precomputed/)
  python -m engine train FAMILY --data digits28|digits8|FOLDER|ZIP [--epochs N] [--code-size K]
                         [--option KEY=VALUE ...] [--out FILE.onnx]   a studio model of the
                         autoencoder family (undercomplete, sparse, stacked, convolutional,
                         denoising, variational)
  python -m engine eval denoise|anomaly [--json] [--count N] [--record]
  python -m engine bench [--json] [--models NAME ...] [--load-rounds N] [--no-baselines]
                                                                    onnxruntime vs torch: latency,
                                                                    GFLOP/s, memory under load
  python -m engine optimize                                         apply the exporter's CPU rewrites
                                                                    to shipped models (no retraining)
  python -m engine quantize [--models NAME ...]                     int8 twins, shipped where quality
                                                                    holds and they are faster
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _train(args: argparse.Namespace) -> int:
    from .builds import BUILDS, build, write_precomputed
    from .core import precomputed, runtime
    from .nn.recipes import BuildOptions
    from .tasks.studio.model import FAMILIES

    if args.target in FAMILIES:
        return _train_family(args)

    def progress(p) -> None:
        print(f"  step {p.step:>6}/{p.steps}  loss {p.loss:.5f}  {p.seconds:6.0f}s", flush=True)

    out = Path(args.out or runtime.PRETRAINED_DIR)
    command = f"python -m engine train {args.target}"
    if args.scale != 1.0:
        command += f" --scale {args.scale}"
    opts = BuildOptions(out_dir=out, scale=args.scale, seed=args.seed, progress=progress)
    entries = build(args.target, opts, command) if BUILDS[args.target] else {}
    for _name, entry in entries.items():
        print(f"wrote {out / entry['file']}  sha256 {entry['sha256'][:12]}…")
    if out.resolve() == runtime.PRETRAINED_DIR and not args.no_eval:
        from .evaluate import EVALS

        for task in sorted({e["task"] for e in entries.values()} & set(EVALS)):
            result = EVALS[task]()
            _print(result, as_json=False)
            _record_metrics(task, result)
    if out.resolve() == runtime.PRETRAINED_DIR:
        # What every visitor would otherwise compute: all of it for this target, else what the new models made stale.
        names = sorted(precomputed.register_all()) if args.target == "precomputed" else None
        for entry in write_precomputed(out, names, lambda n: print(f"precomputing {n}…", flush=True)).values():
            print(f"wrote {out / entry['file']}  {entry['bytes'] / 1000:.0f} kB  sha256 {entry['sha256'][:12]}…")
    return 0


def _train_family(args: argparse.Namespace) -> int:
    """Train a studio model on built-in digits or a folder or zip of images and write its ONNX
    file, with the torch checkpoint (family, config, weights) beside it."""
    import io

    import torch

    from .core.imaging import PixelBudget
    from .core.loaders import MAX_FOLDER_FILES, DatasetError, load_image_folder
    from .core.runtime import atomic_write_bytes
    from .nn.checkpoints import checkpoint
    from .tasks.studio.build import train_model
    from .tasks.studio.serve import STUDIO_DATA, builtin_digits, prepare_images

    if args.data is None:
        print("--data is needed: digits28, digits8, or a folder or zip of images", file=sys.stderr)
        return 2
    heldout = None
    if args.data in STUDIO_DATA:
        data = builtin_digits(args.data)
        images, heldout, note = data.train, data.heldout, data.note
    else:
        try:
            # Your own folder on your own machine: the budget that guards the server's uploads
            # (200 M pixels) would stop at a few dozen photos; every image may cost 40 MP here.
            folder = load_image_folder(args.data, budget=PixelBudget(MAX_FOLDER_FILES * 40_000_000))
        except DatasetError as err:
            print(err, file=sys.stderr)
            return 2
        for name, reason in folder.skipped:
            print(f"skipped {name}: {reason}")
        if len(folder.images) < 2:
            print(f"{args.data} holds {len(folder.images)} usable images; at least 2 are needed.",
                  file=sys.stderr)
            return 2
        images = prepare_images(folder.images, args.side)
        note = f"{len(images)} images from {Path(args.data).name}, grey, {args.side}x{args.side}"
    try:
        options = {key: _option_value(value) for key, _, value in (o.partition("=") for o in args.option)}
        result = train_model(args.target, images, code_size=args.code_size, epochs=args.epochs,
                             lr=args.lr, batch_size=args.batch_size, patience=args.patience,
                             method=args.method, seed=args.seed, options=options, heldout=heldout,
                             data_note=note, threads=args.threads, progress=_progress_bar)
    except (TypeError, ValueError) as err:   # a wrong option, or a family that cannot take the data
        print(f"cannot train {args.target}: {err}", file=sys.stderr)
        return 2
    out = Path(args.out or f"{args.target}.onnx")
    atomic_write_bytes(out, result.onnx)
    buffer = io.BytesIO()
    torch.save(checkpoint(result.model), buffer)
    atomic_write_bytes(out.with_suffix(".pt"), buffer.getvalue())
    stats = result.code_stats
    print(f"{args.target}: held-out MSE {result.heldout_mse:.5f} on {len(result.heldout)} images; "
          f"code of {args.code_size}, {stats.near_zero_share:.0%} near zero; "
          f"{result.parameters:,} parameters; {result.seconds:.0f}s"
          + ("; stopped early" if result.stopped_early else ""))
    print(f"wrote {out} and {out.with_suffix('.pt')}")
    return 0


def _option_value(text: str):
    """A family option's value: JSON where it parses (numbers, true, [128, 64]), else text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _progress_bar(p) -> None:
    width = 30
    filled = round(width * p.step / max(1, p.steps))
    validation = "" if p.validation is None else f"  validation {p.validation:.5f}"
    print(f"[{'#' * filled}{'.' * (width - filled)}] epoch {p.epoch:5.1f}  {p.phase}  loss {p.loss:.5f}"
          f"{validation}  {p.seconds:4.0f}s", flush=True)


def _record_metrics(task: str, result: dict) -> None:
    """Store an evaluation's tables in the manifest entries of the task's shipped models."""
    from .builds import update_manifest
    from .core import runtime

    metrics = {t["title"]: {"columns": t["columns"], "rows": t["rows"]} for t in result["tables"]}
    entries = {name: {**entry, "metrics": metrics} for name, entry in runtime.available_models().items()
               if entry["task"] == task or entry["task"].startswith(f"{task}-")
               and entry["task"].removeprefix(f"{task}-") in ("baseline", "judge")}
    update_manifest(runtime.PRETRAINED_DIR, entries)


def _print(result: dict, as_json: bool) -> None:
    from .evaluate import format_tables

    print(json.dumps(result) if as_json else format_tables(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    from .builds import BUILDS
    from .evaluate import EVALS
    from .tasks.studio.model import FAMILIES
    from .tasks.studio.serve import STUDIO_DATA, TRAINING_METHODS

    train = sub.add_parser("train", help="train, export and record shipped models, or train a studio "
                                         "model of the autoencoder family")
    train.add_argument("target", choices=sorted(BUILDS) + sorted(FAMILIES))
    train.add_argument("--scale", type=float, default=1.0, help="scale steps and data (0.01: smoke test)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", help="shipped models: a folder (default pretrained/); a family: the "
                                     "ONNX file (default FAMILY.onnx)")
    train.add_argument("--no-eval", action="store_true", help="skip recording metrics")
    family = train.add_argument_group("a family model")
    family.add_argument("--data", help=f"{' or '.join(STUDIO_DATA)}, or a folder or zip of images")
    family.add_argument("--epochs", type=int, default=10)
    family.add_argument("--code-size", type=int, default=32)
    family.add_argument("--side", type=int, default=28, help="users' images are resized to SIDE x SIDE")
    family.add_argument("--batch-size", type=int, default=128)
    family.add_argument("--lr", type=float, default=3e-3)
    family.add_argument("--patience", type=int, help="stop after this many epochs without a better "
                                                      "validation error")
    family.add_argument("--method", choices=TRAINING_METHODS, default="all-at-once")
    family.add_argument("--threads", type=int, help="torch CPU threads (default: every CPU this process "
                                                     "may use; 1 is faster on a busy machine)")
    family.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="a field of the family's config, e.g. penalty=kl, tied=true, noise=mask")
    ev = sub.add_parser("eval", help="evaluate on held-out data")
    ev.add_argument("task", choices=sorted(EVALS))
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--count", type=int, help="held-out characters to evaluate on (default: the task's)")
    ev.add_argument("--record", action="store_true", help="store the figures in pretrained/manifest.json")
    be = sub.add_parser("bench", help="latency of onnxruntime and eager torch")
    be.add_argument("--json", action="store_true")
    be.add_argument("--repeats", type=int, default=11)
    be.add_argument("--load-rounds", type=int, default=12, help="rounds of mixed requests for memory under load "
                                                                 "(0: skip)")
    be.add_argument("--models", nargs="+", metavar="NAME", help="only these shipped models (default: all)")
    be.add_argument("--no-baselines", action="store_true", help="skip timing non-local means and BM3D beside the "
                                                                 "photo denoiser (BM3D takes a minute or more)")
    sub.add_parser("optimize", help="apply the exporter's CPU graph rewrites to the shipped models, "
                                     "checked against the old graphs (no retraining)")
    quantize = sub.add_parser("quantize", help="make, judge and ship the int8 twins of the photo models")
    from .builds import INT8_RECIPES

    quantize.add_argument("--models", nargs="+", choices=sorted(INT8_RECIPES), help="only these (default: all)")
    args = parser.parse_args(argv)
    if args.command == "quantize":
        from .builds import quantize_shipped

        for name, v in quantize_shipped(models=args.models, progress=print).items():
            worst = v["figures"][v["worst"]]
            print(f"{name:16s} {'ships' if v['ships'] else 'not shipped'}: {v['float_ms']} -> {v['int8_ms']} ms "
                  f"(x{v['speedup']}); worst figure {v['worst']} {worst[0]} -> {worst[1]} (tolerance {v['tolerance']})")
        return 0
    if args.command == "train":
        return _train(args)
    if args.command == "optimize":
        from .builds import optimize_shipped

        for name, chains in optimize_shipped().items():
            print(f"{name:24s} {f'{chains} rewrite(s)' if chains else 'unchanged'}")
        return 0
    if args.command == "eval":
        result = EVALS[args.task](**({"count": args.count} if args.count else {}))
        _print(result, args.json)
        if args.record:
            _record_metrics(args.task, result)
    else:
        from .bench import bench
        try:
            result = bench(args.repeats, args.models, args.load_rounds, baselines=not args.no_baselines)
        except ValueError as err:   # an unknown model name
            print(err, file=sys.stderr)
            return 2
        _print(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
