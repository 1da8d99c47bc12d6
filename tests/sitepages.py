"""Real-looking news pages for site-crawl tests: articles, and the index pages around them.

Each builder returns the HTML as bytes. Page furniture (navigation with a dozen
links, a footer) is on every page, as on real sites, so a rule cannot tell pages
apart by it. The texts are varied enough that no two articles are copies.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

__all__ = [
    "article_page",
    "author_page",
    "brief_page",
    "card_index_page",
    "home_page",
    "list_index_page",
    "plain_article_page",
    "search_page",
    "tag_page",
    "teaser_list_page",
    "topic_page",
]

_SENTENCES = (
    "The city council voted on Tuesday to rebuild the old river bridge after a decade of debate.",
    "Engineers said the work would begin in spring and take about two years to finish.",
    "During the works a ferry will carry pedestrians and cyclists across the river every hour.",
    "Local shop owners welcomed the decision but asked for help while the detour is in place.",
    "The budget of the project was raised twice since the first plans were drawn up in 2016.",
    "Opposition members said the council should have chosen the cheaper repair of the old span.",
    "A spokesperson for the transport department said traffic lights would be retimed.",
    "Residents who attended the meeting applauded when the final vote was announced.",
)


def _paragraphs(topic: str, count: int) -> list[str]:
    return [
        f"{_SENTENCES[i % len(_SENTENCES)]} {_SENTENCES[(i + 3) % len(_SENTENCES)]} "
        f"({topic}, part {i + 1}.)"
        for i in range(count)
    ]


def _chrome(links: Sequence[tuple[str, str]] = ()) -> tuple[str, str]:
    """Header navigation (sections plus ``links``) and a footer, as HTML."""
    sections = [("/", "Home"), ("/world/", "World"), ("/politics/", "Politics")]
    sections += [("/business/", "Business"), ("/sport/", "Sport"), ("/culture/", "Culture")]
    sections += [("/opinion/", "Opinion"), ("/tag/bridges", "Bridges"), ("/about", "About")]
    nav = "".join(f'<li><a href="{href}">{text}</a></li>' for href, text in [*sections, *links])
    header = (
        f'<header><a href="/" class="logo">The Daily Example</a><nav><ul>{nav}</ul></nav></header>'
    )
    footer = (
        '<footer><p>© The Daily Example. <a href="/privacy">Privacy</a> '
        '<a href="/terms">Terms</a> <a href="/contact">Contact us</a></p></footer>'
    )
    return header, footer


def _head(title: str, extra: str = "") -> str:
    return f'<head><meta charset="utf-8"><title>{title}</title>{extra}</head>'


def _json_ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def _related(links: Sequence[tuple[str, str]]) -> str:
    items = "".join(f'<li><h3><a href="{href}">{text}</a></h3></li>' for href, text in links)
    return f'<section class="related"><h2>Related stories</h2><ul>{items}</ul></section>'


def article_page(
    title: str,
    *,
    links: Sequence[tuple[str, str]] = (),
    paragraphs: int = 6,
    og: bool = True,
    json_ld: bool = True,
    published: str = "2024-10-21T08:00:00Z",
) -> bytes:
    """A news article with og:type, JSON-LD NewsArticle, a byline and related links."""
    meta = ""
    if og:
        meta += '<meta property="og:type" content="article">'
        meta += f'<meta property="article:published_time" content="{published}">'
    if json_ld:
        meta += _json_ld(
            {
                "@context": "https://schema.org",
                "@type": "NewsArticle",
                "headline": title,
                "datePublished": published,
                "author": {"@type": "Person", "name": "Jane Reporter"},
            }
        )
    header, footer = _chrome()
    body = "".join(f"<p>{p}</p>" for p in _paragraphs(title, paragraphs))
    return (
        f"<!DOCTYPE html><html>{_head(title, meta)}<body>{header}<main><article>"
        f'<h1>{title}</h1><p class="byline">By Jane Reporter</p>'
        f'<time datetime="{published}">21 October 2024</time>'
        f'<div class="body">{body}</div></article>{_related(links)}</main>{footer}</body></html>'
    ).encode()


def plain_article_page(title: str, *, paragraphs: int = 6, wrap_divs: bool = False) -> bytes:
    """An article with no og:type or JSON-LD: only its text and one <time> tell."""
    header, footer = _chrome()
    texts = _paragraphs(title, paragraphs)
    if wrap_divs:  # each paragraph in a div of its own, text split by <br>
        body = "".join(f'<div class="para">{t}<br>{t.lower()}</div>' for t in texts)
    else:
        body = "".join(f"<p>{t}</p>" for t in texts)
    return (
        f"<!DOCTYPE html><html>{_head(title)}<body>{header}<div id=content>"
        f'<h1>{title}</h1><time datetime="2024-10-21">Oct 21, 2024</time>'
        f'<div class="text">{body}</div></div>{footer}</body></html>'
    ).encode()


def brief_page(title: str) -> bytes:
    """A short news brief (two paragraphs) in a Yoast-style JSON-LD @graph, no og."""
    meta = _json_ld(
        {
            "@context": "https://schema.org",
            "@graph": [
                {"@type": "WebSite", "name": "The Daily Example"},
                {"@type": "WebPage", "name": title},
                {"@type": "Article", "headline": title, "datePublished": "2024-10-21"},
            ],
        }
    )
    header, footer = _chrome()
    body = "".join(f"<p>{p}</p>" for p in _paragraphs(title, 2))
    return (
        f"<!DOCTYPE html><html>{_head(title, meta)}<body>{header}<article><h1>{title}</h1>"
        f"{body}</article>{footer}</body></html>"
    ).encode()


def _teasers(links: Sequence[tuple[str, str]], teaser_chars: int) -> list[tuple[str, str, str]]:
    base = " ".join(_SENTENCES)
    return [
        (href, text, (base[i * 7 :] + " " + base)[:teaser_chars])
        for i, (href, text) in enumerate(links)
    ]


def home_page(links: Sequence[tuple[str, str]], *, og_type: str = "website") -> bytes:
    """A front page: a lead story with a standfirst, then teaser cards with dates."""
    meta = f'<meta property="og:type" content="{og_type}">' + _json_ld(
        {"@context": "https://schema.org", "@type": "WebSite", "name": "The Daily Example"}
    )
    header, footer = _chrome()
    teasers = _teasers(links, 160)
    lead = ""
    if teasers:
        href, text, blurb = teasers[0]
        lead = f'<div class="lead"><h2><a href="{href}">{text}</a></h2><p>{blurb} {blurb}</p></div>'
    cards = "".join(
        f'<article class="card"><h3><a href="{href}">{text}</a></h3><p>{blurb}</p>'
        f'<time datetime="2024-10-2{i % 9}">Oct 2{i % 9}</time></article>'
        for i, (href, text, blurb) in enumerate(teasers[1:])
    )
    return (
        f"<!DOCTYPE html><html>{_head('The Daily Example', meta)}<body>{header}<main>{lead}"
        f'<section class="cards">{cards}</section></main>{footer}</body></html>'
    ).encode()


def card_index_page(
    title: str,
    links: Sequence[tuple[str, str]],
    *,
    og_type: str = "article",
    teaser_chars: int = 300,
) -> bytes:
    """A section page of teaser cards, wrongly stamped og:type=article by its CMS."""
    meta = f'<meta property="og:type" content="{og_type}">'
    header, footer = _chrome()
    cards = "".join(
        f'<div class="card"><h2><a href="{href}">{text}</a></h2><p>{blurb}</p></div>'
        for href, text, blurb in _teasers(links, teaser_chars)
    )
    return (
        f"<!DOCTYPE html><html>{_head(title, meta)}<body>{header}<main><h1>{title}</h1>"
        f"{cards}</main>{footer}</body></html>"
    ).encode()


def teaser_list_page(title: str, links: Sequence[tuple[str, str]]) -> bytes:
    """A section page whose teasers are siblings in one container: h2 link, then a blurb."""
    header, footer = _chrome()
    items = "".join(
        f'<h2><a href="{href}">{text}</a></h2><p>{blurb}</p><a href="{href}">Read more</a>'
        for href, text, blurb in _teasers(links, 220)
    )
    return (
        f"<!DOCTYPE html><html>{_head(title)}<body>{header}<h1>{title}</h1>"
        f'<div class="river">{items}</div>{footer}</body></html>'
    ).encode()


def list_index_page(title: str, links: Sequence[tuple[str, str]]) -> bytes:
    """An archive page: a bare list of dated headline links, no blurbs."""
    header, footer = _chrome()
    items = "".join(
        f'<li><time datetime="2024-10-{10 + i % 20}">Oct {10 + i % 20}</time> '
        f'<a href="{href}">{text}</a></li>'
        for i, (href, text) in enumerate(links)
    )
    return (
        f"<!DOCTYPE html><html>{_head(title)}<body>{header}<h1>{title}</h1>"
        f"<ul>{items}</ul>{footer}</body></html>"
    ).encode()


def tag_page(title: str, links: Sequence[tuple[str, str]]) -> bytes:
    """A tag page: og:type=article (a bad CMS), JSON-LD CollectionPage listing NewsArticles."""
    meta = '<meta property="og:type" content="article">' + _json_ld(
        {
            "@context": "https://schema.org",
            "@type": "CollectionPage",
            "name": title,
            "mainEntity": {
                "@type": "ItemList",
                "itemListElement": [
                    {"@type": "NewsArticle", "headline": text, "url": href} for href, text in links
                ],
            },
        }
    )
    header, footer = _chrome()
    cards = "".join(
        f'<div class="item"><h3><a href="{href}">{text}</a></h3><p>{blurb}</p></div>'
        for href, text, blurb in _teasers(links, 140)
    )
    return (
        f"<!DOCTYPE html><html>{_head(title, meta)}<body>{header}<h1>{title}</h1>"
        f"{cards}{footer}</body></html>"
    ).encode()


def topic_page(title: str, links: Sequence[tuple[str, str]]) -> bytes:
    """A topic page: a long introduction (800 chars), then a dozen teasers; og:type=article."""
    meta = '<meta property="og:type" content="article">'
    header, footer = _chrome()
    intro = "".join(f"<p>{p}</p>" for p in _paragraphs(f"about {title}", 4))
    cards = "".join(
        f'<div class="item"><h3><a href="{href}">{text}</a></h3><p>{blurb}</p></div>'
        for href, text, blurb in _teasers(links, 150)
    )
    return (
        f"<!DOCTYPE html><html>{_head(title, meta)}<body>{header}<h1>{title}</h1>"
        f'<div class="intro">{intro}</div><div class="items">{cards}</div>{footer}</body></html>'
    ).encode()


def author_page(name: str, links: Sequence[tuple[str, str]]) -> bytes:
    """An author page: a short biography, then the author's latest stories."""
    meta = _json_ld({"@context": "https://schema.org", "@type": "ProfilePage", "name": name})
    header, footer = _chrome()
    bio = f"<p>{name} covers city hall and transport. {_SENTENCES[1]} {_SENTENCES[4]}</p>"
    items = "".join(f'<li><h4><a href="{href}">{text}</a></h4></li>' for href, text in links)
    return (
        f"<!DOCTYPE html><html>{_head(name, meta)}<body>{header}<h1>{name}</h1>"
        f'<div class="bio">{bio}</div><ul>{items}</ul>{footer}</body></html>'
    ).encode()


