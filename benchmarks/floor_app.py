#!/usr/bin/env python3
"""The floor the service is measured against: a bare aiohttp app with the
same routes and the same agora_token calls, and nothing else (no middleware,
no access log, no metrics, no request ids), on uvloop, with the same number
of processes sharing the port (SO_REUSEPORT).

    APP_ID=... APP_CERTIFICATE=... python benchmarks/floor_app.py --port 8090 [--host 127.0.0.1] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys

import uvloop
from aiohttp import web

from agora_token import RtcTokenBuilder, parse_uid

APP_ID = os.environ["APP_ID"]
CERT = os.environ["APP_CERTIFICATE"]
JSON = {"Content-Type": "application/json; charset=utf-8"}
build = RtcTokenBuilder.build_token_with_uid


def rtc_uid(text: str) -> "int | str":
    n = parse_uid(text)
    return text if n is None else n


async def ping(request: web.Request) -> web.Response:
    return web.Response(body=b'{"message": "pong"}', headers=JSON)


async def get_token(request: web.Request) -> web.Response:
    data = json.loads(await request.read())
    expire = data.get("expire") or 3600
    token = build(APP_ID, CERT, data["channel"], rtc_uid(data["uid"]),
                  1 if data.get("role") == "publisher" else 2, expire, expire)
    return web.Response(body=b'{"token": "%s"}' % token.encode(), headers=JSON)


async def rtc(request: web.Request) -> web.Response:
    mi = request.match_info
    token = build(APP_ID, CERT, mi["channelName"], rtc_uid(mi["rtcuid"]),
                  1 if mi["role"] == "publisher" else 2, 3600, 3600)
    return web.Response(body=b'{"rtcToken": "%s"}' % token.encode(), headers=JSON)


async def serve(host: str, port: int, reuse_port: bool) -> None:
    app = web.Application()
    app.router.add_get("/ping", ping)
    app.router.add_post("/getToken", get_token)
    app.router.add_get("/rtc/{channelName}/{role}/{tokenType}/{rtcuid}/", rtc)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_port=reuse_port or None, backlog=1024).start()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    print(f"floor pid {os.getpid()} listening on http://{host}:{port}", flush=True)
    await stop.wait()
    await runner.cleanup()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args()
    if args.workers == 1:
        uvloop.run(serve(args.host, args.port, False))
        return 0
    children = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            uvloop.run(serve(args.host, args.port, True))
            os._exit(0)
        children.append(pid)

    def forward(signum: int, _frame: object) -> None:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for pid in children:
        os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
