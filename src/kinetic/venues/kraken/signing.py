"""Kraken request signing: Spot ``API-Sign``, Futures ``Authent`` and the WS challenge.

All three are HMAC-SHA512 keyed with the base64-decoded API secret over a SHA-256
digest; they differ only in what is hashed:

* Spot:    HMAC(secret, url_path + SHA256(nonce + post_data)) — ``post_data`` includes
  ``nonce=...`` and ``url_path`` starts with ``/0/private``.
* Futures: HMAC(secret, SHA256(post_data + nonce + endpoint_path)) — ``endpoint_path``
  without the ``/derivatives`` prefix (e.g. ``/api/v3/sendorder``) and ``post_data``
  URL-encoded exactly as sent (the query string for GET).
* Challenge (Futures WS v1): HMAC(secret, SHA256(challenge)).

Secrets and signatures are never logged; callers register them with the redactor.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import quote, urlencode

_DERIVATIVES_PREFIX = "/derivatives"


def _hmac_b64(secret_b64: str, message: bytes) -> str:
    key = base64.b64decode(secret_b64)
    return base64.b64encode(hmac.new(key, message, hashlib.sha512).digest()).decode("ascii")


def sign_spot(secret_b64: str, url_path: str, nonce: str, post_data: str) -> str:
    """Return the Kraken Spot ``API-Sign`` header value."""
    digest = hashlib.sha256((nonce + post_data).encode("utf-8")).digest()
    return _hmac_b64(secret_b64, url_path.encode("utf-8") + digest)


def futures_endpoint_path(path: str) -> str:
    """Strip the ``/derivatives`` prefix Kraken stopped signing in 2024."""
    if path.startswith(_DERIVATIVES_PREFIX + "/"):
        return path[len(_DERIVATIVES_PREFIX) :]
    return path


def sign_futures(secret_b64: str, endpoint_path: str, nonce: str, post_data: str) -> str:
    """Return the Kraken Futures ``Authent`` header value.

    ``endpoint_path`` may be given with or without ``/derivatives``; the prefix is
    removed before hashing, as Kraken requires since 2024-02-20.
    """
    message = post_data + nonce + futures_endpoint_path(endpoint_path)
    digest = hashlib.sha256(message.encode("utf-8")).digest()
    return _hmac_b64(secret_b64, digest)


def sign_challenge(secret_b64: str, challenge: str) -> str:
    """Return the ``signed_challenge`` for a Kraken Futures WS v1 private feed."""
    digest = hashlib.sha256(challenge.encode("utf-8")).digest()
    return _hmac_b64(secret_b64, digest)


def encode_form(params: Iterable[tuple[str, str]]) -> str:
    """URL-encode ``params`` in order, spaces as ``%20`` (the form Kraken Futures hashes).

    The order is part of the signature, so callers pass an ordered sequence.
    """
    return urlencode(list(params), quote_via=quote)
