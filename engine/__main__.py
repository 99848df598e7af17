"""The command line.

  python -m engine train all|denoiser|anomaly [--scale 1.0] [--out DIR]   rebuild models
  python -m engine eval denoise|anomaly [--json] [--count N] [--record]
  python -m engine bench [--json]                                   onnxruntime vs torch latency
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _train(args: argparse.Namespace) -> int:
    from . import runtime
    from .builds import BuildOptions, build

    def progress(p) -> None:
        print(f"  step {p.step:>6}/{p.steps}  loss {p.loss:.5f}  {p.seconds:6.0f}s", flush=True)

    out = Path(args.out)
    command = f"python -m engine train {args.target}"
    if args.scale != 1.0:
        command += f" --scale {args.scale}"
    opts = BuildOptions(out_dir=out, scale=args.scale, seed=args.seed, progress=progress)
    entries = build(args.target, opts, command)
    for name, entry in entries.items():
        print(f"wrote {out / entry['file']}  sha256 {entry['sha256'][:12]}…")
    if out.resolve() == runtime.PRETRAINED_DIR and not args.no_eval:
        from .evaluate import EVALS

        for task in sorted({e["task"] for e in entries.values()} & set(EVALS)):
            result = EVALS[task]()
            _print(result, as_json=False)
            _record_metrics(task, result)
    return 0


def _record_metrics(task: str, result: dict) -> None:
    """Store an evaluation's tables in the manifest entries of the task's shipped models."""
    from . import runtime
    from .builds import update_manifest

    metrics = {t["title"]: {"columns": t["columns"], "rows": t["rows"]} for t in result["tables"]}
    entries = {name: {**entry, "metrics": metrics} for name, entry in runtime.available_models().items()
               if entry["task"].startswith(task)}
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

    train = sub.add_parser("train", help="train, export and record shipped models")
    train.add_argument("target", choices=sorted(BUILDS))
    train.add_argument("--scale", type=float, default=1.0, help="scale steps and data (0.01: smoke test)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "pretrained"))
    train.add_argument("--no-eval", action="store_true", help="skip recording metrics")
    ev = sub.add_parser("eval", help="evaluate on held-out data")
    ev.add_argument("task", choices=sorted(EVALS))
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--count", type=int, help="held-out characters to evaluate on (default: the task's)")
    ev.add_argument("--record", action="store_true", help="store the figures in pretrained/manifest.json")
    be = sub.add_parser("bench", help="latency of onnxruntime and eager torch")
    be.add_argument("--json", action="store_true")
    be.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if args.command == "train":
        return _train(args)
    if args.command == "eval":
        result = EVALS[args.task](**({"count": args.count} if args.count else {}))
        _print(result, args.json)
        if args.record:
            _record_metrics(args.task, result)
    else:
        from .evaluate import bench
        _print(bench(args.repeats), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
