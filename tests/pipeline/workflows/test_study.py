"""Resume, identity and interruption behaviour of a whole run, on tiny generated images."""

import io
import shutil

import pytest

from pipeline.config import make_config
from pipeline.console import Console
from pipeline.errors import PipelineError
from pipeline.modeling import train
from pipeline.store import artifacts, checkpoint
from pipeline.store.lock import WriterLock
from pipeline.store.runs import new_run_dir
from pipeline.workflows.study import train_study
from pipeline.workflows.verify import verify_run
from tests.imagefactory import photo, write_class_folder


def _config(tmp_path, models, data=None, **overrides):
    data = data or tmp_path / "data"
    if not data.exists():
        write_class_folder(data, n_per_class=16, size=40)
    values = dict(
        data_dir=str(data),
        out_dir=str(tmp_path / "art"),
        models=models,
        cnn_input_size=32,
        cnn_epochs=1,
        batch_size=8,
    )
    return make_config("quick", **(values | overrides))


def _log():
    stream = io.StringIO()
    return Console(stream), stream


def test_interrupted_run_keeps_latest_and_resumes_without_retraining(tmp_path, monkeypatch):
    first = train_study(_config(tmp_path, ("cnn3",)))
    out = tmp_path / "art"
    assert artifacts.latest_run(out).run_id == first.run_id

    calls = []
    real_train_cnn = train.train_cnn

    def interrupted(name, *args, **kwargs):
        calls.append(name)
        if name == "cnn4" and calls.count("cnn4") == 1:
            raise KeyboardInterrupt
        return real_train_cnn(name, *args, **kwargs)

    monkeypatch.setattr(train, "train_cnn", interrupted)
    config = _config(tmp_path, ("cnn3", "cnn4"))
    with pytest.raises(KeyboardInterrupt):
        train_study(config)
    assert artifacts.latest_run(out).run_id == first.run_id
    unfinished = [r for r in artifacts.list_runs(out) if not r.complete]
    assert len(unfinished) == 1 and unfinished[0].model_names() == ["cnn3"]
    assert not (unfinished[0].path / artifacts.MODELS / "cnn4").exists()

    resumed = train_study(config)
    assert resumed.run_id == unfinished[0].run_id and resumed.complete
    assert calls == ["cnn3", "cnn4", "cnn4"]  # cnn3 was not trained again
    assert artifacts.latest_run(out).run_id == resumed.run_id
    assert resumed.model_names() == ["cnn3", "cnn4"]
    assert verify_run(resumed) == []


def test_run_ids_are_unique_within_one_second(tmp_path):
    config = _config(tmp_path, ("cnn3",))
    made = {new_run_dir(tmp_path / "art", config, "abcdef0123456789") for _ in range(5)}
    assert len(made) == 5 and all(p.is_dir() for p in made)


def test_fresh_flag_starts_a_new_run(tmp_path):
    config = _config(tmp_path, ("cnn3",))
    a = train_study(config)
    b = train_study(config, fresh=True)
    assert a.run_id != b.run_id
    # The same command gives the same model, whether its inputs came from the cache or not.
    assert a.predictions("cnn3").equals(b.predictions("cnn3"))
    assert artifacts.list_runs(tmp_path / "art")[0].run_id == b.run_id  # newest first


def _stopped_after_cnn3(config, monkeypatch) -> None:
    """Run `config` (cnn3 and cnn4) until cnn4 starts, then stop it as Ctrl-C would."""
    real = train.train_cnn

    def stop_at_cnn4(name, *args, **kwargs):
        if name == "cnn4":
            raise KeyboardInterrupt
        return real(name, *args, **kwargs)

    monkeypatch.setattr(train, "train_cnn", stop_at_cnn4)
    with pytest.raises(KeyboardInterrupt):
        train_study(config)
    monkeypatch.undo()