def search_page(query: str, links: Sequence[tuple[str, str]]) -> bytes:
    """Search results: a result count and linked titles with snippets."""
    header, footer = _chrome()
    results = "".join(
        f'<li><a href="{href}"><h3>{text}</h3></a><span>{blurb}</span></li>'
        for href, text, blurb in _teasers(links, 120)
    )
    return (
        f"<!DOCTYPE html><html>{_head(f'Search: {query}')}<body>{header}"
        f"<p>{len(links)} results for “{query}”</p><ol>{results}</ol>{footer}</body></html>"
    ).encode()


# -- a whole small site ----------------------------------------------------------------

# Article paths of the site served by add_news_site, by the depth they are first met at
# when the crawl starts from "/" (home = depth 0).
HOME_ARTICLES = ("/2024/10/21/bridge-vote-ends-debate", "/2024/10/21/ferry-service-planned")
SECTION_ARTICLES = ("/2024/10/20/shops-ask-for-help", "/2024/10/19/budget-raised-again")
TAG_ARTICLES = ("/2024/10/18/old-span-repair-rejected",)
RELATED_ARTICLES = ("/2024/10/17/traffic-lights-retimed",)  # linked from a home article
DEEP_ARTICLES = ("/2024/09/30/first-plans-drawn", "/2024/09/29/council-meeting-applause")
PRIVATE_ARTICLE = "/private/2024/10/21/draft-story"
INDEX_PATHS = ("/", "/world/", "/tag/bridges", "/archive/")
NAV_PATHS = ("/politics/", "/business/", "/sport/", "/culture/", "/opinion/")
THIN_PATHS = ("/about", "/privacy", "/terms", "/contact")


