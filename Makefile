# Fresh-machine entry points. `make test` is what CI runs (.ci/run) and what README.md shows.
#
# torch: `pip install torch==2.13.0` takes the CPU build that lies on this project's machines
# (an unpinned `torch` would pull a multi-GB CUDA build). On a GPU machine install a CUDA build
# of torch first (cluster.yaml shows how); pyproject accepts it.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: install test demo lint bench

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "torch==2.13.0"
	$(PIP) install --quiet -e ".[dev,paper,tracking-server]"
	touch $@

test: install
	$(VENV)/bin/pytest -q

demo: install
	$(VENV)/bin/vaesweep demo

lint: install
	$(VENV)/bin/ruff check vaesweep tests bench
	$(VENV)/bin/ruff format --check vaesweep tests bench

bench: install
	$(PY) bench/train_throughput.py
