"""`python -m pipeline bench-classes`: the per-photo cost of N classes against two.

The same photos, at the same size, through the same CNN bodies, with a one-unit sigmoid head
(two classes) and an N-way softmax head: training and scoring throughput, and the time to
turn scores into the run's records (predictions.csv and metrics). Prints figures; nothing
is asserted, so it belongs in a benchmark run, not in the test suite.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from pipeline.config import make_config
from pipeline.data.dataset import load_dataset
from pipeline.data.photo_size import cnn_input_for
from pipeline.environment import environment
from pipeline.evaluation.metrics import classification_metrics
from pipeline.modeling import features
from pipeline.modeling.predict import score_batches
from pipeline.modeling.train import build_cnn, compile_model
from pipeline.store.predictions import prediction_frame

REPEATS = 5  # timed passes per figure, the two heads in turn; the best of each is kept


def _workloads(name: str, config, *, x: np.ndarray, labels: np.ndarray, classes: int) -> dict:
    """Training, scoring and record-keeping of one model with `classes`, as callables."""
    model = build_cnn(name, config, num_classes=classes)
    compile_model(model, 1e-3)
    y = labels % classes
    target = y.astype(np.float32).reshape(-1, 1) if classes == 2 else y
    usable = len(x) // config.batch_size * config.batch_size
    batches = [
        (x[i : i + config.batch_size], target[i : i + config.batch_size])
        for i in range(0, usable, config.batch_size)
    ]

    def train() -> None:
        for xb, yb in batches:
            model.train_on_batch(xb, yb)

    def score():
        return score_batches(model, (xb for xb, _ in batches))

    p, logits = score()

    def record() -> None:
        frame = prediction_frame(
            paths=[str(i) for i in range(usable)],
            labels=y[:usable],
            probabilities=p,
            logits=logits,
            class_names=[f"c{i}" for i in range(classes)],
        )
        frame.to_csv(Path(tempfile.gettempdir()) / "bench-classes.csv", index=False)
        classification_metrics(y[:usable], p, logits=logits)

    return {"train": train, "score": score, "records": record, "photos": usable}


def _photos_per_second(two: dict, many: dict, what: str) -> tuple[float, float]:
    """Best photos/s of each head, timed in turn so that a slower spell hits both alike."""
    best = {id(two): float("inf"), id(many): float("inf")}
    for work in (two, many):
        work[what]()  # warm-up: tracing and first-call costs
    for _ in range(REPEATS):
        for work in (two, many):
            start = time.perf_counter()
            work[what]()
            best[id(work)] = min(best[id(work)], time.perf_counter() - start)
    return two["photos"] / best[id(two)], many["photos"] / best[id(many)]


def main(args) -> dict:
    config = make_config("quick", data_dir=args.data_dir, max_per_class=args.images)
    dataset = load_dataset(Path(args.data_dir), config.seed, 0.2, max_per_class=args.images)
    classes = len(dataset.class_names)
    if classes < 3:
        raise SystemExit(f"{args.data_dir} has {classes} classes; bench-classes needs 3 or more")
    size = cnn_input_for(config.cnn_input_size, dataset.typical_side)
    config = config.replace(cnn_input_size=size)
    with tempfile.TemporaryDirectory() as cache:
        x, labels = features.load_or_decode(
            cache, dataset.root, dataset.train, input_size=size, batch_size=64
        )
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    env = environment()
    print(f"CPU: {env['cpu']} ({env['cpu_count']} cores; flags {' '.join(env['cpu_flags'])})")
    print(f"{len(x):,} photos of {dataset.root} at {size}px, batch {config.batch_size}")
    results: dict[str, float] = {}
    for name in ("cnn3", "cnn4"):
        two = _workloads(name, config, x=x, labels=labels, classes=2)
        many = _workloads(name, config, x=x, labels=labels, classes=classes)
        for what in ("train", "score", "records"):
            rate_two, rate_many = _photos_per_second(two, many, what)
            results[f"{name} {what} photos/s, 2 classes"] = rate_two
            results[f"{name} {what} photos/s, {classes} classes"] = rate_many
            results[f"{name} {what}: {classes}-class time per photo / 2-class"] = (
                rate_two / rate_many
            )
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value:10.2f}")
    return results
