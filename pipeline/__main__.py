"""Command line: `python -m pipeline COMMAND`; `--help` lists the commands.

Each command imports its workflow inside its handler, so `--help`, `verify --skip-models`,
`compare` and `cache` start without loading TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline.config import DEFAULT_OUT, EXPORT_FORMATS, make_config
from pipeline.errors import PipelineError
from pipeline.flags import add_config_flags


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _training_commands(sub)
    _run_commands(sub)
    _tool_commands(sub)
    return parser


def _training_commands(sub) -> None:
    """`train` and `sweep`: their flags are RunConfig's fields (`pipeline.flags`)."""
    train = sub.add_parser("train", help="train, evaluate and record the models")
    add_config_flags(train)
    train.add_argument("--fresh", action="store_true", help="start a new run instead of resuming")
    train.add_argument(
        "--repeats",
        type=int,
        metavar="K",
        help="train K repeats with training seeds derived from --seed, the split fixed, and "
        "say which differences beat seed noise (the same command resumes the group)",
    )
    _no_wait(train)
    _ray(train)

    sweep = sub.add_parser(
        "sweep", help="train a grid of settings as ordinary runs (--set KEY=V1,V2, repeatable)"
    )
    sweep.add_argument("--set", dest="grid", action="append", required=True, metavar="KEY=V1,V2")
    for action in train._actions:
        if action.dest not in ("help", "fresh") and action.option_strings:
            sweep._add_action(action)


def _a_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run folder, run id, or 'latest'")
    parser.add_argument("--out", dest="out_dir", default=str(DEFAULT_OUT))


def _run_commands(sub) -> None:
    """What works on finished runs: evaluate, analyze, verify, compare."""
    evaluate = sub.add_parser("evaluate", help="re-score a run's models on its validation split")
    _a_run(evaluate)
    evaluate.add_argument("--data-dir")
    _no_wait(evaluate)
    _ray(evaluate)

    analyze = sub.add_parser(
        "analyze",
        help="(re)compute a run's significance, calibration, curves, suspects and Grad-CAM maps",
    )
    _a_run(analyze)
    analyze.add_argument("--data-dir", help="the run's photos, for Grad-CAM (default: recorded)")
    analyze.add_argument(
        "--robustness",
        action="store_true",
        help="also score every model under corruptions (JPEG, blur, noise, ...; minutes)",
    )
    analyze.add_argument(
        "--resize-gap",
        action="store_true",
        help="also score every validation photo resized the TensorFlow way (minutes)",
    )
    _no_wait(analyze)
    _ray(analyze)

    verify = sub.add_parser("verify", help="check a run against its manifest (exit 1 if not)")
    _a_run(verify)
    verify.add_argument("--skip-models", action="store_true", help="do not load the models")

    export = sub.add_parser(
        "export", help="write a run's models as files that run without this project"
    )
    _a_run(export)
    export.add_argument("--models", nargs="+", help="which of the run's models (default: all)")
    export.add_argument(
        "--format",
        dest="formats",
        nargs="+",
        choices=EXPORT_FORMATS,
        default=["savedmodel"],
        help="savedmodel (TensorFlow), openvino (IR), onnx; several at once are fine",
    )
    export.add_argument("--to", help="folder (default: <artifacts>/exports/<run id>)")
    export.add_argument("--force", action="store_true", help="replace existing exports")

    compare = sub.add_parser("compare", help="compare runs: accuracy, paired tests, what differs")
    compare.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="two or more runs (ids or paths), or two repeat groups (ids from train --repeats)",
    )
    compare.add_argument("--out", dest="out_dir", default=str(DEFAULT_OUT))
    compare.add_argument("--format", choices=["table", "json"], default="table")


