# Quick start: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PEERS  := $(VENV)/peers/bin/aws

.PHONY: demo test test-fast bench install clean

$(STAMP): pyproject.toml
	bash .ci/system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

# awscli pins botocore tightly: it lives in its own venv so it cannot move the project's boto3.
$(PEERS):
	$(PYTHON) -m venv $(VENV)/peers
	$(VENV)/peers/bin/pip install -q awscli

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/drkit run

test: $(STAMP) $(PEERS)
	DRKIT_AWSCLI=$(abspath $(PEERS)) $(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python -m bench.ingest_throughput
	$(BIN)/python -m bench.list_versions
	$(BIN)/python -m bench.run_e2e

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
