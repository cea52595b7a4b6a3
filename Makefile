# Two commands do everything on a fresh machine:  make full   and   make test
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8501
SHARED_WEIGHTS := ../shared/weights/mobilenet_v2_1.0_160_no_top.weights.h5
# The offline copy of the backbone when it is there, else Keras' ImageNet download.
WEIGHTS ?= $(if $(wildcard $(SHARED_WEIGHTS)),$(SHARED_WEIGHTS),imagenet)

.PHONY: setup lock package-test browser quick full analyze dashboard test test-fast lint bench bench-classes bench-inference bench-ray bench-load bench-map clean-cache

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-ray.txt requirements-dev.txt requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt -c requirements.lock
	touch $@

# Re-pin the whole transitive set after changing requirements*.txt (a fresh venv, then freeze).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet -r requirements-dev.txt
	{ echo "# Every package of requirements-dev.txt and what it pulls in, as resolved by make lock."; \
	  .lock-venv/bin/pip freeze --exclude-editable; } > requirements.lock
	rm -rf .lock-venv

# `pip install .` into a fresh venv gives a working `petcompare` command: train, verify.
package-test: setup
	rm -rf .pkg-venv /tmp/petcompare-pkg-art && $(PYTHON) -m venv .pkg-venv
	.pkg-venv/bin/pip install --quiet . -c requirements.lock
	.pkg-venv/bin/petcompare --help > /dev/null
	cd /tmp && $(CURDIR)/.pkg-venv/bin/petcompare train --profile quick --models cnn3 \
	  --data-dir $(CURDIR)/../shared/datasets/PetImages --max-per-class 40 --cnn-epochs 1 \
	  --cnn-input-size 32 --out /tmp/petcompare-pkg-art
	cd /tmp && $(CURDIR)/.pkg-venv/bin/petcompare verify latest --out /tmp/petcompare-pkg-art
	rm -rf .pkg-venv /tmp/petcompare-pkg-art

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

# The development subset: generated images only, no session-wide training run.
test-fast: setup
	$(BIN)/ruff check pipeline dashboard tests
	$(BIN)/python -m pytest --timeout 600 -m "not integration and not browser and not real_data"

lint: setup
	$(BIN)/ruff check pipeline dashboard tests
	$(BIN)/ruff format --check pipeline dashboard tests
	$(BIN)/lint-imports

bench: setup
	$(BIN)/python -m pipeline bench --weights $(WEIGHTS)
	$(BIN)/python -m dashboard.bench

# The per-photo cost of ten classes against two, on the same CIFAR-10 photos.
CIFAR ?= ../shared/datasets/CIFAR-10/train
bench-classes: setup
	$(BIN)/python -m pipeline bench-classes --data-dir $(CIFAR)

# TensorFlow, ONNX Runtime and OpenVINO: extraction photos/s; RUN=<run folder> adds every model's photos/s
# and answers on all its validation photos.
bench-inference: setup
	$(BIN)/python -m pipeline bench-inference --weights $(WEIGHTS) $(if $(RUN),--run $(RUN))

# Ray: photo throughput with 1 and 2 workers; RUN=<full run id> adds the scale-out projection.
bench-ray: setup
	$(BIN)/python -m pipeline bench-ray --weights $(WEIGHTS) $(if $(RUN),--run $(RUN))

# Upload -> answer on screen in real Chromium against a real server: 1 session, then 8 at once.
bench-load: setup browser
	$(BIN)/python -m dashboard.loadbench

# The Map of the photos' time to first draw, in real Chromium against a real server.
bench-map: setup browser
	$(BIN)/python -m dashboard.mapbench $(if $(ARTIFACTS),--artifacts $(ARTIFACTS))

clean-cache:
	rm -rf artifacts/cache
