"""Agora's Python token modules, one for one, on agora_token's builders and cores.

Code written for Agora's builders (the ``src/`` files of the AgoraIO/Tools
repository, or the ``agoraiotools`` package) runs after changing only its
imports: ``from src.X import ...`` or ``from agoraiotools.X import ...``
becomes ``from agora_token.compat.X import ...``. Same names, signatures,
argument orders, constants and tokens (the same bytes for the same salt and
time); the work is done by the library's own builders, services and cores.

Modules: ``AccessToken2``, ``RtcTokenBuilder2``, ``RtmTokenBuilder2``,
``ChatTokenBuilder2``, ``fpa_token_builder``, ``apaas_token_builder``,
``education_token_builder`` (AccessToken2, ``007``) and the legacy ``006``
modules ``AccessToken``, ``RtcTokenBuilder``, ``RtmTokenBuilder``.

As Agora's, every builder returns ``""`` when the app id or certificate is
not 32 hexadecimal digits (the library's own builders raise
``InvalidCredentialsError``). Where the library is stricter than Agora's samples (a uid above 4294967295, a
negative expire, a channel name over 64 bytes, ...), it raises
:class:`~agora_token.errors.InvalidParameterError`, a ``ValueError``, before
any work (docs/migration.md lists the differences).
"""
