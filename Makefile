# Two entry points on a fresh machine (see README):
#   make demo  - set up .venv and print the plan of the reference blueprint (offline)
#   make test  - set up everything the tests need and run them (what CI runs)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PIP := $(VENV)/bin/python -m pip
CONSTRAINTS := constraints.txt
# CRD schemas the tests validate custom resources against, vendored in the repo.
export STACKDEF_CRDS_DIR ?= $(abspath tests/crds)

.PHONY: demo test lint install install-test install-system bench golden check-crds
# Servers the tests start themselves on loopback ports; shellcheck and jq for the example workflow (Debian packages).
SYSTEM_PACKAGES := redis-server prometheus-pushgateway shellcheck jq
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Checked before any install, so a broken checkout fails in a second, not after minutes of pip.
check-crds:
	@test -f "$(STACKDEF_CRDS_DIR)/kuberay/ray.io_rayservices.yaml" || { echo "CRD schemas not found under STACKDEF_CRDS_DIR=$(STACKDEF_CRDS_DIR) (the repo vendors them in tests/crds)"; exit 1; }

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

install: $(VENV)/bin/python
	$(PIP) install -q -c $(CONSTRAINTS) -e .

demo: install
	$(VENV)/bin/stackdef plan blueprints/reference

install-system:
	@missing=""; for p in $(SYSTEM_PACKAGES); do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing$$missing (apt)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi

install-test: check-crds install-system $(VENV)/bin/python
	$(PIP) install -q -c $(CONSTRAINTS) -e ".[test,deploy,ray,runtime]"
	bash .ci/setup-vllm-venv.sh > .vllm-venv-python.tmp && tail -n 1 .vllm-venv-python.tmp > .vllm-venv-python && rm -f .vllm-venv-python.tmp
	bash .ci/setup-node-tools.sh

lint: install-test
	$(VENV)/bin/ruff check -q .

test: check-crds install-test lint
	STACKDEF_VLLM_PYTHON="$$(cat .vllm-venv-python)" $(VENV)/bin/python -m pytest -q

golden: install-test
	$(VENV)/bin/python -m pytest -q tests/test_golden.py --update-golden

bench: install
	$(VENV)/bin/python bench/scale.py
	$(VENV)/bin/python bench/fuzz.py 2000
