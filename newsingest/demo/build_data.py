"""Build the sample newsroom's `data/articles.json` from the real texts in /work/shared.

A maintainer script, run once by hand (`python -m newsingest.demo.build_data`); the
package never runs it and never needs /work/shared at run time. It is deterministic:
running it again writes the same file.

What goes in:
- the five seed documents (`shared/seeds/*.txt`), one paragraph per non-blank line,
  kept exactly as they are, leftover boilerplate included: that boilerplate is what
  the cleaning stage must learn to remove, so the demo must serve it.
- real ECB+ articles (`shared/benchmarks/stories/ecbplus-topics-01-35.jsonl`), three
  from each of several stories (same event, different outlets), plus two from the
  look-alike event of topic 1, so story clustering has something to keep apart.

Each article: slug, title, paragraphs, author, published_at (ISO 8601 UTC),
publishers (ids; several = syndicated word for word), story, seed, plus section
(the site section it is filed under) and origin (the upstream file or ECB+ id).

What was invented for the demo (and is said so here rather than in the data):
- the seeds' headlines (the seed files carry no headline) and the headlines of the
  two topic-1 ECB articles (their upstream "title" is just the first sentence);
- every author name;
- the dates of the seeds (2024-10-20..24) and of articles whose story has no date.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dateutil import parser as dateparser

SHARED = Path("/work/shared")
SEEDS = SHARED / "seeds"
ECBPLUS = SHARED / "benchmarks" / "stories" / "ecbplus-topics-01-35.jsonl"
OUT = Path(__file__).resolve().parent / "data" / "articles.json"

PUBLISHERS = [
    "harbour-gazette",
    "northwind-daily",
    "capital-wire",
    "metro-ledger",
    "pacific-courier",
]
SEED_STORY = "north-korean-troops-russia-2024-10"

# Headlines written for the demo: the seed files have none. Neutral, from each
# text's own first sentences (002 and 004 reuse a line of their own text).
SEED_HEADLINES = {
    "000_307bf1f08a4c6ee5": "North Korean soldiers reportedly training in Russia's far east",
    "001_a5ed0e014a386052": "Zelensky says North Korea sends Russia troops as well as weapons",
    "002_f8f31cfa6756e2bb": "Are North Korean Troops Joining Russia’s War in Ukraine?",
    "003_960ee731b2ee643f": "West concerned over reports of 10,000 North Korean troops in Russia",
    "004_7f54ddbf018cabb4": "Putin is sending North Korean soldiers to the Ukrainian border",
}
SEED_DATES = [datetime(2024, 10, 20 + i, 6 + 3 * i, 15 * i % 60, tzinfo=UTC) for i in range(5)]

# Stories (ECB+ clusters) to take three articles from: several topics, several kinds.
CLUSTERS = [
    "1_ecbplus", "2_ecbplus", "3_ecbplus", "6_ecbplus", "7_ecbplus", "8_ecbplus",
    "12_ecbplus", "13_ecbplus", "18_ecbplus", "21_ecbplus", "24_ecbplus", "25_ecbplus",
    "27_ecbplus", "30_ecbplus",
]  # fmt: skip
PER_CLUSTER = 3

# The look-alike event of topic 1 (another celebrity rehab check-in). Upstream titles
# are the first sentence, so these headlines were written for the demo.
EXTRA_ECB = {
    "1_10ecb": "Tara Reid checks into Promises Treatment Center",
    "1_11ecb": "Tara Reid enters rehab, rep confirms",
}
# The section each story is filed under on the publishers' sites.
SECTIONS = {
    SEED_STORY: "World", "1_ecbplus": "Entertainment", "1_ecb": "Entertainment",
    "2_ecbplus": "Entertainment", "6_ecbplus": "Entertainment", "3_ecbplus": "Crime",
    "18_ecbplus": "Crime", "21_ecbplus": "Crime", "24_ecbplus": "Crime", "7_ecbplus": "Sport",
    "25_ecbplus": "Sport", "8_ecbplus": "World", "12_ecbplus": "World",
    "13_ecbplus": "Local", "27_ecbplus": "Technology", "30_ecbplus": "Technology",
}  # fmt: skip
# Stories with no usable date anywhere in the upstream data: plausible, invented.
FALLBACK_DATES = {"1_ecb": datetime(2008, 11, 14, 17, 30, tzinfo=UTC)}

# Invented bylines.
AUTHORS = [
    "Maren Holt", "Daniel Okafor", "Priya Raman", "Tomás Ferreira", "Hannah Lindqvist",
    "Samuel Achterberg", "Leila Haddad", "Owen Carragher", "Yuki Tanabe", "Grace Mbeki",
    "Felix Albrecht", "Rosa Delgado", "Ines Marchetti", "Callum Reid", "Nadia Petrova",
]  # fmt: skip

# Articles copied word for word to more publishers (a wire story sold to several).
SYNDICATED_EVERY = 5  # every fifth ECB article ...
SYNDICATED_COPIES = (1, 2)  # ... goes to one or two extra publishers, alternately


def detokenize(text: str) -> str:
    """Undo the upstream tokenisation where it is easy: quotes, spaced punctuation."""
    text = re.sub(r"\s*``\s*$", '"', text)
    text = re.sub(r"``\s*", '"', text)
    text = re.sub(r"\s*''", '"', text)
    text = re.sub(r"(\w)’ (s|t|m|re|ve|ll|d)\b", r"\1’\2", text)
    text = re.sub(r"([‘“]) ", r"\1", text)
    text = re.sub(r" ([,.;:!?%)\]”’])", r"\1", text)
    text = re.sub(r"([(\[$]) ", r"\1", text)
    text = re.sub(r"(\d): (\d\d)\b", r"\1:\2", text)
    text = re.sub(r"(\d), (\d{3})\b", r"\1,\2", text)
    text = re.sub(r"(\d)\. (\d)", r"\1.\2", text)
    text = re.sub(r"\b([ap])\. m\.", r"\1.m.", text)
    # ECB+ spaces every hyphen ("90 - day", "rear - ended") and some dashes too
    # ("patches - which"): join compounds, keep a dash before a function word.
    text = text.replace(" - - ", " – ")
    text = re.sub(r"(\w) - and - (?=\w)", r"\1-and-", text)
    text = re.sub(r"(\w) - (?!(?:the|which|but|are|and|at|an?|making)\b)(?=\w)", r"\1-", text)
    text = text.replace(" - ", " – ")
    return text.strip()


def is_stamp(line: str) -> bool:
    """Tell a dateline or timestamp left at the top of an upstream text ("May 2, 2013 | 5:03pm")."""
    if len(line) > 70:
        return False
    return bool(
        re.search(r"\b(19|20)\d\d\b|\d:\d\d|\bPublished\b|\bUpdated\b|\bPosted\b", line, re.I)
    )


def to_paragraphs(lines: list[str]) -> list[str]:
    """Join upstream sentence-per-line text into paragraphs of a few sentences."""
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        current = f"{current} {line}".strip()
        # A quote or a long sentence stands alone often enough in news copy.
        if len(current) >= 220 or line.startswith(('"', "“")):
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return paragraphs


def slugify(title: str) -> str:
    """Make a URL slug of at most eight words from a headline."""
    words = re.findall(r"[a-z0-9]+", title.lower().replace("’", "").replace("'", ""))
    return "-".join(words[:8])


def pick_author(key: str) -> str:
    """Choose an invented byline, stably for the same article."""
    digest = int(hashlib.sha1(key.encode()).hexdigest(), 16)
    return AUTHORS[digest % len(AUTHORS)]


def parse_date(value: str | None) -> datetime | None:
    """Parse an upstream date string; drop the ones that are not the story's date."""
    if not value:
        return None
    try:
        parsed = dateparser.parse(value.replace(".", ""))
    except (ValueError, OverflowError):
        return None
    # "The first date found in the text" is sometimes a historical one (1923).
    return parsed.replace(tzinfo=UTC) if parsed.year >= 2000 else None


