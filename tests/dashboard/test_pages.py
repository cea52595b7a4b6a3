"""Every page with Streamlit's AppTest, on a run the real pipeline produced."""

import pytest

from tests.dashboard.conftest import PAGES, open_app
from tests.imagefactory import UNUSABLE, encode, odd_files, photo


def _text(at) -> str:
    parts = [
        e.value
        for kind in ("markdown", "caption", "info", "warning", "error", "title", "subheader")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)


def _frames(at, column: str) -> list:
    """Values of the dataframes on the page that have `column` (AppTest finds them by content)."""
    return [d.value for d in at.dataframe if column in getattr(d.value, "columns", [])]


def _answers(at) -> list:
    """Live compare's answer tables (static tables, numbers as shown), as numbers."""
    tables = [t.value for t in at.table if "latency (ms)" in getattr(t.value, "columns", [])]
    numeric = (
        ["latency (ms)"] + [c for c in tables[0].columns if c.startswith("P(")] if tables else []
    )
    return [t.astype({c: float for c in numeric}) for t in tables]


@pytest.fixture(scope="module")
def real_artifacts(real_run):
    return real_run.path.parent.parent


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_without_exceptions(real_artifacts, monkeypatch, page):
    at = open_app(real_artifacts, monkeypatch, page)
    assert not at.exception, at.exception
    assert at.title[0].value


def test_overview_leaderboard_lists_all_four_with_reference(real_artifacts, monkeypatch):
    at = open_app(real_artifacts, monkeypatch)
    board = _frames(at, "val accuracy")[0]
    assert list(board.model) == ["CNN-3", "CNN-4", "MobileNetV2 frozen", "MobileNetV2 fine-tuned"]
    assert board.reference.tolist() == [0.7977, 0.8617, 0.9848, 0.9854]
    assert (board["latency (ms, 1 image)"] > 0).all()
    assert "b5c304ec" in at.table[0].value.to_string()
    record = at.table[0].value["value"]
    assert record["trained on"] == "one process; input pipeline for cpu, inference batch 16"


def test_overview_says_the_run_is_verified_or_what_failed(
    real_artifacts, partial_artifacts, monkeypatch
):
    at = open_app(real_artifacts, monkeypatch)
    assert any("Verified" in s.value for s in at.success)
    assert {m.label: m.value for m in at.metric}["Duplicate groups"] == "0"
    at = open_app(partial_artifacts, monkeypatch)
    failed = "\n".join(e.value for e in at.error)
    assert "Not verified" in failed and "missing: models/cnn3/confusion.json" in failed


