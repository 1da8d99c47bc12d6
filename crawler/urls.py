"""Canonical article URLs: one spelling per page, so dedup by URL works.

``canonical_url`` resolves a link against its page, percent-encodes it the way a
browser would (w3lib), lower-cases the scheme and host, drops default ports,
fragments and tracking parameters, and keeps every other query parameter in its
original order and spelling: query order can matter to the server, and
re-encoding values (``%20`` → ``+``) would make two spellings of one URL.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

from w3lib.url import safe_url_string

from crawler.errors import BadURLError

__all__ = ["TRACKING_PARAMS", "canonical_url", "is_tracking_param"]

# Exact names of click-id and analytics parameters (compared lower-cased).
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "igshid",
        "li_fat_id",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "__hstc",
        "__hssc",
        "__hsfp",
        "hsctatracking",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "wt_mc_id",
        "s_cid",
        "at_medium",
        "at_campaign",
        "ocid",
        "cmpid",
        "ito",
        "spm",
        "sr_share",
    }
)
# Prefixes of whole families: Google (utm_), Matomo (mtm_, pk_) and Piwik PRO.
_TRACKING_PREFIX = re.compile(r"^(?:utm_|mtm_|pk_(?:campaign|kwd|source|medium|content|cid))")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_tracking_param(name: str) -> bool:
    """Tell whether a query parameter name only tracks the click, not the content."""
    name = name.lower()
    return name in TRACKING_PARAMS or bool(_TRACKING_PREFIX.match(name))


def canonical_url(url: str, base: str | None = None) -> str:
    """Return the canonical absolute http(s) form of ``url``, resolved against ``base``.

    Raises :class:`~crawler.errors.BadURLError` (a ``ValueError``) when the result
    is not an absolute http(s) URL with a host, or cannot be parsed.
    """
    raw = url
    url = url.strip()
    if not url:
        raise BadURLError(raw, "empty")
    try:
        if base is not None:
            url = urljoin(base.strip(), url)
        # w3lib percent-encodes spaces and non-ASCII the way browsers do and turns
        # an internationalised host into punycode, so each page has one spelling.
        url = safe_url_string(url)
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a bad port
        host = parts.hostname
    except ValueError as exc:
        raise BadURLError(raw, f"cannot parse: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        why = f"scheme {scheme!r} is not http or https" if scheme else "not an absolute URL"
        raise BadURLError(raw, why)
    if not host:
        raise BadURLError(raw, "no host")
    return urlunsplit(
        (
            scheme,
            _netloc(parts.netloc, host, port, scheme),
            _path(parts.path),
            _query(parts.query),
            "",
        )
    )


def _netloc(netloc: str, host: str, port: int | None, scheme: str) -> str:
    """Rebuild the network location with a lower-case host and no default port."""
    host = host.lower().rstrip(".")
    if ":" in host:  # IPv6 literal: urlsplit dropped the brackets
        host = f"[{host}]"
    userinfo = netloc.rpartition("@")[0] if "@" in netloc else ""
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{userinfo}@{host}" if userinfo else host


def _path(path: str) -> str:
    """Remove ``.`` and ``..`` segments; an empty path is ``/``."""
    if not path:
        return "/"
    if "/." in path or path.startswith("."):
        # urljoin against the root applies RFC 3986 dot-segment removal.
        path = urlsplit(urljoin("http://h/", path)).path
    return path


def _query(query: str) -> str:
    """Drop tracking parameters and empty pieces, keeping the rest verbatim and in order."""
    if not query:
        return ""
    kept = [
        piece
        for piece in query.split("&")
        if piece and not is_tracking_param(unquote_plus(piece.partition("=")[0]))
    ]
    return "&".join(kept)
