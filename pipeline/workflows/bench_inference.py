"""`python -m pipeline bench-inference`: TensorFlow, ONNX Runtime and OpenVINO on the same work.

1. MobileNetV2 feature extraction (pooled features, the run's input size, batches of the
   inference batch) on real photos decoded beforehand, so only the network is timed: photos/s
   on each engine, timed in turn (A, B, C, A, B, C, ...) so host noise hits all, and the
   largest feature difference from TensorFlow's; then the same photos through a run's whole
   extraction (decoding and cache writes included).
2. With `--run`: every model of that run on every one of its validation photos, each engine:
   photos/s, the largest probability difference from TensorFlow's, the answers that differ
   and how many of those lie within the tolerance of the decision threshold.

Prints figures with the CPU they were measured on; nothing is asserted, so it belongs in a
benchmark run, not in the test suite.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from pipeline.config import default_data_dir, make_config
from pipeline.data.dataset import load_dataset
from pipeline.data.images import load_model_input
from pipeline.environment import cpu_description
from pipeline.modeling import features, models, saved_models
from pipeline.modeling.engine import ONNXRUNTIME, OPENVINO, TENSORFLOW
from pipeline.modeling.forward import Forward, engine_for
from pipeline.modeling.predict import Scorer
from pipeline.modeling.weights import resolve_weights
from pipeline.store import artifacts
from pipeline.store.predictions import predicted_classes

TOLERANCE = 1e-4
ROUNDS = 3  # timed passes per engine, in turn
ENGINES = (TENSORFLOW, ONNXRUNTIME, OPENVINO)


def _batches(x: np.ndarray, batch: int):
    return [x[i : i + batch] for i in range(0, len(x), batch)]


def _rates(passes: dict, n_photos: int, rounds: int = ROUNDS) -> dict[str, float]:
    """Photos/s of each of `passes` (name -> callable over all photos), best of `rounds`
    passes taken in turn."""
    best = dict.fromkeys(passes, float("inf"))
    for _ in range(rounds):
        for name, run_pass in passes.items():
            start = time.perf_counter()
            run_pass()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: n_photos / seconds for name, seconds in best.items()}


def _engine(name: str, cache_dir=None):
    return None if name == TENSORFLOW else engine_for(name, cache_dir=cache_dir)


def extraction(config, photos: np.ndarray) -> dict[str, dict]:
    """Per engine: feature extraction photos/s, the conversion's seconds and the largest
    feature difference from TensorFlow's."""
    weights = resolve_weights(config.weights, config.mobilenet_input_size, config.imagenet_base_url)
    ext = features.extractor(models.build_mobilenetv2(config.mobilenet_input_size, weights), None)
    batches = _batches(photos, config.inference_batch_size)
    forwards, found = {}, {}
    for name in ENGINES:
        start = time.perf_counter()
        forwards[name] = Forward(ext, engine=_engine(name))
        found[name] = {"convert_s": time.perf_counter() - start}
        forwards[name](batches[0])  # warm-up: tracing, first allocations
    passes = {n: (lambda f=f: [f(b) for b in batches]) for n, f in forwards.items()}
    for name, rate in _rates(passes, len(photos)).items():
        reference = [forwards[TENSORFLOW](b)[0] for b in batches[:4]]
        mine = [forwards[name](b)[0] for b in batches[:4]]
        diff = max(float(np.abs(a - b).max()) for a, b in zip(reference, mine, strict=True))
        found[name] |= {"photos_per_s": rate, "difference": diff, "ran_on": forwards[name].backend}
    return found


def end_to_end_extraction(config, dataset, samples) -> dict[str, float]:
    """Photos/s of the run's own extraction (decoding, resizing, the network, the cache
    writes) into an empty cache, on each engine in turn (models converted beforehand, as a
    run's cache keeps them)."""
    weights = resolve_weights(config.weights, config.mobilenet_input_size, config.imagenet_base_url)
    model = models.build_mobilenetv2(config.mobilenet_input_size, weights)

    def extract(engine):
        def run_pass():
            with tempfile.TemporaryDirectory() as cache:
                features.load_or_extract(
                    model,
                    Path(cache),
                    weights.sha256,
                    root=dataset.root,
                    samples=samples,
                    input_size=config.mobilenet_input_size,
                    batch_size=config.inference_batch_size,
                    cut_layer=None,
                    engine=engine,
                )

        return run_pass

    with tempfile.TemporaryDirectory() as kept:
        engines = {name: _engine(name, kept) for name in ENGINES}
        for engine in engines.values():
            extract(engine)()  # converts once into `kept`
        return _rates({n: extract(e) for n, e in engines.items()}, len(samples), rounds=2)


