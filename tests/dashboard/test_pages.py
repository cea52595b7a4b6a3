"""Every page with Streamlit's AppTest, on a run the real pipeline produced.

Numbers a page shows are checked against ones computed here from the run's own files.
"""

import base64
import json

import numpy as np
import pytest

from dashboard import pages
from dashboard.settings import label
from tests.dashboard.conftest import PAGE_KEYS, open_app
from tests.dashboard.expected import assert_answers, counts, predictions_csv
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


def _values(value) -> np.ndarray:
    """A plotly JSON array: a plain list, or the typed form {dtype, bdata, shape}."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat
    return np.asarray(value)


def _heatmap(at, key: str) -> np.ndarray:
    """The z values of the one heatmap in the chart whose widget key is `key`."""
    found = [c for c in at.get("plotly_chart") if c.key == key]
    assert len(found) == 1, [c.key for c in at.get("plotly_chart")]
    (trace,) = [t for t in json.loads(found[0].proto.spec)["data"] if t["type"] == "heatmap"]
    return _values(trace["z"])


def _by_label(frame) -> dict[str, dict]:
    """A table indexed by model label as {label: {column: value}}."""
    return frame.to_dict("index")


@pytest.fixture(scope="module")
def real_artifacts(real_run):
    return real_run.path.parent.parent


@pytest.mark.parametrize("page", PAGE_KEYS)
def test_every_page_renders_without_exceptions(real_artifacts, monkeypatch, page):
    at = open_app(real_artifacts, monkeypatch, page)
    assert not at.exception, at.exception
    assert at.title[0].value == pages.page(page).title


def test_overview_leaderboard_lists_all_four_with_reference(real_artifacts, monkeypatch, real_run):
    at = open_app(real_artifacts, monkeypatch)
    board = _frames(at, "val accuracy")[0]
    assert list(board.model) == ["CNN-3", "CNN-4", "MobileNetV2 frozen", "MobileNetV2 fine-tuned"]
    for name, shown in zip(real_run.model_names(), board["val accuracy"], strict=True):
        frame = predictions_csv(real_run, name)
        assert shown == pytest.approx((frame.predicted == frame.label).mean())
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


def test_confusion_page_shows_every_models_counts_and_normalizes_them(
    real_artifacts, monkeypatch, real_run
):
    at = open_app(real_artifacts, monkeypatch, "confusion")
    names = real_run.model_names()
    expected = {}
    for name, table in zip(names, _frames(at, "precision"), strict=True):
        frame = predictions_csv(real_run, name)
        expected[name] = np.asarray(counts(frame.label, frame.predicted), dtype=float)
        assert _heatmap(at, f"cm_{name}").tolist() == expected[name].tolist(), name
        m = expected[name]
        assert table.support.tolist() == m.sum(axis=1).tolist()
        assert table.recall.tolist() == pytest.approx((np.diag(m) / m.sum(axis=1)).tolist())
        assert table.precision.tolist() == pytest.approx((np.diag(m) / m.sum(axis=0)).tolist())
    at.radio(key="cm_mode").set_value("row-normalized").run()
    assert not at.exception
    for name, m in expected.items():
        shares = _heatmap(at, f"cm_{name}")
        np.testing.assert_allclose(shares.sum(axis=1), 1.0)
        np.testing.assert_allclose(shares, m / m.sum(axis=1, keepdims=True))


def test_mistakes_page_filters_and_inspects(real_artifacts, monkeypatch, real_run):
    at = open_app(real_artifacts, monkeypatch, "mistakes")
    at.multiselect(key="mis_models").set_value(["cnn3", "cnn4"])
    at.selectbox(key="mis_true").set_value("Cat")
    at.slider(key="mis_conf").set_value((0.6, 1.0))
    at.selectbox(key="mis_sort").set_value("least confident first")
    at.run()
    assert not at.exception
    matching = 0  # cats CNN-3 or CNN-4 calls dogs with P(dog) from 0.6 to 1
    for name in ("cnn3", "cnn4"):
        p = predictions_csv(real_run, name)
        matching += int(((p.label == 0) & (p.predicted == 1) & (p.p_dog >= 0.6)).sum())
    assert f"{matching:,} mistakes match" in _text(at)
    cross = _frames(at, "missed_by")[0]
    wrong = set()
    for name in real_run.model_names():
        p = predictions_csv(real_run, name)
        wrong |= set(p.path[p.predicted != p.label])
    assert set(cross.path) == wrong and len(cross) == len(wrong)
    at.selectbox(key="mis_group").set_value("CNNs only").run()
    assert not at.exception
    probs = _frames(at, "correct")[0]
    assert len(probs) == 4


def test_live_compare_answers_an_upload_with_each_models_own_answer(
    real_artifacts, monkeypatch, shared_data, real_run, own_answers
):
    at = open_app(real_artifacts, monkeypatch, "live")
    photo_bytes = (shared_data / "Dog" / "0.jpg").read_bytes()
    at.file_uploader(key="upload").set_value(("dog.jpg", photo_bytes, "image/jpeg")).run()
    assert not at.exception
    (answer,) = _answers(at)
    assert len(answer) == 4 and answer["latency (ms)"].gt(0).all()
    assert_answers(_by_label(answer), own_answers(photo_bytes), real_run.class_names)


def test_live_compare_samples_work_without_upload(
    real_artifacts, monkeypatch, real_run, own_answers
):
    from pathlib import Path

    at = open_app(real_artifacts, monkeypatch, "live")
    options = at.multiselect(key="samples").options
    assert len(options) == 6
    at.multiselect(key="samples").set_value(options[:2]).run()
    assert not at.exception
    root = Path(real_run.manifest["dataset"]["root"])
    shown = _answers(at)
    assert len(shown) == 2
    for path, answer in zip(options[:2], shown, strict=True):
        assert_answers(_by_label(answer), own_answers(root / path), real_run.class_names)


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
    for page in PAGE_KEYS:
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
    for page in PAGE_KEYS:
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
    names = {label(n): n for n in real_run.model_names()}
    right = {}
    for name in names.values():
        frame = predictions_csv(real_run, name).set_index("path").sort_index()
        right[name] = (frame.predicted == frame.label).to_numpy()
    for row in table.to_dict("records"):
        a, b = right[names[row["model A"]]], right[names[row["model B"]]]
        assert row["only A right"] == int((a & ~b).sum())
        assert row["only B right"] == int((b & ~a).sum())


def test_threshold_slider_updates_every_confusion_matrix_and_metric(
    real_artifacts, monkeypatch, real_run
):
    at = open_app(real_artifacts, monkeypatch, "thresholds")
    assert not at.exception
    at.toggle(key="curves_zoom").set_value(True).run()
    assert not at.exception
    for threshold in (0.9, 0.2, 0.5):
        at.slider(key="threshold").set_value(threshold).run()
        assert not at.exception
        table = _frames(at, "errors")[0].set_index("model")
        assert list(table.index) == [label(n) for n in real_run.model_names()]
        for name in real_run.model_names():
            frame = predictions_csv(real_run, name)
            called = (frame.p_dog >= threshold).astype(int)
            expected = counts(frame.label, called)
            assert _heatmap(at, f"thr_cm_{name}").tolist() == expected, (name, threshold)
            row = table.loc[label(name)]
            assert row.errors == expected[0][1] + expected[1][0]
            accuracy = (called == frame.label).mean()
            assert row.accuracy == pytest.approx(accuracy)
            at_half = ((frame.p_dog >= 0.5).astype(int) == frame.label).mean()
            assert row["Δ accuracy vs 0.5 (pts)"] == pytest.approx((accuracy - at_half) * 100)
        if threshold != 0.5:  # a threshold this far from 0.5 changes some model's answers
            assert table["Δ accuracy vs 0.5 (pts)"].abs().max() > 0


def test_calibration_page_shows_before_and_after_temperature_scaling(
    real_artifacts, monkeypatch, real_run
):
    at = open_app(real_artifacts, monkeypatch, "calibration")
    table = _frames(at, "ECE after")[0]
    assert len(table) == 4 and (table["temperature T"] > 0).all()
    for name, shown in zip(real_run.model_names(), table["log loss"], strict=True):
        frame = predictions_csv(real_run, name)
        sign = 2 * frame.label.to_numpy() - 1  # log loss from the logits: log(1 + e^(-y z))
        assert shown == pytest.approx(np.logaddexp(0, -sign * frame.logit.to_numpy()).mean())
    at.radio(key="calibration_which").set_value("after temperature scaling").run()
    assert not at.exception


def _beats(a: dict, b: dict) -> bool:
    """`a` is more accurate than `b` and faster beyond both latencies' noise."""
    return a["accuracy"] > b["accuracy"] and a["latency_q3_ms"] < b["latency_q1_ms"]


