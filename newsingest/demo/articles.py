"""The sample newsroom's articles: the record and the loader for `data/articles.json`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoArticle:
    """One article as the newsroom publishes it (under one or several publishers)."""

    slug: str
    title: str
    paragraphs: tuple[str, ...]
    author: str
    published_at: datetime  # tz-aware UTC
    publishers: tuple[str, ...]  # more than one: syndicated word for word
    story: str  # the real-world event; the same for different write-ups
    seed: bool = False
    section: str = "News"
    origin: str = ""  # where the text came from, e.g. "seeds/000_....txt"

    @property
    def syndicated(self) -> bool:
        """Tell whether the same text appears under more than one publisher."""
        return len(self.publishers) > 1

    def path(self, publisher_id: str) -> str:
        """Return this article's URL path under one publisher."""
        when = self.published_at
        return f"/{publisher_id}/{when:%Y}/{when:%m}/{self.slug}.html"


def article_from_dict(data: Mapping[str, Any]) -> DemoArticle:
    """Build a DemoArticle from one entry of articles.json (or a test's dict)."""
    published = datetime.fromisoformat(str(data["published_at"]).replace("Z", "+00:00"))
    if published.tzinfo is None:
        raise ValueError(f"article {data['slug']!r}: published_at must carry a time zone")
    return DemoArticle(
        slug=data["slug"],
        title=data["title"],
        paragraphs=tuple(data["paragraphs"]),
        author=data["author"],
        published_at=published,
        publishers=tuple(data["publishers"]),
        story=data["story"],
        seed=bool(data.get("seed", False)),
        section=data.get("section", "News"),
        origin=data.get("origin", ""),
    )


def load_articles(path: Path | None = None) -> list[DemoArticle]:
    """Load the bundled articles (or those in `path`), newest first."""
    if path is None:
        text = resources.files("newsingest.demo").joinpath("data/articles.json").read_text("utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return sort_newest_first(article_from_dict(item) for item in json.loads(text))


def sort_newest_first(articles: Iterable[DemoArticle]) -> list[DemoArticle]:
    """Order articles the way feeds and front pages list them."""
    return sorted(articles, key=lambda a: (a.published_at, a.slug), reverse=True)
