#!/usr/bin/env python3
"""A stand-in OpenTelemetry collector for the server benchmark: answers every
OTLP/HTTP export (``POST /v1/traces``) with 200 and an empty protobuf body
(an empty ``ExportTraceServiceResponse``), after reading it. It counts the
exports and their bytes and prints them when stopped, so that a run can show
that spans were actually sent.

    python benchmarks/otlp_sink.py --port 4318 [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import sys

from aiohttp import web

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def make_app(counts: dict[str, int]) -> web.Application:
    async def traces(request: web.Request) -> web.Response:
        counts["exports"] += 1
        counts["bytes"] += len(await request.read())
        return web.Response(body=b"", headers=PROTOBUF)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/traces", traces)
    return app


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    counts = {"exports": 0, "bytes": 0}
    try:
        web.run_app(make_app(counts), host=args.host, port=args.port, print=None, access_log=None)
    finally:
        print(f"otlp sink: {counts['exports']} exports, {counts['bytes']:,} bytes", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
