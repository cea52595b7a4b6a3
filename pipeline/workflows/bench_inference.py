"""`python -m pipeline bench-inference`: TensorFlow against OpenVINO on the same work.

1. MobileNetV2 feature extraction (pooled features, the run's input size, batches of the
   inference batch) on real photos decoded beforehand, so only the network is timed: photos/s
   on each engine, timed in turn (A, B, A, B, ...) so host noise hits both, and the largest
   feature difference.
2. With `--run`: every model of that run on every one of its validation photos, both engines:
   photos/s, the largest probability difference, the answers that differ and how many of
   those lie within the tolerance of the decision threshold.

Prints figures with the CPU they were measured on; nothing is asserted, so it belongs in a
benchmark run, not in the test suite.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from pipeline.config import default_data_dir, make_config
from pipeline.data.dataset import load_dataset
from pipeline.data.images import load_model_input
from pipeline.environment import cpu_description
from pipeline.modeling import features, models, saved_models
from pipeline.modeling.engine import OPENVINO
from pipeline.modeling.forward import Forward, engine_for
from pipeline.modeling.predict import Scorer
from pipeline.modeling.weights import resolve_weights
from pipeline.store import artifacts
from pipeline.store.predictions import predicted_classes

TOLERANCE = 1e-4
ROUNDS = 3  # timed passes per engine, in turn


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


def extraction(config, photos: np.ndarray) -> dict[str, float]:
    """Feature extraction photos/s on both engines, the conversion's seconds and the largest
    feature difference."""
    weights = resolve_weights(config.weights, config.mobilenet_input_size, config.imagenet_base_url)
    ext = features.extractor(models.build_mobilenetv2(config.mobilenet_input_size, weights), None)
    start = time.perf_counter()
    openvino = Forward(ext, engine=engine_for("openvino"))
    convert = time.perf_counter() - start
    if openvino.backend != OPENVINO:
        raise SystemExit(f"OpenVINO does not run here: {openvino.note or engine_for('openvino')}")
    tensorflow = Forward(ext, engine=None)
    batches = _batches(photos, config.inference_batch_size)
    tensorflow(batches[0]), openvino(batches[0])  # warm-up: tracing, first allocations
    rates = _rates(
        {
            "tensorflow": lambda: [tensorflow(b) for b in batches],
            "openvino": lambda: [openvino(b) for b in batches],
        },
        len(photos),
    )
    diff = max(float(np.abs(tensorflow(b)[0] - openvino(b)[0]).max()) for b in batches)
    return rates | {"convert_s": convert, "largest_feature_difference": diff}


def end_to_end_extraction(config, dataset, samples) -> dict[str, float]:
    """Photos/s of the run's own extraction (decoding, resizing, the network, the cache
    writes) into an empty cache, on each engine in turn."""
    import tempfile

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

    with tempfile.TemporaryDirectory() as kept:  # converted once, as a run's cache keeps it
        openvino = engine_for("openvino", cache_dir=kept)
        extract(openvino)()
        return _rates({"tensorflow": extract(None), "openvino": extract(openvino)}, len(samples))


def _both_engines(model, batches: list[np.ndarray], n_photos: int) -> dict:
    """One model's photos/s on both engines and how far apart their answers are."""
    engines = {
        "tensorflow": Scorer(model, engine=None),
        "openvino": Scorer(model, engine=engine_for("openvino")),
    }
    for scorer in engines.values():
        scorer.score(batches[:1])  # warm-up: compiling, tracing, first allocations
    scored: dict[str, np.ndarray] = {}

    def pass_of(engine: str, scorer: Scorer):
        return lambda: scored.__setitem__(engine, scorer.score(batches)[0])

    rates = _rates({e: pass_of(e, s) for e, s in engines.items()}, n_photos)
    p_tf, p_ov = scored["tensorflow"], scored["openvino"]
    changed = predicted_classes(p_tf) != predicted_classes(p_ov)
    margin = np.abs(p_tf - 0.5) if p_tf.ndim == 1 else _top_two_gap(p_tf)
    return rates | {
        "photos": n_photos,
        "engine": engines["openvino"].compiled().backend,
        "largest_probability_difference": float(np.abs(p_tf - p_ov).max()),
        "answers_that_differ": int(changed.sum()),
        "near_threshold": int((changed & (margin < TOLERANCE)).sum()),
    }


def agreement(run: artifacts.Run) -> dict[str, dict]:
    """Per model of `run`: photos/s on both engines over every validation photo, and how far
    their answers are apart."""
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
        results[name] = _both_engines(model, _batches(decoded[size], batch), len(val))
    return results


def _top_two_gap(p: np.ndarray) -> np.ndarray:
    """How far each N-class answer is from a tie: its two largest probabilities' gap."""
    top = np.sort(p, axis=1)[:, -2:]
    return top[:, 1] - top[:, 0]


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
    print(f"{cpu['cpu']} ({' '.join(cpu['cpu_flags'])}), {cpu['cpu_count']} cores")
    found = extraction(config, photos.astype(np.float32))
    print(
        f"MobileNetV2 feature extraction at {size[0]} px, batches of "
        f"{config.inference_batch_size}, {len(photos)} real photos: TensorFlow "
        f"{found['tensorflow']:.1f} photos/s, OpenVINO {found['openvino']:.1f} photos/s "
        f"({found['openvino'] / found['tensorflow']:.2f}x); conversion {found['convert_s']:.1f} s; "
        f"features within {found['largest_feature_difference']:.1e}"
    )
    whole = end_to_end_extraction(config, dataset, samples)
    print(
        f"the same photos through a run's extraction (decoding and cache writes included): "
        f"TensorFlow {whole['tensorflow']:.1f} photos/s, OpenVINO {whole['openvino']:.1f} "
        f"photos/s ({whole['openvino'] / whole['tensorflow']:.2f}x)"
    )
    results = {"extraction": found, "end_to_end_extraction": whole}
    if args.run:
        run = artifacts.read_run(Path(args.run))
        results["models"] = agreement(run)
        for name, row in results["models"].items():
            print(
                f"{name} on all {row['photos']:,} validation photos: TensorFlow "
                f"{row['tensorflow']:.1f} photos/s, {row['engine']} {row['openvino']:.1f} "
                f"({row['openvino'] / row['tensorflow']:.2f}x); probabilities within "
                f"{row['largest_probability_difference']:.1e}; "
                f"{row['answers_that_differ']} answer(s) differ, "
                f"{row['near_threshold']} of them within "
                f"{TOLERANCE:g} of the threshold"
            )
    return results
