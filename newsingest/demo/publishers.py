"""The fictional publishers of the sample newsroom and how each marks up its articles.

Each publisher differs where real sites differ, so the pipeline meets the variety it
will meet in production: its own page template (`templates/<id>.html`), its own feed
format (RSS 2.0 or Atom, absolute or relative links), and its own furniture INSIDE
the article body (photos with agency credits, "Read more:" links, advertisement
slots, AI-generation notices). The in-body furniture is what trafilatura tends to
keep, so it is what the cleaning stage is measured against.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Template
from typing import Literal

FeedFormat = Literal["rss", "atom"]
PLAIN_PARAGRAPH = Template("<p>$text</p>")


@dataclass(frozen=True, slots=True, kw_only=True)
class Publisher:
    """One fictional news site served under `/<id>/` of the newsroom."""

    id: str
    name: str
    tagline: str
    feed_format: FeedFormat
    # Relative item links: Atom with xml:base, or root-relative paths in RSS, both
    # common in the wild, so the crawler's link resolution is exercised.
    relative_links: bool = False
    date_format: str = "%d %B %Y"
    paragraph: Template = PLAIN_PARAGRAPH
    # In-body furniture; None means the publisher has none of that kind.
    figure: Template | None = None
    photo_credits: tuple[str, ...] = ()
    read_more: Template | None = None
    advert: str | None = None
    ai_notice: str | None = None
    ai_notice_at_top: bool = False
    jsonld: bool = False

    @property
    def template_name(self) -> str:
        """Return the file name of this publisher's page template."""
        return f"{self.id}.html"

    @property
    def prefix(self) -> str:
        """Return the URL path prefix every page of this publisher lives under."""
        return f"/{self.id}/"


# Invented photographers; the agency part of the credit is what real credits look like.
_CREDITS_AFP = ("Lena Duval/AFP", "Marco Ferri/AFP", "Ahmed Saleh/AFP")
_CREDITS_MIXED = ("Jonas Berg/Reuters", "AP Photo/Rita Gomez", "Kenji Mori/EPA")

PUBLISHERS: tuple[Publisher, ...] = (
    Publisher(
        id="harbour-gazette",
        name="The Harbour Gazette",
        tagline="News from the waterfront and the world since 1887",
        feed_format="rss",
        date_format="%A %d %B %Y, %H:%M UTC",
        paragraph=Template('<p class="story-text">$text</p>'),
        figure=Template(
            '<figure class="story-image"><img src="$src" alt="$alt" width="960" height="540">'
            '<figcaption>$caption <span class="credit">Photo: $credit</span></figcaption>'
            "</figure>"
        ),
        photo_credits=_CREDITS_AFP,
        read_more=Template(
            '<p class="story-text"><strong>Read more:</strong> <a href="$href">$title</a></p>'
        ),
        jsonld=True,
    ),
    Publisher(
        id="northwind-daily",
        name="Northwind Daily",
        tagline="Independent journalism for the north",
        feed_format="atom",
        relative_links=True,
        date_format="%B %d, %Y",
        paragraph=Template('<p class="article__paragraph">$text</p>'),
        figure=Template(
            '<figure class="article__media"><picture><img src="$src" alt="$alt" loading="lazy">'
            '</picture><figcaption class="article__caption">$caption Photo: $credit</figcaption>'
            "</figure>"
        ),
        photo_credits=_CREDITS_MIXED,
        # Bracketed, as a paragraph of the body: the way it reaches scraped text.
        ai_notice=(
            "[This article was generated with the help of AI and reviewed by the "
            "Northwind Daily editorial team.]"
        ),
    ),
    Publisher(
        id="capital-wire",
        name="Capital Wire",
        tagline="Fast, factual, first",
        feed_format="rss",
        date_format="%b %d, %Y %I:%M %p UTC",
        read_more=Template('<p class="cw-more">Read more: <a href="$href">$title</a></p>'),
        advert=(
            '<div class="ad-slot" data-slot="mid-article"><span class="ad-label">'
            "Advertisement</span></div>"
        ),
        jsonld=True,
    ),
    Publisher(
        id="metro-ledger",
        name="Metro Ledger",
        tagline="Your city, your stories",
        feed_format="atom",
        date_format="%d.%m.%Y %H:%M",
        paragraph=Template('<p class="ledger-p">$text</p>'),
        figure=Template(
            '<div class="ledger-photo"><img src="$src" alt="$alt"><p class="ledger-photo-text">'
            "$caption (Photo: $credit)</p></div>"
        ),
        photo_credits=_CREDITS_AFP,
        # A small disclaimer block at the top of the body, not a bracketed line.
        ai_notice=(
            "AI-assisted content: parts of this story were drafted with an AI tool and "
            "checked by a Metro Ledger editor."
        ),
        ai_notice_at_top=True,
    ),
    Publisher(
        id="pacific-courier",
        name="Pacific Courier",
        tagline="Coast to coast, every morning",
        feed_format="rss",
        relative_links=True,
        date_format="%B %d, %Y at %H:%M",
        read_more=Template('<p><em>Read more: <a href="$href">$title</a></em></p>'),
        advert='<aside class="inline-promo">Advertisement - scroll to continue reading</aside>',
    ),
)


def publisher_by_id(publisher_id: str, publishers: tuple[Publisher, ...] = PUBLISHERS) -> Publisher:
    """Return the publisher with this id, or raise KeyError naming the known ones."""
    for publisher in publishers:
        if publisher.id == publisher_id:
            return publisher
    known = ", ".join(p.id for p in publishers)
    raise KeyError(f"unknown publisher {publisher_id!r}; known: {known}")
