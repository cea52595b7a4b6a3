"""Bring your own model: scored on the run's validation photos beside (or instead of) ours."""

import pytest

from pipeline.config import RunConfig
from pipeline.errors import PipelineError
from pipeline.modeling.external import parse
from pipeline.workflows.study import train_study
from pipeline.workflows.verify import verify_run

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def external_run(real_run, tmp_path_factory):
    """A run of no model of ours and one external model: the session run's saved CNN-3."""
    folder = tmp_path_factory.mktemp("external")
    config = RunConfig.from_dict(real_run.manifest["config"]).replace(
        models=(),
        external=(f"mine={real_run.model_path('cnn3')}",),
        out_dir=str(folder / "artifacts"),
    )
    return train_study(config)


def test_an_external_model_is_scored_like_ours(real_run, external_run):
    assert external_run.model_names() == ["mine"] and external_run.complete
    ours, theirs = real_run.predictions("cnn3"), external_run.predictions("mine")
    assert theirs.path.tolist() == ours.path.tolist()  # same data and seed: same photos
    assert theirs.p_dog.to_numpy() == pytest.approx(ours.p_dog.to_numpy(), abs=1e-6)
    record = external_run.model_record("mine")
    assert record["external"]["sha256"] == external_run.manifest["identity"]["external"]["mine"]
    assert record["epochs"] == 0 and external_run.history("mine").empty
    assert external_run.analysis()["models"] == ["mine"]
    assert verify_run(external_run) == []


def test_every_dashboard_page_shows_an_external_model(external_run, monkeypatch):
    from dashboard import pages
    from tests.dashboard.conftest import open_app

    for info in pages.PAGES:
        at = open_app(external_run.path.parent.parent, monkeypatch, info.key)
        assert not at.exception, (info.key, at.exception)
    at = open_app(external_run.path.parent.parent, monkeypatch)
    assert "mine" in _frames(at)[0].model.tolist()


def _frames(at):
    return [d.value for d in at.dataframe if "val accuracy" in getattr(d.value, "columns", [])]


@pytest.mark.parametrize(
    "value, message",
    [
        ("mine", "takes NAME=PATH.keras"),
        ("cnn3=x.keras", "already taken"),
        ("my model=x.keras", "letters, digits"),
        ("mine=/nonexistent/model.keras", "is not a .keras file"),
    ],
)
def test_bad_external_values_are_plain_errors(value, message):
    with pytest.raises(PipelineError, match=message):
        parse((value,))
