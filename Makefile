# atlas.hardening developer entry points. `make help` lists them.
# Everything installs into .venv (Python) and through bindep/apt (system packages); nothing global
# besides the apt packages named in bindep.txt.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
VENV ?= $(ROOT)/.venv
PY := $(VENV)/bin/python
PYTHON ?= $(shell scripts/find-python)
LAB_DIR ?= $(ROOT)/.lab
# Ansible finds this checkout as atlas.hardening through a symlinked collections tree.
COLLECTIONS_DIR := $(ROOT)/.build/collections
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS_DIR)
export PYTHONPATH := $(ROOT)/tests/lab
export PATH := $(VENV)/bin:$(PATH)
# Lab and plugin code is imported by hundreds of processes per run: let Python cache its bytecode even
# where the environment says otherwise. Measured: test_multi_cluster alone 135 s, 122 s with a warm cache;
# the whole fresh-clone make test not yet shown faster (docs: issue 15 note). __pycache__ is
# git-ignored, so ansible-test never stages it, and galaxy.yml's build_ignore keeps it out of the tarball.
export PYTHONDONTWRITEBYTECODE :=
PYTEST_ARGS ?=
# The lab and integration suites run in 3 pytest-xdist workers, each with a lab of its own, beside the
# other suites (scripts/test-all). Three, on a 2-core machine, because the workers often wait (on Jobs,
# Alertmanager gossip, backups): alone, two kept only 1.35 cores busy. Fresh-clone make test, measured:
# 3 workers 32m36s at 2f01758, 2 workers 36m51s (before wait_for backed off: 3 workers 40m11s);
# 3 workers 21m50s at 69ace1e on a faster day.
# 4 workers (31812cd, reverted) 38m57s and 61.7 CPU-min: more polling and contention, not more done.
# Each module runs whole on one worker (--dist loadscope): a module's lab of its own is started and
# prepared once, and its tests run in file order.
# INTEGRATION_WORKERS=0 runs them in one process; under load the real-Alertmanager timing tests are
# the ones to watch (a race in one was found and fixed that way).
INTEGRATION_WORKERS ?= 3
SANITY_PYTHON ?= $(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)

.PHONY: help venv sysdeps deps collection-link test sanity units integration compat lint ee build-install \
        lab-up lab-down lab-status demo bench clean

help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# ---------------------------------------------------------------------------------------------
# Set-up
$(VENV)/.installed: requirements.txt test-requirements.txt constraints.txt
	@echo "==> Python virtualenv $(VENV) with $$($(PYTHON) --version)"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -c constraints.txt -r test-requirements.txt
	$(VENV)/bin/pip check
	@touch $@

venv: $(VENV)/.installed ## Create .venv with runtime and test dependencies

sysdeps: venv ## Install the system packages listed in bindep.txt (apt)
	@missing=$$($(VENV)/bin/bindep -b test || true); \
	if [ -z "$$missing" ]; then echo "==> System packages: all present"; exit 0; fi; \
	echo "==> Installing system packages: $$missing"; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo=sudo; else \
	  echo "Missing system packages: $$missing. Install them as root (apt-get install $$missing) and re-run." >&2; exit 1; fi; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	still=$$($(VENV)/bin/bindep -b test || true); \
	if [ -n "$$still" ]; then echo "Could not install: $$still" >&2; exit 1; fi

# Only when missing or elsewhere: make test's two lanes both get here while tests read through the link.
collection-link:
	@mkdir -p $(COLLECTIONS_DIR)/ansible_collections/atlas
	@[ "$$(readlink $(COLLECTIONS_DIR)/ansible_collections/atlas/hardening)" = "$(ROOT)" ] || \
	  ln -sfn $(ROOT) $(COLLECTIONS_DIR)/ansible_collections/atlas/hardening

deps: venv sysdeps collection-link

# ---------------------------------------------------------------------------------------------
# Tests
test: deps ## Install everything, then run every suite: integration beside sanity, units, compat, lint, build+install
	@MAKE="$(MAKE)" scripts/test-all
	@echo "==> make test: all suites passed"

sanity: deps ## ansible-test sanity (offline, staged under .build/)
	@echo "==> ansible-test sanity (Python $(SANITY_PYTHON))"
	scripts/ansible-test sanity --venv --python $(SANITY_PYTHON) --color no

units: deps ## ansible-test units (module_utils and modules, against real OpenBao and moto)
	@echo "==> ansible-test units (Python $(SANITY_PYTHON))"
	scripts/ansible-test units --local --python $(SANITY_PYTHON) --color no

integration: deps ## pytest suites against the lab (emulators, real OpenBao/Alertmanager/moto)
	@echo "==> integration tests against the lab"
	$(PY) -m pytest tests/lab/tests tests/integration -p no:cacheprovider -n $(INTEGRATION_WORKERS) --dist loadscope --durations=25 $(PYTEST_ARGS)

compat: deps ## Oldest supported ansible-core (2.16, .venv-compat) and managed-host Pythons 3.9-3.13
	SANITY_PYTHON=$(SANITY_PYTHON) scripts/compat

lint: deps ## ansible-lint (production profile), ruff, mypy, changelog fragments
	@echo "==> ansible-lint (production profile)"
	$(VENV)/bin/ansible-lint --profile production --offline
	scripts/lint-python
	scripts/check-changelog

ee: deps ## Write the execution environment's build context (.build/ee) and print how to build and push it
	scripts/ee-context

build-install: deps ## Build the collection tarball and install it into a scratch path
	@echo "==> ansible-galaxy collection build + install"
	scripts/build-and-install

# ---------------------------------------------------------------------------------------------
# Lab and demo
lab-up: deps ## Start the local lab; writes $(LAB_DIR)/env and $(LAB_DIR)/inventory.yml
	$(PY) -m atlas_lab up --dir $(LAB_DIR)

lab-down: ## Stop every process the lab started
	@if [ -x $(PY) ]; then $(PY) -m atlas_lab down --dir $(LAB_DIR); else echo "lab: not running (no venv)"; fi

lab-status: ## Say what the lab runs (exit 1 if a service is unhealthy)
	@# Exit code 3 means "not running": a plain answer here, not an error.
	@if [ -x $(PY) ]; then $(PY) -m atlas_lab status --dir $(LAB_DIR) || [ $$? -eq 3 ]; else echo "lab: not running (no venv)"; fi

demo: deps ## Start the lab and run playbooks/harden.yml against it
	scripts/demo

# The side-by-side reference: kubernetes.core from the PyPI ansible package, in a venv of its own.
BENCH_ANSIBLE_VENV ?= $(ROOT)/.bench/ansible-venv
BENCH_ANSIBLE_PACKAGES ?= ansible==14.5.0 kubernetes==37.0.1

bench: deps $(BENCH_ANSIBLE_VENV)/bin/ansible-playbook ## Benchmarks: wall time and API requests, side by side with kubectl and kubernetes.core
	BENCH_ANSIBLE_VENV=$(BENCH_ANSIBLE_VENV) $(PY) tests/bench/run.py $(BENCH_ARGS)

$(BENCH_ANSIBLE_VENV)/bin/ansible-playbook:
	"$$(scripts/find-python)" -m venv $(BENCH_ANSIBLE_VENV)
	$(BENCH_ANSIBLE_VENV)/bin/pip install --quiet $(BENCH_ANSIBLE_PACKAGES)

clean: lab-down ## Remove build output (keeps .venv)
	rm -rf .build .bench tests/output atlas-hardening-*.tar.gz
