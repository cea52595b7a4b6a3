"""The pages of a real repeat group (3 repeats on real photos): each model's spread and the
pairwise verdicts over seeds, the mean curve with its band, and mistakes by how many
repeats made them; answers checked against the runs' own files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dashboard import mistakes
from dashboard.settings import label
from pipeline.store import artifacts
from tests.dashboard.conftest import open_app
from tests.dashboard.test_pages import _values

pytestmark = pytest.mark.integration


def _runs(out, record) -> list[artifacts.Run]:
    return [artifacts.read_run(out / artifacts.RUNS / r) for r in record["summary"]["runs"]]


def _chart(at, key: str) -> dict:
    (found,) = [c for c in at.get("plotly_chart") if c.key == key]
    return json.loads(found.proto.spec)


def _texts(at) -> str:
    return " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)


def test_significance_shows_each_repeat_and_the_verdicts_over_seeds(repeat_group, monkeypatch):
    out, record = repeat_group
    runs = _runs(out, record)
    at = open_app(out, monkeypatch, "significance")
    assert not at.exception, at.exception
    spec = _chart(at, "repeats")
    dots = {t["y"][0]: _values(t["x"]).tolist() for t in spec["data"] if len(t["y"]) == 3}
    for name in ("cnn3", "mobilenetv2_frozen"):
        expected = [100 * r.metrics(name)["accuracy"] for r in runs]
        assert dots[label(name)] == pytest.approx(expected)
    text = _texts(at)
    assert "This run is one of the 3 repeats of group" in text
    for pair in record["summary"]["pairs"]:
        assert pair["verdict"] in text
    spread = next(d.value for d in at.dataframe if "seed std (pts)" in d.value.columns)
    row = spread.set_index("model").loc[label("cnn3")]
    accuracies = [r.metrics("cnn3")["accuracy"] for r in runs]
    assert row["mean"] == pytest.approx(np.mean(accuracies))
    assert row["seed std (pts)"] == pytest.approx(100 * np.std(accuracies, ddof=1))


def test_curves_show_the_mean_over_the_repeats_in_a_band(repeat_group, monkeypatch):
    out, record = repeat_group
    runs = _runs(out, record)
    at = open_app(out, monkeypatch, "curves")
    at.toggle(key="curves_repeats").set_value(True).run()
    assert not at.exception, at.exception
    spec = _chart(at, "curves_repeat_chart")
    (mean,) = [t for t in spec["data"] if t.get("name", "").startswith("CNN-3 (mean of 3)")]
    expected = pd.concat([r.history("cnn3") for r in runs]).groupby("epoch").val_accuracy.mean()
    assert _values(mean["y"]).tolist() == pytest.approx(expected.tolist())


def test_mistakes_filter_by_how_many_repeats_made_them(repeat_group, monkeypatch):
    out, record = repeat_group
    runs = _runs(out, record)
    latest = artifacts.latest_run(out)  # the page opens on it: one of the repeats
    at = open_app(out, monkeypatch, "mistakes")
    at.multiselect(key="mis_models").set_value(["cnn3"])
    at.selectbox(key="mis_repeats").set_value(mistakes.REPEAT_FILTERS[1]).run()
    assert not at.exception, at.exception
    wrong_every_time = set.intersection(
        *(set(r.predictions("cnn3").query("predicted != label").path) for r in runs)
    )
    shown = {c.value for c in at.caption if c.value in wrong_every_time}
    caption = next(c.value for c in at.caption if "mistakes match" in c.value)
    in_latest = set(latest.predictions("cnn3").query("predicted != label").path)
    assert caption.startswith(f"{len(wrong_every_time & in_latest):,} mistakes match")
    assert shown <= wrong_every_time and len(shown) == min(40, len(wrong_every_time))


def test_a_run_outside_any_group_says_how_to_make_repeats(nclass_runs, monkeypatch):
    at = open_app(nclass_runs[3], monkeypatch, "significance")
    assert not at.exception
    assert "python -m pipeline train --repeats 5" in _texts(at)


@pytest.fixture(scope="module")
def two_groups(repeat_group, tmp_path_factory):
    """A copy of the repeat group's folder with a second group: the CNN trained 3 epochs."""
    import io
    import shutil

    from pipeline.config import RunConfig
    from pipeline.console import Console
    from pipeline.workflows.repeats import run_repeats

    out, record = repeat_group
    copy = tmp_path_factory.mktemp("two_groups") / "artifacts"
    shutil.copytree(out, copy, symlinks=True)
    base = RunConfig.from_dict(record["base"]).replace(out_dir=str(copy), cnn_epochs=3)
    return copy, record, run_repeats(base, 2, Console(io.StringIO()))


def test_compare_runs_compares_two_repeat_groups(two_groups, monkeypatch):
    out, first, second = two_groups
    at = open_app(out, monkeypatch, "compare")
    at.radio(key="cmp_of").set_value("two repeat groups").run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "Welch p" in d.value.columns)
    row = table.set_index("model").loc[label("cnn3")]
    # Group A is the older group, B the newer: B − A of the means on the same photos.
    means = (
        first["summary"]["models"]["cnn3"]["mean"],
        second["summary"]["models"]["cnn3"]["mean"],
    )
    assert (row["A mean"], row["B mean"]) == pytest.approx(means)
    assert row["B − A (pts)"] == pytest.approx(100 * (means[1] - means[0]))
    assert row["repeats A / B"] == "3 / 2"
    config = next(d.value for d in at.dataframe if "setting" in d.value.columns)
    assert config.values.tolist() == [["cnn_epochs", "2", "3"]]
    from pipeline.workflows.repeats import compare_groups

    expected = compare_groups(out, first, second)["models"]
    said = " ".join(m.value for m in at.markdown)
    assert all(c["verdict"] in said for c in expected)
