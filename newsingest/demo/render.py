"""Render the newsroom's pages, feeds and sitemaps as text (no network, no state).

Page templates are `string.Template` files in `templates/`, one per publisher plus a
shared front page; everything substituted into them is escaped here first.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import cache
from importlib import resources
from string import Template
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape

from newsingest.demo.articles import DemoArticle
from newsingest.demo.publishers import Publisher

CAPTIONS = ("File photo.", "Archive image.", "The scene earlier this week.", "Pictured here.")
RELATED_COUNT = 4


@cache
def load_template(name: str) -> Template:
    """Read one template from the package's templates directory."""
    text = resources.files("newsingest.demo").joinpath(f"templates/{name}").read_text("utf-8")
    return Template(text)


def esc(text: str) -> str:
    """Escape text for HTML element content and attribute values."""
    return html.escape(text, quote=True)


def stable_number(*parts: str) -> int:
    """Return a number derived from the parts, the same on every run (unlike hash())."""
    return int(hashlib.sha1("|".join(parts).encode()).hexdigest()[:8], 16)


def iso(when: datetime) -> str:
    """Format a UTC time as ISO 8601 with a Z, as feeds and meta tags write it."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary(article: DemoArticle, limit: int = 200) -> str:
    """Return the first paragraph cut at a word boundary, for feeds and descriptions."""
    first = article.paragraphs[0].strip() if article.paragraphs else article.title
    if len(first) <= limit:
        return first
    return first[:limit].rsplit(" ", 1)[0] + "…"


def related_articles(article: DemoArticle, listing: Sequence[DemoArticle]) -> list[DemoArticle]:
    """Pick the articles a page links to as "related": the next ones in the listing."""
    others = [a for a in listing if a.slug != article.slug]
    if not others:
        return []
    start = next((i for i, a in enumerate(listing) if a.slug == article.slug), 0)
    return [others[(start + k) % len(others)] for k in range(min(RELATED_COUNT, len(others)))]


def render_body(article: DemoArticle, publisher: Publisher, related: Sequence[DemoArticle]) -> str:
    """Render the article body with the publisher's in-body furniture woven in."""
    blocks = [publisher.paragraph.substitute(text=esc(p)) for p in article.paragraphs]
    count = len(blocks)
    # Insert from the end backwards so earlier indexes stay valid.
    if publisher.read_more and related and count >= 4:
        target = related[0]
        link = publisher.read_more.substitute(
            href=esc(target.path(publisher.id)), title=esc(target.title)
        )
        blocks.insert(count - 1, link)
    if publisher.advert and count >= 3:
        blocks.insert(count // 2, publisher.advert)
    if publisher.figure and count >= 2:
        pick = stable_number(article.slug, publisher.id)
        figure = publisher.figure.substitute(
            src=esc(f"/static/photos/{article.slug}.jpg"),
            alt=esc(article.title),
            caption=esc(CAPTIONS[pick % len(CAPTIONS)]),
            credit=esc(publisher.photo_credits[pick % len(publisher.photo_credits)]),
        )
        blocks.insert(1, figure)
    if publisher.ai_notice and publisher.ai_notice_at_top:
        notice = esc(publisher.ai_notice)
        blocks.insert(0, f'<div class="ai-disclaimer"><p><small>{notice}</small></p></div>')
    elif publisher.ai_notice:
        blocks.append(publisher.paragraph.substitute(text=esc(publisher.ai_notice)))
    return "\n".join(blocks)


def render_jsonld(article: DemoArticle, publisher: Publisher, canonical: str) -> str:
    """Render a schema.org NewsArticle script block."""
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": article.title,
        "datePublished": iso(article.published_at),
        "dateModified": iso(article.published_at),
        "author": {"@type": "Person", "name": article.author},
        "publisher": {"@type": "Organization", "name": publisher.name},
        "mainEntityOfPage": canonical,
        "articleSection": article.section,
    }
    # "</" inside a script element would end it early.
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return f'<script type="application/ld+json">{payload}</script>'


def render_article_page(
    article: DemoArticle, publisher: Publisher, base_url: str, listing: Sequence[DemoArticle]
) -> str:
    """Render one article page in the publisher's own template."""
    canonical = base_url + article.path(publisher.id)
    related = related_articles(article, listing)
    related_html = "\n".join(
        f'<li><a href="{esc(r.path(publisher.id))}">{esc(r.title)}</a></li>' for r in related
    )
    return load_template(publisher.template_name).substitute(
        site_name=esc(publisher.name),
        tagline=esc(publisher.tagline),
        prefix=publisher.prefix,
        title=esc(article.title),
        description=esc(summary(article, 160)),
        canonical=esc(canonical),
        published_iso=iso(article.published_at),
        published_display=esc(article.published_at.strftime(publisher.date_format)),
        author=esc(article.author),
        section=esc(article.section),
        section_slug=esc(article.section.lower()),
        body=render_body(article, publisher, related),
        related=related_html,
        comments=str(stable_number(article.slug, publisher.id, "comments") % 97 + 1),
        share_url=quote(canonical, safe=""),
        share_title=quote(article.title, safe=""),
        jsonld=render_jsonld(article, publisher, canonical) if publisher.jsonld else "",
        year=str(article.published_at.year),
    )