def test_rewritten_run_files_show_without_a_restart(real_run, tmp_path, monkeypatch):
    """Caches of a run's files follow each file's modification time (evaluate, analyze)."""
    import os
    import shutil

    from pipeline.store import artifacts

    target = tmp_path / artifacts.RUNS / real_run.path.name
    shutil.copytree(real_run.path, target)
    at = open_app(tmp_path, monkeypatch, "curves")
    before = _frames(at, "val_loss")[0]
    history = target / artifacts.MODELS / "cnn3" / artifacts.HISTORY
    changed = before.assign(val_loss=123.0)
    changed.to_csv(history, index=False)
    stat = history.stat()
    os.utime(history, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    at.run()
    assert not at.exception
    assert _frames(at, "val_loss")[0].val_loss.tolist() == [123.0] * len(before)


def test_curves_page_switches_metric_and_layout(real_artifacts, monkeypatch):
    at = open_app(real_artifacts, monkeypatch, "curves")
    at.radio(key="curves_metric").set_value("loss")
    at.radio(key="curves_layout").set_value("panels")
    at.multiselect(key="curves_models").set_value(["mobilenetv2_finetuned"])
    at.run()
    assert not at.exception
    at.multiselect(key="curves_models").set_value([])
    at.run()
    assert "Pick at least one model" in _text(at)


def test_confusion_page_normalizes(real_artifacts, monkeypatch):
    at = open_app(real_artifacts, monkeypatch, "confusion")
    at.radio(key="cm_mode").set_value("row-normalized").run()
    assert not at.exception
    table = _frames(at, "precision")[0]
    assert set(table.columns) >= {"precision", "recall", "support"}


def test_mistakes_page_filters_and_inspects(real_artifacts, monkeypatch):
    at = open_app(real_artifacts, monkeypatch, "mistakes")
    at.multiselect(key="mis_models").set_value(["cnn3", "cnn4"])
    at.selectbox(key="mis_true").set_value("Cat")
    at.slider(key="mis_conf").set_value((0.6, 1.0))
    at.selectbox(key="mis_sort").set_value("least confident first")
    at.run()
    assert not at.exception
    assert "mistakes match" in _text(at)
    cross = _frames(at, "missed_by")[0]
    assert len(cross) > 0 and "missed_by" in cross.columns
    at.selectbox(key="mis_group").set_value("CNNs only").run()
    assert not at.exception
    probs = _frames(at, "correct")[0]
    assert len(probs) == 4


def test_live_compare_answers_an_upload_with_all_four_models(
    real_artifacts, monkeypatch, shared_data
):
    at = open_app(real_artifacts, monkeypatch, "live")
    photo_bytes = (shared_data / "Dog" / "0.jpg").read_bytes()
    at.file_uploader(key="upload").set_value(("dog.jpg", photo_bytes, "image/jpeg")).run()
    assert not at.exception
    answer = _answers(at)[0]
    assert len(answer) == 4 and answer["latency (ms)"].gt(0).all()
    assert ((answer["P(Cat)"] + answer["P(Dog)"]).round(6) == 1).all()


def test_live_compare_samples_work_without_upload(real_artifacts, monkeypatch):
    at = open_app(real_artifacts, monkeypatch, "live")
    options = at.multiselect(key="samples").options
    assert len(options) == 6
    at.multiselect(key="samples").set_value(options[:2]).run()
    assert not at.exception and [len(f) for f in _answers(at)] == [4, 4]


def test_every_bad_upload_gets_an_answer_or_a_clear_message(real_artifacts, monkeypatch):
    from dashboard.settings import MAX_BATCH_FILES
    from pipeline.data.images import EXTENSIONS

    # The uploader takes photo extensions only (the browser refuses the rest); what a file
    # holds is still checked by the loader, whatever its name.
    files = {n: d for n, d in odd_files().items() if n.rsplit(".", 1)[-1] in EXTENSIONS}
    huge = encode(photo(7000, 7000, seed=1).convert("L"), "PNG")  # 49 MP: over the pixel limit
    uploads = [(name, data, "application/octet-stream") for name, data in files.items()]
    uploads.append(("bomb.png", huge, "image/png"))
    at = open_app(real_artifacts, monkeypatch, "live")
    errors, answered, captions = [], 0, []
    for start in range(0, len(uploads), MAX_BATCH_FILES):  # one batch at a time
        at.file_uploader(key="upload").set_value(uploads[start : start + MAX_BATCH_FILES]).run()
        assert not at.exception and not at.warning
        errors += [e.value for e in at.error]
        answered += len(_answers(at))
        captions += [c.value for c in at.caption]
    assert len(errors) == len(UNUSABLE) + 1 and any("too large" in e for e in errors)
    assert answered == len(files) - len(UNUSABLE)
    assert any("EXIF" in c for c in captions)


def test_real_odd_files_each_get_an_answer_or_a_reason(real_artifacts, monkeypatch):
    import io

    import numpy as np
    from PIL import Image

    frames = [photo(60, 40, seed=i) for i in range(60)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=20)
    sixteen = Image.fromarray(np.linspace(0, 65535, 80 * 60).reshape(60, 80).astype(np.uint16))
    uploads = [
        # An EPS named like a photo: the uploader's type filter cannot see it, the loader does.
        ("drawing.jpg", encode(photo(40, 40, seed=1), "EPS"), "image/jpeg"),
        ("many.gif", gif.getvalue(), "image/gif"),
        ("deep.png", encode(sixteen, "PNG"), "image/png"),
        ("scan.tiff", encode(photo(64, 48, seed=2), "TIFF"), "image/tiff"),
        ("huge.jpg", b"\xff\xd8" + b"\0" * (21 * 2**20), "image/jpeg"),
    ]
    at = open_app(real_artifacts, monkeypatch, "live")
    at.file_uploader(key="upload").set_value(uploads).run()
    assert not at.exception
    errors = "\n".join(e.value for e in at.error)
    assert "PostScript/EPS files are not accepted" in errors
    assert "file too large (21.0 MB; the limit is 20 MB)" in errors
    notes = "\n".join(c.value for c in at.caption)
    assert "animated (60 frames): first frame used" in notes
    assert "high bit depth (I;16) scaled to 8-bit RGB" in notes
    assert len(_answers(at)) == 3  # GIF, 16-bit PNG and TIFF answered


def test_a_batch_over_the_cap_says_what_was_left_out(real_artifacts, monkeypatch):
    from dashboard.settings import MAX_BATCH_FILES

    small = encode(photo(50, 40, seed=7))
    uploads = [(f"{i}.jpg", small, "image/jpeg") for i in range(MAX_BATCH_FILES + 2)]
    at = open_app(real_artifacts, monkeypatch, "live")
    at.file_uploader(key="upload").set_value(uploads).run()
    assert not at.exception
    assert any(f"Only the first {MAX_BATCH_FILES} photos" in w.value for w in at.warning)
    assert len(_answers(at)) == MAX_BATCH_FILES


def test_a_run_missing_model_files_says_which_on_every_page(broken_artifacts, monkeypatch):
    for page in PAGES:
        at = open_app(broken_artifacts, monkeypatch, page)
        assert not at.exception, (page, at.exception)
    at = open_app(broken_artifacts, monkeypatch, "live")
    assert any("CNN-3 (models/cnn3/model.keras)" in w.value for w in at.warning)
    at.multiselect(key="samples").set_value(at.multiselect(key="samples").options[:1]).run()
    assert not at.exception and len(_answers(at)[0]) == 3
    for page in ("mistakes", "suspects"):
        at = open_app(broken_artifacts, monkeypatch, page)
        assert any("cnn4: predictions.csv is missing" in w.value for w in at.warning), page


def test_empty_artifacts_explain_how_to_make_a_run(tmp_path, monkeypatch):
    for page in PAGES:
        at = open_app(tmp_path, monkeypatch, page)
        assert not at.exception
        assert "No training runs found" in _text(at)
        assert "python -m pipeline train" in at.code[0].value


def test_partial_run_shows_what_exists_and_names_what_is_missing(partial_artifacts, monkeypatch):
    at = open_app(partial_artifacts, monkeypatch)
    assert not at.exception
    assert "CNN-4" in _text(at)  # named as not in this run
    assert len(_frames(at, "val accuracy")[0]) == 3
    at = open_app(partial_artifacts, monkeypatch, "confusion")
    assert not at.exception and "confusion.json is missing" in _text(at)
    for page in ("curves", "mistakes", "live"):
        assert not open_app(partial_artifacts, monkeypatch, page).exception


def test_run_picker_defaults_to_latest_and_switches_runs(real_run, tmp_path, monkeypatch):
    import json
    import shutil

    from pipeline.store import artifacts

    for run_id in ("20200101-older", "20300101-newer-incomplete"):
        target = tmp_path / artifacts.RUNS / run_id
        shutil.copytree(real_run.path, target)
        manifest = json.loads((target / artifacts.MANIFEST).read_text())
        manifest["run_id"] = run_id
        manifest["status"] = "running" if "incomplete" in run_id else "complete"
        (target / artifacts.MANIFEST).write_text(json.dumps(manifest))
    artifacts.point_latest(tmp_path, tmp_path / artifacts.RUNS / "20200101-older")
    at = open_app(tmp_path, monkeypatch)
    picker = at.selectbox(key="run_picker")
    assert picker.value.endswith("20200101-older") and len(picker.options) == 2
    assert "20200101-older" in at.table[0].value.to_string()
    picker.set_value(str(tmp_path / artifacts.RUNS / "20300101-newer-incomplete")).run()
    assert not at.exception and "20300101-newer-incomplete" in at.table[0].value.to_string()


def test_significance_page_says_which_differences_are_real(real_artifacts, monkeypatch, real_run):
    at = open_app(real_artifacts, monkeypatch, "significance")
    assert not at.exception
    table = _frames(at, "p (Holm)")[0]
    assert len(table) == 6
    verdicts = [
        m.value for m in at.markdown if "significant" in m.value or "no difference" in m.value
    ]
    assert len(verdicts) == 6
    stored = real_run.analysis()["mcnemar"]
    assert table["only A right"].tolist() == [r["a_only"] for r in stored]


def test_threshold_slider_updates_every_confusion_matrix_and_metric(
    real_artifacts, monkeypatch, real_run
):
    from pipeline.evaluation import metrics

    at = open_app(real_artifacts, monkeypatch, "thresholds")
    assert not at.exception
    at.toggle(key="curves_zoom").set_value(True).run()
    assert not at.exception
    at.slider(key="threshold").set_value(0.9).run()
    assert not at.exception
    table = _frames(at, "errors")[0]
    p = real_run.predictions("cnn3")
    expected = metrics.confusion(p.label.to_numpy(), p.p_dog.to_numpy(), 0.9)
    assert table.errors.iloc[0] == expected[0][1] + expected[1][0]
    at.slider(key="threshold").set_value(0.5).run()
    assert _frames(at, "errors")[0]["Δ accuracy vs 0.5 (pts)"].abs().max() == 0


def test_calibration_page_shows_before_and_after_temperature_scaling(real_artifacts, monkeypatch):
    at = open_app(real_artifacts, monkeypatch, "calibration")
    table = _frames(at, "ECE after")[0]
    assert len(table) == 4 and (table["temperature T"] > 0).all()
    at.radio(key="calibration_which").set_value("after temperature scaling").run()
    assert not at.exception


def test_efficiency_page_marks_the_frontier(real_artifacts, monkeypatch):
    at = open_app(real_artifacts, monkeypatch, "efficiency")
    table = _frames(at, "on frontier")[0]
    assert len(table) == 4 and table["on frontier"].any()
    assert (table["latency (ms)"] > 0).all()


def test_suspects_page_lists_explains_and_offers_the_exclusion_file(
    real_artifacts, monkeypatch, real_run
):
    at = open_app(real_artifacts, monkeypatch, "suspects")
    assert not at.exception  # the stored list (often empty on this small run)
    # One judge at a 50% bar: every photo CNN-3 gets wrong is a suspect.
    at.multiselect(key="suspect_models").set_value(["cnn3"])
    at.slider(key="suspect_threshold").set_value(0.5).run()
    assert not at.exception
    assert "--exclude-file" in at.code[0].value
    table = _frames(at, "min_confidence_other")[0]
    assert len(table) == len(real_run.misclassified("cnn3"))
    assert any("Grad-CAM maps" in c.value for c in at.caption)
    at.radio(key="suspect_evidence").set_value("cat").run()
    assert not at.exception


def test_analysis_pages_say_how_to_make_a_missing_analysis(partial_artifacts, monkeypatch):
    for page in ("significance", "thresholds", "calibration", "efficiency", "suspects"):
        at = open_app(partial_artifacts, monkeypatch, page)
        assert not at.exception
        assert "python -m pipeline analyze" in at.code[0].value


def test_mistakes_page_shows_where_each_model_looked(real_artifacts, monkeypatch, real_run):
    from pipeline.evaluation.analysis import photos_to_explain

    stored = photos_to_explain(real_run)
    at = open_app(real_artifacts, monkeypatch, "mistakes")
    options = at.selectbox(key="mis_pick").options
    at.selectbox(key="mis_pick").set_value(next(p for p in options if p in stored)).run()
    assert any("stored by the pipeline" in c.value for c in at.caption)
    at.radio(key="pick_evidence").set_value("dog").run()
    assert not at.exception
    # A photo without stored maps: computed on request from the photo on disk.
    at.selectbox(key="mis_pick").set_value(next(p for p in options if p not in stored)).run()
    assert not any("Grad-CAM maps" in c.value for c in at.caption)
    at.toggle(key="pick_compute").set_value(True).run()
    assert not at.exception
    assert any("computed now from the photo" in c.value for c in at.caption)


def test_live_compare_explains_an_upload(real_artifacts, monkeypatch, shared_data):
    at = open_app(real_artifacts, monkeypatch, "live")
    photo_bytes = (shared_data / "Cat" / "1.jpg").read_bytes()
    at.file_uploader(key="upload").set_value(("cat.jpg", photo_bytes, "image/jpeg")).run()
    at.toggle(key="explain_0").set_value(True).run()
    assert not at.exception
    assert at.radio(key="live_0_evidence").value == "each model's answer"
    at.radio(key="live_0_evidence").set_value("cat").run()
    assert not at.exception


def test_compare_runs_page_shows_what_b_fixed_and_what_differs(real_run, tmp_path, monkeypatch):
    import json
    import shutil

    from pipeline.store import artifacts

    for run_id, created, epochs in (
        ("20200101-a", "2020-01-01", None),
        ("20200102-b", "2020-01-02", 99),
    ):
        target = tmp_path / artifacts.RUNS / run_id
        shutil.copytree(real_run.path, target)
        manifest = json.loads((target / artifacts.MANIFEST).read_text())
        manifest.update(run_id=run_id, created=created)
        if epochs:
            manifest["config"]["cnn_epochs"] = epochs
        (target / artifacts.MANIFEST).write_text(json.dumps(manifest))
    b = tmp_path / artifacts.RUNS / "20200102-b" / artifacts.MODELS / "cnn3" / artifacts.PREDICTIONS
    frame = real_run.predictions("cnn3")
    wrong = frame.index[frame.predicted != frame.label][:3]
    frame.loc[wrong, "predicted"] = frame.loc[wrong, "label"]  # run B gets three more right
    frame.to_csv(b, index=False)

    at = open_app(tmp_path, monkeypatch, "compare")
    assert not at.exception
    table = _frames(at, "shared photos")[0]
    assert len(table) == 4 and (table["shared photos"] == len(frame)).all()
    assert table.set_index("model").loc["CNN-3", "B − A (pts)"] == pytest.approx(300 / len(frame))
    assert "Photos B fixed (3) and broke (0)" in _text(at)
    config = _frames(at, "setting")[0]
    assert config.setting.tolist() == ["cnn_epochs"] and config.B.tolist() == ["99"]


def test_compare_runs_page_explains_what_it_needs(real_artifacts, monkeypatch):
    at = open_app(real_artifacts, monkeypatch, "compare")
    assert not at.exception and "needs two complete runs" in _text(at)


def test_robustness_page_shows_every_model_under_every_corruption(real_artifacts, monkeypatch):
    from pipeline.evaluation import robustness

    at = open_app(real_artifacts, monkeypatch, "robustness")
    assert not at.exception, at.exception
    table = _frames(at, "condition")[0]
    assert list(table.columns[1:]) == [
        "CNN-3",
        "CNN-4",
        "MobileNetV2 frozen",
        "MobileNetV2 fine-tuned",
    ]
    assert len(table) == len(robustness.conditions())
    gaps = _frames(at, "gap (points)")[0]
    assert len(gaps) == 4
    at.selectbox(key="robustness_corruption").select("Gaussian blur").run()
    assert not at.exception
    at.selectbox(key="flip_corruption").select("JPEG compression").run()
    assert not at.exception


def test_robustness_page_says_how_to_make_it_when_missing(real_run, tmp_path, monkeypatch):
    import shutil

    from pipeline.store import artifacts

    target = tmp_path / artifacts.RUNS / real_run.path.name
    shutil.copytree(real_run.path, target)
    (target / artifacts.ROBUSTNESS).unlink()
    at = open_app(tmp_path, monkeypatch, "robustness")
    assert not at.exception
    assert "--robustness" in "\n".join(c.value for c in at.code)


def test_robustness_page_shows_the_resize_gap_on_every_validation_photo(
    real_run, shared_data, tmp_path, monkeypatch
):
    import shutil

    from pipeline.evaluation.robustness_eval import resize_gap_all
    from pipeline.modeling import saved_models
    from pipeline.store import artifacts

    target = tmp_path / artifacts.RUNS / real_run.path.name
    shutil.copytree(real_run.path, target)
    at = open_app(tmp_path, monkeypatch, "robustness")
    assert "--resize-gap" in _text(at)  # says how to make it
    run = artifacts.read_run(target)
    models = {n: saved_models.load(run.model_path(n)) for n in ("cnn3", "cnn4")}
    result = resize_gap_all(run, str(shared_data), models)
    at = open_app(tmp_path, monkeypatch, "robustness")
    assert not at.exception, at.exception
    table = _frames(at, "McNemar p")[0]
    assert table.model.tolist() == ["CNN-3", "CNN-4"]
    n = result["models"]["cnn3"]["photos"]
    assert f"all {n:,} validation photos" in _text(at)


def test_overview_says_when_a_run_was_scored_on_a_dev_split(real_run, tmp_path, monkeypatch):
    import json
    import shutil

    from pipeline.store import artifacts

    target = tmp_path / artifacts.RUNS / real_run.path.name
    shutil.copytree(real_run.path, target)
    manifest = json.loads((target / artifacts.MANIFEST).read_text())
    manifest["dataset"]["dev_fraction"] = 0.15
    manifest["dataset"]["counts"]["held_out"] = 123
    (target / artifacts.MANIFEST).write_text(json.dumps(manifest))
    at = open_app(tmp_path, monkeypatch, "overview")
    assert not at.exception, at.exception
    assert any("tuning run on a dev split" in w.value for w in at.warning)
    details = "\n".join(str(v) for t in at.table for v in t.value.to_numpy().ravel())
    assert "123 validation photos left out" in details
