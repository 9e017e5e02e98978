"""``web.AppKey`` names shared by the server modules (re-exported by ``server.app``)."""

from __future__ import annotations

from typing import Any, Callable, List

from aiohttp import web

from .config import Settings

__all__ = ["REQUEST_START", "SETTINGS", "ISSUE_HOOKS", "ISSUED_HOOKS", "IssueHook", "IssuedHook"]

#: hook(request, kind, channel, uid, role, expire) -> None | awaitable; raise
#: server.responses.IssueDenied (or a web.HTTPException) to refuse the token
IssueHook = Callable[..., Any]
#: hook(request, kind) -> None, called after a token was issued (metrics)
IssuedHook = Callable[..., Any]

SETTINGS = web.AppKey("settings", Settings)
ISSUE_HOOKS = web.AppKey("issue_hooks", List[IssueHook])
ISSUED_HOOKS = web.AppKey("issued_hooks", List[IssuedHook])

#: request-scoped key: time.perf_counter() when core_middleware saw the request
REQUEST_START: Any = (web.RequestKey("request_start", float) if hasattr(web, "RequestKey")
                      else "server.request_start")