def _title(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1].replace("-", " ").capitalize()


def _links(paths: Sequence[str]) -> list[tuple[str, str]]:
    return [(path, _title(path)) for path in paths]


def news_site_routes(offsite_url: str) -> dict[str, bytes]:
    """A small news site, path -> HTML: a home page, sections, a tag page, an archive,
    articles, a link to another site (``offsite_url``) and one robots.txt forbids.

    From "/": depth 1 holds the nav sections, the tag page and the home articles;
    depth 2 the section, tag and related articles and the archive; depth 3 the deep
    articles, which only the archive and a section article link to.
    """
    home_links = [
        *_links(HOME_ARTICLES),
        (PRIVATE_ARTICLE, "A draft nobody should see"),
        (offsite_url, "A story on another site"),
    ]
    pages: dict[str, bytes] = {
        "/": home_page(home_links),
        "/world/": card_index_page(
            "World", _links([*SECTION_ARTICLES, *HOME_ARTICLES, *RELATED_ARTICLES])
        ),
        "/tag/bridges": tag_page("Bridges", _links([*TAG_ARTICLES, HOME_ARTICLES[0]])),
        "/archive/": list_index_page("Archive", _links(DEEP_ARTICLES)),
        PRIVATE_ARTICLE: article_page("Draft story"),
    }
    for path in NAV_PATHS:
        pages[path] = list_index_page(_title(path), [("/archive/", "Archive")])
    for path in THIN_PATHS:
        pages[path] = b"<html><body><h1>About us</h1><p>Contact the desk.</p></body></html>"
    related = {HOME_ARTICLES[0]: RELATED_ARTICLES, SECTION_ARTICLES[0]: DEEP_ARTICLES[:1]}
    for path in (*HOME_ARTICLES, *SECTION_ARTICLES, *TAG_ARTICLES, *RELATED_ARTICLES):
        pages[path] = article_page(_title(path), links=_links(related.get(path, ())))
    for path in DEEP_ARTICLES:
        pages[path] = article_page(_title(path))
    return pages