def test_efficiency_page_marks_the_frontier(real_artifacts, monkeypatch, real_run):
    at = open_app(real_artifacts, monkeypatch, "efficiency")
    table = _frames(at, "on frontier")[0]
    assert len(table) == 4 and (table["latency (ms)"] > 0).all()
    rows = {label(r["name"]): r for r in real_run.analysis()["efficiency"]}
    on = dict(zip(table.model, table["on frontier"], strict=True))
    for model, flag in on.items():
        if flag:  # no model on the frontier is beaten on both counts by another
            assert not any(_beats(rows[o], rows[model]) for o in rows if o != model), model
    best = max(rows.values(), key=lambda r: (r["accuracy"], -r["latency_ms"]))
    assert on[label(best["name"])]  # the most accurate (fastest of equals) always is


def test_efficiency_page_leaves_a_dominated_model_off_the_frontier(real_run, tmp_path, monkeypatch):
    """Made-up timings with a known answer: CNN-4 is slower and less accurate than
    MobileNetV2 frozen, clearly beyond their noise, so it alone is off the frontier."""
    import shutil

    from pipeline.evaluation.analysis import efficiency
    from pipeline.store import artifacts

    made_up = {  # name: accuracy, median, q1, q3 latency (ms)
        "cnn3": (0.80, 2.0, 1.9, 2.1),
        "cnn4": (0.85, 20.0, 19.0, 21.0),
        "mobilenetv2_frozen": (0.90, 10.0, 9.5, 10.5),
        "mobilenetv2_finetuned": (0.95, 30.0, 29.0, 31.0),
    }
    records = [
        {"name": n, "metrics": {"accuracy": a}, "size_bytes": 10**6, "params": 1}
        for n, (a, *_) in made_up.items()
    ]
    latency = {
        n: {"median_ms": m, "q1_ms": q1, "q3_ms": q3} for n, (_, m, q1, q3) in made_up.items()
    }
    target = tmp_path / artifacts.RUNS / real_run.path.name
    shutil.copytree(real_run.path, target)
    stored = json.loads((target / artifacts.ANALYSIS).read_text())
    stored["efficiency"] = efficiency(records, latency)
    (target / artifacts.ANALYSIS).write_text(json.dumps(stored))
    at = open_app(tmp_path, monkeypatch, "efficiency")
    assert not at.exception, at.exception
    table = _frames(at, "on frontier")[0].set_index("model")
    assert table["on frontier"].to_dict() == {
        "CNN-3": True,
        "CNN-4": False,
        "MobileNetV2 frozen": True,
        "MobileNetV2 fine-tuned": True,
    }
    # Each step along the frontier: (its latency - the previous one's) / points gained.
    assert table["extra ms per accuracy point"].to_dict() == {
        "CNN-3": "–",
        "CNN-4": "–",
        "MobileNetV2 frozen": "0.80",
        "MobileNetV2 fine-tuned": "4.00",
    }


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
    at.radio(key="suspect_evidence").set_value(real_run.class_names[0]).run()
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
    at.radio(key="pick_evidence").set_value(real_run.class_names[1]).run()
    assert not at.exception
    # A photo without stored maps: computed on request from the photo on disk.
    at.selectbox(key="mis_pick").set_value(next(p for p in options if p not in stored)).run()
    assert not any("Grad-CAM maps" in c.value for c in at.caption)
    at.toggle(key="pick_compute").set_value(True).run()
    assert not at.exception
    assert any("computed now from the photo" in c.value for c in at.caption)


