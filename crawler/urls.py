"""Canonical article URLs: one spelling per page, so dedup by URL works.

``canonical_url`` resolves a link against its page, percent-encodes it the way a
browser would (w3lib), lower-cases the scheme and host, drops default ports,
fragments and tracking parameters, normalises percent-escapes (RFC 3986 6.2.2:
upper-case hex, unreserved characters decoded), and keeps every other query
parameter in its original order and spelling: query order can matter to the
server, and re-encoding values (``%20`` → ``+``) would make two spellings of one URL.

``same_site`` tells whether two URLs belong to one site (one registered domain, by
the public suffix list courlan uses), which is how far a page's rel=canonical is
trusted.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

from courlan import extract_domain
from w3lib.url import safe_url_string

from crawler.errors import BadURLError

__all__ = [
    "TRACKING_PARAMS",
    "canonical_or_none",
    "canonical_url",
    "is_tracking_param",
    "same_site",
    "site_of",
]

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
        "icid",
        "ncid",
        "smid",
        "fb_action_ids",
        "fb_action_types",
        "fb_ref",
        "fb_source",
        "__twitter_impression",
        "ref_src",
        "soc_src",
        "soc_trk",
        "rb_clickid",
        "s_kwcid",
        "ef_id",
    }
)
# Prefixes of whole families: Google (utm_), Matomo (mtm_, pk_) and Piwik PRO.
_TRACKING_PREFIX = re.compile(r"^(?:utm_|mtm_|pk_(?:campaign|kwd|source|medium|content|cid))")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


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
            _escapes(_path(parts.path)),
            _escapes(_query(parts.query)),
            "",
        )
    )


def canonical_or_none(link: str | None, base: str) -> str | None:
    """``canonical_url(link, base)``, or None for a missing or unusable link.

    For links read from feeds and sitemaps, where one bad entry is skipped, not fatal.
    """
    if not link:
        return None
    try:
        return canonical_url(link, base)
    except BadURLError:
        return None


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


def _escapes(part: str) -> str:
    """Upper-case percent-escapes and decode those of unreserved characters.

    ``%7e``, ``%7E`` and ``~`` name the same resource (RFC 3986 6.2.2), as do
    ``%2f`` and ``%2F``; reserved characters stay escaped, since ``%2F`` and ``/``
    do not.
    """
    if "%" not in part:
        return part

    def one(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else f"%{match.group(1).upper()}"

    return _ESCAPE.sub(one, part)


def site_of(url: str) -> str | None:
    """The site ``url`` belongs to: its registered domain (``bbc.co.uk`` for
    ``https://www.bbc.co.uk/news``), or host and port where there is none (an IP
    address, ``localhost``); None for a URL without a host (``file:``).
    """
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    domain = _registered_domain(host)
    if domain is not None:
        return domain
    # No public suffix: two servers on one machine are two sites.
    return f"{host}:{port}" if port is not None else host


@lru_cache(maxsize=4096)
def _registered_domain(host: str) -> str | None:
    # courlan looks the host up in the public suffix list (private suffixes too, so
    # two github.io sites are two sites); IP addresses and single labels have none.
    return extract_domain(f"http://{host}/")


def same_site(first: str, second: str) -> bool:
    """Whether two URLs belong to one site (``www.``, ``m.``, ``amp.`` variants do)."""
    site = site_of(first)
    return site is not None and site == site_of(second)
