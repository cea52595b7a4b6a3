"""One adjustment to Streamlit's runtime that serving Keras models needs.

After every script run of every session, Streamlit calls
`keras.backend.clear_session()` (`script_runner._clean_problem_modules`), meant for
apps that build models in the script. That clears TensorFlow's kernel cache and
runs a full `gc.collect()`: measured here, 213 ms of CPU per rerun, and the next
call of each model 15x slower (MobileNetV2: 225 ms instead of 14). Our models are
loaded once into `st.cache_resource` and never built in the script, so the app
keeps that cleanup for matplotlib only.
"""

from __future__ import annotations

import sys
from typing import Any

MARK = "_petcompare_keeps_keras"


def _close_matplotlib_figures() -> None:
    """What Streamlit's cleanup does besides Keras."""
    plt: Any = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


def keep_models_warm() -> bool:
    """Stop Streamlit from clearing Keras' session after each script run (idempotent).

    Returns False, changing nothing, when this Streamlit has no such cleanup.
    """
    from streamlit.runtime.scriptrunner import script_runner

    cleanup = getattr(script_runner, "_clean_problem_modules", None)
    if cleanup is None:
        return False
    if not getattr(cleanup, MARK, False):
        setattr(_close_matplotlib_figures, MARK, True)
        _close_matplotlib_figures.__wrapped__ = cleanup  # what it replaced
        script_runner._clean_problem_modules = _close_matplotlib_figures
    return True
