"""A run still training is listed as such, and its curves show the epochs done so far."""

import os
import subprocess
import sys
import time
from pathlib import Path

from dashboard import pages
from tests.dashboard.conftest import open_app
from tests.imagefactory import write_class_folder

ROOT = Path(__file__).resolve().parents[2]


def test_a_run_in_training_shows_its_epochs_while_it_trains(tmp_path, monkeypatch):
    data = write_class_folder(tmp_path / "data", n_per_class=16, size=40)
    out = tmp_path / "art"
    argv = [sys.executable, "-m", "pipeline", "train", "--profile", "quick"]
    argv += ["--data-dir", str(data), "--out", str(out), "--models", "cnn3"]
    argv += ["--cnn-input-size", "32", "--cnn-epochs", "400"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    log = tmp_path / "train.log"  # a file, not a pipe: a full pipe would stall the training
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while not list(out.glob("runs/*/models/.cnn3.checkpoint/state.json")):
            assert proc.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "no epoch finished in time"
            time.sleep(0.2)
        at = open_app(out, monkeypatch)
        assert not at.exception
        assert (
            at.selectbox(key="run_picker")
            .format_func(at.selectbox(key="run_picker").value)
            .endswith("(training)")
        )
        assert any("Training now: cnn3" in i.value for i in at.sidebar.info)
        at.switch_page(pages.page("curves").file)
        at.run()
        assert not at.exception
        note = [c.value for c in at.caption if "still training" in c.value]
        assert note and note[0].startswith("CNN-3: ")
        assert proc.poll() is None  # all of this happened while it trained
    finally:
        proc.kill()
        proc.wait()
