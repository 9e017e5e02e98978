"""Agora token web service (aiohttp): a drop-in, faster replacement for the
original Go token service. Run it with ``python -m server``; build the app in
code with :func:`server.app.create_app` and :func:`server.config.load_settings`."""

__all__ = ["__version__"]

__version__ = "0.1.0"
