"""Where the MobileNetV2 backbone's pretrained weights come from.

`imagenet` downloads the official Keras Applications file (the default);
a path selects a local Keras weights file; `hub:HANDLE` a TensorFlow Hub
image feature-vector model. Every run records which one it used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import PipelineError
from pipeline.hashing import file_sha256

HUB_PREFIX = "hub:"
KERAS_SIZES = (96, 128, 160, 192, 224)


@dataclass(frozen=True)
class WeightsSource:
    kind: str  # "imagenet", "file" or "hub"
    spec: str  # what the user asked for
    path: str | None  # local file or folder actually loaded
    sha256: str | None

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "source": self.spec,
            "path": self.path,
            "sha256": self.sha256,
        }


def imagenet_filename(input_size: int) -> str:
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{input_size}_no_top.h5"


def fetch_imagenet(input_size: int, base_url: str, cache_dir: str | None = None) -> Path:
    """Download (or reuse Keras' cached copy of) the official ImageNet weights.

    `cache_dir` None means Keras' own cache (~/.keras/models).
    """
    import keras

    if input_size not in KERAS_SIZES:
        raise PipelineError(
            f"ImageNet weights exist for input sizes {KERAS_SIZES}, not {input_size}"
        )
    name = imagenet_filename(input_size)
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)  # Keras falls back to /tmp otherwise
    try:
        return Path(
            keras.utils.get_file(name, base_url + name, cache_dir=cache_dir, cache_subdir="models")
        )
    except Exception as err:  # urllib raises several unrelated types
        raise PipelineError(
            f"could not download the ImageNet weights from {base_url + name} ({err}). "
            "Without internet, pass a local file with --weights PATH "
            "(e.g. ../shared/weights/mobilenet_v2_1.0_160_no_top.weights.h5)."
        ) from None


def resolve_weights(
    spec: str, input_size: int, imagenet_base_url: str, cache_dir: str | None = None
) -> WeightsSource:
    """Turn a --weights value into a loadable local path, with its checksum."""
    if spec == "imagenet":
        path = fetch_imagenet(input_size, imagenet_base_url, cache_dir)
        return WeightsSource("imagenet", spec, str(path), sha256=file_sha256(path))
    if spec.startswith(HUB_PREFIX):
        return resolve_hub(spec[len(HUB_PREFIX) :])
    path = Path(spec).expanduser()
    if not path.is_file():
        raise PipelineError(f"weights file {path} does not exist")
    return WeightsSource("file", spec, str(path.resolve()), sha256=file_sha256(path))


def resolve_hub(handle: str) -> WeightsSource:
    import tensorflow_hub as hub

    try:
        local = Path(hub.resolve(handle))
    except Exception as err:
        raise PipelineError(f"cannot resolve TensorFlow Hub handle {handle!r} ({err})") from None
    graph = local / "saved_model.pb"
    if not graph.is_file():
        raise PipelineError(f"{local} is not a SavedModel folder (no saved_model.pb)")
    return WeightsSource("hub", HUB_PREFIX + handle, str(local), sha256=file_sha256(graph))
