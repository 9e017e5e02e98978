"""Running the service: one worker process, or a supervisor and N workers
sharing the listening port through ``SO_REUSEPORT``.

Graceful shutdown (SIGTERM or SIGINT): the worker stops accepting
connections, closes its idle ones, marks every answer still to be sent with
``Connection: close`` (so no client reuses a connection that is about to
close), waits up to ``SHUTDOWN_GRACE`` seconds (default 15) for requests in
progress (a request body still arriving is cut short before the grace
ends: ``408``), then closes what is left and exits 0. A request that arrives
on an idle kept-alive connection just as it closes is never seen by the
server: the client sees the connection close without an answer and retries
on a new one (the ordinary HTTP/1.1 keep-alive race). The supervisor
forwards the signal to its workers and exits 0 when they all stopped cleanly;
a worker that dies unexpectedly is restarted, unless it died during start-up
(e.g. the port is taken), which stops the service.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from typing import Optional

from . import metrics
from .accesslog import AccessLog, flush_all
from .app import create_app
from .config import Settings
from .connections import ConnectionTracker, ServiceRunner
from .listener import AcceptingSite
from .state import STATE

__all__ = ["http_parser_kind", "loop_kind", "run_worker", "supervise"]

log = logging.getLogger("server")
LISTEN_BACKLOG = 1024
#: a worker that exits within this many seconds of its start failed to start
STARTUP_GRACE = 3.0


def http_parser_kind() -> str:
    """``"C"`` when aiohttp uses its compiled (llhttp) HTTP parser."""
    from aiohttp import http_parser

    try:
        from aiohttp import _http_parser
    except ImportError:
        return "python"
    parser: object = http_parser.HttpRequestParser
    return "C" if parser is getattr(_http_parser, "HttpRequestParser", None) else "python"


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


async def _flush_metrics_periodically() -> None:
    while True:
        await asyncio.sleep(metrics.FLUSH_INTERVAL)
        metrics.flush()


async def _serve(settings: Settings, reuse_port: bool, worker: Optional[int]) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    conn = settings.connections
    access = AccessLog(settings.logs.format) if settings.logs.access_log else None
    app = create_app(settings, access)
    tracker = ConnectionTracker(conn)
    runner = ServiceRunner(app, tracker, handle_signals=False, access_log=None,
                           keepalive_timeout=conn.keepalive_timeout, lingering_time=conn.body_timeout,
                           shutdown_timeout=conn.shutdown_grace)
    await runner.setup()
    site = AcceptingSite(runner, settings.host, settings.port, reuse_port=reuse_port, backlog=LISTEN_BACKLOG)
    try:
        await site.start()
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", settings.host, settings.port, exc.strerror or exc)
        await runner.cleanup()
        return 1
    tracker.start()
    flusher = loop.create_task(_flush_metrics_periodically())
    who = f"worker {worker} (pid {os.getpid()})" if worker is not None else f"pid {os.getpid()}"
    addrs = ", ".join(f"http://{a[0]}:{a[1]}" if isinstance(a, tuple) else str(a) for a in runner.addresses)
    log.info("%s listening on %s (at most %d connections)", who, addrs, tracker.max_connections)
    await stop.wait()
    log.info("%s shutting down: finishing requests in progress (at most %g s)", who, conn.shutdown_grace)
    app[STATE].start_draining(conn.shutdown_grace)
    await runner.cleanup()
    await tracker.stop()
    flusher.cancel()
    metrics.flush()
    flush_all()
    log.info("%s stopped", who)
    return 0


def run_worker(settings: Settings, *, reuse_port: bool = False, worker: Optional[int] = None) -> int:
    """Serve until SIGINT/SIGTERM; returns the exit code."""
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_serve(settings, reuse_port, worker))
    finally:
        flush_all()
        loop.close()


def supervise(settings: Settings, workers: int) -> int:
    """Fork ``workers`` worker processes sharing the port; return the exit code."""
    if not hasattr(socket, "SO_REUSEPORT"):
        log.error("--workers needs SO_REUSEPORT, which this platform lacks")
        return 1
    metrics.prepare_multiprocess()  # workers inherit PROMETHEUS_MULTIPROC_DIR
    children: dict[int, tuple[int, float]] = {}
    stopping = False
    failed = False

    def spawn(index: int) -> None:
        flush_all()
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
            log.info("supervisor: %s received, stopping %d workers", signal.Signals(signum).name, len(children))
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
        metrics.worker_exited(pid)
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
