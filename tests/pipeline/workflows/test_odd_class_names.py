"""A study of three generated classes whose names hold a comma, quotes, a space and accents:
every record of the run is written, read back and verified."""

from __future__ import annotations

from pipeline.config import make_config
from pipeline.store import predictions
from pipeline.workflows.study import train_study
from pipeline.workflows.verify import verify_run
from tests.imagefactory import write_class_folder

ODD = ('café, "au lait"', "Zürich lake", "plain")


def test_odd_class_names_work_through_a_whole_study(tmp_path):
    data = write_class_folder(tmp_path / "odd photos", n_per_class=24, size=40, names=ODD)
    config = make_config(
        "quick",
        data_dir=str(data),
        out_dir=str(tmp_path / "art"),
        models=("cnn3",),
        cnn_input_size=32,
        cnn_epochs=3,
        robustness_photos=0,
    )
    run = train_study(config)
    names = sorted(ODD)
    assert run.class_names == names
    frame = run.predictions("cnn3")
    assert predictions.probabilities_of(frame, names).shape == (len(frame), 3)
    assert list(run.confusion("cnn3")["per_class"]) == names
    assert run.analysis()["class_names"] == names
    wrong = run.misclassified("cnn3")
    assert all(run.thumb_path(t).is_file() for t in wrong.thumb.dropna())
    assert verify_run(run) == []
    assert (
        frame.predicted.to_numpy() == predictions.probabilities_of(frame, names).argmax(1)
    ).all()
