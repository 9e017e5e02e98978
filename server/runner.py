"""Running the service: one worker process, or a supervisor and N workers
sharing the listening port through ``SO_REUSEPORT``.

Graceful shutdown, on SIGTERM or SIGHUP (the same: there is no reload), in
three steps:

1. **Stopping** (``SHUTDOWN_DELAY`` seconds, default 5): ``/readyz`` answers
   503 at once, so a load balancer or an orchestrator takes the replica out;
   meanwhile everything else is served as usual, kept-alive connections
   included.
2. **Draining**: the listening socket closes (the connections already in its
   accept queue are accepted first, then served), every answer carries
   ``Connection: close`` (so no client reuses a connection that is about to
   close), kept-alive connections are closed once idle
   (:meth:`server.connections.ConnectionTracker.drain`), and requests in progress
   get up to ``SHUTDOWN_GRACE`` seconds (default 15; a request body still
   arriving is cut short before the grace ends: ``408``).
3. What is left is closed and the process exits 0, within
   ``SHUTDOWN_DELAY + SHUTDOWN_GRACE`` of the signal: an orchestrator's grace
   period must be longer than that sum.

SIGINT (Ctrl-C) skips the delay: it is for people, not orchestrators (a
repeated SIGTERM does not: systemd, for one, signals every process of the
service and the supervisor forwards the signal too). A request that arrives on an idle
kept-alive connection just as the drain closes it is never seen by the
server: the client sees the connection close without an answer and retries
on a new one (the HTTP/1.1 keep-alive race; ``deploy/nginx.conf`` retries
on another replica).

With ``--workers N`` the supervisor forwards the signal to its workers and
exits 0 when they all stopped cleanly, whenever the signal comes: a worker
still starting (or restarting) keeps the stop signals blocked until its
event loop handles them, so one sent meanwhile waits instead of killing it.
A worker that dies unexpectedly is restarted, unless it died during
start-up (e.g. the port is taken), which stops the service. However the
supervisor dies (SIGKILL, the OOM killer), its workers do not outlive it:
each holds the read end of a pipe whose only write end the supervisor
holds, and the kernel closes that end when the supervisor dies, whatever
the cause. A worker seeing the end of that pipe
closes its listener at once (no ``SHUTDOWN_DELAY``: a new instance may
already share the port) and drains within ``SHUTDOWN_GRACE``. A pipe rather
than ``prctl(PR_SET_PDEATHSIG)``: it works on every POSIX system, needs no
polling (unlike watching ``os.getppid()``), and fires on the death of the
supervisor process, not of the thread that forked.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import sys
import time
from typing import Optional

from . import audit, metrics, tracing
from .accesslog import AccessLog, flush_all
from .app import create_app
from .config import Settings
from .connections import ConnectionTracker, ServiceRunner
from .listener import AcceptingSite
from .state import STATE

__all__ = ["freeze_startup_heap", "http_parser_kind", "loop_kind", "run_worker", "supervise"]

log = logging.getLogger("server")
LISTEN_BACKLOG = 1024
#: each starts the graceful shutdown (SIGHUP too: there is no reload)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
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


class _Stop:
    """Why and how urgently this worker stops: the first signal (or the
    supervisor's death) starts the shutdown; SIGINT or the supervisor's
    death, first or later, ends ``SHUTDOWN_DELAY`` early."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.hurry = asyncio.Event()
        self.reason = ""

    def __call__(self, reason: str, urgent: bool = False) -> None:
        if urgent:
            self.hurry.set()
        if not self.requested.is_set():
            self.reason = reason
            self.requested.set()

    async def delay(self, seconds: float) -> None:
        """``seconds``, or less if told to hurry."""
        if seconds > 0 and not self.hurry.is_set():
            try:
                await asyncio.wait_for(self.hurry.wait(), seconds)
            except asyncio.TimeoutError:
                pass


def _watch_supervisor(loop: asyncio.AbstractEventLoop, fd: int, stop: _Stop) -> None:
    """Stop (urgently) when the supervisor's end of the pipe ``fd`` closes."""

    def readable() -> None:
        try:
            data = os.read(fd, 64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
            stop("the supervisor is gone", urgent=True)

    os.set_blocking(fd, False)
    loop.add_reader(fd, readable)


async def _serve(settings: Settings, reuse_port: bool, worker: Optional[int], supervisor_fd: Optional[int]) -> int:
    loop = asyncio.get_running_loop()
    stop = _Stop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop, sig.name, sig == signal.SIGINT)
    # a forked worker starts with the stop signals blocked (see supervise): now
    # that the loop handles them, let them in; one already pending arrives here
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    if supervisor_fd is not None:
        _watch_supervisor(loop, supervisor_fd, stop)
    conn = settings.connections
    access = AccessLog(settings.logs.format) if settings.logs.access_log else None
    tracing.start_in_worker(settings.tracing)  # after the fork, before the app (the pipeline reads TRACER once)
    audit.start(settings.audit)
    app = create_app(settings, access)
    state = app[STATE]
    tracker = ConnectionTracker(conn)
    runner = ServiceRunner(app, tracker, handle_signals=False, access_log=None,
                           keepalive_timeout=conn.keepalive_timeout, lingering_time=conn.body_timeout,
                           shutdown_timeout=conn.shutdown_grace)
    await runner.setup()
    site = AcceptingSite(runner, settings.host, settings.port, reuse_port=reuse_port, backlog=LISTEN_BACKLOG)
    freeze_startup_heap()
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
    await stop.requested.wait()
    state.stopping = True
    log.info("%s stopping (%s): /readyz answers 503; serving for %g s more (SHUTDOWN_DELAY), then "
             "finishing requests in progress (at most %g s)", who, stop.reason,
             0 if stop.hurry.is_set() else conn.shutdown_delay, conn.shutdown_grace)
    await stop.delay(conn.shutdown_delay)
    await site.stop()  # accepts what waits in the accept queue, then closes the listener
    state.start_draining(conn.shutdown_grace)
    deadline = loop.time() + conn.shutdown_grace
    await tracker.drain(deadline)
    runner.set_shutdown_timeout(deadline - loop.time())
    await runner.cleanup()
    await tracker.stop()
    flusher.cancel()
    metrics.flush()
    flush_all()
    audit.stop()  # the last lines and the throttle's counts
    # export the spans still buffered, for what is left of the grace (at most
    # tracing.SHUTDOWN_LIMIT): a collector that does not answer delays no exit
    tracing.shutdown(min(tracing.SHUTDOWN_LIMIT, max(0.0, deadline - loop.time())))
    log.info("%s stopped", who)
    return 0


def freeze_startup_heap() -> None:
    """Move every object alive once the worker is set up (modules, the app,
    its tables: about 54,000) out of the garbage collector's reach
    (``gc.freeze``), so that its full collections scan only what requests
    create. (A forked worker's inherited objects were frozen by the
    supervisor before the fork, so this collection does not touch, and copy,
    their pages.) Measured under load (POST /getToken, 2 workers, 65 s each):
    without it, each worker ran two full collections of 38-48 ms, request
    pauses of that length; with it, the longest was 3 ms."""
    gc.collect()
    gc.freeze()


def run_worker(settings: Settings, *, reuse_port: bool = False, worker: Optional[int] = None,
               supervisor_fd: Optional[int] = None) -> int:
    """Serve until SIGTERM, SIGINT or SIGHUP (or until the supervisor's end of
    the pipe ``supervisor_fd`` closes); returns the exit code."""
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_serve(settings, reuse_port, worker, supervisor_fd))
    finally:
        flush_all()
        audit.flush_all()
        tracing.shutdown()
        loop.close()


