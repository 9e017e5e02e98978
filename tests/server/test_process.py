"""The process model, against real server processes on loopback: the
graceful shutdown's ``SHUTDOWN_DELAY`` (serving as usual, then draining),
SIGHUP stopping like SIGTERM, no request reset across a SIGTERM when every
request opens a new connection, workers that never outlive their
supervisor, and a connection cap that fits the open-file limit."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from agora_token_server.testing import LiveServer, request
from tests.support.rawhttp import TOKEN_BODY, post_head, read_response
from tests.support.service import CREDENTIALS, check_chat

pytestmark = pytest.mark.slow

PING = b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"


def start(tmp_path: Path, *args: str, command: list[str] | None = None, **env: str) -> LiveServer:
    workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
    return LiveServer(tmp_path, {**CREDENTIALS, **env}, args, command=command).wait_ready(workers=workers)


def refuses(port: int) -> bool:
    """Whether ``port`` refuses connections (a listener closing drops new
    handshakes for a moment: the SYN is sent again after a second)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
    except ConnectionRefusedError:
        return True
    except socket.timeout:
        pass
    return False


def wait_until(condition: Callable[[], bool], limit: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (an exited orphan nobody reaped yet, a zombie, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: assume it runs
    return stat.rpartition(")")[2].split()[0] != "Z"


def worker_pids(server: LiveServer) -> list[int]:
    pids = [int(pid) for pid in re.findall(r"worker \d+ \(pid (\d+)\) listening", server.log())]
    assert len(pids) == 2, server.log()
    return pids


def kill_all(pids: list[int]) -> None:
    """SIGKILL what is left of ``pids`` (a failed test leaves no process behind)."""
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def held_request(port: int) -> socket.socket:
    """A token request sent on a new connection (held while TEST_HOLD_FILE exists)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(post_head() + TOKEN_BODY)
    return sock


# --------------------------------------------------------------------------- SHUTDOWN_DELAY

def test_stopping_serves_as_usual_for_the_delay_then_drains(tmp_path: Path) -> None:
    """During SHUTDOWN_DELAY a kept-alive connection and new connections are
    served as usual (no ``Connection: close``) while ``/readyz`` says 503;
    after it, the listener is closed, the idle kept-alive connection is
    closed, and the process exits 0."""
    server = start(tmp_path, SHUTDOWN_DELAY="2")
    kept = socket.create_connection(("127.0.0.1", server.port))
    try:
        kept.sendall(PING)
        assert read_response(kept)[0] == 200
        assert request(f"{server.url}/readyz")[0] == 200
        server.signal(signal.SIGTERM)
        time.sleep(0.3)
        assert request(f"{server.url}/readyz")[0] == 503
        for _ in range(3):
            kept.sendall(PING)
            status, headers, _ = read_response(kept)
            assert status == 200 and headers.get("connection") != "close", headers
            assert request(f"{server.url}/ping")[0] == 200
        assert server.proc.poll() is None
        kept.settimeout(10)
        assert kept.recv(1) == b""  # closed by the drain, after the delay
        assert server.proc.wait(10) == 0
        assert refuses(server.port)
    finally:
        kept.close()
        server.stop()
    log = server.log()
    assert "stopping (SIGTERM)" in log and "Traceback" not in log


def test_sigint_skips_the_delay(tmp_path: Path) -> None:
    """Ctrl-C is for people: it drains at once, whatever SHUTDOWN_DELAY says."""
    server = start(tmp_path, SHUTDOWN_DELAY="60")
    try:
        server.signal(signal.SIGINT)
        assert server.proc.wait(15) == 0
    finally:
        server.stop()


def test_sighup_stops_a_single_process_gracefully(tmp_path: Path) -> None:
    """SIGHUP is SIGTERM (no reload): the request in progress is answered, exit 0."""
    hold = tmp_path / "hold"
    hold.touch()
    server = start(tmp_path, TEST_HOLD_FILE=str(hold))
    try:
        with held_request(server.port) as sock:
            time.sleep(0.4)  # the request is now held
            server.signal(signal.SIGHUP)
            time.sleep(0.4)
            hold.unlink()
            status, headers, body = read_response(sock)
        assert status == 200 and headers["connection"] == "close"
        check_chat(json.loads(body)["token"], "u", 60)
        assert server.proc.wait(20) == 0
    finally:
        server.stop()
    assert "stopping (SIGHUP)" in server.log()


def test_sighup_stops_the_supervisor_and_its_workers_gracefully(tmp_path: Path) -> None:
    server = start(tmp_path, "--workers", "2")
    workers = worker_pids(server)
    try:
        server.signal(signal.SIGHUP)
        assert server.proc.wait(20) == 0
        assert wait_until(lambda: not any(alive(pid) for pid in workers), 10)
    finally:
        kill_all(workers)
        server.stop()
    log = server.log()
    assert log.count("stopping (SIGTERM)") == 2 and "SIGHUP received" in log and "Traceback" not in log


# --------------------------------------------------------------------------- a signal during start-up

def sigterm_as_workers_start(tmp_path: Path, delay: float) -> tuple[object, str]:
    """Start a supervisor and 2 workers, SIGTERM it ``delay`` s after it
    forked them (their start-up takes tens of ms): its exit code (or why
    none) and its output."""
    server = LiveServer(tmp_path, CREDENTIALS, ("--workers", "2"))
    try:
        forked = wait_until(lambda: "started 2 workers" in server.log() or server.proc.poll() is not None,
                            30, step=0.0005)
        assert forked and server.proc.poll() is None, server.log()
        time.sleep(delay)
        server.signal(signal.SIGTERM)
        try:
            code: object = server.proc.wait(20)
        except subprocess.TimeoutExpired:
            code = "none: still running 20 s after SIGTERM"
    finally:
        server.stop()  # SIGKILLs the process group if it still runs
    return code, server.log()


def test_a_sigterm_while_the_workers_start_stops_them_cleanly(tmp_path: Path) -> None:
    """SIGTERM to the supervisor right after it forked its workers (0 to
    13.5 ms after "started 2 workers", while they build their event loops and
    apps): the workers get it once they can handle it, none is killed by it
    (code -15) or misses it (the supervisor would wait forever), and the
    supervisor exits 0, every time."""
    failures = []
    for attempt in range(10):
        code, log = sigterm_as_workers_start(tmp_path, attempt * 0.0015)
        if code != 0 or "exited with code" in log or "Traceback" in log:
            failures.append(f"SIGTERM {attempt * 1.5:g} ms after the fork: exit code {code}\n{log[-1200:]}")
    assert not failures, "\n\n".join(failures)


# --------------------------------------------------------------------------- a new connection per request

def test_sigterm_resets_no_request_sent_on_a_new_connection(tmp_path: Path) -> None:
    """Clients that open a new connection for every request, across a SIGTERM:
    each request is answered, or its connection is refused before anything is
    sent; none is reset (or closed without an answer) after it was sent. The
    connections waiting in the accept queue when the listener closes are
    accepted and answered, and freshly accepted connections are not taken
    for idle ones."""
    server = start(tmp_path, SHUTDOWN_DELAY="1")
    counts = {"answered": 0, "refused": 0, "reset": 0}
    lock = threading.Lock()
    errors: list[str] = []

    def client() -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            except OSError as exc:
                if exc.errno != errno.ECONNREFUSED:
                    errors.append(repr(exc))
                with lock:
                    counts["refused"] += 1
                return  # the listener is closed: done
            with sock:
                try:
                    sock.sendall(post_head() + TOKEN_BODY)
                    status = read_response(sock)[0]
                    outcome = "answered" if status == 200 else f"status {status}"
                except OSError as exc:  # reset, or closed without an answer
                    errors.append(repr(exc))
                    outcome = "reset"
            with lock:
                counts[outcome] = counts.get(outcome, 0) + 1

    threads = [threading.Thread(target=client) for _ in range(16)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    server.signal(signal.SIGTERM)
    for t in threads:
        t.join(30)
    code = server.proc.wait(20)
    assert code == 0, server.log()[-2000:]
    assert counts["reset"] == 0 and not errors, (counts, errors[:5])
    assert set(counts) == {"answered", "refused", "reset"}, counts
    assert counts["answered"] > 50 and counts["refused"] == 16, counts


# --------------------------------------------------------------------------- no orphans

def test_workers_do_not_outlive_a_killed_supervisor(tmp_path: Path) -> None:
    """SIGKILL the supervisor (as the OOM killer would) while a worker serves
    a request: the workers close their listeners at once, without waiting
    SHUTDOWN_DELAY (30 s here), finish the request in progress and exit; none
    survives."""
    hold = tmp_path / "hold"
    hold.touch()
    server = start(tmp_path, "--workers", "2", SHUTDOWN_DELAY="30", SHUTDOWN_GRACE="10", TEST_HOLD_FILE=str(hold))
    workers = worker_pids(server)
    sock = held_request(server.port)
    try:
        time.sleep(0.4)  # the request is now held in one worker
        server.signal(signal.SIGKILL)
        server.proc.wait(10)
        assert wait_until(lambda: refuses(server.port), 5), "orphaned workers still accept connections"
        assert any(alive(pid) for pid in workers)  # the held request keeps one worker: drained, not killed
        hold.unlink()
        status, headers, body = read_response(sock)
        assert status == 200 and headers["connection"] == "close"
        assert wait_until(lambda: not any(alive(pid) for pid in workers), 15), "a worker outlived its supervisor"
    finally:
        sock.close()
        hold.unlink(missing_ok=True)
        kill_all(workers)
        server.stop()
    log = server.log()
    assert log.count("stopping (the supervisor is gone)") == 2 and "Traceback" not in log


# --------------------------------------------------------------------------- open-file limit

def limited(soft: int, hard: int) -> list[str]:
    """The server command, run under RLIMIT_NOFILE (soft, hard)."""
    code = ("import resource, runpy; "
            f"resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard})); "
            "runpy.run_module('agora_token_server', run_name='__main__', alter_sys=True)")
    return [sys.executable, "-c", code]


def test_a_connection_cap_above_the_open_file_limit_is_lowered_to_fit(tmp_path: Path) -> None:
    """HTTP_MAX_CONNECTIONS=1000 under an open-file limit of 256 (hard): the
    cap is lowered, with one warning line, and 400 idle connections do not
    keep /healthz from answering."""
    server = start(tmp_path, command=limited(256, 256), HTTP_MAX_CONNECTIONS="1000", HTTP_HEADER_TIMEOUT="60")
    held: list[socket.socket] = []
    try:
        for _ in range(400):
            held.append(socket.create_connection(("127.0.0.1", server.port)))
        for _ in range(5):
            assert request(f"{server.url}/healthz", timeout=5)[0] == 200
    finally:
        for s in held:
            s.close()
        server.stop()
    log = server.log()
    assert log.count("HTTP_MAX_CONNECTIONS=1000 does not fit the open-file limit") == 1
    assert "at most 128 connections" in log


def test_the_soft_open_file_limit_is_raised_when_the_hard_limit_allows(tmp_path: Path) -> None:
    server = start(tmp_path, command=limited(256, 4096), HTTP_MAX_CONNECTIONS="1000")
    server.stop()
    log = server.log()
    assert "open-file limit 4096" in log and "(at most 1000 connections)" in log
    assert "does not fit" not in log
