"""Binance HMAC-SHA256 signing for REST and the WebSocket API.

* REST: the signed payload is the query string concatenated (no separator) with the
  form body; non-ASCII characters are percent-encoded *before* signing; the signature
  is appended as the last parameter.
* WS API: all params except ``signature`` sorted by name, ``key=value`` joined with
  ``&``, raw UTF-8 (no percent-encoding); ``apiKey`` is part of the signed payload.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote

# RFC 3986 unreserved plus the characters Binance examples leave as they are
_SAFE = "-_.~"


def sign(secret: str, payload: str) -> str:
    """Return the lower-case hex HMAC-SHA256 of ``payload`` keyed with ``secret``."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def encode_params(params: Mapping[str, object]) -> str:
    """Encode ``params`` in insertion order as ``k=v&...``, percent-encoding values."""
    return "&".join(
        f"{quote(str(k), safe=_SAFE)}={quote(_text(v), safe=_SAFE)}" for k, v in params.items()
    )


def signed_query(secret: str, params: Mapping[str, object], body: str = "") -> str:
    """Return ``params`` encoded with ``&signature=...`` appended (signs query + body)."""
    query = encode_params(params)
    return (
        f"{query}&signature={sign(secret, query + body)}"
        if query
        else f"signature={sign(secret, body)}"
    )


def ws_payload(params: Mapping[str, object]) -> str:
    """Return the WS-API signing payload: params sorted by name, raw UTF-8 values."""
    return "&".join(f"{k}={_text(params[k])}" for k in sorted(params) if k != "signature")


def ws_signed_params(secret: str, params: Mapping[str, object]) -> dict[str, object]:
    """Return ``params`` plus their WS-API ``signature``."""
    return {**params, "signature": sign(secret, ws_payload(params))}


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