def _every_engine(model, batches: list[np.ndarray], *, n_photos: int, rounds: int) -> dict:
    """One model's photos/s on each engine and how far their answers are from TensorFlow's."""
    scorers = {name: Scorer(model, engine=_engine(name)) for name in ENGINES}
    for scorer in scorers.values():
        scorer.score(batches[:1])  # warm-up: compiling, tracing, first allocations
    scored: dict[str, np.ndarray] = {}

    def pass_of(engine: str, scorer: Scorer):
        return lambda: scored.__setitem__(engine, scorer.score(batches)[0])

    rates = _rates({e: pass_of(e, s) for e, s in scorers.items()}, n_photos, rounds)
    p_tf = scored[TENSORFLOW]
    margin = np.abs(p_tf - 0.5) if p_tf.ndim == 1 else _top_two_gap(p_tf)
    rows = {}
    for name, p in scored.items():
        changed = predicted_classes(p_tf) != predicted_classes(p)
        rows[name] = {
            "photos_per_s": rates[name],
            "ran_on": scorers[name].compiled().backend,
            "difference": float(np.abs(p_tf - p).max()),
            "answers_that_differ": int(changed.sum()),
            "near_threshold": int((changed & (margin < TOLERANCE)).sum()),
        }
    return rows


def agreement(run: artifacts.Run, rounds: int = ROUNDS) -> dict[str, dict]:
    """Per model of `run`: each engine's photos/s over every validation photo, and how far
    its answers are from TensorFlow's."""
    root = run.manifest["dataset"]["root"]
    val = run.split().query("split == 'val'").sort_values("path")
    batch = int(run.manifest["config"].get("inference_batch_size", 16))
    decoded: dict[tuple, np.ndarray] = {}
    results = {}
    for name in run.model_names():
        model = saved_models.load(run.model_path(name))
        size = tuple(model.input_shape[1:3])
        if size not in decoded:
            decoded[size] = np.stack(
                [load_model_input(Path(root) / p, size) for p in val.path]
            ).astype(np.float32)
        batches = _batches(decoded[size], batch)
        results[name] = {"photos": len(val)} | _every_engine(
            model, batches, n_photos=len(val), rounds=rounds
        )
    return results


def _top_two_gap(p: np.ndarray) -> np.ndarray:
    """How far each N-class answer is from a tie: its two largest probabilities' gap."""
    top = np.sort(p, axis=1)[:, -2:]
    return top[:, 1] - top[:, 0]


def _ratios(rates: dict[str, float]) -> str:
    tf = rates[TENSORFLOW]
    return ", ".join(f"{n} {r:.1f}/s ({r / tf:.2f}x)" for n, r in rates.items())


def main(args) -> dict:
    config = make_config("full", weights=args.weights or "imagenet")
    data_dir = args.data_dir or str(default_data_dir())
    dataset = load_dataset(
        Path(data_dir),
        seed=config.seed,
        val_fraction=config.val_fraction,
        max_per_class=args.images,
    )
    size = (config.mobilenet_input_size,) * 2
    samples = dataset.train[: args.images]
    photos = np.stack([load_model_input(Path(dataset.root) / s.path, size) for s in samples])
    cpu = cpu_description()
    print(f"{cpu['cpu']} ({' '.join(cpu['cpu_flags'])}), {cpu['cpu_count']} cores", flush=True)
    found = extraction(config, photos.astype(np.float32))
    print(
        f"MobileNetV2 feature extraction at {size[0]} px, batches of "
        f"{config.inference_batch_size}, {len(photos)} real photos, network only: "
        + _ratios({n: f["photos_per_s"] for n, f in found.items()}),
        flush=True,
    )
    for name, row in found.items():
        print(
            f"  {name}: ran on {row['ran_on']}, converted in {row['convert_s']:.1f} s, "
            f"features within {row['difference']:.1e} of TensorFlow's"
        )
    whole = end_to_end_extraction(config, dataset, samples)
    print("the same photos through a run's whole extraction: " + _ratios(whole), flush=True)
    results = {"extraction": found, "end_to_end_extraction": whole}
    if args.run:
        run = artifacts.read_run(Path(args.run))
        results["models"] = agreement(run, args.rounds)
        for name, rows in results["models"].items():
            rates = {n: r["photos_per_s"] for n, r in rows.items() if n != "photos"}
            print(f"{name} on all {rows['photos']:,} validation photos: " + _ratios(rates))
            for engine in (ONNXRUNTIME, OPENVINO):
                row = rows[engine]
                print(
                    f"  {engine} (ran on {row['ran_on']}): probabilities within "
                    f"{row['difference']:.1e}; {row['answers_that_differ']} answer(s) differ, "
                    f"{row['near_threshold']} of them within {TOLERANCE:g} of the threshold",
                    flush=True,
                )
    return results
