"""Resume and interruption behaviour of a whole run, on tiny generated images."""

import pytest

from pipeline import artifacts, train
from pipeline.config import make_config
from pipeline.run import train_study
from tests.imagefactory import write_class_folder


def _config(tmp_path, models):
    data = tmp_path / "data"
    if not data.exists():
        write_class_folder(data, n_per_class=16, size=40)
    return make_config(
        "quick",
        data_dir=str(data),
        out_dir=str(tmp_path / "art"),
        models=models,
        cnn_input_size=32,
        cnn_epochs=1,
        batch_size=8,
    )


def test_interrupted_run_keeps_latest_and_resumes_without_retraining(tmp_path, monkeypatch):
    first = train_study(_config(tmp_path, ("cnn3",)))
    out = tmp_path / "art"
    assert artifacts.latest_run(out).run_id == first.run_id

    calls = []
    real_train_cnn = train.train_cnn

    def interrupted(name, *args):
        calls.append(name)
        if name == "cnn4" and calls.count("cnn4") == 1:
            raise KeyboardInterrupt
        return real_train_cnn(name, *args)

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


def test_fresh_flag_starts_a_new_run(tmp_path):
    config = _config(tmp_path, ("cnn3",))
    a = train_study(config)
    b = train_study(config, fresh=True)
    assert a.run_id != b.run_id


def test_full_disk_is_reported_in_plain_words(tmp_path, monkeypatch):
    import errno

    from pipeline import run as run_module
    from pipeline.errors import PipelineError

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_module, "write_split", no_space)
    with pytest.raises(PipelineError, match="disk .* is full"):
        train_study(_config(tmp_path, ("cnn3",)))