def seed_articles() -> list[dict[str, Any]]:
    """Turn the five seed files into articles, one per publisher, lines kept verbatim."""
    articles = []
    for i, path in enumerate(sorted(SEEDS.glob("*.txt"))):
        lines = path.read_text(encoding="utf-8").splitlines()
        title = SEED_HEADLINES[path.stem]
        articles.append(
            {
                "slug": slugify(title),
                "title": title,
                # Only blank lines go: they are paragraph breaks, not content.
                "paragraphs": [line for line in lines if line.strip()],
                "author": pick_author(path.stem),
                "published_at": SEED_DATES[i].isoformat().replace("+00:00", "Z"),
                "publishers": [PUBLISHERS[i]],
                "story": SEED_STORY,
                "section": SECTIONS[SEED_STORY],
                "seed": True,
                "origin": f"seeds/{path.name}",
            }
        )
    return articles


def good_candidate(row: dict[str, Any]) -> bool:
    """Keep ECB+ articles with a real headline and a news-sized body."""
    title = row["title"]
    lines = row["text"].split("\n")
    return (
        bool(row["url"])
        and 20 < len(title) <= 110
        and not is_stamp(title)
        and len(re.findall(r"[A-Za-z]{2,}", title)) >= 4
        and 6 <= len(lines) <= 30
        and 900 <= len(row["text"]) <= 4500
    )


