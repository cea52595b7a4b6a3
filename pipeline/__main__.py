"""Command line: `python -m pipeline train|evaluate|analyze|fetch-data|bench`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline.config import DEFAULT_OUT, MODEL_NAMES, PROFILES, make_config
from pipeline.errors import PipelineError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train, evaluate and record the models")
    train.add_argument("--profile", choices=sorted(PROFILES), default="full")
    train.add_argument(
        "--models",
        nargs="+",
        choices=MODEL_NAMES,
        metavar="MODEL",
        help=f"subset of {', '.join(MODEL_NAMES)}",
    )
    train.add_argument("--data-dir", help="folder with one sub-folder per class")
    train.add_argument("--weights", help="imagenet (default), a .weights.h5 path, or hub:HANDLE")
    train.add_argument("--out", dest="out_dir", help=f"artifacts folder (default {DEFAULT_OUT})")
    train.add_argument("--seed", type=int)
    train.add_argument("--max-per-class", type=int, help="train on at most N images per class")
    train.add_argument("--exclude-file", help="file listing relative paths to leave out")
    train.add_argument("--cnn-epochs", type=int)
    train.add_argument("--frozen-epochs", type=int)
    train.add_argument("--finetune-epochs", type=int)
    train.add_argument("--cnn-input-size", type=int)
    train.add_argument("--mobilenet-input-size", type=int)
    train.add_argument("--frozen-mode", choices=["features", "end-to-end"])
    train.add_argument("--feature-views", type=int, choices=[1, 2])
    train.add_argument("--fresh", action="store_true", help="start a new run instead of resuming")

    evaluate = sub.add_parser("evaluate", help="re-score a run's models on its validation split")
    evaluate.add_argument("run", help="run folder, run id, or 'latest'")
    evaluate.add_argument("--out", dest="out_dir", default=str(DEFAULT_OUT))
    evaluate.add_argument("--data-dir")

    analyze = sub.add_parser(
        "analyze",
        help="(re)compute a run's significance, calibration, curves, suspects and Grad-CAM maps",
    )
    analyze.add_argument("run", help="run folder, run id, or 'latest'")
    analyze.add_argument("--out", dest="out_dir", default=str(DEFAULT_OUT))
    analyze.add_argument("--data-dir", help="the run's photos, for Grad-CAM (default: recorded)")

    fetch = sub.add_parser("fetch-data", help="download and clean the Microsoft PetImages archive")
    fetch.add_argument("--url", help="archive URL (file:// works)")
    fetch.add_argument("--dest", help="folder to extract into (default data/)")
    fetch.add_argument("--sha256", help="expected checksum of the archive")

    bench = sub.add_parser("bench", help="print training throughput and feature-cache speed-up")
    bench.add_argument("--data-dir")
    bench.add_argument("--weights")
    bench.add_argument("--images", type=int, default=1920)
    return parser


def _train(args) -> int:
    from pipeline.run import train_study

    overrides = {k: v for k, v in vars(args).items() if k not in ("command", "profile", "fresh")}
    if overrides.get("models"):
        overrides["models"] = tuple(overrides["models"])
    try:
        config = make_config(args.profile, **overrides)
    except ValueError as err:
        raise PipelineError(str(err)) from None
    train_study(config, fresh=args.fresh)
    return 0


def _evaluate(args) -> int:
    from pipeline.run import evaluate_run, resolve_run

    evaluate_run(resolve_run(Path(args.out_dir), args.run), args.data_dir)
    return 0


def _analyze(args) -> int:
    from pipeline.run import analyze_run, resolve_run

    analyze_run(resolve_run(Path(args.out_dir), args.run), args.data_dir)
    return 0


def _fetch(args) -> int:
    from pipeline.fetch import fetch_dataset

    fetch_dataset(url=args.url, dest=args.dest, sha256=args.sha256)
    return 0


def _bench(args) -> int:
    from pipeline.bench import main as bench_main

    bench_main(args)
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _parser().parse_args(argv)
    handler = {
        "train": _train,
        "evaluate": _evaluate,
        "analyze": _analyze,
        "fetch-data": _fetch,
        "bench": _bench,
    }
    try:
        return handler[args.command](args)
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\ninterrupted: finished models are kept; run the same command again to resume.",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
