"""`python -m pipeline bench`: training throughput per model and the feature-cache speed-up.

Runs on a small real sample of the data folder and prints figures; nothing is
asserted, so it belongs in a benchmark run, not in the test suite.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from pipeline.config import default_data_dir, make_config
from pipeline.data.dataset import image_dataset, load_dataset
from pipeline.data.photo_size import cnn_input_for
from pipeline.environment import environment
from pipeline.evaluation.evaluate import single_image_latency_ms
from pipeline.modeling import features, models
from pipeline.modeling.train import build_cnn, compile_model, cut_layer_name, train_val_data
from pipeline.modeling.weights import resolve_weights


def _images_per_second(model, data, n_images: int) -> float:
    it = iter(data)
    model.train_on_batch(*next(it))  # warm-up: tracing and first-batch costs
    start, seen = time.perf_counter(), 0
    for x, y in it:
        model.train_on_batch(x, y)
        seen += len(y)
    return seen / (time.perf_counter() - start) if seen else float("nan")


def _incremental_cache(dataset, size: int, batch: int, added: int = 100) -> dict[str, float]:
    """Photos decoded and seconds spent when the folder grows by `added` photos."""
    base, extra = dataset.train[:-added], dataset.train[-added:]
    results = {}
    with tempfile.TemporaryDirectory() as cache:
        for label, samples in (
            (f"first {len(base)} photos", base),
            (f"+{added} photos", base + extra),
        ):
            decoded: list[int] = []
            start = time.perf_counter()
            features.load_or_decode(
                cache,
                dataset.root,
                samples,
                input_size=size,
                batch_size=batch,
                progress=decoded.append,
            )
            results[f"pixel cache, {label}: photos decoded"] = sum(decoded)
            results[f"pixel cache, {label}: seconds"] = time.perf_counter() - start
    return results


def main(args) -> dict:
    data_dir = args.data_dir or str(default_data_dir())
    config = make_config(
        "quick",
        data_dir=data_dir,
        weights=args.weights,
        max_per_class=max(64, args.images // 2),
    )
    dataset = load_dataset(Path(data_dir), config.seed, 0.01, max_per_class=config.max_per_class)
    weights = resolve_weights(config.weights, config.mobilenet_input_size, config.imagenet_base_url)
    results: dict[str, float] = {}
    # Whole batches only: a smaller last batch would be traced anew inside the timed loop.
    dataset.train = dataset.train[: len(dataset.train) // config.batch_size * config.batch_size]
    print(f"{len(dataset.train)} training images from {data_dir}, batch {config.batch_size}")

    size = cnn_input_for(config.cnn_input_size, dataset.typical_side)
    config = config.replace(cnn_input_size=size)
    classes = len(dataset.class_names)
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        x, y = features.load_or_decode(
            cache,
            dataset.root,
            dataset.train,
            input_size=size,
            batch_size=config.inference_batch_size,
        )
        results[f"decode photos once at {size}px img/s"] = len(x) / (time.perf_counter() - start)
        for name in ("cnn3", "cnn4"):
            model = build_cnn(name, config, num_classes=classes)
            compile_model(model, 1e-3)
            cached = features.array_dataset(x, y, config.batch_size, seed=config.seed, flip=True)
            rate = _images_per_second(model, cached, len(x))
            results[f"{name} train img/s (cached photos)"] = rate
            compile_model(model, 1e-3)
            train, _ = train_val_data(config, dataset, size, augment=True)
            on_the_fly = _images_per_second(model, train, len(x))
            results[f"{name} train img/s (decoding every epoch)"] = on_the_fly
            results[f"{name} speed-up of cached photos"] = rate / on_the_fly

    results.update(_incremental_cache(dataset, size, config.inference_batch_size))

    frozen = models.build_mobilenetv2(config.mobilenet_input_size, weights, num_classes=classes)
    compile_model(frozen, 1e-3)
    train, _ = train_val_data(config, dataset, config.mobilenet_input_size, augment=True)
    e2e = _images_per_second(frozen, train, len(dataset.train))
    results["mobilenetv2_frozen end-to-end train img/s"] = e2e

    finetune = models.build_mobilenetv2(config.mobilenet_input_size, weights, num_classes=classes)
    models.unfreeze_top(finetune, config.finetune_layers)
    compile_model(finetune, 1e-5)
    results["mobilenetv2_finetuned end-to-end train img/s"] = _images_per_second(
        finetune, train, len(dataset.train)
    )

    ext = features.extractor(frozen, cut_layer_name(frozen, config.finetune_layers))
    shape = (config.mobilenet_input_size,) * 2
    ext.predict_on_batch(np.zeros((config.inference_batch_size, *shape, 3), np.float32))
    start = time.perf_counter()
    outputs = [
        ext.predict_on_batch(x)
        for x, _ in image_dataset(
            dataset.root, dataset.train, shape, batch_size=config.inference_batch_size
        )
    ]
    extract_rate = len(dataset.train) / (time.perf_counter() - start)
    results["feature extraction img/s"] = extract_rate

    pooled = np.concatenate([o[0] for o in outputs])
    cut = np.concatenate([o[1] for o in outputs])
    labels = np.array([[s.label] for s in dataset.train], np.float32)
    head = models.head_model(frozen, pooled.shape[1:])
    compile_model(head, 1e-3)
    head_rate = _images_per_second(
        head, features.array_dataset(pooled, labels, 64, seed=0), len(pooled)
    )
    results["head on cached features img/s"] = head_rate
    epochs = config.frozen_epochs if config.profile == "full" else 10
    results["per-epoch speed-up of cached features"] = head_rate / e2e
    cut_name = models.unfreeze_top(finetune, config.finetune_layers)[0]
    upper = models.upper_model(finetune, cut_name)
    compile_model(upper, 1e-5)
    upper_rate = _images_per_second(
        upper, features.array_dataset(cut, labels, 64, seed=0), len(cut)
    )
    results["fine-tuning on cached activations img/s"] = upper_rate
    results["fine-tuning speed-up of cached activations"] = (
        upper_rate / results["mobilenetv2_finetuned end-to-end train img/s"]
    )
    results[f"{epochs}-epoch frozen phase speed-up (incl. extraction)"] = (epochs / e2e) / (
        1 / extract_rate + epochs / head_rate
    )

    for name, model in (
        ("cnn3", build_cnn("cnn3", config, num_classes=classes)),
        ("mobilenetv2", frozen),
    ):
        results[f"{name} single-image latency ms"] = single_image_latency_ms(model)

    env = environment()
    print(f"CPU: {env['cpu']} ({env['cpu_count']} cores; flags {' '.join(env['cpu_flags'])})")
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value:10.1f}")
    return results
