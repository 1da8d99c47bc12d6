"""``newsingest sources discover URL``: find a site's feeds and sitemaps, print config."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from newsingest.clicommon import Context, friendly_errors, pass_context

if TYPE_CHECKING:  # imported when the command runs: the CLI starts faster without
    from crawler.discover import Discovery, FoundSource

_ID_MAX = 64  # SourceConfig.id allows 64 characters


@click.group("sources")
def sources_group() -> None:
    """Find and describe sources."""


@sources_group.command("discover")
@click.argument("url")
@pass_context
@friendly_errors
def discover_command(ctx: Context, url: str) -> None:
    """Find the feeds and sitemaps of the site at URL and print [[sources]] entries.

    Looks at the page's <link rel="alternate"> feeds, the sitemaps robots.txt
    lists and the usual paths (/feed, /rss.xml, /sitemap.xml, ...), and fetches
    each to check it really is a feed or a sitemap. The entries go to stdout,
    ready to paste (or append) into the config file; a site where nothing is
    found exits with status 1.
    """
    from crawler.discover import discover

    settings = ctx.settings(required=False)
    if "://" not in url:
        url = f"https://{url}"  # "example.org" is what people type
    found = discover(url, settings=settings.crawl)
    if not found.found:
        click.echo(f"newsingest: {_nothing_found(found)}", err=True)
        sys.exit(1)
    configured = {s.url: s.id for s in settings.sources if s.url}
    click.echo(render_entries(found, taken={s.id for s in settings.sources}, configured=configured))
    feeds = sum(f.kind == "feed" for f in found.found)
    sitemaps = len(found.found) - feeds
    click.echo(
        f"found {_plural(feeds, 'feed')} and {_plural(sitemaps, 'sitemap')} at {found.url} "
        f"({found.tried} URLs tried)",
        err=True,
    )


def render_entries(
    found: Discovery, *, taken: Iterable[str] = (), configured: dict[str, str] | None = None
) -> str:
    """TOML ``[[sources]]`` entries for what was found, with ids not in ``taken``."""
    taken = set(taken)
    configured = configured or {}
    blocks = [f"# Feeds and sitemaps found at {found.url}"]
    for item in found.found:
        source_id = _unique_id(_source_id(item), taken)
        taken.add(source_id)
        lines = ["", "[[sources]]", f"# {_describe(item)}"]
        if item.url in configured:
            lines.append(f"# already configured as {configured[item.url]!r}")
        lines += [
            f"id = {_toml(source_id)}",
            f"kind = {_toml(item.kind)}",
            f"url = {_toml(item.url)}",
        ]
        if item.kind == "sitemap" and not item.news:
            lines.append('# max_age = "2d"  # only URLs changed in the last two days')
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def _describe(item: FoundSource) -> str:
    via = {
        "page": "the URL itself",
        "link": "linked from the page",
        "robots": "listed in robots.txt",
        "path": "at a common path",
    }[item.via]
    if item.kind == "feed":
        what = f"feed {_one_line(item.title)}" if item.title else "feed"
        return f"{what}, {_plural(item.entries, 'entry', 'entries')}, {via}"
    if item.index:
        return f"sitemap index of {_plural(item.entries, 'sitemap')}, {via}"
    what = "Google News sitemap" if item.news else "sitemap"
    return f"{what}, {_plural(item.entries, 'URL')}, {via}"


def _source_id(item: FoundSource) -> str:
    """``<host>-<name>``: the host without www., and the file's name or the kind."""
    parts = urlsplit(item.url)
    host = _slug((parts.hostname or "site").removeprefix("www."))
    segments = [s for s in parts.path.split("/") if s]
    name = (
        _slug(re.sub(r"(\.xml|\.json|\.rss|\.atom|\.gz)+$", "", segments[-1])) if segments else ""
    )
    name = name or item.kind
    return f"{host[: _ID_MAX - len(name) - 1]}-{name}"[:_ID_MAX]


def _unique_id(source_id: str, taken: set[str]) -> str:
    candidate, n = source_id, 2
    while candidate in taken:
        suffix = f"-{n}"
        candidate, n = source_id[: _ID_MAX - len(suffix)] + suffix, n + 1
    return candidate


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def _toml(value: str) -> str:
    # A JSON string is a TOML basic string (same escapes).
    return json.dumps(value)


def _one_line(text: str) -> str:
    return json.dumps(" ".join(text.split()), ensure_ascii=False)


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _nothing_found(found: Discovery) -> str:
    if found.page_error and found.tried == 1:
        return f"could not read {found.url} ({found.page_error}); check the URL"
    looked = (
        "its <link rel=alternate> feeds, robots.txt and common paths such as /feed and /sitemap.xml"
    )
    page = f"; the page itself answered {found.page_error}" if found.page_error else ""
    return f"no feed or sitemap found at {found.url} (looked at {looked}{page})"


COMMANDS = [sources_group]
