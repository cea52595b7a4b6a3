"""Shared fixtures. The real-data run is made once per test session and reused."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
SHARED_DATA = SHARED / "datasets" / "PetImages"
SHARED_WEIGHTS = SHARED / "weights" / "mobilenet_v2_1.0_160_no_top.weights.h5"
SHARED_CIFAR = SHARED / "datasets" / "CIFAR-10" / "train"
# Classes of the three-class run: two that small nets confuse most, and one they do not.
CIFAR_THREE = ("cat", "dog", "ship")


REAL_DATA_FIXTURES = {
    "real_run",
    "shared_data",
    "shared_weights",
    "cifar_data",
    "cifar3_run",
    "cifar10_run",
    "repeat_group",
}


def pytest_collection_modifyitems(config, items):
    """Mark tests that read ../shared `real_data` (`make test-fast` leaves them out), and skip
    them where ../shared is absent, except in CI, where they must fail."""
    for item in items:
        if REAL_DATA_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.real_data)
    present = SHARED_DATA.is_dir() and SHARED_WEIGHTS.is_file() and SHARED_CIFAR.is_dir()
    if present or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason=f"needs {SHARED_DATA}, {SHARED_CIFAR} and {SHARED_WEIGHTS}")
    for item in items:
        if REAL_DATA_FIXTURES & set(item.fixturenames):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_weights() -> Path:
    return SHARED_WEIGHTS


@pytest.fixture(scope="session")
def cifar_data() -> Path:
    return SHARED_CIFAR


def link_classes(source: Path, root: Path, classes: tuple[str, ...]) -> Path:
    """A data folder of links to some of `source`'s class folders (nothing is copied)."""
    root.mkdir(parents=True)
    for name in classes:
        os.symlink(source / name, root / name)
    return root


def cifar_config(data: Path, out: Path, per_class: int):
    """Every model on tiny real CIFAR-10 photos: CNNs at the photos' own 32px (the default
    photo-size rule settles it), MobileNetV2 at 96px, a few epochs; enough for every record
    and page, in about a minute."""
    from pipeline.config import make_config

    return make_config(
        "quick",
        data_dir=str(data),
        out_dir=str(out),
        weights=str(SHARED_WEIGHTS),
        max_per_class=per_class,
        mobilenet_input_size=96,
        cnn_epochs=6,
        cnn_learning_rate=2e-3,
        frozen_epochs=4,
        finetune_epochs=1,
        robustness_photos=30,
    )


@pytest.fixture(scope="session")
def cifar3_run(tmp_path_factory):
    """The study on 3 real CIFAR-10 classes, 100 photos each."""
    from pipeline.workflows.study import train_study

    base = tmp_path_factory.mktemp("cifar3")
    data = link_classes(SHARED_CIFAR, base / "cifar3", CIFAR_THREE)
    return train_study(cifar_config(data, base / "artifacts", per_class=100))


@pytest.fixture(scope="session")
def cifar10_run(tmp_path_factory):
    """The study on all 10 real CIFAR-10 classes, 40 photos each, read in place."""
    from pipeline.workflows.study import train_study

    out = tmp_path_factory.mktemp("cifar10") / "artifacts"
    return train_study(cifar_config(SHARED_CIFAR, out, per_class=40))


@pytest.fixture(scope="session")
def real_run(tmp_path_factory):
    """The quick pipeline on a small real subset of ../shared: every model, every artifact."""
    from pipeline.config import make_config
    from pipeline.workflows.study import train_study

    # A developer may keep the run between test sessions: PETCOMPARE_KEEP_TEST_RUN=DIR trains
    # it into DIR once and reuses it while its settings are unchanged. CI never sets it.
    kept = os.environ.get("PETCOMPARE_KEEP_TEST_RUN")
    out = Path(kept).resolve() if kept else tmp_path_factory.mktemp("artifacts")
    config = make_config(
        "quick",
        data_dir=str(SHARED_DATA),
        out_dir=str(out),
        weights=str(SHARED_WEIGHTS),
        max_per_class=400,
        cnn_input_size=64,
        mobilenet_input_size=160,
        cnn_epochs=12,
        cnn_learning_rate=2e-3,
        frozen_epochs=4,
        finetune_epochs=1,
    )
    if kept:
        from pipeline.store import artifacts

        run = artifacts.latest_run(out)
        recorded = run.manifest["config"] if run is not None and run.complete else {}
        wanted = {  # "precision" was "auto"; "inference" is not part of the identity
            k: v for k, v in config.to_dict().items() if k not in ("precision", "inference")
        }
        if recorded and all(recorded.get(k) == v for k, v in wanted.items()):
            return run
    return train_study(config)


@pytest.fixture(scope="session")
def repeat_group(tmp_path_factory):
    """A real repeat group: 3 repeats of CNN-3 and the frozen MobileNetV2 on 60 real photos
    per class; returns (artifacts folder, the group's record)."""
    from pipeline.config import make_config
    from pipeline.console import Console
    from pipeline.workflows.repeats import run_repeats

    out = tmp_path_factory.mktemp("repeat_group") / "artifacts"
    config = make_config(
        "quick",
        data_dir=str(SHARED_DATA),
        out_dir=str(out),
        weights=str(SHARED_WEIGHTS),
        models=("cnn3", "mobilenetv2_frozen"),
        max_per_class=60,
        cnn_input_size=32,
        mobilenet_input_size=96,
        cnn_epochs=2,
        frozen_epochs=2,
        robustness_photos=0,
    )
    return out, run_repeats(config, 3, Console(io.StringIO()))
