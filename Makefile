# Bifoga: the two commands a new user needs are `make run` and `make test`.
# Both install what is missing first: a Python venv, the npm runtime, the vendored copy of it.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
DATA_DIR ?= ./data
CHROMIUM ?= /usr/bin/chromium

.PHONY: setup run test test-unit test-e2e test-engines lint bench bench-nodes vendor chromium \
	exiftool engines postgresql cluster clean pillow-wheel

setup: $(VENV)/.installed node_modules/.installed static/vendor/.stamp static/build/app.tar \
	static/build/light.tar.gz static/build/worker.zip

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Copies the pinned runtime into static/vendor/, fetches the worker's wheels from PyPI, adds the
# project's own Pillow wheel (wheels/) and makes Pyodide's memory snapshot.
static/vendor/.stamp: package-lock.json runtime-wheels.txt scripts/vendor_runtime.py scripts/pyodide_boot.mjs scripts/pyodide_snapshot.mjs $(wildcard wheels/*.whl) node_modules/.installed $(VENV)/.installed
	$(PY) scripts/vendor_runtime.py

# The pure packages (bifoga/ and its sub-packages), whichever bundle follows an import into them.
BIFOGA_PY := $(wildcard bifoga/*.py bifoga/*/*.py)

# The main thread's modules in one request (scripts/bundle_app.py follows main.py's imports).
static/build/app.tar: main.py app.py $(BIFOGA_PY) $(wildcard components/*.py adapters/*.py) scripts/bundle_app.py \
	static/vendor/.stamp
	$(PY) scripts/bundle_app.py

# The light worker's modules (MicroPython) in one request, from light_start.py's imports.
static/build/light.tar.gz: light_start.py light_worker.py $(BIFOGA_PY) scripts/bundle_app.py \
	static/vendor/.stamp
	$(PY) scripts/bundle_app.py

# The worker's modules in one request (scripts/bundle_app.py follows worker.py's imports), and
# from the same files the worker's memory snapshot (worker-snapshot.bin: those modules imported).
static/build/worker.zip: worker_start.py worker.py worker_heic.py $(BIFOGA_PY) scripts/bundle_app.py \
	scripts/pyodide_snapshot.mjs scripts/worker_snapshot.py static/vendor/.stamp
	$(PY) scripts/bundle_app.py

# Rebuilds wheels/pillow-*.whl and wheels/pillow-wasm.json from sources (root; a Debian sid chroot
# with Emscripten outside the repo, made once). Not needed by run or test: the wheel is committed.
pillow-wheel: node_modules/.installed $(VENV)/.installed
	sh scripts/build_pillow_wasm.sh

vendor: node_modules/.installed $(VENV)/.installed
	$(PY) scripts/vendor_runtime.py --force

# Debian's Chromium for the end-to-end tests (`playwright install` cannot download here), and
# ffmpeg, which the sniffing tests use to make real audio-only and film containers.
chromium:
	@if [ ! -x "$(CHROMIUM)" ] || ! command -v ffmpeg >/dev/null || ! command -v heif-enc >/dev/null || ! command -v exiftool >/dev/null; then \
	  echo "Installing Debian's chromium and ffmpeg (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium fonts-dejavu-core ffmpeg libheif-examples libimage-exiftool-perl >/dev/null; \
	fi

# ExifTool, the server's reader of positions in pictures and films (server/inspection/location.py),
# for `make run` and every test of the server.
exiftool:
	@if ! command -v exiftool >/dev/null; then \
	  echo "Installing Debian's libimage-exiftool-perl (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    libimage-exiftool-perl >/dev/null; \
	fi

# The other engines patients use, for tests/e2e/test_engines.py: Debian's Firefox ESR (driven
# through its built-in WebDriver BiDi) and WebKitGTK (its MiniBrowser, driven by WebKitWebDriver,
# on an Xvfb display).
FIREFOX ?= /usr/bin/firefox-esr
engines:
	@if [ ! -x "$(FIREFOX)" ] || ! command -v WebKitWebDriver >/dev/null || ! command -v Xvfb >/dev/null; then \
	  echo "Installing Debian's firefox-esr, webkit2gtk-driver and xvfb (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    firefox-esr webkit2gtk-driver xvfb >/dev/null; \
	fi

# Debian's PostgreSQL (the tests, the bench and `make cluster` start their own throwaway server
# with its binaries; the package's own service is not used) and nginx (`make cluster`'s load
# balancer).
postgresql:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v nginx >/dev/null; then \
	  echo "Installing Debian's postgresql and nginx (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    postgresql nginx >/dev/null; \
	fi

# Two stateless nodes on one PostgreSQL behind nginx; prints a patient and a clinician link.
CLUSTER_PORT ?= 8000
cluster: setup postgresql exiftool
	$(PY) -m scripts.cluster --port $(CLUSTER_PORT)

run: setup exiftool
	DATA_DIR=$(DATA_DIR) HOST=$(HOST) PORT=$(PORT) BIFOGA_DEMO=1 $(PY) -m server

lint: $(VENV)/.installed
	$(PY) -m ruff check .

test-unit: setup postgresql exiftool
	$(PY) -m pytest -q -m "not e2e"

test-e2e: setup chromium engines
	$(PY) -m pytest -q -m e2e

# The core flows in one engine or a few: `make test-engines ENGINE=firefox` (chromium, firefox,
# webkit, webkit-sab; comma-separated; empty: all four).
ENGINE ?=
test-engines: setup chromium engines
	BIFOGA_ENGINES=$(ENGINE) $(PY) -m pytest -q tests/e2e/test_engines.py

test: setup chromium engines postgresql lint
	$(PY) -m pytest -q

# Options through BENCH_ARGS, e.g. `make bench BENCH_ARGS=--profile`, or only the shaped-network
# pass once: `make bench BENCH_ARGS="--only shaped --runs 1"` (bench/README.md).
bench: setup chromium
	$(PY) -m bench $(BENCH_ARGS)

# Messages/s, uploads/s and cross-node live delivery: one SQLite node, one and two PostgreSQL
# nodes (loopback, a few seconds each). Writes bench/results/nodes.md.
bench-nodes: setup postgresql exiftool
	$(PY) -m bench.nodes

clean:
	rm -rf static/vendor node_modules $(VENV) .pytest_cache .ruff_cache