def render_front_page(publisher: Publisher, listing: Sequence[DemoArticle]) -> str:
    """Render a publisher's front page: every article, newest first."""
    items = "\n".join(
        f'<li class="teaser"><a href="{esc(a.path(publisher.id))}">{esc(a.title)}</a> '
        f'<span class="teaser-meta">{esc(a.section)} · {a.published_at:%d %b %Y}</span></li>'
        for a in listing
    )
    return load_template("front.html").substitute(
        site_name=esc(publisher.name),
        tagline=esc(publisher.tagline),
        prefix=publisher.prefix,
        publisher_id=publisher.id,
        items=items,
    )


def render_private_page(publisher: Publisher) -> str:
    """Render the page robots.txt forbids, so a polite crawler can be caught out."""
    return (
        f"<!DOCTYPE html><html><head><title>Drafts - {esc(publisher.name)}</title>"
        '<meta name="robots" content="noindex"></head><body><h1>Staff drafts</h1>'
        "<p>Unpublished drafts. Crawlers must not fetch this page.</p></body></html>"
    )


def feed_link(article: DemoArticle, publisher: Publisher, base_url: str) -> str:
    """Return an item's link as the publisher's feed writes it (maybe relative)."""
    path = article.path(publisher.id)
    if not publisher.relative_links:
        return base_url + path
    if publisher.feed_format == "atom":
        return path.removeprefix(publisher.prefix)  # resolved against xml:base
    return path  # root-relative, resolved against the feed's own URL


def render_rss(publisher: Publisher, listing: Sequence[DemoArticle], base_url: str) -> str:
    """Render an RSS 2.0 feed of the publisher's articles."""
    site = base_url + publisher.prefix
    newest = listing[0].published_at if listing else datetime(2000, 1, 1, tzinfo=UTC)
    items = []
    for a in listing:
        link = xml_escape(feed_link(a, publisher, base_url))
        items.append(
            "<item>"
            f"<title>{xml_escape(a.title)}</title><link>{link}</link>"
            f'<guid isPermaLink="false">{publisher.id}:{a.slug}</guid>'
            f"<pubDate>{format_datetime(a.published_at, usegmt=True)}</pubDate>"
            f"<dc:creator>{xml_escape(a.author)}</dc:creator>"
            f"<category>{xml_escape(a.section)}</category>"
            f"<description>{xml_escape(summary(a))}</description>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        f"<title>{xml_escape(publisher.name)}</title>\n<link>{site}</link>\n"
        f"<description>{xml_escape(publisher.tagline)}</description>\n"
        "<language>en</language>\n"
        f"<lastBuildDate>{format_datetime(newest, usegmt=True)}</lastBuildDate>\n"
        f'<atom:link href="{site}feed.xml" rel="self" type="application/rss+xml"/>\n'
        + "\n".join(items)
        + "\n</channel>\n</rss>\n"
    )


def render_atom(publisher: Publisher, listing: Sequence[DemoArticle], base_url: str) -> str:
    """Render an Atom 1.0 feed of the publisher's articles."""
    site = base_url + publisher.prefix
    newest = listing[0].published_at if listing else datetime(2000, 1, 1, tzinfo=UTC)
    entries = []
    for a in listing:
        link = xml_escape(feed_link(a, publisher, base_url), {'"': "&quot;"})
        entries.append(
            "<entry>"
            f"<title>{xml_escape(a.title)}</title>"
            f'<link rel="alternate" type="text/html" href="{link}"/>'
            f"<id>tag:newsroom.example,{a.published_at:%Y-%m-%d}:{publisher.id}/{a.slug}</id>"
            f"<published>{iso(a.published_at)}</published><updated>{iso(a.published_at)}</updated>"
            f"<author><name>{xml_escape(a.author)}</name></author>"
            f'<category term="{xml_escape(a.section)}"/>'
            f"<summary>{xml_escape(summary(a))}</summary>"
            "</entry>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{site}">\n'
        f"<title>{xml_escape(publisher.name)}</title>\n"
        f"<subtitle>{xml_escape(publisher.tagline)}</subtitle>\n"
        f"<id>tag:newsroom.example,2024:{publisher.id}</id>\n"
        f"<updated>{iso(newest)}</updated>\n"
        f'<link rel="self" type="application/atom+xml" href="{site}feed.xml"/>\n'
        f'<link rel="alternate" type="text/html" href="{site}"/>\n'
        + "\n".join(entries)
        + "\n</feed>\n"
    )


def render_feed(publisher: Publisher, listing: Sequence[DemoArticle], base_url: str) -> str:
    """Render the publisher's feed in its own format."""
    if publisher.feed_format == "atom":
        return render_atom(publisher, listing, base_url)
    return render_rss(publisher, listing, base_url)


def render_sitemap(publisher: Publisher, listing: Sequence[DemoArticle], base_url: str) -> str:
    """Render a Google News sitemap of the publisher's articles."""
    urls = "\n".join(
        f"<url><loc>{xml_escape(base_url + a.path(publisher.id))}</loc>"
        f"<lastmod>{iso(a.published_at)}</lastmod><news:news><news:publication>"
        f"<news:name>{xml_escape(publisher.name)}</news:name><news:language>en</news:language>"
        f"</news:publication><news:publication_date>{iso(a.published_at)}"
        f"</news:publication_date><news:title>{xml_escape(a.title)}</news:title>"
        "</news:news></url>"
        for a in listing
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n'
        f"{urls}\n</urlset>\n"
    )


def render_robots(base_url: str, publishers: Sequence[Publisher]) -> str:
    """Render the one robots.txt of the newsroom's host."""
    sitemaps = "".join(f"Sitemap: {base_url}{p.prefix}sitemap.xml\n" for p in publishers)
    return "User-agent: *\nDisallow: /*/private/\nAllow: /\n\n" + sitemaps
