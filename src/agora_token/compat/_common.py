"""What every compat builder shares."""

from __future__ import annotations

from typing import Any, Callable

from .._validate import is_app_certificate, is_app_id

__all__ = ["agora_build"]


def agora_build(build: Callable[..., str], app_id: Any, app_certificate: Any, *args: Any) -> str:
    """``build(app_id, app_certificate, *args)``, or ``""`` when the app id or
    certificate is not 32 hexadecimal digits: what Agora's builders return
    then (the library's own builders raise ``InvalidCredentialsError``)."""
    if not (is_app_id(app_id) and is_app_certificate(app_certificate)):
        return ""
    return build(app_id, app_certificate, *args)
