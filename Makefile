# Two commands do everything on a fresh machine:  make full   and   make test
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8501
SHARED_WEIGHTS := ../shared/weights/mobilenet_v2_1.0_160_no_top.weights.h5
# The offline copy of the backbone when it is there, else Keras' ImageNet download.
WEIGHTS ?= $(if $(wildcard $(SHARED_WEIGHTS)),$(SHARED_WEIGHTS),imagenet)

.PHONY: setup browser quick full analyze dashboard test lint bench bench-load clean-cache

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# Debian's Chromium for the browser tests (browser downloads do not work offline).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

quick: setup
	$(BIN)/python -m pipeline train --profile quick --weights $(WEIGHTS)

full: setup
	$(BIN)/python -m pipeline train --profile full --weights $(WEIGHTS)

# Significance, calibration, curves, suspects and Grad-CAM of the latest run (no retraining).
analyze: setup
	$(BIN)/python -m pipeline analyze latest

dashboard: setup
	$(BIN)/streamlit run dashboard/app.py --server.headless true --server.port $(PORT)

test: setup browser
	$(BIN)/ruff check pipeline dashboard tests
	$(BIN)/python -m pytest --timeout 1200

lint: setup
	$(BIN)/ruff check pipeline dashboard tests
	$(BIN)/ruff format --check pipeline dashboard tests

bench: setup
	$(BIN)/python -m pipeline bench --weights $(WEIGHTS)
	$(BIN)/python -m dashboard.bench

# Upload -> answer on screen in real Chromium against a real server: 1 session, then 8 at once.
bench-load: setup browser
	$(BIN)/python -m dashboard.loadbench

clean-cache:
	rm -rf artifacts/cache
