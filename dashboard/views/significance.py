"""Is one model really better? Intervals, paired McNemar tests and agreement."""

import pandas as pd
import streamlit as st

from dashboard import charts, data, widgets
from dashboard.settings import artifacts_dir, label

st.title("Is the difference real?")
run = data.require_run()
result = data.require_analysis(run)
per_model = result["per_model"]
n = next(iter(per_model.values()))["n"] if per_model else 0

st.subheader("Accuracy with its uncertainty")
st.plotly_chart(charts.accuracy_intervals(per_model), width="stretch", key="ci_chart")
st.caption(
    f"95% Wilson intervals on {n:,} validation photos: the range of accuracies this model "
    "could have on photos like these, given how many it got right here. Overlapping "
    "intervals alone do not settle a comparison — the paired test below does."
)

st.subheader("Pairwise McNemar tests")
tests = len(result["mcnemar"])
st.markdown(
    f"All {len(per_model)} models answered the *same* photos, so a fair test looks only at "
    "photos where exactly one of two models is right. p-values are Holm-adjusted for the "
    + (f"{tests} comparisons." if tests != 1 else "one comparison (no adjustment).")
)
for row in result["mcnemar"]:
    st.markdown(
        ("**Significant.** " if row["significant"] else "**Not significant.** ") + row["verdict"]
    )
table = pd.DataFrame(
    {
        "model A": [label(r["model_a"]) for r in result["mcnemar"]],
        "model B": [label(r["model_b"]) for r in result["mcnemar"]],
        "only A right": [r["a_only"] for r in result["mcnemar"]],
        "only B right": [r["b_only"] for r in result["mcnemar"]],
        "test": [r["method"] for r in result["mcnemar"]],
        "p": [r["p_value"] for r in result["mcnemar"]],
        "p (Holm)": [r["p_holm"] for r in result["mcnemar"]],
        "significant at 5%": [r["significant"] for r in result["mcnemar"]],
    }
)
widgets.table(
    table,
    {"p": "{:.2g}", "p (Holm)": "{:.2g}"},
    "mcnemar_table",
)

group = data.repeat_group(str(artifacts_dir()), run.run_id)
if group is None:
    st.caption(
        "These tests count the photos, not the training run: another seed moves a model's "
        "accuracy too. `python -m pipeline train --repeats 5` (same settings) trains repeats "
        "and says which differences beat seed noise."
    )
else:
    summary = group["summary"]
    k = len(summary["runs"])
    st.subheader(f"Across {k} repeats: beyond seed noise?")
    st.markdown(
        f"This run is one of the {k} repeats of group `{group['group_id']}`: the same "
        f"settings and the same {summary['photos']:,} validation photos, each repeat with "
        "its own training seed. The intervals count both the seeds and the photos."
    )
    st.plotly_chart(charts.repeat_strips(summary["models"]), width="stretch", key="repeats")
    for pair in summary["pairs"]:
        st.markdown(("**Real.** " if pair["beyond_noise"] else "**Not yet.** ") + pair["verdict"])
    spread = pd.DataFrame(
        [
            {
                "model": label(name),
                "mean": s["mean"],
                "seed std (pts)": 100 * s["seed_std"],
                "95% low": s["low"],
                "95% high": s["high"],
                "repeats": ", ".join(f"{100 * a:.2f}" for a in s["per_repeat"]),
            }
            for name, s in summary["models"].items()
        ]
    )
    pct = "{:.2%}"
    widgets.table(
        spread,
        {"mean": pct, "seed std (pts)": "{:.2f}", "95% low": pct, "95% high": pct},
        "repeat_spread",
    )
    verdicts = pd.DataFrame(
        [
            {
                "model A": p["model_a"],
                "model B": p["model_b"],
                "A − B (pts), mean": 100 * p["difference"]["mean"],
                "A wins": p["a_wins"],
                "B wins": p["b_wins"],
                "paired t over repeats, p": p["t_p_value"],
                "McNemar p, each repeat": ", ".join(f"{q:.2g}" for q in p["mcnemar_p"]),
                "beyond seed noise": p["beyond_noise"],
            }
            for p in summary["pairs"]
        ]
    )
    widgets.table(
        verdicts,
        {"A − B (pts), mean": "{:+.2f}", "paired t over repeats, p": "{:.2g}"},
        "repeat_pairs",
    )
    st.caption(
        "McNemar on one repeat asks whether *these two trained models* differ on these "
        "photos; the paired t test and the interval ask whether the *training recipes* do, "
        "whatever the seed (pipeline/evaluation/repeats.py says how)."
    )

st.subheader("How often do they agree?")
st.plotly_chart(charts.agreement_heatmap(result["agreement"]), width="stretch", key="agreement")
st.caption(
    "Share of validation photos on which two models predict the same class. Two models with "
    "similar accuracy but low agreement make different mistakes: an ensemble could help."
)
