# syntax=docker/dockerfile:1
#
# Agora token service: aiohttp server + the agora_token library with its
# compiled core.
#
#   docker build -t agora-token-service .
#   docker run --rm -p 8080:8080 -e APP_ID=... -e APP_CERTIFICATE=... agora-token-service
#   docker run --rm -p 8080:8080 --env-file .env agora-token-service
#
# Configuration is read from the environment at RUN time only (APP_ID,
# APP_CERTIFICATE, SERVER_PORT/PORT, HOST, CORS_ALLOW_ORIGIN, ...). No
# credentials are build arguments or baked into a layer.

ARG PYTHON_VERSION=3.12

# ---------------------------------------------------------------------------
# builder: compile the wheel (Cython extension linked against the image's
# libz) and install it with the [server] extra into a venv.
# ---------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS builder

# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    CFLAGS=-g0

WORKDIR /build
# README/LICENSE as globs: the build does not depend on them being present.
COPY pyproject.toml setup.py README.md* LICENSE* ./
COPY src ./src
COPY server ./server

# Build the wheel (fail if the extension did not compile: a py3-none-any
# wheel), then install it with the [server] extra into a self-contained venv
# that the runtime stage copies as is (same base image, same paths).
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && if ls /wheels/agora_token-*-none-any.whl >/dev/null 2>&1; then \
      echo "the compiled core of agora_token did not build" >&2; exit 1; \
    fi \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install "$(ls /wheels/agora_token-*.whl)[server]" \
 && /opt/venv/bin/python -c "import agora_token as a; assert a.BACKEND == 'cython', a.BACKEND"

# ---------------------------------------------------------------------------
# runtime: slim image, no compiler, non-root.
# python:*-slim already ships zlib1g, which the extension uses.
# ---------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# Prove the compiled core loads here (the runtime image has zlib1g).
RUN agora-token-server --version | grep -q "backend: cython"

RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app

# The service is installed with the wheel (agora_token_server, the
# agora-token-server command): nothing else is copied.
WORKDIR /app

USER 10001:10001

EXPOSE 8080

# Liveness (a container is not restarted for Redis being down: /readyz is the
# readiness check). No curl in slim images: probe /ping with the standard library. Same port
# rule as the server: SERVER_PORT, then PORT, then 8080.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; p = os.environ.get('SERVER_PORT') or os.environ.get('PORT') or '8080'; r = urllib.request.urlopen('http://127.0.0.1:%s/ping' % p, timeout=4); sys.exit(0 if r.status == 200 else 1)"]

CMD ["agora-token-server", "--host", "0.0.0.0"]