def story_dates(rows: list[dict[str, Any]]) -> dict[str, datetime]:
    """Give each story the date most of its articles carry (or an invented one)."""
    votes: dict[str, Counter[datetime]] = {}
    for row in rows:
        parsed = parse_date(row["date"])
        if parsed:
            votes.setdefault(row["cluster"], Counter())[parsed] += 1
    dates = {cluster: c.most_common(1)[0][0] for cluster, c in votes.items()}
    return {**dates, **FALLBACK_DATES}


def ecb_article(row: dict[str, Any], title: str, when: datetime, body: list[str]) -> dict[str, Any]:
    """Make one demo article from an ECB+ row."""
    return {
        "slug": slugify(title),
        "title": title,
        "paragraphs": to_paragraphs([detokenize(line) for line in body if line.strip()]),
        "author": pick_author(row["id"]),
        "published_at": when.isoformat().replace("+00:00", "Z"),
        "publishers": [],
        "story": f"ecbplus-{row['cluster']}",
        "section": SECTIONS[row["cluster"]],
        "seed": False,
        "origin": f"ecbplus/{row['id']}",
    }


def ecb_articles() -> list[dict[str, Any]]:
    """Pick, clean and date the ECB+ articles."""
    rows = [json.loads(line) for line in ECBPLUS.read_text(encoding="utf-8").splitlines()]
    dates = story_dates(rows)
    by_id = {row["id"]: row for row in rows}
    articles = []
    for cluster in CLUSTERS:
        members = sorted(
            (r for r in rows if r["cluster"] == cluster and good_candidate(r)),
            key=lambda r: int(re.sub(r"\D", "", r["id"].split("_")[1])),
        )[:PER_CLUSTER]
        for n, row in enumerate(members):
            own = parse_date(row["date"])
            # Outlets report an event within hours of each other, not at one instant.
            when = (own or dates[cluster]) + timedelta(hours=7 + 3 * n, minutes=17 * n)
            lines = row["text"].split("\n")
            body = lines[1:] if lines[0].strip() == row["title"].strip() else lines
            while body and is_stamp(body[0]):
                body = body[1:]
            articles.append(ecb_article(row, detokenize(row["title"]), when, body))
    for n, (doc_id, title) in enumerate(EXTRA_ECB.items()):
        row = by_id[doc_id]
        when = dates[row["cluster"]] + timedelta(hours=2 * n)
        articles.append(ecb_article(row, title, when, row["text"].split("\n")))
    return articles


def assign_publishers(articles: list[dict[str, Any]]) -> None:
    """Spread ECB+ articles over publishers; syndicate some of them word for word."""
    for i, article in enumerate(articles):
        # Consecutive articles of one story land at different publishers: same story,
        # different outlets.
        home = PUBLISHERS[i % len(PUBLISHERS)]
        article["publishers"] = [home]
        if i % SYNDICATED_EVERY == 2:
            extra = SYNDICATED_COPIES[(i // SYNDICATED_EVERY) % 2]
            start = PUBLISHERS.index(home)
            article["publishers"] += [
                PUBLISHERS[(start + 2 + k) % len(PUBLISHERS)] for k in range(extra)
            ]


def dedupe_slugs(articles: list[dict[str, Any]]) -> None:
    """Make slugs unique, since two outlets can use the same headline."""
    seen: Counter[str] = Counter()
    for article in articles:
        seen[article["slug"]] += 1
        if seen[article["slug"]] > 1:
            article["slug"] = f"{article['slug']}-{seen[article['slug']]}"


def build() -> list[dict[str, Any]]:
    """Build the whole article list, newest first."""
    ecb = ecb_articles()
    assign_publishers(ecb)
    articles = seed_articles() + ecb
    dedupe_slugs(articles)
    return sorted(articles, key=lambda a: a["published_at"], reverse=True)


def main() -> None:
    """Write data/articles.json and say what went in."""
    articles = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(articles, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    syndicated = sum(1 for a in articles if len(a["publishers"]) > 1)
    print(f"wrote {OUT}: {len(articles)} articles, {syndicated} syndicated")


if __name__ == "__main__":
    main()