def _tool_commands(sub) -> None:
    """The caches, the dashboard, the data download and the benchmarks."""
    cache = sub.add_parser("cache", help="show the cache size; --prune drops what no run uses")
    cache.add_argument("--out", dest="out_dir", default=str(DEFAULT_OUT))
    cache.add_argument("--prune", action="store_true")
    cache.add_argument("--dry-run", action="store_true", help="with --prune: only report")
    _no_wait(cache)

    dash = sub.add_parser(
        "dashboard", help="serve the dashboard (streamlit) for an artifacts folder"
    )
    dash.add_argument("--out", dest="out_dir", default=str(DEFAULT_OUT), help="artifacts folder")
    dash.add_argument("--port", type=int, default=8501)
    dash.add_argument("--address", default="localhost", help="0.0.0.0 to serve other machines")

    fetch = sub.add_parser("fetch-data", help="download and clean the Microsoft PetImages archive")
    fetch.add_argument("--url", help="archive URL (file:// works)")
    fetch.add_argument("--dest", help="folder to extract into (default data/)")
    fetch.add_argument("--sha256", help="expected checksum of the archive")

    bench = sub.add_parser("bench", help="print training throughput and feature-cache speed-up")
    bench.add_argument("--data-dir")
    bench.add_argument("--weights")
    bench.add_argument("--images", type=int, default=1920)

    classes = sub.add_parser(
        "bench-classes",
        help="per-photo training, scoring and record-keeping cost of N classes against two",
    )
    classes.add_argument("--data-dir", required=True, help="a folder of 3 or more classes")
    classes.add_argument("--images", type=int, default=256, help="photos per class")

    engines = sub.add_parser(
        "bench-inference",
        help="TensorFlow, ONNX Runtime and OpenVINO: extraction photos/s, and with --run "
        "every model's photos/s and answers on all its validation photos",
    )
    engines.add_argument("--data-dir")
    engines.add_argument("--weights")
    engines.add_argument("--images", type=int, default=320, help="photos for the extraction")
    engines.add_argument("--run", help="a run whose models to score on both engines")
    engines.add_argument("--rounds", type=int, default=3, help="timed passes per engine")

    bench_ray = sub.add_parser(
        "bench-ray",
        help="photo throughput on a local Ray with 1 and 2 workers; with --run, a projection "
        "of that run to 10x and 100x the photos on 1, 4 and 16 nodes",
    )
    bench_ray.add_argument("--data-dir")
    bench_ray.add_argument("--weights")
    bench_ray.add_argument("--images", type=int, default=512)
    bench_ray.add_argument("--run", help="a full in-process run whose epoch costs to project")
    bench_ray.add_argument("--out", dest="out_dir", default=str(DEFAULT_OUT))


def _no_wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="fail at once if another command is writing to the artifacts folder",
    )


def _ray(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ray",
        metavar="auto|HOST:PORT",
        help="run on Ray: 'auto' starts a local instance, HOST:PORT joins a cluster "
        "(needs `pip install petcompare[ray]`; artifacts on a path every node sees)",
    )


def _cluster(args):
    from pipeline.distributed.cluster import maybe_connect

    return maybe_connect(args.ray)


def _say_cluster(cluster) -> None:
    if cluster is not None:
        print(f"Ray: {cluster.describe()}", flush=True)


def _train(args) -> int:
    from pipeline.workflows.study import train_study

    config = _config_from(args, ("command", "profile", "fresh", "no_wait", "ray", "repeats"))
    with _cluster(args) as cluster:
        _say_cluster(cluster)
        if args.repeats is not None:
            from pipeline.workflows.repeats import run_repeats

            if args.fresh:
                raise PipelineError("--fresh and --repeats do not go together")
            run_repeats(config, args.repeats, cluster=cluster, wait=not args.no_wait)
        else:
            train_study(config, fresh=args.fresh, wait=not args.no_wait, cluster=cluster)
    return 0


def _config_from(args, skip: tuple[str, ...]):
    overrides = {k: v for k, v in vars(args).items() if k not in skip}
    for key in ("models", "external"):
        if overrides.get(key) is not None:
            overrides[key] = tuple(overrides[key])
    try:
        return make_config(args.profile or "full", **overrides)
    except ValueError as err:
        raise PipelineError(str(err)) from None


def _sweep(args) -> int:
    from pipeline.workflows.sweep import parse_grid, run_sweep

    base = _config_from(args, ("command", "profile", "grid", "no_wait", "ray", "repeats"))
    grid = parse_grid(args.grid, base)
    if args.repeats is not None:
        if args.repeats < 2:
            raise PipelineError(f"--repeats needs 2 or more (got {args.repeats})")
        grid["repeat"] = list(range(args.repeats))  # each point, K times
    with _cluster(args) as cluster:
        _say_cluster(cluster)
        run_sweep(base, grid, cluster=cluster, wait=not args.no_wait)
    return 0


def _evaluate(args) -> int:
    from pipeline.store.runs import resolve_run
    from pipeline.workflows.rescore import evaluate_run

    run = resolve_run(Path(args.out_dir), args.run)
    with _cluster(args) as cluster:
        _say_cluster(cluster)
        evaluate_run(run, args.data_dir, wait=not args.no_wait, cluster=cluster)
    return 0


def _analyze(args) -> int:
    from pipeline.store.runs import resolve_run
    from pipeline.workflows.rescore import analyze_run

    run = resolve_run(Path(args.out_dir), args.run)
    with _cluster(args) as cluster:
        _say_cluster(cluster)
        analyze_run(
            run,
            args.data_dir,
            wait=not args.no_wait,
            cluster=cluster,
            robustness=args.robustness,
            resize_gap=args.resize_gap,
        )
    return 0