def test_changed_data_starts_a_new_run_and_says_why(tmp_path, monkeypatch):
    config = _config(tmp_path, ("cnn3", "cnn4"))
    _stopped_after_cnn3(config, monkeypatch)
    data = tmp_path / "data"
    for i in range(3):  # replace three cat photos by others
        (data / "Cat" / f"{i}.jpg").unlink()
        photo(40, 40, seed=500 + i).save(data / "Cat" / f"new{i}.jpg")
    log, stream = _log()
    run = train_study(config, log)
    assert "was not resumed: data changed: 3 photo(s) removed, 3 photo(s) added" in (
        stream.getvalue()
    )
    assert "Starting run" in stream.getvalue()
    val = set(run.split().query("split == 'val'").path)
    for name in run.model_names():
        assert set(run.predictions(name).path) == val
    assert verify_run(run) == []


def test_an_edited_photo_counts_as_changed_data(tmp_path, monkeypatch):
    config = _config(tmp_path, ("cnn3", "cnn4"))
    _stopped_after_cnn3(config, monkeypatch)
    photo(40, 40, seed=999).save(tmp_path / "data" / "Dog" / "3.jpg")
    log, stream = _log()
    train_study(config, log)
    assert "data changed: 1 photo(s) edited" in stream.getvalue()


def test_a_moved_data_folder_resumes_the_same_run(tmp_path, monkeypatch):
    config = _config(tmp_path, ("cnn3", "cnn4"))
    _stopped_after_cnn3(config, monkeypatch)
    shutil.move(tmp_path / "data", tmp_path / "moved")
    log, stream = _log()
    run = train_study(_config(tmp_path, ("cnn3", "cnn4"), data=tmp_path / "moved"), log)
    assert "Resuming run" in stream.getvalue() and "cnn3: already trained" in stream.getvalue()
    assert run.manifest["dataset"]["root"] == str(tmp_path / "moved")


def test_epoch_level_resume_continues_after_the_last_finished_epoch(tmp_path, monkeypatch):
    config = _config(tmp_path, ("cnn3",), cnn_epochs=3)
    real_save = checkpoint.save

    def save_then_stop(folder, model, epochs_done, rows):
        real_save(folder, model, epochs_done, rows)
        if epochs_done == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train_study(config)
    monkeypatch.undo()
    log, stream = _log()
    run = train_study(config, log)
    assert "cnn3: resumed after epoch 2 from its checkpoint" in stream.getvalue()
    history = run.history("cnn3")
    assert history.epoch.tolist() == [1, 2, 3]
    assert run.model_record("cnn3")["resumed_after_epoch"] == 2
    assert not artifacts.checkpoint_dir(run.path, "cnn3").exists()


def test_a_second_writer_fails_at_once_with_no_wait(tmp_path):
    config = _config(tmp_path, ("cnn3",))
    held = WriterLock(tmp_path / "art", "train")
    with held, pytest.raises(PipelineError, match="in use by `train` \\(pid"):
        train_study(config, wait=False)


def test_a_dev_split_run_scores_training_photos_and_never_touches_validation(tmp_path):
    normal = train_study(_config(tmp_path, ("cnn3",)))
    log, stream = _log()
    tuning = train_study(_config(tmp_path, ("cnn3",), dev_fraction=0.3), log)
    assert tuning.run_id != normal.run_id  # another identity: not resumed
    split = normal.split().set_index("path").split
    used = tuning.split()
    assert set(used.path) <= set(split[split == "train"].index)  # no validation photo at all
    dev = used[used.split == "val"].path
    assert len(dev) and set(tuning.predictions("cnn3").path) == set(dev)
    counts = tuning.manifest["dataset"]["counts"]
    assert counts["held_out"] == (split == "val").sum()
    assert tuning.manifest["dataset"]["dev_fraction"] == 0.3
    assert "dev split: 30% of the training photos" in stream.getvalue()
    assert verify_run(tuning) == []


def test_a_run_records_the_precision_auto_resolved_to(tmp_path):
    from pipeline.environment import cpu_description
    from pipeline.modeling import precision

    run = train_study(_config(tmp_path, ("cnn3",)))
    expected = precision.resolve("auto", cpu_description()["cpu_flags"])
    assert run.manifest["config"]["precision"] == expected
    model = run.model_record("cnn3")
    if expected != "float32":
        assert any(expected in note for note in model["notes"])
    from pipeline.modeling import saved_models

    saved = saved_models.load(run.model_path("cnn3"))
    assert {layer.compute_dtype for layer in saved.layers[1:]} == {"float32"}
