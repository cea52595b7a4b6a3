"""`python -m pipeline compare RUN_A RUN_B [RUN_C …]`: is run B better than run A?

A pure function of two run records. For each model in both runs: how many validation
photos the runs share (same path and same content), both runs' accuracy on those shared
photos, their difference and a paired McNemar test on them; beside that, each run's
accuracy on its whole validation set, with its 95% interval, labelled as such (two sets of
photos, so not a difference to read). When they share no photo, the whole-set accuracies,
their difference and an unpaired two-proportion test, with a warning. Then only
the settings that differ, and the photos added, removed, edited or excluded.

Runs of any number of classes compare the same way (on the predicted and label
columns). When the two runs' classes differ (other names, or another number), a
label means another class in each: the result says so (`label_maps_differ`,
`class_names`, `message`), each model's accuracies are reported side by side with
an unpaired test only, no photo's prediction is compared across the runs, and a
photo counts as relabelled when its class name changed.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from pipeline.data.fingerprint import photo_changes
from pipeline.evaluation import stats
from pipeline.store import artifacts
from pipeline.store.predictions import is_binary, probabilities_of

# Settings that say where things are, not what was trained: listed, not a difference.
WHERE = ("out_dir", "data_dir")


def _correct(run: artifacts.Run, name: str) -> pd.DataFrame:
    frame = run.predictions(name)[["path", "label", "predicted"]]
    split = run.split()
    if "sha256" in split.columns:  # identify photos by content where the run records it
        frame = frame.merge(split[["path", "sha256"]], on="path", how="left")
    return frame.assign(correct=frame.label == frame.predicted)


def _accuracy(frame: pd.DataFrame) -> dict:
    k, n = int(frame.correct.sum()), len(frame)
    return {"accuracy": k / n if n else None, "ci95": list(stats.wilson_interval(k, n)), "n": n}


def class_names_of(run: artifacts.Run) -> list[str]:
    """The run's classes (label i is class_names[i]); [] where the manifest has none."""
    return list(run.manifest.get("dataset", {}).get("class_names") or [])


def label_maps_differ(a: artifacts.Run, b: artifacts.Run) -> bool:
    """Whether a label means another class in each run (both runs record their classes)."""
    names_a, names_b = class_names_of(a), class_names_of(b)
    return bool(names_a and names_b and names_a != names_b)


def compare_model(a: artifacts.Run, b: artifacts.Run, name: str) -> dict:
    """Accuracy of `name` in both runs, and whether the difference is real. When the runs'
    classes differ, the accuracies are on different tasks: no photo is paired."""
    left, right = _correct(a, name), _correct(b, name)
    keys = ["path", "sha256"] if "sha256" in left and "sha256" in right else ["path"]
    differ = label_maps_differ(a, b)
    shared = left.iloc[:0] if differ else left.merge(right, on=keys, suffixes=("_a", "_b"))
    row = {"model": name, "a": _accuracy(left), "b": _accuracy(right), "shared_photos": len(shared)}
    if len(shared):  # the difference, like the paired test, on the photos both runs scored
        on_a = _accuracy(shared.assign(correct=shared.correct_a))
        on_b = _accuracy(shared.assign(correct=shared.correct_b))
        row["shared"] = {"a": on_a, "b": on_b}
        row["difference"] = on_b["accuracy"] - on_a["accuracy"]
        row["difference_on"] = f"the {len(shared):,} shared photos"
    else:
        row["difference"] = row["b"]["accuracy"] - row["a"]["accuracy"]
        row["difference_on"] = "each run's own photos (unpaired)"
    if differ:
        z, p = stats.two_proportion_test(
            int(left.correct.sum()), len(left), int(right.correct.sum()), n_b=len(right)
        )
        row["test"] = {"method": "two-proportion z-test (unpaired)", "z": z, "p_value": p}
        row["warning"] = "the runs' classes differ: accuracies on different tasks, not paired"
    elif len(shared):
        test = stats.mcnemar(shared.correct_a.to_numpy(), shared.correct_b.to_numpy())
        row["test"] = {
            "method": f"McNemar ({test.method}) on {len(shared):,} shared photos",
            "a_only": test.a_only,
            "b_only": test.b_only,
            "p_value": test.p_value,
        }
    else:
        z, p = stats.two_proportion_test(
            int(left.correct.sum()), len(left), int(right.correct.sum()), n_b=len(right)
        )
        row["test"] = {"method": "two-proportion z-test (unpaired)", "z": z, "p_value": p}
        row["warning"] = "the runs share no validation photo: only an unpaired test applies"
    row["significant"] = bool(row["test"]["p_value"] < 0.05)
    return row


def config_differences(a: artifacts.Run, b: artifacts.Run) -> dict[str, list]:
    ca, cb = a.manifest.get("config", {}), b.manifest.get("config", {})
    return {
        key: [ca.get(key), cb.get(key)]
        for key in sorted(set(ca) | set(cb))
        if ca.get(key) != cb.get(key) and key not in WHERE
    }


def _split_by_class_name(run: artifacts.Run, names: list[str]) -> pd.DataFrame:
    """The run's split table with each label as the index of its class name in `names`."""
    split = run.split()
    mine = class_names_of(run)
    return split.assign(label=[names.index(mine[int(i)]) for i in split.label])


def data_differences(a: artifacts.Run, b: artifacts.Run) -> dict:
    if label_maps_differ(a, b):  # relabelled: the class name changed, not the index
        names = sorted(set(class_names_of(a)) | set(class_names_of(b)))
        before, after = _split_by_class_name(a, names), _split_by_class_name(b, names)
    else:
        before, after = a.split(), b.split()
    changes = photo_changes(before, after)
    excluded_a = set(a.manifest["dataset"].get("excluded", []))
    excluded_b = set(b.manifest["dataset"].get("excluded", []))
    return {
        "added": changes.added,
        "removed": changes.removed,
        "edited": changes.changed,
        "relabelled": changes.relabelled,
        "newly_excluded": sorted(excluded_b - excluded_a),
        "no_longer_excluded": sorted(excluded_a - excluded_b),
        "summary": changes.summary(),
    }


