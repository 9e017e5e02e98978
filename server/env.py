"""Reading settings from the environment: :class:`ConfigError` and the small
parsers every settings module uses (one place for "a whole number in a
range", "a duration", "one of these words", "a file of at most 1 MiB").

A parser raises :class:`ConfigError` naming the variable; its message never
contains the value of a secret (parsers of secret variables do not echo).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Mapping

__all__ = [
    "ConfigError",
    "MIN_SECRET_LENGTH",
    "check_secret_text",
    "env_choice",
    "env_flag",
    "env_int",
    "env_seconds",
    "env_str",
    "read_small_file",
]

MAX_SETTING_FILE_BYTES = 1024 * 1024
#: shortest API key or bearer secret accepted (also METRICS_TOKEN)
MIN_SECRET_LENGTH = 16
MAX_API_KEY_LENGTH = 512
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class ConfigError(ValueError):
    """A malformed setting. ``str(err)`` is one line that names the variable;
    it never contains the value of a secret."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable
        self.message = message


def env_str(env: Mapping[str, str], name: str) -> str:
    """The stripped value of ``name`` ('' when unset)."""
    value = env.get(name)
    return value.strip() if value else ""


def _shown(raw: str) -> str:
    return repr(raw[:32] + ("..." if len(raw) > 32 else ""))


def env_int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int, unit: str = "") -> int:
    """A whole number in ``lo..hi`` (``default`` when unset)."""
    raw = env_str(env, name)
    if not raw:
        return default
    what = f"a whole number{' of ' + unit if unit else ''} in {lo}..{hi}"
    if not (raw.isascii() and raw.isdigit()) or len(raw.lstrip("0")) > 20:
        raise ConfigError(name, f"must be {what}, got {_shown(raw)}")
    value = int(raw)
    if not lo <= value <= hi:
        raise ConfigError(name, f"must be {what}, got {value}")
    return value


def env_seconds(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    """A duration in seconds (decimals allowed: ``0.5``) in ``lo..hi``."""
    raw = env_str(env, name)
    if not raw:
        return default
    try:
        value = float(raw) if len(raw) <= 32 else math.nan
    except ValueError:
        value = math.nan
    if not (lo <= value <= hi):  # also false for nan
        raise ConfigError(name, f"must be a number of seconds in {lo:g}..{hi:g}, got {_shown(raw)}")
    return value


def env_flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    """1/0, true/false, yes/no or on/off (``default`` when unset)."""
    raw = env_str(env, name).lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(name, "must be 1/0, true/false, yes/no or on/off")


def env_choice(env: Mapping[str, str], name: str, choices: Iterable[str], default: str) -> str:
    """One of ``choices`` (case-insensitive; ``default`` when unset)."""
    options = tuple(choices)
    raw = env_str(env, name).lower()
    if not raw:
        return default
    if raw not in options:
        raise ConfigError(name, f"must be {' or '.join(options)}, got {_shown(raw)}")
    return raw


def read_small_file(variable: str, path_text: str, limit: int = MAX_SETTING_FILE_BYTES) -> str:
    """The UTF-8 text of the file a setting names (at most ``limit`` bytes)."""
    path = Path(path_text).expanduser()
    try:
        if path.stat().st_size > limit:
            raise ConfigError(variable, f"{path} is larger than {limit // 1024} KiB")
        return path.read_text(encoding="utf-8")
    except ConfigError:
        raise
    except FileNotFoundError:
        raise ConfigError(variable, f"file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(variable, f"cannot read {path} ({type(exc).__name__})") from None


def check_secret_text(value: str, variable: str, what: str,
                      max_length: int = MAX_API_KEY_LENGTH) -> str:
    """A key-like secret: 16..512 printable ASCII characters, no spaces or
    commas. Errors never echo the value."""
    if len(value) < MIN_SECRET_LENGTH:
        raise ConfigError(variable, f"{what} is shorter than {MIN_SECRET_LENGTH} characters; use long random "
                                    "keys, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    if len(value) > max_length:
        raise ConfigError(variable, f"{what} is longer than {max_length} characters")
    if not all("\x21" <= ch <= "\x7e" for ch in value) or "," in value:
        raise ConfigError(variable, f"{what} contains a character other than printable ASCII "
                                    "(no spaces or commas)")
    return value
