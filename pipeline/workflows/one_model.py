"""One model of a study, start to finish: train (or take the user's), save, score on the
validation photos and publish its folder; returns the record the manifest keeps of it.

The in-process study and the Ray engine's tasks both call `train_one`, so a model trains
the same wherever it runs (the study hands it to `distributed.ray_study`).
"""

from __future__ import annotations

from pathlib import Path

import keras
import pandas as pd

from pipeline import devices, faults
from pipeline.config import RunConfig
from pipeline.console import Console
from pipeline.data.dataset import Dataset
from pipeline.evaluation import evaluate
from pipeline.modeling import external, models, saved_models, train
from pipeline.modeling.external import ExternalModel
from pipeline.modeling.forward import engine_for
from pipeline.registry import spec
from pipeline.store import artifacts, checkpoint


def model_record(name: str, model: keras.Model, run_dir: Path, **details) -> dict:
    """What the manifest keeps of a published model: its file, size and parameters, then
    `details` (metrics, training time, notes, ...)."""
    model_file = run_dir / artifacts.MODELS / name / artifacts.MODEL_FILE
    return {
        "name": name,
        "file": str(model_file.relative_to(run_dir)),
        "input_size": list(model.input_shape[1:3]),
        "params": int(model.count_params()),
        "trainable_params": models.trainable_params(model),
        "size_bytes": model_file.stat().st_size,
    } | details


def score_into(
    stage: Path,
    model: keras.Model,
    *,
    name: str,
    config: RunConfig,
    dataset: Dataset,
    run_dir: Path,
    log: Console,
    scores=None,
) -> dict:
    """Score `model` on the validation photos into `stage`; returns its metrics."""
    return evaluate.evaluate_into(
        stage,
        model,
        dataset.root,
        samples=dataset.val,
        class_names=dataset.class_names,
        batch_size=config.inference_batch_size,
        thumbs_dir=run_dir / artifacts.THUMBS,
        scores=scores,
        progress=log.counter(f"{name}: photos scored", len(dataset.val)),
        engine=engine_for(config.inference, cache_dir=Path(config.out_dir) / artifacts.CACHE),
    )


def score_external(
    user: ExternalModel,
    model: keras.Model,
    *,
    config: RunConfig,
    dataset: Dataset,
    run_dir: Path,
    log: Console,
) -> dict:
    """Score a user's model on the validation photos; its files join the run like ours."""
    stage = artifacts.staging_dir(run_dir, user.name)
    external.copy_into(user, stage)
    history = pd.DataFrame(columns=artifacts.HISTORY_COLUMNS)  # trained elsewhere
    artifacts.write_csv(stage / artifacts.HISTORY, history)
    scores = score_into(
        stage, model, name=user.name, config=config, dataset=dataset, run_dir=run_dir, log=log
    )
    artifacts.publish_dir(stage, run_dir / artifacts.MODELS / user.name)
    return model_record(
        user.name,
        model,
        run_dir,
        train_seconds=0.0,
        epochs=0,
        metrics=scores,
        external={"path": user.path, "sha256": user.sha256},
        notes=[f"external model, trained elsewhere: {user.path}"],
    )


def _photo_passes(name: str, config: RunConfig, dataset: Dataset) -> tuple[str, int]:
    """What the model's input work is called, and how many photo passes it needs."""
    if spec(name).trainer == "cnn":
        needed = len(dataset.train) + len(dataset.val)
        if config.cnn_resize_mix > 0:  # the training photos' TensorFlow-resized view too
            needed += len(dataset.train)
        return "photos decoded", needed
    return "photos through MobileNetV2", len(dataset.train) * config.feature_views + len(
        dataset.val
    )


