"""Running the service: one worker process, or a supervisor with N workers
sharing the listening port through ``SO_REUSEPORT`` (the kernel spreads new
connections over the workers).

Graceful shutdown: SIGTERM or SIGINT stops accepting connections, lets
in-flight requests finish (up to ``SHUTDOWN_TIMEOUT`` seconds), then exits 0.
The supervisor forwards both signals to its workers and exits 0 when they all
exited cleanly. A worker that dies unexpectedly is restarted, unless it dies
during start-up (e.g. the port is taken), which stops the whole service.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from typing import Dict, Optional

from aiohttp import web

from .accesslog import ACCESS_LOGGER_NAME, AccessLogger
from .app import create_app
from .config import Settings

__all__ = ["SHUTDOWN_TIMEOUT", "http_parser_kind", "new_event_loop", "run_worker", "supervise"]

log = logging.getLogger("server")
SHUTDOWN_TIMEOUT = 15.0
#: a worker that exits within this many seconds of its start failed to start
STARTUP_GRACE = 3.0


def http_parser_kind() -> str:
    """``"C"`` when aiohttp uses its compiled (llhttp) HTTP parser."""
    from aiohttp import http_parser

    try:
        from aiohttp import _http_parser
    except ImportError:
        return "python"
    return "C" if http_parser.HttpRequestParser is _http_parser.HttpRequestParser else "python"


def loop_kind() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def _serve(settings: Settings, reuse_port: bool, worker: Optional[int]) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    app = create_app(settings)
    runner = web.AppRunner(app, handle_signals=False, access_log_class=AccessLogger,
                           access_log=logging.getLogger(ACCESS_LOGGER_NAME),
                           shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, reuse_port=reuse_port or None,
                       backlog=1024)
    try:
        await site.start()
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", settings.host, settings.port, exc.strerror or exc)
        await runner.cleanup()
        return 1
    who = f"worker {worker} (pid {os.getpid()})" if worker is not None else f"pid {os.getpid()}"
    addrs = ", ".join(f"http://{a[0]}:{a[1]}" if isinstance(a, tuple) else str(a)
                      for a in runner.addresses)
    log.info("%s listening on %s", who, addrs)
    await stop.wait()
    log.info("%s shutting down: finishing in-flight requests", who)
    await runner.cleanup()
    log.info("%s stopped", who)
    return 0


def run_worker(settings: Settings, *, reuse_port: bool = False, worker: Optional[int] = None) -> int:
    """Serve until SIGINT/SIGTERM; returns the exit code."""
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_serve(settings, reuse_port, worker))
    finally:
        loop.close()


def supervise(settings: Settings, workers: int) -> int:
    """Fork ``workers`` worker processes sharing the port; return the exit code."""
    if not hasattr(socket, "SO_REUSEPORT"):
        log.error("--workers needs SO_REUSEPORT, which this platform lacks")
        return 1
    children: Dict[int, tuple[int, float]] = {}
    stopping = False
    failed = False

    def spawn(index: int) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # child
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            code = 1
            try:
                code = run_worker(settings, reuse_port=True, worker=index)
            except BaseException:  # noqa: BLE001
                log.exception("worker %d crashed", index)
            finally:
                logging.shutdown()
                os._exit(code)
        children[pid] = (index, time.monotonic())

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            log.info("supervisor: %s received, stopping %d workers",
                     signal.Signals(signum).name, len(children))
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    for i in range(workers):
        spawn(i)
    log.info("supervisor (pid %d) started %d workers", os.getpid(), workers)

    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        if pid not in children:
            continue
        index, started = children.pop(pid)
        code = os.waitstatus_to_exitcode(status)
        if stopping:
            if code != 0:
                failed = True
                log.warning("worker %d exited with code %d", index, code)
            continue
        if time.monotonic() - started < STARTUP_GRACE:
            log.error("worker %d failed to start (exit code %d): stopping", index, code)
            failed = True
            forward(signal.SIGTERM, None)
            continue
        log.warning("worker %d (pid %d) exited unexpectedly (code %d): restarting", index, pid, code)
        spawn(index)
    return 1 if failed else 0
