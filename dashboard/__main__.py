"""`python -m dashboard [--out DIR] [--port N] [--address A]`: serve the dashboard of an
artifacts folder with `streamlit run` (what `python -m pipeline dashboard` starts)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from dashboard.server import ROOT, streamlit_argv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__)
    parser.add_argument("--out", dest="out_dir", default="artifacts", help="artifacts folder")
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--address", default="localhost", help="0.0.0.0 to serve other machines")
    args = parser.parse_args(argv)
    command = streamlit_argv(ROOT / "dashboard" / "app.py", args.port, args.address)
    env = dict(os.environ, PETCOMPARE_ARTIFACTS=str(Path(args.out_dir).resolve()))
    print(f"dashboard of {args.out_dir} on http://{args.address}:{args.port} (Ctrl-C stops it)")
    return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main())
