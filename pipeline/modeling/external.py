"""Bring your own model: a user's trained Keras model scored beside the study's own.

The contract is the study's: the model takes float32 RGB in 0-255 at its own input
size (batch, height, width, 3) and returns P(positive class) of shape (batch, 1). A
model that expects other input wraps it with a preprocessing layer in front (see
README). The file is copied into the run, so the run stays self-contained, and its
sha256 is part of the run's identity.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

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


def load_checked(model: ExternalModel):
    """The model, loaded in safe mode and checked against the contract."""

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
    if shape_out[1:] != (1,):
        raise PipelineError(
            f"--external {model.name}: output shape {shape_out}; the contract is (batch, 1), "
            "P(positive class)"
        )
    return loaded


def copy_into(model: ExternalModel, folder: Path) -> Path:
    target = folder / "model.keras"
    shutil.copyfile(model.path, target)
    return target
