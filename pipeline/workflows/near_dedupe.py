"""`train --dedupe-near`: keep near-duplicate photos on one side of the split.

The split already keeps identical photos together. With the setting on, every photo's pooled
MobileNetV2 features (the cache the frozen model reads, so they are computed once) and pixel
signature are compared before training (`pipeline.evaluation.near_duplicates`), and each
group of near-duplicates found on both sides moves whole to the side of its member with the
smallest content hash: a deterministic choice, the same for the same photos.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from pipeline.config import RunConfig
from pipeline.console import Console
from pipeline.data.dataset import Dataset, Sample
from pipeline.errors import PipelineError
from pipeline.evaluation import near_duplicates as nd
from pipeline.evaluation.leak_report import signatures
from pipeline.modeling import features
from pipeline.modeling.forward import engine_for
from pipeline.modeling.models import build_mobilenetv2
from pipeline.modeling.weights import WeightsSource, resolve_weights


def moves(samples: list[Sample], val: set[str], groups: list[list[int]]) -> dict[str, bool]:
    """path -> True (to validation) or False (to training) for each photo that must move so
    that every group sits on the side of its member with the smallest content hash."""
    moved: dict[str, bool] = {}
    for group in groups:
        members = [samples[i] for i in group]
        if len({m.path in val for m in members}) < 2:
            continue
        to_val = min(members, key=lambda s: (s.sha256, s.path)).path in val
        moved.update({m.path: to_val for m in members if (m.path in val) != to_val})
    return moved


def regroup(
    dataset: Dataset,
    *,
    config: RunConfig,
    weights: WeightsSource | None,
    cache_root: Path,
    log: Console,
) -> Dataset:
    """`dataset` with its near-duplicate groups each on one side of the split."""
    if weights is None:
        weights = resolve_weights(
            config.weights, config.mobilenet_input_size, config.imagenet_base_url
        )
    samples = sorted(dataset.train + dataset.val, key=lambda s: s.path)
    log(f"--dedupe-near: looking for near-duplicates among {len(samples):,} photos")
    found = features.load_or_extract(
        build_mobilenetv2(config.mobilenet_input_size, weights),
        cache_root,
        weights.sha256,
        root=dataset.root,
        samples=samples,
        input_size=config.mobilenet_input_size,
        batch_size=config.inference_batch_size,
        cut_layer=None,
        progress=log.counter("  photos through MobileNetV2", len(samples)),
        engine=engine_for(config.inference, cache_dir=cache_root),
    )
    signs = signatures(dataset.root, [s.path for s in samples])
    groups = nd.groups(nd.within(np.asarray(found.pooled), signs), len(samples))
    moved = moves(samples, {s.path for s in dataset.val}, groups)
    to_val = {p for p, v in moved.items() if v}
    to_train = {p for p, v in moved.items() if not v}
    train = [s for s in dataset.train if s.path not in to_val]
    train += [s for s in dataset.val if s.path in to_train]
    val = [s for s in dataset.val if s.path not in to_train]
    val += [s for s in dataset.train if s.path in to_val]
    if not val or not train:
        raise PipelineError("--dedupe-near left one side of the split empty")
    log(
        f"  {len(groups):,} near-duplicate group(s); {len(moved):,} photo(s) moved so that "
        "each group sits on one side of the split"
    )
    return dataclasses.replace(
        dataset,
        train=sorted(train, key=lambda s: s.path),
        val=sorted(val, key=lambda s: s.path),
        near_moved=sorted(moved),
    )