def supervise(settings: Settings, workers: int) -> int:
    """Fork ``workers`` worker processes sharing the port; return the exit code."""
    if not hasattr(socket, "SO_REUSEPORT"):
        log.error("--workers needs SO_REUSEPORT, which this platform lacks")
        return 1
    metrics.prepare_multiprocess()  # workers inherit PROMETHEUS_MULTIPROC_DIR
    # the workers watch the read end; only this process holds the write end,
    # which the kernel closes when it dies, however it dies
    watch_fd, alive_fd = os.pipe()
    children: dict[int, tuple[int, float]] = {}
    stopping = False
    forwarded = signal.SIGTERM  # what forward() sends the workers
    failed = False

    def spawn(index: int) -> None:
        flush_all()
        sys.stdout.flush()
        sys.stderr.flush()
        # The stop signals stay blocked from before the fork until the new pid
        # is in ``children`` (here) and until the worker's event loop handles
        # them (the child inherits the mask; ``_serve`` unblocks them): a
        # signal in between waits, pending, instead of killing a worker still
        # starting (SIG_DFL) or missing the new pid in ``forward``.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        gc.freeze()  # what the worker inherits stays out of its collections: no copy-on-write of it by the GC
        try:
            pid = os.fork()
            if pid == 0:  # child
                code = 1
                try:
                    os.close(alive_fd)
                    for sig in STOP_SIGNALS:  # not the supervisor's forward()
                        signal.signal(sig, signal.SIG_DFL)
                    code = run_worker(settings, reuse_port=True, worker=index, supervisor_fd=watch_fd)
                except BaseException:  # noqa: BLE001
                    log.exception("worker %d crashed", index)
                finally:
                    logging.shutdown()
                    os._exit(code)
            children[pid] = (index, time.monotonic())
            if stopping:  # forward() ran before the block, without this worker
                os.kill(pid, forwarded)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a signal that waited is handled here

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping, forwarded
        if not stopping:
            log.info("supervisor: %s received, stopping %d workers", signal.Signals(signum).name, len(children))
        stopping = True
        forwarded = signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM  # SIGINT: no delay
        for pid in list(children):
            try:
                os.kill(pid, forwarded)
            except ProcessLookupError:
                pass

    for sig in STOP_SIGNALS:
        signal.signal(sig, forward)
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
