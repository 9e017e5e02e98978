"""The test credentials: Agora's public sample app id and certificate (the ones
in Agora's own token samples), never real secrets."""

APP_ID = "970CA35de60c44645bbae8a215061b33"
APP_CERTIFICATE = "5CFd2fd1755d40ecb72977518be15d3b"
#: a well-formed certificate that did not sign anything
OTHER_CERTIFICATE = "0" * 32

__all__ = ["APP_CERTIFICATE", "APP_ID", "OTHER_CERTIFICATE"]
