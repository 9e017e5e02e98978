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

# the full suite on both backends runs last, so its summary closes the output
test: $(STAMP)
	$(MAKE) --no-print-directory typecheck
	$(MAKE) --no-print-directory test-fallback-build
	$(MAKE) --no-print-directory check-wheel
	$(MAKE) --no-print-directory test-cython
	$(MAKE) --no-print-directory test-python

bench: $(STAMP)
	$(PY) benchmarks/bench_tokens.py

bench-server: $(STAMP)
	$(PY) benchmarks/bench_server.py

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info .pytest_cache .mypy_cache .hypothesis
	rm -f src/agora_token/_pack.c src/agora_token/_pack*.so src/agora_token/_pack*.pyd

# --- packaging and container (see README.md, "Packaging") --------------------------
#   make check-wheel  build -> auditwheel repair -> fresh venv -> BACKEND == "cython"
#   make vectors      copy ../shared/vectors into tests/vectors (for checkouts without ../shared)
#   make docker       build the image (only when the Dockerfile or the sources changed;
#                     .env is never part of the image, so it does not trigger a rebuild)
#   make docker-run   build if needed, then run it: --env-file .env if present,
#                     else APP_ID/APP_CERTIFICATE from the environment, else --demo
#   make cleanup      forget the build marker and remove the image (forces a rebuild)
IMAGE ?= agora-token-service
DOCKER ?= docker
DOCKER_PORT ?= 8080
DOCKER_MARKER := build/.docker-build-marker
DOCKER_INPUTS := Dockerfile .dockerignore pyproject.toml setup.py \
	$(shell find src server -type f -not -path '*/__pycache__/*' -not -name '*.so' \
	  -not -name '*.pyd' -not -name '_pack.c' 2>/dev/null)

.PHONY: check-wheel vectors docker docker-run cleanup

check-wheel:
	PYTHON=$(PYTHON) bash scripts/check_wheel.sh

vectors:
	bash scripts/sync_vectors.sh

$(DOCKER_MARKER): $(DOCKER_INPUTS)
	$(DOCKER) build -t $(IMAGE) .
	@mkdir -p $(dir $@) && touch $@

docker: $(DOCKER_MARKER)

# Credentials are passed at run time only: --env-file, or `-e NAME` (value
# taken from this shell, never written on the command line). The container
# always listens on 8080; DOCKER_PORT picks the host port.
docker-run: $(DOCKER_MARKER)
	@if [ -f .env ]; then \
		set -x; exec $(DOCKER) run --rm -p $(DOCKER_PORT):8080 --env-file .env \
			-e SERVER_PORT=8080 $(IMAGE); \
	elif [ -n "$$APP_ID" ]; then \
		set -x; exec $(DOCKER) run --rm -p $(DOCKER_PORT):8080 -e APP_ID -e APP_CERTIFICATE \
			-e CORS_ALLOW_ORIGIN -e SERVER_PORT=8080 $(IMAGE); \
	else \
		echo "No .env and no APP_ID in the environment: starting in DEMO mode (tokens will NOT work with Agora)"; \
		set -x; exec $(DOCKER) run --rm -p $(DOCKER_PORT):8080 -e SERVER_PORT=8080 $(IMAGE) \
			python -m server --host 0.0.0.0 --demo; \
	fi

cleanup:
	rm -f $(DOCKER_MARKER)
	-$(DOCKER) image rm $(IMAGE) 2>/dev/null
