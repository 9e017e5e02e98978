# agora-token: library + token service.
#   make run    set up .venv, build, start the service (.env if present, else --demo)
#   make test   set up .venv, build the extension, run every test on both backends
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: all install run test test-cython test-python test-fallback-build typecheck bench bench-server clean

all: test

$(STAMP): pyproject.toml setup.py src/agora_token/_pack.pyx src/agora_token/_c/at_core.h
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[server,test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@if [ -f .env ] || [ -n "$$APP_ID" ]; then \
		exec $(PY) -m server; \
	else \
		echo "No .env and no APP_ID in the environment: starting in DEMO mode (tokens will NOT work with Agora)"; \
		exec $(PY) -m server --demo; \
	fi

typecheck: $(STAMP)
	$(PY) -m mypy --strict src/

test-cython: $(STAMP)
	AGORA_TOKEN_EXPECT_BACKEND=cython $(PY) -m pytest -q $(PYTEST_ARGS)

test-python: $(STAMP)
	AGORA_TOKEN_NO_EXTENSIONS=1 AGORA_TOKEN_EXPECT_BACKEND=python $(PY) -m pytest -q $(PYTEST_ARGS)

# the extension built without libz/libcrypto (the Windows-wheel code path)
test-fallback-build: $(STAMP)
	PYTHON=$(abspath $(PY)) scripts/check_fallback_build.sh

test: $(STAMP)
	$(MAKE) --no-print-directory typecheck
	$(MAKE) --no-print-directory test-cython
	$(MAKE) --no-print-directory test-python
	$(MAKE) --no-print-directory test-fallback-build

bench: $(STAMP)
	$(PY) benchmarks/bench_tokens.py

bench-server: $(STAMP)
	$(PY) benchmarks/bench_server.py

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info .pytest_cache .mypy_cache .hypothesis
	rm -f src/agora_token/_pack.c src/agora_token/_pack*.so src/agora_token/_pack*.pyd
