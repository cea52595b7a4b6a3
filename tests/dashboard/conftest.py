"""Dashboard fixtures: AppTest bound to an artifacts folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import pages
from pipeline.store import artifacts
from tests.dashboard.expected import model_answers

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


# Every page's key, from the dashboard's one page list.
PAGE_KEYS = [p.key for p in pages.PAGES]


def open_app(artifacts_dir: Path, monkeypatch, page: str | None = None) -> AppTest:
    """The app on `artifacts_dir`, switched to the page whose key is `page`."""
    monkeypatch.setenv("PETCOMPARE_ARTIFACTS", str(artifacts_dir))
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    if page:
        at.switch_page(pages.page(page).file)
        at.run()
    return at


@pytest.fixture(scope="session")
def partial_artifacts(real_run, tmp_path_factory) -> Path:
    """A copy of the real run with cnn4 missing and one of cnn3's files deleted."""
    out = tmp_path_factory.mktemp("partial")
    target = out / artifacts.RUNS / real_run.path.name
    shutil.copytree(real_run.path, target)
    shutil.rmtree(target / artifacts.MODELS / "cnn4")
    (target / artifacts.MODELS / "cnn3" / artifacts.CONFUSION).unlink()
    (target / artifacts.ANALYSIS).unlink()  # a run still training has no analysis yet
    manifest = json.loads((target / artifacts.MANIFEST).read_text())
    manifest["models"] = [m for m in manifest["models"] if m["name"] != "cnn4"]
    manifest["status"] = "running"
    (target / artifacts.MANIFEST).write_text(json.dumps(manifest))
    return out


@pytest.fixture(scope="session")
def broken_artifacts(real_run, tmp_path_factory) -> Path:
    """A copy of the real run whose manifest still lists every model, but cnn4 lost its
    predictions.csv and cnn3 its model.keras."""
    out = tmp_path_factory.mktemp("broken")
    target = out / artifacts.RUNS / real_run.path.name
    shutil.copytree(real_run.path, target)
    (target / artifacts.MODELS / "cnn4" / artifacts.PREDICTIONS).unlink()
    (target / artifacts.MODELS / "cnn3" / artifacts.MODEL_FILE).unlink()
    return out


@pytest.fixture(scope="session")
def own_answers(real_run):
    """photo -> each model's P(positive) for it, computed without the dashboard."""
    return model_answers(real_run)


# The real run's classes renamed: a run of roses/ vs tulips/ in a folder flowers/.
FLOWER_CLASSES = ("roses", "tulips")
FLOWER_FOLDER = "flowers"
OLDER_FLOWER_RUN = "20200101-000000-quick-older"


