"""Entry script: `streamlit run dashboard/app.py`."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts only this folder on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import data, pages  # noqa: E402
from dashboard.runtime import keep_models_warm  # noqa: E402
from dashboard.settings import PAGE_ICON, artifacts_dir, data_title  # noqa: E402

keep_models_warm()

st.set_page_config(page_icon=PAGE_ICON, layout="wide")  # the title once the run is known

runs = data.run_paths(str(artifacts_dir()))
if runs:
    labels = dict(runs)
    paths = [p for p, _ in runs]
    latest_name = Path(data.latest_path(str(artifacts_dir())) or paths[0]).name
    latest = next((p for p in paths if Path(p).name == latest_name), paths[0])
    opened = st.session_state.pop(data.OPEN_RUN_KEY, None)  # a page asked to open a run
    if opened in paths:
        st.session_state["run_picker"] = opened
    choice = st.sidebar.selectbox(
        "Run",
        paths,
        index=paths.index(latest),
        format_func=labels.get,
        key="run_picker",
        help="Runs under the artifacts folder, newest first.",
    )
    st.session_state[data.RUN_KEY] = choice
else:
    st.session_state[data.RUN_KEY] = None
st.sidebar.caption(f"Artifacts: `{artifacts_dir()}`")
current = data.current_run()
# The browser title names the chosen run's data and classes (calls add up: icon and layout
# stay). Set before st.navigation, it wins over the open page's st.Page title.
st.set_page_config(page_title=data_title(current.manifest if current is not None else None))
status = data.training_status(current) if current is not None else None
if status:
    st.sidebar.info(
        f"Training now: {status['model']}, {status['epochs_done']} epoch(s) done "
        f"(since {status['since']}). Training curves refresh by themselves.",
        icon=":material/hourglass_top:",
    )


def _page(info: pages.PageInfo) -> st.Page:
    return st.Page(
        pages.path(info),
        title=info.title,
        icon=info.icon,
        url_path=info.key,
        default=info == pages.DEFAULT,
    )


navigation = {section: [_page(i) for i in infos] for section, infos in pages.by_section().items()}
st.navigation(navigation).run()
