# agora-token: the library and the token service.
#
#   make run     set up .venv, build, start the service (.env if present, else --demo)
#   make test    everyday: ruff, mypy --strict, the test suite on both cores (slow tests skipped)
#   make check   what CI runs: make test, the slow tests (real processes, floods, Redis,
#                browser), the extension built without libz/libcrypto, the wheel
#                repaired and installed in a fresh venv (with the service), AddressSanitizer
#                over a corpus, the CI configuration checked against its schemas
#   make bench / bench-server   benchmarks (docs/benchmarks.md)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: all install run lint test test-slow check check-fallback-build check-wheel check-asan \
	check-ci-config packaging-report bench bench-server soak clean vectors docker docker-run cleanup

all: test

$(STAMP): pyproject.toml setup.py src/agora_token/_pack.pyx src/agora_token/_c/at_core.h
	@echo "==> setting up $(VENV): the package in editable mode with the [server,test] extras (builds the compiled core)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[server,test]'
	@$(PY) -c "import agora_token, agora_token_server; print('==> ready: agora_token', agora_token.__version__, 'backend', agora_token.BACKEND)"
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@if [ -f .env ] || [ -n "$$APP_ID" ]; then \
		exec $(VENV)/bin/agora-token-server; \
	else \
		echo "No .env and no APP_ID in the environment: starting in DEMO mode (tokens will NOT work with Agora)"; \
		exec $(VENV)/bin/agora-token-server --demo; \
	fi

lint: $(STAMP)
	@echo "==> ruff"
	@$(VENV)/bin/ruff check src server tests benchmarks scripts
	@echo "==> mypy --strict (src/ and server/)"
	@$(PY) -m mypy

# the library tests run on both cores in this one run; the service tests once
test: lint
	@echo "==> pytest (slow tests skipped; make check runs them)"
	@AGORA_TOKEN_EXPECT_BACKEND=cython $(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

test-slow: $(STAMP)
	@echo "==> pytest: slow tests (real processes, floods, SIGTERM, bursts, Redis, browser)"
	@AGORA_TOKEN_EXPECT_BACKEND=cython $(PY) -m pytest -q -m slow $(PYTEST_ARGS)

# the extension built without libz/libcrypto (the Windows-wheel code path)
check-fallback-build: $(STAMP)
	@echo "==> the compiled core without libz/libcrypto, and its library tests"
	@PYTHON=$(abspath $(PY)) scripts/check_fallback_build.sh

check-wheel:
	@echo "==> wheel: build, auditwheel repair, install in a fresh venv"
	@PYTHON=$(PYTHON) bash scripts/check_wheel.sh

check-asan: $(STAMP)
	@echo "==> the compiled core under AddressSanitizer over a seeded corpus"
	@PYTHON=$(abspath $(PY)) bash scripts/asan_check.sh

# .github/workflows/wheels.yml runs on GitHub only: checked here statically
check-ci-config:
	@echo "==> CI configuration: workflow schema, cibuildwheel config, builds per job"
	@PYTHON=$(PYTHON) bash scripts/check_ci_config.sh

check: test test-slow check-fallback-build check-wheel check-asan check-ci-config
	@echo "==> make check: all passed"

bench: $(STAMP)
	$(PY) -m benchmarks.bench_tokens

bench-server: $(STAMP)
	$(PY) -m benchmarks.bench_server

soak: $(STAMP)
	$(PY) -m benchmarks.soak

# on demand (about 2 minutes): wheel sizes and build times into docs/packaging.md
packaging-report: $(STAMP)
	$(PY) scripts/packaging_report.py --write docs/packaging.md

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	rm -f src/agora_token/_pack.c src/agora_token/_pack*.so src/agora_token/_pack*.pyd

# --- packaging and container (docs/packaging.md) -------------------------------------
#   make vectors      copy ../shared/vectors into tests/vectors (for checkouts without ../shared)
#   make docker       build the image (only when the Dockerfile or the sources changed)
#   make docker-run   build if needed, then run it: --env-file .env if present,
#                     else APP_ID/APP_CERTIFICATE from the environment, else --demo
#   make cleanup      forget the build marker and remove the image
IMAGE ?= agora-token-service
DOCKER ?= docker
DOCKER_PORT ?= 8080
DOCKER_MARKER := build/.docker-build-marker
DOCKER_INPUTS := Dockerfile .dockerignore pyproject.toml setup.py \
	$(shell find src server -type f -not -path '*/__pycache__/*' -not -name '*.so' \
	  -not -name '*.pyd' -not -name '_pack.c' 2>/dev/null)

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
			agora-token-server --host 0.0.0.0 --demo; \
	fi

cleanup:
	rm -f $(DOCKER_MARKER)
	-$(DOCKER) image rm $(IMAGE) 2>/dev/null
