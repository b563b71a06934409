# Two entry points on a fresh machine (see README):
#   make demo  - set up .venv and print the plan of the reference blueprint (offline)
#   make test  - set up everything the tests need and run them (what CI runs)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PIP := $(VENV)/bin/python -m pip
CONSTRAINTS := constraints.txt
export STACKDEF_CRDS_DIR ?= $(abspath ../shared/crds)

.PHONY: demo test install install-test bench golden

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

install: $(VENV)/bin/python
	$(PIP) install -q -c $(CONSTRAINTS) -e .

demo: install
	$(VENV)/bin/stackdef plan blueprints/reference

install-test: $(VENV)/bin/python
	$(PIP) install -q -c $(CONSTRAINTS) -e ".[test,deploy,ray]"
	bash .ci/setup-vllm-venv.sh > .vllm-venv-python.tmp && tail -n 1 .vllm-venv-python.tmp > .vllm-venv-python && rm -f .vllm-venv-python.tmp

test: install-test
	@test -d "$(STACKDEF_CRDS_DIR)" || { echo "CRD bundle not found at STACKDEF_CRDS_DIR=$(STACKDEF_CRDS_DIR)"; exit 1; }
	STACKDEF_VLLM_PYTHON="$$(cat .vllm-venv-python)" $(VENV)/bin/python -m pytest -q

golden: install-test
	$(VENV)/bin/python -m pytest -q tests/test_golden.py --update-golden

bench: install
	$(VENV)/bin/python bench/plan_speed.py
