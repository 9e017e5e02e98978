"""``agora-token-server`` (or ``python -m server`` in a checkout):
``[--host HOST] [--port PORT] [--workers N] [--demo]``.

Exit codes: 0 after a graceful shutdown (SIGTERM, SIGINT or SIGHUP: SIGHUP
stops the service like SIGTERM, it does not reload it), 2 for a
configuration error (one line on stderr naming the variable), 1 when the
service cannot start (e.g. the port is taken).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import secrets
import sys
from typing import Any, Optional, Sequence

import agora_token

from .config import ConfigError, Settings, load_settings, read_environment

log = logging.getLogger("server")

PROG = "agora-token-server"
_EPILOG = f"""\
examples:
  APP_ID=... APP_CERTIFICATE=... {PROG}        # port from SERVER_PORT / PORT / 8080
  {PROG} --port 9000 --workers 2             # 2 processes sharing the port
  {PROG} --demo                              # throw-away credentials, for trying it out
"""


def _parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog=PROG, epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Agora token web service (drop-in replacement for the original Go service). "
                    "Configuration comes from the environment and a .env file in the working directory.")
    p.add_argument("--host", help="listening address (default: $HOST or 0.0.0.0)")
    p.add_argument("--port", type=int, help="listening port (default: $SERVER_PORT, $PORT or 8080)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes sharing the port with SO_REUSEPORT (default 1)")
    p.add_argument("--demo", action="store_true",
                   help="generate random credentials (tokens will NOT be accepted by Agora)")
    p.add_argument("--version", action="store_true", help="print the version and the token core, then exit")
    args = p.parse_args(argv)
    if args.port is not None and not 0 <= args.port <= 65535:
        p.error("--port must be in 0..65535")
    if not 1 <= args.workers <= 256:
        p.error("--workers must be in 1..256")
    return args


def build_settings(args: argparse.Namespace) -> Settings:
    env = read_environment()
    if args.demo:
        env["APP_ID"] = secrets.token_hex(16)
        env["APP_CERTIFICATE"] = secrets.token_hex(16)
    settings = load_settings(env, dotenv_path=None)
    changes: dict[str, Any] = {}
    if args.demo:
        changes["demo"] = True
    if args.host:
        changes["host"] = args.host
    if args.port is not None:
        changes["port"] = args.port
    return dataclasses.replace(settings, **changes) if changes else settings


def _demo_banner(settings: Settings) -> None:
    bar = "!" * 78
    for line in (bar,
                 "DEMO MODE: using RANDOM throw-away credentials",
                 f"APP_ID={settings.app_id} (random, not an Agora project)",
                 "Tokens from this server will NOT be accepted by Agora.",
                 "Set APP_ID and APP_CERTIFICATE (environment or .env) for real tokens.",
                 bar):
        log.warning(line)


def version_text() -> str:
    return f"{PROG} {agora_token.__version__} (agora_token backend: {agora_token.BACKEND})"


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parse_args(argv)
    if args.version:
        print(version_text())
        return 0
    try:
        settings = build_settings(args)
    except ConfigError as exc:  # one clear line, never a traceback
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2

    from . import runner
    from .accesslog import flush_all
    from .app import startup_warnings
    from .connections import connection_cap_warning, raise_open_file_limit
    from .logs import configure_logging

    configure_logging(settings.logs.format, settings.secrets, before_emit=flush_all)
    if settings.demo:
        _demo_banner(settings)
    for warning in startup_warnings(settings):
        log.warning(warning)
    if runner.http_parser_kind() == "C":
        log.info("aiohttp HTTP parser: C (llhttp); event loop: %s", runner.loop_kind())
    else:
        log.warning("aiohttp HTTP parser: pure Python (slow): the C extension is missing or "
                    "AIOHTTP_NO_EXTENSIONS is set; event loop: %s", runner.loop_kind())
    log.info("%s; pid %d; open-file limit %d", version_text(), os.getpid(), raise_open_file_limit())
    cap_warning = connection_cap_warning(settings.connections)
    if cap_warning:
        log.warning(cap_warning)
    log.info("auth %s; rate limit %s; max expire %s; channel pattern %s", settings.auth.describe(),
             settings.rate_limit.describe(),
             f"{settings.policy.max_expire} s" if settings.policy.max_expire is not None else "none",
             "on" if settings.policy.channel_pattern is not None else "off")
    if args.workers > 1:
        return runner.supervise(settings, args.workers)
    return runner.run_worker(settings)


if __name__ == "__main__":
    sys.exit(main())
