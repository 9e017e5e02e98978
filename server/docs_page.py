"""``GET /docs``: the API page, Swagger UI 5 rendering ``/openapi.json``
(operations, schemas, examples, "Try it out" and the Authorize dialog), and
``GET /docs/static/{name}``: the files it needs.

Swagger UI comes from the swagger-ui-py package (PyPI), of which only the
static files are used (``swagger_ui/static/``: the bundle, its stylesheet, a
favicon), never its framework integration: the package is located without
being imported (its ``__init__`` imports Jinja2). Swagger UI 5 renders
OpenAPI 3.1, which this service's document is (4.x does not). Nothing is
loaded from outside the service (many deployments cannot reach a CDN).

The page carries no inline script or style: the initializer is a small file
served from here (:data:`INIT_JS`), so the Content-Security-Policy
(:data:`CSP`) can allow scripts and styles from this origin only. The
static files are answered with the same no-cache headers as every other
response (the service's rule), so they are compressed once per process and
sent gzipped to clients that accept it (1.6 MB -> about 0.5 MB per page
load).

Without swagger-ui-py installed the page says so and links to
``openapi.json``; ``/docs/static/<vendored file>`` answers 404.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import importlib.util
from pathlib import Path
from typing import Optional

from aiohttp import web

from .responses import NO_CACHE_HEADERS, json_error

__all__ = ["CSP", "FILES", "HTML", "INIT_JS", "docs_handler", "static_handler", "swagger_ui_dir"]

JS = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"
PNG = "image/png"

#: Swagger UI's files served, with their content types (the allow-list)
VENDORED = {
    "swagger-ui-bundle.js": JS,
    "swagger-ui.css": CSS,
    "favicon-32x32.png": PNG,
}

#: The initializer: Swagger UI on ``#swagger-ui`` with the document next to
#: this page. ``BaseLayout`` (no top bar with a URL box: this page shows one
#: document); ``validatorUrl: null`` (no badge image from an outside
#: validator); ``persistAuthorization: false`` (credentials typed into the
#: Authorize dialog are kept in memory only, never in localStorage).
INIT_JS = """\
"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  if (typeof window.SwaggerUIBundle !== "function") {
    var p = document.createElement("p");
    p.className = "docs-missing";
    p.appendChild(document.createTextNode(
      "Swagger UI could not be loaded (is the swagger-ui-py package installed?). The API document is "));
    var a = document.createElement("a");
    a.href = "openapi.json";
    a.textContent = "openapi.json";
    p.appendChild(a);
    p.appendChild(document.createTextNode("."));
    root.appendChild(p);
    return;
  }
  window.ui = window.SwaggerUIBundle({
    url: new URL("openapi.json", document.baseURI).href,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    showCommonExtensions: true,
    tryItOutEnabled: false,
    persistAuthorization: false,
    validatorUrl: null,
    supportedSubmitMethods: ["get", "post"]
  });
})();
"""

#: Page style beyond Swagger UI's own (a stylesheet file: no inline style).
PAGE_CSS = """\
body { margin: 0; background: #fafafa; }
.docs-missing { font: 16px/1.5 sans-serif; margin: 2em; color: #b3261e; }
.swagger-ui .info .title small pre { padding: 0; }
"""

#: the files of this module (their content types and bodies)
OWN = {
    "docs.js": (JS, INIT_JS.encode("utf-8")),
    "docs.css": (CSS, PAGE_CSS.encode("utf-8")),
}

#: every file ``/docs/static/{name}`` serves
FILES: dict[str, str] = {**VENDORED, **{name: ctype for name, (ctype, _) in OWN.items()}}

# Relative URLs: the page works behind a proxy that adds a path prefix.
PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Agora token service: API</title>
<link rel="stylesheet" href="docs/static/swagger-ui.css">
<link rel="stylesheet" href="docs/static/docs.css">
<link rel="icon" type="image/png" href="docs/static/favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui"></div>
<noscript><p>This page needs JavaScript to render the API document: <a href="openapi.json">openapi.json</a>.</p>
</noscript>
<script src="docs/static/swagger-ui-bundle.js"></script>
<script src="docs/static/docs.js"></script>
</body>
</html>
"""

HTML = PAGE.encode("utf-8")

# Each directive (checked in headless Chromium, tests/server/test_browser_cors.py):
#   default-src 'none'       anything not listed below is refused (fonts, frames, media, workers, ...)
#   script-src 'self'        the bundle and docs.js from this origin; no inline script, no eval
#                            (the bundle's one `new Function` is a guarded fallback that is never reached)
#   style-src 'self'         the two stylesheets from this origin. No 'unsafe-inline': Swagger UI (React)
#                            sets element styles through the CSSOM, which style-src does not govern,
#                            and injects no <style> element
#   img-src 'self' data:     the favicon, and the data: SVG icons inside swagger-ui.css
#   connect-src 'self'       fetching openapi.json and the "Try it out" requests, to this origin only
#   base-uri 'none'          no <base> may redirect the relative URLs above
#   form-action 'none'       the page submits no form
#   frame-ancestors 'none'   the page may not be framed (clickjacking of the Authorize dialog)
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

_COMMON = {
    **NO_CACHE_HEADERS,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_PAGE_HEADERS = {**_COMMON, "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": CSP}
# a file opened on its own (e.g. the CSS) may load nothing either
_FILE_CSP = "default-src 'none'; img-src data:; frame-ancestors 'none'"


@functools.cache
def swagger_ui_dir() -> Optional[Path]:
    """``swagger_ui/static`` of the installed swagger-ui-py (without importing it), or None;
    looked up once (a missing package is not looked for again on every request)."""
    try:
        spec = importlib.util.find_spec("swagger_ui")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        static = Path(location) / "static"
        if (static / "swagger-ui-bundle.js").is_file():
            return static
    return None


#: name -> (plain, gzipped) bodies, read and compressed once per process
_cache: dict[str, tuple[bytes, bytes]] = {}


def _load(name: str) -> Optional[tuple[bytes, bytes]]:
    if name in OWN:
        body = OWN[name][1]
    else:
        static = swagger_ui_dir()
        if static is None:
            return None
        try:
            body = (static / name).read_bytes()
        except OSError:
            return None
    # PNG is compressed already; mtime=0: the same bytes every time
    return body, (body if name.endswith(".png") else gzip.compress(body, 9, mtime=0))


async def _file(name: str) -> Optional[tuple[bytes, bytes]]:
    cached = _cache.get(name)
    if cached is None:  # read and compress off the event loop (two first requests may both do it)
        cached = await asyncio.get_running_loop().run_in_executor(None, _load, name)
        if cached is not None:
            _cache[name] = cached
    return cached


def accepts_gzip(header: str) -> bool:
    """Whether an ``Accept-Encoding`` value lists gzip with a non-zero quality."""
    for item in header.split(","):
        coding, _, params = item.partition(";")
        if coding.strip().lower() != "gzip":
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        return q > 0
    return False


async def docs_handler(request: web.Request) -> web.Response:
    """``GET /docs``."""
    return web.Response(body=HTML, headers=_PAGE_HEADERS)


async def static_handler(request: web.Request) -> web.Response:
    """``GET /docs/static/{name}``: a file of :data:`FILES`, else 404."""
    name = request.match_info.get("name", "")
    content_type = FILES.get(name)
    bodies = await _file(name) if content_type is not None else None
    if content_type is None or bodies is None:
        message = "not found"
        if content_type is not None:
            message = "Swagger UI's files are not installed (pip install swagger-ui-py); see /openapi.json"
        return json_error(404, message)
    plain, packed = bodies
    headers = {**_COMMON, "Content-Type": content_type, "Content-Security-Policy": _FILE_CSP}
    if packed is not plain:
        headers["Vary"] = "Accept-Encoding"
        if accepts_gzip(request.headers.get("Accept-Encoding", "")):
            headers["Content-Encoding"] = "gzip"
            return web.Response(body=packed, headers=headers)
    return web.Response(body=plain, headers=headers)
