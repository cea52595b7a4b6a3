"""Epoch-level resume: the last finished epoch of a model in training, kept on disk.

After every epoch the fitted model's weights, its optimizer's state (moments
and step count, so a learning-rate schedule continues where it was) and the
history rows so far are written to a temporary folder that replaces the
previous checkpoint in one rename. A run killed mid-epoch resumes at the
epoch after the last finished one. The data order and dropout draws after a
resume differ from an uninterrupted run's, so a resumed model is trained the
same way but is not bit-identical with one that was never stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from pipeline import faults

WEIGHTS = "model.weights.h5"
OPTIMIZER = "optimizer.npz"
STATE = "state.json"


def _swap_in(tmp: Path, folder: Path) -> None:
    old = folder.with_name(folder.name + ".old")
    if folder.exists():
        if old.exists():
            shutil.rmtree(old)
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def save(folder: Path, model: keras.Model, epochs_done: int, rows: list[dict]) -> None:
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    model.save_weights(tmp / WEIGHTS)
    store: dict[str, np.ndarray] = {}
    model.optimizer.save_own_variables(store)
    np.savez(tmp / OPTIMIZER, **store)
    (tmp / STATE).write_text(json.dumps({"epochs_done": epochs_done, "rows": rows}))
    _swap_in(tmp, folder)


def _readable(folder: Path) -> Path | None:
    """The checkpoint, or the previous one if a swap was cut between its two renames."""
    for candidate in (folder, folder.with_name(folder.name + ".old")):
        if (candidate / STATE).is_file():
            return candidate
    return None


def restore(folder: Path, model: keras.Model) -> tuple[int, list[dict]]:
    """Load weights and optimizer state into a compiled `model`; (epochs done, rows so far).

    (0, []) when there is no checkpoint.
    """
    found = _readable(folder)
    if found is None:
        return 0, []
    state = json.loads((found / STATE).read_text())
    model.load_weights(found / WEIGHTS)
    model.optimizer.build(model.trainable_variables)
    with np.load(found / OPTIMIZER) as saved:
        model.optimizer.load_own_variables({k: saved[k] for k in saved.files})
    return int(state["epochs_done"]), list(state["rows"])


def remove(folder: Path) -> None:
    for candidate in (folder, folder.with_name(folder.name + ".old")):
        shutil.rmtree(candidate, ignore_errors=True)
    for tmp in folder.parent.glob(f"{folder.name}.tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves a checkpoint after every epoch, with the rows an `EpochRecorder` holds."""

    def __init__(self, folder: Path, recorder):
        super().__init__()
        self.folder, self.recorder = Path(folder), recorder

    def on_epoch_end(self, epoch, logs=None):
        save(self.folder, self.model, epoch + 1, rows=self.recorder.rows)
        faults.point("epoch")


@dataclass(frozen=True)
class EpochOutputs:
    """What a model in training leaves behind after every epoch: its checkpoint (for
    resuming, and for showing a run in progress) and, optionally, TensorBoard events."""

    checkpoint: Path
    tensorboard: Path | None = None

    def callbacks(self, recorder) -> list[keras.callbacks.Callback]:
        found = [EpochCheckpoint(self.checkpoint, recorder)]
        if self.tensorboard is not None:
            found.append(
                keras.callbacks.TensorBoard(
                    log_dir=str(self.tensorboard), write_graph=False, profile_batch=0
                )
            )
        return found


def rows_so_far(folder: Path) -> list[dict]:
    """History rows of the epochs a model in training has finished (empty if none)."""
    found = _readable(folder)
    return json.loads((found / STATE).read_text())["rows"] if found else []
