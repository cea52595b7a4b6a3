"""Bring your own model: a user's trained Keras model scored beside the study's own.

The contract is the study's: the model takes float32 RGB in 0-255 at its own input
size (batch, height, width, 3) and returns, for two classes, P(second class) of shape
(batch, 1); for N classes, (batch, N) class probabilities summing to 1, in the sorted
order of the class folders. Both are checked before any training. A model that expects
other input wraps it with a preprocessing layer in front (see
README). The file is copied into the run, so the run stays self-contained, and its
sha256 is part of the run's identity.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import PipelineError
from pipeline.hashing import file_sha256
from pipeline.modeling import saved_models
from pipeline.registry import MODELS


@dataclass(frozen=True)
class ExternalModel:
    name: str
    path: str
    sha256: str


def parse(specs: tuple[str, ...]) -> list[ExternalModel]:
    """`NAME=PATH.keras` values of --external, checked before any training."""
    found: list[ExternalModel] = []
    for value in specs:
        name, sep, path = value.partition("=")
        name = name.strip()
        if not sep or not name or not path:
            raise PipelineError(f"--external takes NAME=PATH.keras, not {value!r}")
        if not name.replace("_", "").replace("-", "").isalnum():
            raise PipelineError(f"--external name {name!r}: use letters, digits, - and _ only")
        if name in MODELS or name in {m.name for m in found}:
            raise PipelineError(f"--external name {name!r} is already taken; choose another")
        file = Path(path).expanduser()
        if not file.is_file() or file.suffix != ".keras":
            raise PipelineError(f"--external {name}: {file} is not a .keras file")
        found.append(ExternalModel(name, str(file.resolve()), file_sha256(file)))
    return found


def load_checked(model: ExternalModel, class_names: list[str]):
    """The model, loaded in safe mode and checked against the contract for `class_names`."""

    try:
        loaded = saved_models.load(model.path)
    except Exception as err:  # any failure to load is the user's to fix, in plain words
        raise PipelineError(
            f"--external {model.name}: cannot load {model.path} ({type(err).__name__}: {err})"
        ) from None
    shape_in, shape_out = tuple(loaded.input_shape), tuple(loaded.output_shape)
    if len(shape_in) != 4 or shape_in[-1] != 3 or None in shape_in[1:3]:
        raise PipelineError(
            f"--external {model.name}: input shape {shape_in}; the contract is "
            "(batch, height, width, 3) RGB in 0-255"
        )
    n = len(class_names)
    width = 1 if n == 2 else n
    if shape_out[1:] != (width,):
        wanted = "(batch, 1), P(second class)" if n == 2 else f"(batch, {n}), P(each class)"
        raise PipelineError(
            f"--external {model.name}: output shape {shape_out}; the data has {n} classes "
            f"({_listed(class_names)}), so the contract is {wanted}"
        )
    _check_probabilities(model.name, loaded, shape_in)
    return loaded


def _listed(class_names: list[str], shown: int = 6) -> str:
    more = f", ... ({len(class_names) - shown} more)" if len(class_names) > shown else ""
    return ", ".join(class_names[:shown]) + more


def _check_probabilities(name: str, loaded, shape_in: tuple) -> None:
    """The model's answers to a few probe images are probabilities (rows summing to 1)."""
    probe = np.random.default_rng(0).uniform(0, 255, (4, *shape_in[1:])).astype(np.float32)
    out = np.asarray(loaded.predict_on_batch(probe), float)
    if not np.all(np.isfinite(out)) or out.min() < -1e-6 or out.max() > 1 + 1e-6:
        raise PipelineError(
            f"--external {name}: answers outside [0, 1] (from {out.min():.3g} to "
            f"{out.max():.3g}); the contract is probabilities: end the model with a sigmoid "
            "(two classes) or a softmax"
        )
    sums = out.sum(axis=1)
    if out.shape[1] > 1 and np.abs(sums - 1).max() > 1e-3:
        raise PipelineError(
            f"--external {name}: each photo's class probabilities must sum to 1; they sum to "
            f"{sums.min():.4g}-{sums.max():.4g}: end the model with a softmax"
        )


def copy_into(model: ExternalModel, folder: Path) -> Path:
    target = folder / "model.keras"
    shutil.copyfile(model.path, target)
    return target
