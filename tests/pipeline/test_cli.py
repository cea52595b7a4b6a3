"""The command line turns expected failures into one plain line and exit code 2."""

import pytest

from pipeline.__main__ import main
from tests.imagefactory import write_class_folder


def _run(capsys, *argv):
    code = main(list(argv))
    return code, capsys.readouterr()


def _train(capsys, tmp_path, *options):
    """`train` on the photos under tmp_path/data, writing to tmp_path/art."""
    data, out = str(tmp_path / "data"), str(tmp_path / "art")
    return _run(capsys, "train", "--data-dir", data, "--out", out, *options)


@pytest.mark.parametrize(
    "setup, expected",
    [
        (lambda root: None, "does not exist"),
        (
            lambda root: write_class_folder(root, 3, names=("Cat", "Cat")),
            "at least two class folders",
        ),
    ],
)
def test_bad_data_folders(tmp_path, capsys, setup, expected):
    setup(tmp_path / "data")
    code, out = _train(capsys, tmp_path)
    assert code == 2 and expected in out.err and "Traceback" not in out.err


def test_unreadable_weights_fail_before_any_training(tmp_path, capsys):
    write_class_folder(tmp_path / "data", 20)
    bad = tmp_path / "bad.weights.h5"
    bad.write_bytes(b"not an hdf5 file")
    code, out = _train(capsys, tmp_path, "--weights", str(bad))
    assert code == 2 and "cannot load MobileNetV2 weights" in out.err
    assert "cnn3: training" not in out.out
    assert not (tmp_path / "art" / "runs").exists()  # no half-made run left behind


def test_evaluate_without_runs_says_how_to_make_one(tmp_path, capsys):
    code, out = _run(capsys, "evaluate", "latest", "--out", str(tmp_path))
    assert code == 2 and "python -m pipeline train" in out.err


def test_invalid_option_values_are_reported(tmp_path, capsys):
    write_class_folder(tmp_path / "data", 6)
    code, out = _train(capsys, tmp_path, "--max-per-class", "0", "--models", "cnn3")
    assert code == 2 and "--max-per-class must be at least 1 (got 0)" in out.err
    assert "Traceback" not in out.err


def test_cache_prune_frees_what_no_run_uses(tmp_path, capsys):
    from pipeline.store import cache

    store = cache.ShardStore(tmp_path / "art" / "cache", "pixels", {"x": 1}, {"v": ((4,), "f4")})
    store.write_shard(["a" * 64], {"v": [[1, 2, 3, 4]]})
    code, out = _run(capsys, "cache", "--out", str(tmp_path / "art"), "--prune", "--dry-run")
    assert code == 0 and "would free" in out.out and store.folder.exists()
    code, out = _run(capsys, "cache", "--out", str(tmp_path / "art"), "--prune")
    assert code == 0 and "freed" in out.out and "1 store(s) no run uses" in out.out
    assert not store.folder.exists()


def test_flip_averaging_and_max_pool_head_can_be_turned_off_on_the_command_line(tmp_path, capsys):
    from pipeline.modeling import flip_views, saved_models
    from pipeline.store import artifacts

    write_class_folder(tmp_path / "data", 12)
    code, _ = _train(
        capsys,
        tmp_path,
        "--models",
        "cnn3",
        "--cnn-epochs",
        "1",
        "--cnn-input-size",
        "32",
        "--no-cnn-flip-average",
        "--no-cnn-max-pool",
        "--robustness-photos",
        "0",
    )
    assert code == 0
    run = artifacts.latest_run(tmp_path / "art")
    assert run.manifest["config"]["cnn_flip_average"] is False
    assert run.manifest["config"]["cnn_max_pool"] is False
    saved = saved_models.load(run.model_path("cnn3"))
    assert flip_views.view_count(saved) == 1
    assert "global_max" not in {layer.name for layer in saved.layers}


@pytest.mark.parametrize(
    "options, expected",
    [
        (("--repeats", "1"), "--repeats needs 2 or more (got 1)"),
        (("--repeats", "3", "--fresh"), "--fresh and --repeats do not go together"),
        (("--repeat", "-1"), "--repeat must be 0 or more"),
    ],
)
def test_bad_repeat_options_are_reported(tmp_path, capsys, options, expected):
    write_class_folder(tmp_path / "data", 6)
    code, out = _train(capsys, tmp_path, "--models", "cnn3", *options)
    assert code == 2 and expected in out.err and "Traceback" not in out.err
    assert not (tmp_path / "art" / "runs").exists()


def test_compare_of_a_group_and_a_run_is_refused(tmp_path, capsys):
    import json

    (tmp_path / "repeats").mkdir()
    (tmp_path / "repeats" / "rabc.json").write_text(json.dumps({"summary": {"runs": []}}))
    code, out = _run(capsys, "compare", "rabc", "latest", "--out", str(tmp_path))
    assert code == 2 and "two repeat groups, or runs only, not a mix" in out.err