def _renamer(old_root: str, new_root: Path, classes: dict[str, str]):
    """A function renaming a run's record: class names, photo paths under them, data folder."""

    def rename(value):
        if isinstance(value, dict):
            return {rename(k): rename(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rename(v) for v in value]
        if not isinstance(value, str):
            return value
        if value == old_root:
            return str(new_root)
        if value.startswith(old_root + "/"):
            return str(new_root / rename(value[len(old_root) + 1 :]))
        head, slash, tail = value.partition("/")
        return classes.get(head, head) + slash + tail if head in classes else value

    return rename


def rename_classes(run: artifacts.Run, new_root: Path, names: tuple[str, str]) -> None:
    """Rewrite the run in place as if trained on `new_root` with classes `names`: manifest,
    JSON and CSV records, thumbnails and Grad-CAM files (named by photo path); then its data
    fingerprint and file inventory, so that it still verifies."""
    from pipeline.data.fingerprint import fingerprint_of
    from pipeline.store.manifest import record_files

    rename = _renamer(
        run.manifest["dataset"]["root"], new_root, dict(zip(run.class_names, names, strict=True))
    )
    for photo in run.split().path:
        old, new = artifacts.thumb_name(photo), artifacts.thumb_name(rename(photo))
        for folder, suffix in ((artifacts.THUMBS, ".jpg"), (artifacts.GRADCAM, ".npz")):
            file = run.path / folder / (Path(old).stem + suffix)
            if file.is_file():
                file.rename(run.path / folder / (Path(new).stem + suffix))
    for file in run.path.rglob("*.json"):
        file.write_text(json.dumps(rename(json.loads(file.read_text())), indent=2))
    for file in run.path.rglob("*.csv"):
        frame = pd.read_csv(file, dtype=str, keep_default_na=False)
        if "path" in frame:
            frame["path"] = [rename(p) for p in frame.path]
        if "thumb" in frame:
            frame["thumb"] = [
                artifacts.thumb_name(p) if t else t
                for p, t in zip(frame.path, frame.thumb, strict=True)
            ]
        frame.to_csv(file, index=False)
    renamed = artifacts.read_run(run.path)
    split, dataset = renamed.split(), renamed.manifest["dataset"]
    renamed.manifest["identity"]["data"] = fingerprint_of(
        dataset["class_names"],
        list(split[["path", "label", "sha256"]].itertuples(index=False, name=None)),
        split.loc[split.split == "val", "path"].tolist(),
        excluded=dataset.get("excluded", []),
    )
    record_files(renamed)


@pytest.fixture(scope="session")
def flower_artifacts(real_run, tmp_path_factory) -> Path:
    """The real run as if it were of `flowers/roses` vs `flowers/tulips` (its photos' folders,
    linked under the new names), and an older copy whose CNN-3 gets three more photos wrong,
    so that Compare runs has two runs to compare."""
    out = tmp_path_factory.mktemp("flower_artifacts")
    root = out / "data" / FLOWER_FOLDER
    root.mkdir(parents=True)
    old_root = Path(real_run.manifest["dataset"]["root"])
    for old, new in zip(real_run.class_names, FLOWER_CLASSES, strict=True):
        (root / new).symlink_to(old_root / old, target_is_directory=True)
    target = out / artifacts.RUNS / real_run.path.name
    shutil.copytree(real_run.path, target)
    rename_classes(artifacts.read_run(target), root, FLOWER_CLASSES)
    artifacts.point_latest(out, target)

    older = out / artifacts.RUNS / OLDER_FLOWER_RUN
    shutil.copytree(target, older)
    manifest = json.loads((older / artifacts.MANIFEST).read_text())
    manifest.update(run_id=OLDER_FLOWER_RUN, created="2020-01-01T00:00:00+00:00")
    (older / artifacts.MANIFEST).write_text(json.dumps(manifest))
    file = older / artifacts.MODELS / "cnn3" / artifacts.PREDICTIONS
    frame = pd.read_csv(file)
    right = frame.index[frame.predicted == frame.label][:3]
    frame.loc[right, "predicted"] = 1 - frame.loc[right, "label"]  # the newer run fixed them
    frame.to_csv(file, index=False)
    return out


# Runs of more than two classes, made up but complete (tests/dashboard/synthetic.py). To test
# a real run instead, return its artifacts folder here: the tests read only the run's files.
NCLASS_FOLDERS = {3: "things", 10: "cifar10"}


@pytest.fixture(scope="session")
def nclass_runs(tmp_path_factory) -> dict[int, Path]:
    """Number of classes -> an artifacts folder whose latest run has that many classes."""
    from tests.dashboard.synthetic import TEN_CLASSES, THREE_CLASSES, build_run

    found = {}
    for classes in (THREE_CLASSES, TEN_CLASSES):
        out = tmp_path_factory.mktemp(f"nclass{len(classes)}")
        build_run(out, classes, NCLASS_FOLDERS[len(classes)])
        found[len(classes)] = out
    return found


@pytest.fixture(scope="session")
def leaky_run(tmp_path_factory, shared_data, shared_weights):
    """MobileNetV2 frozen on a given split of real photos with six edited copies of training
    photos planted among the validation photos; (run, validation path -> copied photo)."""
    import io

    from pipeline.console import Console
    from pipeline.workflows.study import train_study
    from tests.pipeline.evaluation.test_leak_report import _config, _given_split, _plant

    base = tmp_path_factory.mktemp("leaky")
    data = base / "photos"
    made = _given_split(shared_data, data, {"train": 50, "val": 20})
    planted = _plant(data, made["train"])
    config = _config(data, base / "art", ("mobilenetv2_frozen",), shared_weights)
    return train_study(config, log=Console(io.StringIO())), planted
