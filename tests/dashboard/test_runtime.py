"""The Streamlit runtime settings that keep shared Keras models fast between reruns."""

import tomllib
from pathlib import Path

from streamlit.runtime.scriptrunner import script_runner

from dashboard.runtime import keep_models_warm

ROOT = Path(__file__).resolve().parents[2]


def test_streamlit_no_longer_clears_the_keras_session_after_a_script_run(monkeypatch):
    import keras

    cleared = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: cleared.append(1))
    current = script_runner._clean_problem_modules
    original = getattr(current, "__wrapped__", current)  # another test may have patched it
    monkeypatch.setattr(script_runner, "_clean_problem_modules", original)
    script_runner._clean_problem_modules()
    assert cleared == [1]  # what Streamlit does by itself
    assert keep_models_warm() and keep_models_warm()  # idempotent
    script_runner._clean_problem_modules()
    assert cleared == [1]


def test_the_served_config_skips_the_forced_gc_and_magic():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"] == {"magicEnabled": False, "postScriptGC": False}
    assert config["server"]["maxUploadSize"] == 20


def test_a_server_started_anywhere_gets_the_same_settings_as_flags():
    from dashboard.server import SERVE_OPTIONS, streamlit_argv

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    flags = dict(option.lstrip("-").split("=") for option in SERVE_OPTIONS)
    for key, value in config["runner"].items():
        assert flags[f"runner.{key}"] == str(value).lower()
    assert flags["server.maxUploadSize"] == str(config["server"]["maxUploadSize"])
    argv = streamlit_argv(ROOT / "dashboard" / "app.py", 8765, "0.0.0.0")
    assert "--server.port=8765" in argv and "--server.address=0.0.0.0" in argv
    assert set(SERVE_OPTIONS) <= set(argv)
