"""Agora token web service (aiohttp): a drop-in, faster replacement for the
original Go token service. Installed as ``agora_token_server`` with the
``agora-token-server`` command (``python -m server`` in a checkout); in code:
``create_app(load_settings())`` from ``.app`` and ``.config``."""

from agora_token import __version__

__all__ = ["__version__"]
