# Bifoga: the two commands a new user needs are `make run` and `make test`.
# Both install what is missing first: a Python venv, the npm runtime, the vendored copy of it.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
DATA_DIR ?= ./data
CHROMIUM ?= /usr/bin/chromium

.PHONY: setup run test test-unit test-e2e lint bench vendor chromium clean

setup: $(VENV)/.installed node_modules/.installed static/vendor/.stamp static/build/app.tar.gz \
	static/build/worker.zip

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Copies the pinned runtime into static/vendor/ and fetches the worker's wheels from PyPI.
static/vendor/.stamp: package-lock.json runtime-wheels.txt scripts/vendor_runtime.py scripts/pyodide_boot.mjs scripts/pyodide_snapshot.mjs node_modules/.installed $(VENV)/.installed
	$(PY) scripts/vendor_runtime.py

# The main thread's modules in one request (scripts/bundle_app.py follows main.py's imports).
static/build/app.tar.gz: main.py $(wildcard bifoga/*.py components/*.py controllers/*.py) scripts/bundle_app.py
	$(PYTHON) scripts/bundle_app.py

# The worker's modules in one request (scripts/bundle_app.py follows worker.py's imports).
static/build/worker.zip: worker.py $(wildcard bifoga/*.py) scripts/bundle_app.py
	$(PYTHON) scripts/bundle_app.py

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

run: setup
	DATA_DIR=$(DATA_DIR) HOST=$(HOST) PORT=$(PORT) BIFOGA_DEMO=1 $(PY) -m server

lint: $(VENV)/.installed
	$(PY) -m ruff check .

test-unit: setup
	$(PY) -m pytest -q -m "not e2e"

test-e2e: setup chromium
	$(PY) -m pytest -q -m e2e

test: setup chromium lint
	$(PY) -m pytest -q

bench: setup chromium
	$(PY) -m bench

clean:
	rm -rf static/vendor node_modules $(VENV) .pytest_cache .ruff_cache