def fit_model(
    name: str,
    *,
    config: RunConfig,
    dataset: Dataset,
    weights,
    run_dir: Path,
    record: dict,
    log: Console,
    outputs: checkpoint.EpochOutputs,
    strategy,
):
    """Train one model with its registry trainer (under `strategy`, when several devices);
    returns (trained, photo passes computed, photo passes needed)."""
    cache_root = Path(config.out_dir) / artifacts.CACHE
    trainer = spec(name).trainer
    label, needed = _photo_passes(name, config, dataset)
    counter, computed = log.counter(label, needed), []

    def progress(n: int) -> None:
        computed.append(n)
        counter(n)

    with devices.strategy_scope(strategy):
        if trainer == "cnn":
            trained = train.train_cnn(
                name, config, dataset, cache_root=cache_root, progress=progress, outputs=outputs
            )
        elif trainer == "frozen":
            with_cut = any(spec(m).needs == name for m in record["planned_models"])
            trained = train.train_frozen(
                config,
                dataset,
                weights,
                cache_root=cache_root,
                with_cut=with_cut,
                progress=progress,
                outputs=outputs,
            )
        else:
            base = artifacts.Run(run_dir, record)
            trained = train.train_finetuned(
                config,
                dataset,
                weights,
                frozen_model_path=base.model_path(spec(name).needs),
                frozen_history=base.history(spec(name).needs).to_dict("records"),
                cache_root=cache_root,
                progress=progress,
                outputs=outputs,
            )
    return trained, sum(computed), needed


def train_one(
    name: str,
    config: RunConfig,
    dataset: Dataset,
    weights,
    run_dir: Path,
    record: dict,
    log: Console,
) -> tuple[dict, list[str]]:
    """Train, save, score and publish one of our models; returns (its record, caches read)."""
    outputs = checkpoint.EpochOutputs(
        artifacts.checkpoint_dir(run_dir, name), run_dir / artifacts.TENSORBOARD / name
    )
    strategy = devices.training_strategy()
    trained, computed, needed = fit_model(
        name,
        config=config,
        dataset=dataset,
        weights=weights,
        run_dir=run_dir,
        record=record,
        log=log,
        outputs=outputs,
        strategy=strategy,
    )
    if config.frozen_mode != "end-to-end" or spec(name).trainer == "cnn":
        log(f"{name}: {computed:,} photo(s) computed, {needed - computed:,} from the cache")
    if trained.resumed_at:
        log(f"{name}: resumed after epoch {trained.resumed_at} from its checkpoint")
    stage = artifacts.staging_dir(run_dir, name)
    trained.model.save(stage / artifacts.MODEL_FILE, include_optimizer=False)
    if strategy is not None:
        # A model trained under a strategy predicts through it, and TensorFlow 2.21
        # returns uneven batches duplicated: score the saved file, from the photos.
        trained.model = saved_models.load(stage / artifacts.MODEL_FILE)
        trained.val_predictions = None
    faults.point("model-save")
    history = pd.DataFrame(trained.history, columns=artifacts.HISTORY_COLUMNS)
    artifacts.write_csv(stage / artifacts.HISTORY, history)
    log(f"{name}: evaluating on {len(dataset.val):,} validation photos")
    scores = score_into(
        stage,
        trained.model,
        name=name,
        config=config,
        dataset=dataset,
        run_dir=run_dir,
        log=log,
        scores=trained.val_predictions,
    )
    artifacts.publish_dir(stage, run_dir / artifacts.MODELS / name)
    checkpoint.remove(outputs.checkpoint)
    notes = trained.notes
    if trained.val_predictions is not None:
        notes = notes + [
            "validation predictions computed from the cached activations of the frozen "
            "layers, which equal the saved model's on the photos; "
            "`python -m pipeline evaluate RUN` recomputes them from the photos"
        ]
    result = model_record(
        name,
        trained.model,
        run_dir,
        train_seconds=round(trained.seconds, 1),
        epochs=len(trained.history),
        resumed_after_epoch=trained.resumed_at or None,
        distribution=devices.strategy_record(strategy),
        cache={"computed": computed, "reused": needed - computed},
        metrics=scores,
        notes=notes,
    )
    if spec(name).needs:
        result["continues"] = spec(name).needs
    return result, trained.caches
