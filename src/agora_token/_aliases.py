"""Type aliases made on first use. ``Union[...]`` needs ``typing`` at run
time (``X | Y`` needs Python 3.10), so a module that exports one
(``tokens.Token``, ``services.AnyPermissions``, ``builders.Uid``) makes it
when it is first looked up, through a module ``__getattr__`` (PEP 562), and
``import agora_token`` does not import ``typing``. Each alias is the same
object as before, kept in the module once made."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["lazy_aliases", "union"]


def union(*members: Any) -> Any:
    """``typing.Union[*members]``, importing typing now."""
    from typing import Union

    return Union[members]


def lazy_aliases(namespace: dict[str, Any], names: tuple[str, ...],
                 make: Callable[[], dict[str, Any]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``namespace`` (the module's ``globals()``):
    the first lookup of one of ``names`` stores all of ``make()`` there."""

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        namespace.update(make())
        return namespace[name]

    return __getattr__