def test_live_compare_explains_an_upload(real_artifacts, monkeypatch, shared_data, real_run):
    at = open_app(real_artifacts, monkeypatch, "live")
    photo_bytes = (shared_data / "Cat" / "1.jpg").read_bytes()
    at.file_uploader(key="upload").set_value(("cat.jpg", photo_bytes, "image/jpeg")).run()
    at.toggle(key="explain_0").set_value(True).run()
    assert not at.exception
    assert at.radio(key="live_0_evidence").value == "each model's answer"
    at.radio(key="live_0_evidence").set_value(real_run.class_names[0]).run()
    assert not at.exception


def test_compare_runs_page_shows_what_b_fixed_and_what_differs(real_run, tmp_path, monkeypatch):
    import os
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
    # Read through the cached loaders, keyed by each file's modification time: a rescored
    # run B shows without a restart.
    wrong = frame.index[frame.predicted != frame.label][:2]
    frame.loc[wrong, "predicted"] = frame.loc[wrong, "label"]
    frame.to_csv(b, index=False)
    stat = b.stat()
    os.utime(b, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    at.run()
    assert not at.exception and "Photos B fixed (5) and broke (0)" in _text(at)


def test_compare_runs_page_explains_what_it_needs(real_artifacts, monkeypatch):
    at = open_app(real_artifacts, monkeypatch, "compare")
    assert not at.exception and "needs two complete runs" in _text(at)


def test_sweeps_page_lists_each_runs_settings_and_accuracy_and_opens_one(
    real_run, tmp_path, monkeypatch
):
    import shutil

    from pipeline.store import artifacts
    from pipeline.workflows.sweep import SWEEPS

    accuracy = {}
    for run_id, size in (("20200101-s96", 96), ("20200102-s128", 128)):
        target = tmp_path / artifacts.RUNS / run_id
        shutil.copytree(real_run.path, target)
        manifest = json.loads((target / artifacts.MANIFEST).read_text())
        manifest.update(run_id=run_id, created=run_id[:8])
        for i, record in enumerate(manifest["models"]):
            record["metrics"]["accuracy"] = size / 1000 + i / 100  # a different one each
        accuracy[run_id] = {label(m["name"]): m["metrics"]["accuracy"] for m in manifest["models"]}
        (target / artifacts.MANIFEST).write_text(json.dumps(manifest))
    artifacts.point_latest(tmp_path, tmp_path / artifacts.RUNS / "20200102-s128")
    record = {
        "sweep_id": "abc123",
        "created": "2020-01-02",
        "grid": {"cnn_input_size": [96, 128, 160]},
        "runs": [
            {"values": {"cnn_input_size": 96}, "run_id": "20200101-s96"},
            {"values": {"cnn_input_size": 128}, "run_id": "20200102-s128"},
            {"values": {"cnn_input_size": 160}, "run_id": "20200103-deleted"},
        ],
    }
    (tmp_path / SWEEPS).mkdir()
    (tmp_path / SWEEPS / "abc123.json").write_text(json.dumps(record))

    at = open_app(tmp_path, monkeypatch, "sweeps")
    assert not at.exception, at.exception
    table = _frames(at, "run")[0]
    assert table.run.tolist() == ["20200101-s96", "20200102-s128"]  # the deleted one left out
    assert table.cnn_input_size.tolist() == [96, 128]
    for row in table.to_dict("records"):
        assert {m: row[m] for m in accuracy[row["run"]]} == pytest.approx(accuracy[row["run"]])
    at.selectbox(key="sweep_open_pick").set_value("20200101-s96")
    at.button(key="sweep_open").click().run()
    assert not at.exception
    assert at.title[0].value == "Overview"
    assert at.selectbox(key="run_picker").value == str(tmp_path / artifacts.RUNS / "20200101-s96")
    assert "20200101-s96" in at.table[0].value.to_string()


def test_robustness_page_shows_every_model_under_every_corruption(
    real_artifacts, monkeypatch, real_run
):
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
    stored = real_run.robustness()
    for name in stored["models"]:
        rows = stored["models"][name]["rows"]
        assert table[label(name)].tolist() == [r["accuracy"] for r in rows]
    gaps = _frames(at, "gap (points)")[0].set_index("model")
    assert len(gaps) == 4
    for name, result in stored["models"].items():
        by = {(r["corruption"], r["severity"]): r["accuracy"] for r in result["rows"]}
        points = (by[("clean", 0)] - by[("resize", 1)]) * 100
        assert gaps.loc[label(name), "gap (points)"] == pytest.approx(points)
    at.selectbox(key="robustness_corruption").select("Gaussian blur").run()
    assert not at.exception
    at.selectbox(key="flip_model").set_value("cnn3")
    at.selectbox(key="flip_corruption").select("JPEG compression").run()
    assert not at.exception
    answers = stored["answers"]["cnn3"]  # P(Dog) of every photo, clean and mildly compressed
    flipped = {
        stored["photos"][i]
        for i, (clean, jpeg) in enumerate(zip(answers["clean:0"], answers["jpeg:1"], strict=True))
        if (clean >= 0.5) != (jpeg >= 0.5)
    }
    shown = _frames(at, f"P({real_run.class_names[1]}) clean")
    assert (set(shown[0].photo) if shown else set()) == flipped
    if not flipped:
        assert any("No photo changes its answer" in m.value for m in at.success)


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
