"""parse_feed: RSS 0.9x/1.0/2.0, Atom and JSON Feed into canonical, unique entries."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.errors import FeedError
from crawler.feeds import parse_feed

FEED_URL = "https://news.example.com/feeds/main.xml"

RSS2 = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>Example News</title><link>https://news.example.com/</link>
  <language>en-gb</language>
  <item>
    <title>  Storm hits the coast  </title>
    <link>/2024/05/storm?utm_source=rss&amp;id=7</link>
    <pubDate>Tue, 14 May 2024 09:30:00 +0200</pubDate>
    <dc:creator>Ann Reporter</dc:creator>
  </item>
  <item>
    <title>Storm hits the coast (again, a duplicate)</title>
    <link>https://NEWS.example.com/2024/05/storm?id=7#top</link>
  </item>
  <item>
    <title>Permalink only</title>
    <guid isPermaLink="true">https://news.example.com/2024/05/guid-story</guid>
    <pubDate>Tue, 14 May 2024 23:00:00 -0500</pubDate>
  </item>
  <item><title>No link at all</title><description>skipped</description></item>
  <item><title>A mail link</title><link>mailto:desk@news.example.com</link></item>
</channel>
</rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">
  <title>Exemple</title>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2024-05-14T10:00:00Z</updated>
  <entry>
    <title type="html">Le &lt;b&gt;titre&lt;/b&gt;</title>
    <link rel="alternate" type="text/html" href="articles/one.html"/>
    <link rel="enclosure" href="https://cdn.example.com/one.mp3"/>
    <id>tag:news.example.com,2024:one</id>
    <published>2024-05-14T08:00:00+02:00</published>
    <updated>2024-05-14T09:00:00+02:00</updated>
    <author><name>Jeanne Auteur</name></author>
    <author><name>Paul Second</name></author>
  </entry>
  <entry>
    <title>Updated only</title>
    <link href="https://news.example.com/articles/two.html"/>
    <id>tag:news.example.com,2024:two</id>
    <updated>2024-05-13T22:15:00-03:00</updated>
  </entry>
</feed>"""

RSS1 = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://news.example.com/">
    <title>RDF News</title><link>https://news.example.com/</link>
    <description>d</description>
    <items><rdf:Seq><rdf:li resource="https://news.example.com/rdf/1"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://news.example.com/rdf/1">
    <title>RDF story</title>
    <link>https://news.example.com/rdf/1</link>
    <dc:date>2024-05-14T12:00:00+01:00</dc:date>
    <dc:creator>Rita Rdf</dc:creator>
  </item>
