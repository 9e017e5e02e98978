"""``GET /docs``: a small, self-contained HTML page that renders
``/openapi.json`` (endpoints, parameters, request bodies, responses, schemas,
examples and a curl line for each operation).

Nothing is loaded from outside the service (many deployments cannot reach a
CDN): the CSS and JavaScript are inline, and a Content-Security-Policy that
allows exactly these two inline blocks (by SHA-256 hash) and ``fetch`` to the
same origin is sent with the page. The script builds the page with DOM
methods and ``textContent`` only, so nothing in the document is ever
interpreted as HTML.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

STYLE = """
:root { --fg:#1d2430; --muted:#5b6575; --line:#dde2ea; --bg:#f7f8fa; --get:#1f7a4d; --post:#1f5fa8;
        --dep:#9a6a00; --code:#eef1f5; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--fg);
       background:var(--bg); }
header { background:#16202e; color:#fff; padding:18px 28px; }
header h1 { margin:0; font-size:22px; } header .ver { color:#9fb0c8; font-size:14px; margin-left:8px; }
main { display:grid; grid-template-columns:260px 1fr; gap:24px; padding:20px 28px; max-width:1400px; }
nav { position:sticky; top:12px; align-self:start; font-size:14px; max-height:95vh; overflow:auto; }
nav h3 { margin:14px 0 4px; font-size:12px; text-transform:uppercase; color:var(--muted); }
nav a { display:block; color:var(--fg); text-decoration:none; padding:2px 0; word-break:break-all; }
nav a:hover { text-decoration:underline; }
section.op { background:#fff; border:1px solid var(--line); border-radius:8px; margin:0 0 14px; }
section.op > details > summary { cursor:pointer; padding:10px 14px; list-style:none; display:flex; gap:10px;
       align-items:center; flex-wrap:wrap; }
.method { font:700 12px/1 ui-monospace,Menlo,Consolas,monospace; color:#fff; padding:5px 8px; border-radius:4px;
          min-width:52px; text-align:center; }
.m-get { background:var(--get); } .m-post { background:var(--post); }
.path { font:600 14px ui-monospace,Menlo,Consolas,monospace; word-break:break-all; }
.summary { color:var(--muted); }
.badge { font-size:11px; border:1px solid var(--dep); color:var(--dep); border-radius:10px; padding:1px 7px; }
.badge.lock { border-color:#6b4fa8; color:#6b4fa8; }
.body { padding:0 16px 14px; border-top:1px solid var(--line); }
h4 { margin:14px 0 6px; font-size:13px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); }
table { border-collapse:collapse; width:100%; font-size:14px; }
th, td { text-align:left; vertical-align:top; padding:5px 8px; border-bottom:1px solid var(--line); }
code, pre { font-family:ui-monospace,Menlo,Consolas,monospace; font-size:13px; }
code { background:var(--code); padding:1px 4px; border-radius:3px; }
pre { background:#0f1722; color:#e6edf3; padding:10px 12px; border-radius:6px; overflow:auto; margin:6px 0; }
.status { font:700 13px ui-monospace,monospace; }
.s2 { color:var(--get); } .s3 { color:#6b4fa8; } .s4 { color:#b3261e; } .s5 { color:#7a0000; }
.schema { font-size:13.5px; } .schema ul { list-style:none; padding-left:18px; margin:2px 0;
          border-left:1px dotted var(--line); }
.prop { font-family:ui-monospace,monospace; font-weight:600; } .req { color:#b3261e; font-size:11px; }
.type { color:#1f5fa8; font-family:ui-monospace,monospace; } .constraint { color:var(--muted); font-size:12.5px; }
.desc { color:var(--fg); } .muted { color:var(--muted); }
.intro p { margin:6px 0; } #error { color:#b3261e; font-weight:600; }
main > div { min-width:0; } p, td, .desc { overflow-wrap:anywhere; }
@media (max-width: 800px) { main { grid-template-columns:1fr; } nav { position:static; max-height:none; } }
"""

SCRIPT = r"""
"use strict";
(function () {
  var spec = null;
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function add(parent) {
    for (var i = 1; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined) continue;
      parent.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return parent;
  }
  // A tiny, safe markdown subset: paragraphs, **bold**, `code`.
  function md(text) {
    var wrap = el("div", "desc");
    String(text || "").split(/\n\s*\n/).forEach(function (para) {
      var p = el("p");
      para.replace(/\n/g, " ").split(/(`[^`]*`|\*\*[^*]+\*\*)/).forEach(function (part) {
        if (/^`[^`]*`$/.test(part)) add(p, el("code", null, part.slice(1, -1)));
        else if (/^\*\*[^*]+\*\*$/.test(part)) add(p, el("strong", null, part.slice(2, -2)));
        else if (part) add(p, part);
      });
      wrap.appendChild(p);
    });
    return wrap;
  }
  function mdInline(text) {
    var span = el("span", "desc");
    String(text || "").split(/(`[^`]*`)/).forEach(function (part) {
      if (/^`[^`]*`$/.test(part)) add(span, el("code", null, part.slice(1, -1)));
      else if (part) add(span, part);
    });
    return span;
  }
  function resolve(obj) {
    var seen = 0;
    while (obj && obj.$ref && seen++ < 20) {
      var parts = obj.$ref.replace(/^#\//, "").split("/"), cur = spec;
      for (var i = 0; i < parts.length && cur; i++) cur = cur[parts[i]];
      obj = cur;
    }
    return obj || {};
  }
  function refName(ref) { return ref.split("/").pop(); }
  function anchor(kind, name) { return kind + "-" + String(name).replace(/[^A-Za-z0-9_-]/g, "_"); }
  function typeText(s) {
    if (!s) return "any";
    if (s.$ref) return refName(s.$ref);
    if (s.const !== undefined) return JSON.stringify(s.const);
    var t = Array.isArray(s.type) ? s.type.join(" | ") : (s.type || (s.oneOf ? "one of" : s.anyOf ? "any of" : "any"));
    if (t === "array" && s.items) t = "array of " + typeText(s.items);
    return t;
  }
  function constraints(s) {
    var c = [];
    if (s.enum) c.push("one of " + s.enum.map(function (v) { return JSON.stringify(v); }).join(", "));
    if (s.minimum !== undefined) c.push("min " + s.minimum);
    if (s.maximum !== undefined) c.push("max " + s.maximum);
    if (s.minLength !== undefined) c.push("min length " + s.minLength);
    if (s.maxLength !== undefined) c.push("max length " + s.maxLength);
    if (s.pattern) c.push("pattern " + s.pattern);
    if (s.additionalProperties === false) c.push("no other keys");
    return c.join("; ");
  }
  function schemaView(s, depth) {
    depth = depth || 0;
    var box = el("div", "schema");
    if (!s) return box;
    if (s.$ref) {
      var a = el("a", "type", refName(s.$ref));
      a.href = "#" + anchor("schema", refName(s.$ref));
      add(box, a);
      if (depth < 1) add(box, schemaView(resolve(s), depth + 1));
      return box;
    }
    var line = el("div");
    if (s.type === "object" || s.properties) {
      if (s.description && depth === 0) add(box, md(s.description));
      var ul = el("ul"), req = s.required || [];
      Object.keys(s.properties || {}).forEach(function (name) {
        var p = s.properties[name], li = el("li");
        add(li, el("span", "prop", name), " ", el("span", "type", typeText(p)));
        if (req.indexOf(name) >= 0) add(li, " ", el("span", "req", "required"));
        var c = constraints(p.$ref ? {} : p);
        if (c) add(li, " ", el("span", "constraint", "(" + c + ")"));
        if (p.description) add(li, " \u2014 ", mdInline(p.description));
        if (p.oneOf || p.anyOf) {
          var alt = el("ul");
          (p.oneOf || p.anyOf).forEach(function (o) { add(alt, add(el("li"), schemaView(o, depth + 1))); });
          add(li, alt);
        } else if (!p.$ref && (p.properties || (p.items && p.items.properties))) {
          add(li, schemaView(p.items || p, depth + 1));
        } else if (p.additionalProperties && typeof p.additionalProperties === "object") {
          add(li, add(el("div", "constraint"), "each value: ", schemaView(p.additionalProperties, depth + 1)));
        }
        ul.appendChild(li);
      });
      add(box, ul);
      if (s.additionalProperties === false) add(box, el("div", "constraint", "no other keys"));
      if (s.anyOf) add(box, el("div", "constraint",
        "needs one of: " + s.anyOf.map(function (x) { return (x.required || []).join(", "); }).join(" | ")));
      return box;
    }
    add(line, el("span", "type", typeText(s)));
    var c = constraints(s);
    if (c) add(line, " ", el("span", "constraint", "(" + c + ")"));
    if (s.description) add(line, " \u2014 ", mdInline(s.description));
    add(box, line);
    (s.oneOf || s.anyOf || []).forEach(function (o) { add(box, schemaView(o, depth + 1)); });
    return box;
  }
  function examplesView(content) {
    var out = el("div");
    if (!content) return out;
    if (content.example !== undefined) {
      const example = content.example;
      add(out, el("pre", null, typeof example === "string" ? example : JSON.stringify(example, null, 2)));
    }
    Object.keys(content.examples || {}).forEach(function (k) {
      var ex = resolve(content.examples[k]);
      add(out, el("div", "muted", "example " + (ex.summary ? k + " \u2014 " + ex.summary : k)),
          el("pre", null, JSON.stringify(ex.value, null, 2)));
    });
    return out;
  }
  function curlFor(method, path, op) {
    var url = location.origin + path.replace(/\{([^}]+)\}/g, function (_, n) {
      var p = (op.parameters || []).filter(function (x) { return x.name === n; })[0];
      return encodeURIComponent(p && p.example !== undefined ? p.example : n);
    });
    var cmd = "curl -s";
    if (method !== "get") cmd += " -X " + method.toUpperCase();
    if (op.security && op.security.length && Object.keys(op.security[0]).length) {
      cmd += " -H 'Authorization: Bearer $API_KEY'";
    }
    if (op.requestBody) {
      var c = (op.requestBody.content || {})["application/json"] || {};
      var exs = c.examples || {}, first = Object.keys(exs)[0];
      var body = first ? resolve(exs[first]).value : {};
      cmd += " -H 'Content-Type: application/json' -d '" + JSON.stringify(body) + "'";
    }
    return cmd + " '" + url + "'";
  }
  function operation(path, method, op) {
    var sec = el("section", "op"), det = el("details"), sum = el("summary");
    sec.id = anchor("op", method + path);
    add(sum, el("span", "method m-" + method, method.toUpperCase()), el("span", "path", path),
        el("span", "summary", op.summary || ""));
    if (op.deprecated) add(sum, el("span", "badge", "deprecated"));
    if (op.security && op.security.some(function (r) { return Object.keys(r).length; })) {
      add(sum, el("span", "badge lock", "auth when configured"));
    }
    add(det, sum);
    var body = el("div", "body");
    if (op.description) add(body, md(op.description));
    var params = op.parameters || [];
    if (params.length) {
      add(body, el("h4", null, "Parameters"));
      var t = el("table"), hr = el("tr");
      ["name", "in", "type", "description", "example"].forEach(function (h) { add(hr, el("th", null, h)); });
      add(t, hr);
      params.forEach(function (p0) {
        var p = resolve(p0), tr = el("tr");
        add(tr, add(el("td"), el("code", null, p.name), p.required ? el("span", "req", " required") : null),
            el("td", null, p["in"]),
            add(el("td"), el("span", "type", typeText(p.schema)), " ",
                el("span", "constraint", constraints(p.schema || {}))),
            add(el("td"), md(p.description || "")),
            add(el("td"), p.example !== undefined ? el("code", null, p.example) : null));
        add(t, tr);
      });
      add(body, t);
    }
    if (op.requestBody) {
      var rb = resolve(op.requestBody), json = (rb.content || {})["application/json"];
      add(body, el("h4", null, "Request body (application/json)"));
      if (json) add(body, schemaView(json.schema), examplesView(json));
    }
    add(body, el("h4", null, "Responses"));
    Object.keys(op.responses || {}).forEach(function (code) {
      var r = resolve(op.responses[code]), div = el("div");
      add(div, el("span", "status s" + code.charAt(0), code), " ", mdInline(r.description || ""));
      if (r.headers) add(div, el("span", "constraint", "  headers: " + Object.keys(r.headers).join(", ")));
      Object.keys(r.content || {}).forEach(function (ct) {
        var c = r.content[ct];
        add(div, add(el("div", "constraint"), ct));
        if (c.schema) add(div, schemaView(c.schema));
        add(div, examplesView(c));
      });
      add(body, div);
    });
    add(body, el("h4", null, "Try it"), el("pre", null, curlFor(method, path, op)));
    add(det, body);
    add(sec, det);
    return sec;
  }
  function render() {
    var info = spec.info || {};
    document.title = (info.title || "API") + " \u2014 docs";
    document.getElementById("title").textContent = info.title || "API";
    document.getElementById("version").textContent = "v" + (info.version || "?") + " \u00b7 OpenAPI " + spec.openapi;
    var intro = document.getElementById("intro");
    add(intro, md(info.description || ""));
    var a = el("a", null, "openapi.json"); a.href = "openapi.json";
    add(intro, add(el("p", "muted"), "Machine-readable document: ", a));
    var nav = document.getElementById("nav"), ops = document.getElementById("ops");
    var groups = {}, order = [];
    (spec.tags || []).forEach(function (t) { groups[t.name] = []; order.push(t.name); });
    Object.keys(spec.paths || {}).forEach(function (path) {
      var item = spec.paths[path];
      ["get", "post", "put", "delete", "patch"].forEach(function (m) {
        if (!item[m]) return;
        var tag = (item[m].tags || ["other"])[0];
        if (!groups[tag]) { groups[tag] = []; order.push(tag); }
        groups[tag].push([path, m, item[m]]);
      });
    });
    order.forEach(function (tag) {
      if (!groups[tag].length) return;
      add(nav, el("h3", null, tag));
      add(ops, el("h2", null, tag));
      groups[tag].forEach(function (x) {
        var link = el("a", null, x[1].toUpperCase() + " " + x[0]);
        link.href = "#" + anchor("op", x[1] + x[0]);
        add(nav, link);
        add(ops, operation(x[0], x[1], x[2]));
      });
    });
    var schemas = (spec.components || {}).schemas || {};
    add(nav, el("h3", null, "schemas"));
    add(ops, el("h2", null, "Schemas"));
    Object.keys(schemas).forEach(function (name) {
      var link = el("a", null, name); link.href = "#" + anchor("schema", name); add(nav, link);
      var sec = el("section", "op"), body = el("div", "body");
      sec.id = anchor("schema", name);
      add(body, el("h4", null, name), schemaView(schemas[name], 0));
      if (schemas[name].examples) add(body, el("pre", null, JSON.stringify(schemas[name].examples[0], null, 2)));
      add(ops, add(sec, body));
    });
    // #all opens every operation; #op-... opens (and scrolls to) that one.
    var h = location.hash.slice(1);
    Array.prototype.forEach.call(document.querySelectorAll("section.op"), function (s) {
      var d = s.querySelector("details");
      if (d && (h === "all" || s.id === h)) d.open = true;
    });
    if (h && h !== "all" && document.getElementById(h)) document.getElementById(h).scrollIntoView();
    document.body.setAttribute("data-rendered", String(Object.keys(spec.paths || {}).length));
  }
  fetch("openapi.json", {headers: {"Accept": "application/json"}})
    .then(function (r) { if (!r.ok) throw new Error("GET openapi.json: HTTP " + r.status); return r.json(); })
    .then(function (doc) { spec = doc; render(); })
    .catch(function (e) {
      document.getElementById("error").textContent = "Could not load the API description: " + e.message;
      document.body.setAttribute("data-rendered", "error");
    });
})();
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>API docs</title>
<style>{style}</style>
</head>
<body>
<header><h1><span id="title">API</span><span class="ver" id="version"></span></h1></header>
<main>
<nav id="nav" aria-label="endpoints"></nav>
<div>
<div id="error" role="alert"></div>
<div class="intro" id="intro"></div>
<div id="ops"></div>
<noscript><p>This page needs JavaScript to render <a href="openapi.json">openapi.json</a>.</p></noscript>
</div>
</main>
<script>{script}</script>
</body>
</html>
""".format(style=STYLE, script=SCRIPT)

HTML = PAGE.encode("utf-8")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


CSP = ("default-src 'none'; "
       f"script-src {_sha256(SCRIPT)}; style-src {_sha256(STYLE)}; "
       "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def docs_handler(request: Any) -> Any:
    """``GET /docs``."""
    from aiohttp import web

    resp = web.Response(body=HTML, content_type="text/html", charset="utf-8")
    resp.headers.update(HEADERS)
    return resp