def compare_runs(a: artifacts.Run, b: artifacts.Run) -> dict:
    """Everything that differs between run `a` and run `b` (a plain dict, JSON-ready)."""
    names = [n for n in a.model_names() if n in b.model_names()]
    result = {
        "a": a.run_id,
        "b": b.run_id,
        "class_names": {"a": class_names_of(a), "b": class_names_of(b)},
        "label_maps_differ": label_maps_differ(a, b),
        "models": [compare_model(a, b, n) for n in names],
        "only_in_a": [n for n in a.model_names() if n not in names],
        "only_in_b": [n for n in b.model_names() if n not in names],
        "config": config_differences(a, b),
        "data": data_differences(a, b),
    }
    if result["label_maps_differ"]:
        result["message"] = _differ_message(result["class_names"])
    return result


def _differ_message(class_names: dict[str, list[str]]) -> str:
    return (
        f"The runs classify different classes (A: {', '.join(class_names['a'])}; "
        f"B: {', '.join(class_names['b'])}): a label means another class in each, so only "
        "each model's overall accuracy is compared, unpaired, and no photo's prediction is."
    )


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def as_table(result: dict) -> str:
    """The comparison as plain text, one block per pair of runs."""
    lines = [f"A = {result['a']}", f"B = {result['b']}", ""]
    if result.get("label_maps_differ"):
        lines[-1:] = [f"warning: {result['message']}", ""]
    header = (
        f"{'model':<24}{'A':>9}{'B':>9}{'B-A (pts)':>11}{'shared':>8}  test"
        "   (A, B and B-A on the shared photos)"
    )
    lines += [header, "-" * len(header)]
    for row in result["models"]:
        test = row["test"]
        verdict = "significant" if row["significant"] else "not significant"
        on = row.get("shared") or row
        lines.append(
            f"{row['model']:<24}{_pct(on['a']['accuracy']):>9}{_pct(on['b']['accuracy']):>9}"
            f"{row['difference'] * 100:>+11.2f}{row['shared_photos']:>8,}  "
            f"p = {test['p_value']:.3g} ({verdict}; {test['method']})"
        )
        whole = [(side, row[side]) for side in ("a", "b")]
        if "shared" in row and any(w["n"] != row["shared_photos"] for _, w in whole):
            lines.append(
                f"{'':<24}whole validation sets: "
                + ", ".join(f"{s.upper()} {_pct(w['accuracy'])} of {w['n']:,}" for s, w in whole)
            )
        if "warning" in row:
            lines.append(f"{'':<24}warning: {row['warning']}")
    for side in ("a", "b"):
        if result[f"only_in_{side}"]:
            lines.append(f"only in {side.upper()}: {', '.join(result[f'only_in_{side}'])}")
    lines += ["", "settings that differ (A -> B):"]
    lines += [f"  {k}: {va!r} -> {vb!r}" for k, (va, vb) in result["config"].items()] or ["  none"]
    data = result["data"]
    lines += ["", f"photos: {data['summary']}"]
    for key in ("removed", "added", "edited", "relabelled", "newly_excluded", "no_longer_excluded"):
        if data[key]:
            shown = ", ".join(data[key][:8]) + (" …" if len(data[key]) > 8 else "")
            lines.append(f"  {key.replace('_', ' ')} ({len(data[key])}): {shown}")
    return "\n".join(lines)


def render(results: list[dict], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(results if len(results) > 1 else results[0], indent=2, default=_plain)
    return "\n\n".join(as_table(r) for r in results)


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value)}")


def fixed_and_broken(a: artifacts.Run, b: artifacts.Run, name: str) -> pd.DataFrame:
    """Shared validation photos that run B gets right and A wrong ("fixed") or the
    reverse ("broke").

    Two-class runs: path, label, change and both runs' P(positive) (`p_dog_a`, `p_dog_b`).
    N-class runs: path, label, change, both runs' predicted classes and both runs'
    probability of the photo's TRUE class (`p_true_a`, `p_true_b`: it rises where B fixed
    a photo). Runs whose classes differ share no comparable photo: an empty table."""
    names = class_names_of(a) or class_names_of(b) or ["0", "1"]
    binary = is_binary(names)
    columns = ["p_dog_a", "p_dog_b"] if binary else _N_CLASS_CHANGE
    if label_maps_differ(a, b):
        return pd.DataFrame(columns=["path", "label", "change", *columns])
    left, right = (_with_true_p(run.predictions(name), names) for run in (a, b))
    both = left.merge(right, on=["path", "label"], suffixes=("_a", "_b"))
    right_a = both.predicted_a == both.label
    right_b = both.predicted_b == both.label
    both["change"] = np.where(
        right_b & ~right_a, "fixed", np.where(right_a & ~right_b, "broke", "")
    )
    changed = both[both.change != ""]
    return changed[["path", "label", "change", *columns]].sort_values(["change", "path"])


_N_CLASS_CHANGE = ["predicted_a", "predicted_b", "p_true_a", "p_true_b"]


def _with_true_p(frame: pd.DataFrame, class_names: list[str]) -> pd.DataFrame:
    """The predictions with `p_true`, each photo's probability of its true class (N > 2)."""
    if is_binary(class_names):
        return frame
    p = probabilities_of(frame, class_names)
    return frame.assign(p_true=p[np.arange(len(p)), frame["label"].to_numpy(int)])