</rdf:RDF>"""

JSON_FEED_11 = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "JSON News",
    "language": "de",
    "items": [
        {
            "id": "1",
            "url": "/json/one",
            "title": "Eins",
            "date_published": "2024-05-14T10:00:00+02:00",
            "authors": [{"name": "Anna"}, {"name": "Ben"}],
        },
        {
            "id": "2",
            "external_url": "https://other.example.org/two?fbclid=x",
            "title": "Zwei",
            "date_modified": "2024-05-14T08:00:00Z",
        },
        {"id": "3", "title": "no url"},
        {"id": "4", "url": "https://news.example.com/json/one", "title": "duplicate"},
    ],
}

JSON_FEED_10 = {
    "version": "https://jsonfeed.org/version/1",
    "title": "Old JSON",
    "items": [
        {
            "id": "a",
            "url": "https://news.example.com/old",
            "title": "Old",
            "author": {"name": "Solo"},
            "date_published": "2024-01-02T03:04:05",
        }
    ],
}


def test_rss2_entries_resolved_canonical_and_unique() -> None:
    entries = parse_feed(RSS2, url=FEED_URL, content_type="application/rss+xml")
    assert [e.url for e in entries] == [
        "https://news.example.com/2024/05/storm?id=7",
        "https://news.example.com/2024/05/guid-story",
    ]
    first, second = entries
    assert first.title == "Storm hits the coast"  # the first of the duplicates wins
    assert first.published_at == datetime(2024, 5, 14, 7, 30, tzinfo=UTC)
    assert first.authors == ("Ann Reporter",)
    assert first.language == "en-gb"
    assert second.published_at == datetime(2024, 5, 15, 4, 0, tzinfo=UTC)


def test_atom_entries() -> None:
    entries = parse_feed(ATOM, url=FEED_URL, content_type="application/atom+xml")
    assert [e.url for e in entries] == [
        "https://news.example.com/feeds/articles/one.html",
        "https://news.example.com/articles/two.html",
    ]
    one, two = entries
    assert one.published_at == datetime(2024, 5, 14, 6, 0, tzinfo=UTC)  # published wins
    assert one.authors == ("Jeanne Auteur", "Paul Second")
    assert one.title is not None and "titre" in one.title
    assert two.published_at == datetime(2024, 5, 14, 1, 15, tzinfo=UTC)  # falls back to updated
    assert two.published_at is not None and two.published_at.tzinfo is UTC


def test_rss1_rdf_entries() -> None:
    entries = parse_feed(RSS1, url=FEED_URL)
    assert len(entries) == 1
    assert entries[0].url == "https://news.example.com/rdf/1"
    assert entries[0].title == "RDF story"
    assert entries[0].published_at == datetime(2024, 5, 14, 11, 0, tzinfo=UTC)
    assert entries[0].authors == ("Rita Rdf",)


def test_rss_091_without_namespaces() -> None:
    body = (
        b'<rss version="0.91"><channel><title>Old</title><link>http://o.example/</link>'
        b"<item><title>Hi</title><link>http://o.example/hi</link></item></channel></rss>"
    )
    assert [e.url for e in parse_feed(body, url="http://o.example/rss")] == ["http://o.example/hi"]


def test_json_feed_11() -> None:
    body = json.dumps(JSON_FEED_11).encode()
    entries = parse_feed(body, url=FEED_URL, content_type="application/feed+json")
    assert [e.url for e in entries] == [
        "https://news.example.com/json/one",
        "https://other.example.org/two",
    ]
    one, two = entries
    assert one.title == "Eins"
    assert one.authors == ("Anna", "Ben")
    assert one.language == "de"
    assert one.published_at == datetime(2024, 5, 14, 8, 0, tzinfo=UTC)
    assert two.published_at == datetime(2024, 5, 14, 8, 0, tzinfo=UTC)


def test_json_feed_10_sniffed_without_content_type() -> None:
    body = b"\n  " + json.dumps(JSON_FEED_10).encode()
    (entry,) = parse_feed(body, url=FEED_URL, content_type=None)
    assert entry.authors == ("Solo",)
    assert entry.published_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)  # naive → UTC


def test_encoding_comes_from_the_http_header() -> None:
    body = (
        '<rss version="2.0"><channel><title>Caf\xe9</title><item><title>Cr\xe8me</title>'
        "<link>https://ex.com/a</link></item></channel></rss>"
    ).encode("latin-1")
    (entry,) = parse_feed(
        body, url=FEED_URL, content_type="application/rss+xml; charset=ISO-8859-1"
    )
    assert entry.title == "Crème"


def test_empty_but_valid_feed_has_no_entries() -> None:
    body = b'<rss version="2.0"><channel><title>Quiet</title></channel></rss>'
    assert parse_feed(body, url=FEED_URL) == []


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"this is not a feed at all", "text/plain"),
        (b"", None),
        (b"\x00\x01\x02\xff\xfe garbage", None),
        (b"<html><head><title>Home</title></head><body><p>Hi</p></body></html>", "text/html"),
        (b'{"title": "json, but not a JSON Feed", "items": []}', "application/json"),
        (b"{not json", None),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": 3}', None),
    ],
)
def test_malformed_bodies_raise(body: bytes, content_type: str | None) -> None:
    with pytest.raises(FeedError) as caught:
        parse_feed(body, url=FEED_URL, content_type=content_type)
    assert caught.value.reason == "malformed"
    assert caught.value.url == FEED_URL


def test_billion_laughs_neither_expands_nor_hangs() -> None:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [{entities}]>'
        '<rss version="2.0"><channel><title>&lol9;</title>'
        "<item><title>&lol9;</title><link>https://ex.com/lol</link></item>"
        "</channel></rss>"
    ).encode()
    try:
        entries = parse_feed(body, url=FEED_URL)
    except FeedError as exc:  # failing fast is fine too
        assert exc.reason == "malformed"
        entries = []
    for entry in entries:  # 10**9 "lol"s would be 3 GB
        assert entry.title is None or len(entry.title) < 1000


def test_body_is_never_taken_for_a_file_name(tmp_path: Path) -> None:
    # feedparser.parse(bytes) would first try open(bytes): a body naming a local file
    # would be read from disk. parse_feed must treat the body as the document.
    local = tmp_path / "secret.xml"
    local.write_bytes(RSS2)
    with pytest.raises(FeedError):
        parse_feed(str(local).encode(), url=FEED_URL)