def _verify(args) -> int:
    from pipeline.store.runs import resolve_run
    from pipeline.workflows.verify import verify_run

    run = resolve_run(Path(args.out_dir), args.run)
    problems = verify_run(run, load_models=not args.skip_models)
    if not problems:
        print(f"verified: {run.path}")
        return 0
    print(f"run {run.path} does not match its manifest:")
    for problem in problems:
        print(f"  - {problem}")
    return 1


def _export(args) -> int:
    from pipeline.store.runs import resolve_run
    from pipeline.workflows.export import export_run

    run = resolve_run(Path(args.out_dir), args.run)
    done = export_run(
        run,
        names=args.models,
        formats=tuple(args.formats),
        to=Path(args.to) if args.to else None,
        force=args.force,
    )
    skipped = [f"{m} {f}" for m, by in done.items() for f, v in by.items() if v.startswith("skip")]
    return 1 if skipped and len(skipped) == sum(len(by) for by in done.values()) else 0


def _compare(args) -> int:
    from pipeline.evaluation.compare import compare_runs, render
    from pipeline.store.runs import resolve_run

    if len(args.runs) < 2:
        raise PipelineError("compare needs two runs or more: the first is compared with each")
    if _compare_groups(args):
        return 0
    runs = [resolve_run(Path(args.out_dir), ref) for ref in args.runs]
    try:
        results = [compare_runs(runs[0], other) for other in runs[1:]]
    except (artifacts_error(), OSError, KeyError) as err:
        raise PipelineError(f"cannot compare these runs: {err}") from None
    print(render(results, args.format))
    return 0


def _compare_groups(args) -> bool:
    """`compare GROUP_A GROUP_B`: two repeat groups (`train --repeats`); False for runs."""
    import json

    from pipeline.workflows.repeats import compare_groups, describe_change, read_group

    out = Path(args.out_dir)
    groups = [read_group(out, ref) for ref in args.runs]
    if not any(groups):
        return False
    if not all(groups) or len(groups) != 2:
        raise PipelineError("compare takes two repeat groups, or runs only, not a mix")
    try:
        result = compare_groups(out, groups[0], groups[1])
    except (artifacts_error(), OSError, KeyError) as err:
        raise PipelineError(f"cannot compare these groups: {err}") from None
    print(json.dumps(result, indent=2) if args.format == "json" else describe_change(result))
    return True


def artifacts_error():
    from pipeline.store.artifacts import ArtifactError

    return ArtifactError


def _dashboard(args) -> int:
    """The dashboard runs as its own program: the pipeline never imports it."""
    import subprocess

    from pipeline.config import PACKAGE_ROOT

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "dashboard", "--out", args.out_dir, "--port", str(args.port)]
    return subprocess.call([*command, "--address", args.address], env=env)


def _cache(args) -> int:
    from pipeline.store.prune import cache_size, prune_cache

    out_dir = Path(args.out_dir)
    before = cache_size(out_dir)
    print(f"cache under {out_dir}: {before / 1e6:,.1f} MB")
    if args.prune:
        report = prune_cache(out_dir, args.dry_run, wait=not args.no_wait)
        verb = "would free" if args.dry_run else "freed"
        print(
            f"{verb} {report.freed_bytes / 1e6:,.1f} MB: {report.removed_folders} store(s) no run "
            f"uses, {report.removed_shards} shard(s) removed, {report.rewritten_shards} rewritten"
        )
    return 0


def _fetch(args) -> int:
    from pipeline.data.fetch import fetch_dataset

    fetch_dataset(url=args.url, dest=args.dest, sha256=args.sha256)
    return 0


def _bench(args) -> int:
    from pipeline.workflows.bench import main as bench_main

    bench_main(args)
    return 0


def _bench_classes(args) -> int:
    from pipeline.workflows.bench_classes import main as bench_main

    bench_main(args)
    return 0


def _bench_inference(args) -> int:
    from pipeline.workflows.bench_inference import main as bench_main

    bench_main(args)
    return 0


def _bench_ray(args) -> int:
    from pipeline.distributed.ray_bench import main as bench_main

    bench_main(args)
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _parser().parse_args(argv)
    handler = {
        "train": _train,
        "evaluate": _evaluate,
        "analyze": _analyze,
        "verify": _verify,
        "compare": _compare,
        "export": _export,
        "sweep": _sweep,
        "dashboard": _dashboard,
        "cache": _cache,
        "fetch-data": _fetch,
        "bench": _bench,
        "bench-inference": _bench_inference,
        "bench-classes": _bench_classes,
        "bench-ray": _bench_ray,
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
