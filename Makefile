# Vafa — every target sets up what it needs on a fresh Debian machine with only Python.
# The virtual environment is rebuilt when pyproject.toml changes; Debian packages are
# installed by installer/system-packages.sh only when missing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ONCE ?=

.PHONY: demo test bench lint reliability system-runtime system-test clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

system-runtime:
	bash installer/system-packages.sh runtime

system-test:
	bash installer/system-packages.sh test

demo: $(STAMP) system-runtime
	$(BIN)/vafa-agent demo $(if $(ONCE),--once,)

# Parallel workers (pytest-xdist): each has its own PostgreSQL cluster, Chromium and temp
# folders. loadgroup keeps tests marked @pytest.mark.xdist_group(name) on one worker.
TEST_WORKERS ?= 2

test: $(STAMP) system-test
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

bench: $(STAMP) system-runtime
	$(BIN)/python -m bench

reliability: $(STAMP) system-test
	$(BIN)/python -m bench.reliability

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) demo-out test-artifacts .pytest_cache .mypy_cache .ruff_cache *.egg-info
