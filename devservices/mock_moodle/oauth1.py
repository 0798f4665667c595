"""OAuth 1.0a HMAC-SHA1 request signing (RFC 5849), as LTI 1.1 consumers sign launches.

Written from the RFC with the standard library, so that the tests can check it against an
independent implementation (oauthlib) rather than against itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse


def percent_encode(value: str) -> str:
    """RFC 5849 3.6: encode everything but the unreserved characters."""
    return urllib.parse.quote(value, safe="-._~")


def base_string_uri(url: str) -> str:
    """RFC 5849 3.4.1.2: scheme and host lower case, default port and query dropped."""
    parts = urllib.parse.urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    default_port = {"http": 80, "https": 443}[scheme]
    netloc = host if parts.port in (None, default_port) else f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def signature_base_string(method: str, url: str, params: dict[str, str]) -> str:
    """RFC 5849 3.4.1: the request's method, URI and sorted, encoded parameters."""
    query = urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True)
    pairs = [*query, *((key, value) for key, value in params.items() if key != "oauth_signature")]
    encoded = sorted((percent_encode(key), percent_encode(value)) for key, value in pairs)
    normalized = "&".join(f"{key}={value}" for key, value in encoded)
    return "&".join(
        percent_encode(part) for part in (method.upper(), base_string_uri(url), normalized)
    )


def hmac_sha1(base_string: str, consumer_secret: str, token_secret: str = "") -> str:
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def sign(url: str, params: dict[str, str], consumer_secret: str, method: str = "POST") -> str:
    """The oauth_signature for a form POST of `params` to `url`."""
    return hmac_sha1(signature_base_string(method, url, params), consumer_secret)
