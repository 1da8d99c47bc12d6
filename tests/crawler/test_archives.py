"""crawler.archives: local HTML, text and WARC files read into fetched pages."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.archives import (
    ArchiveError,
    ArchiveItem,
    ArchiveSkip,
    archive_files,
    file_url,
    read_archives,
)
from crawler.records import FetchedPage

PAGE = b"<html><head><title>Harbour</title></head><body><p>Storm closes harbour.</p></body></html>"


def pages(items: list[ArchiveItem]) -> list[FetchedPage]:
    return [i for i in items if isinstance(i, FetchedPage)]


def write_warc(path: Path, records: list[tuple[str, str, bytes, str, int]]) -> None:
    """A WARC with one response record (plus its request) per (type, URI, body, content
    type, status); type "resource" writes a resource record, "revisit" a revisit."""
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=path.name.endswith(".gz"))
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "tests"}))
        for kind, uri, body, content_type, status in records:
            if kind == "resource":
                record = writer.create_warc_record(
                    uri,
                    "resource",
                    payload=BytesIO(body),
                    warc_content_type=content_type,
                    warc_headers_dict={"WARC-Date": "2024-10-21T08:30:00Z"},
                )
            elif kind == "revisit":
                record = writer.create_revisit_record(
                    uri,
                    digest="sha1:AAAA",
                    refers_to_uri=uri,
                    refers_to_date="2024-10-20T00:00:00Z",
                )
            else:
                headers = StatusAndHeaders(
                    f"{status} X", [("Content-Type", content_type)], protocol="HTTP/1.1"
                )
                request = writer.create_warc_record(
                    uri,
                    "request",
                    http_headers=StatusAndHeaders("GET / HTTP/1.1", [], is_http_request=True),
                )
                writer.write_record(request)
                record = writer.create_warc_record(
                    uri,
                    "response",
                    payload=BytesIO(body),
                    http_headers=headers,
                    warc_headers_dict={"WARC-Date": "2024-10-21T08:30:00Z"},
                )
            writer.write_record(record)


def test_directories_are_walked_recursively_in_a_stable_order(tmp_path: Path) -> None:
    for name in ("b/2.html", "b/1.txt", "a.htm", "c/d/e.warc.gz", ".hidden/x.html", "b/.x.html"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found = [p.relative_to(tmp_path).as_posix() for p in archive_files([tmp_path])]
    assert found == ["a.htm", "b/1.txt", "b/2.html", "c/d/e.warc.gz"]
    # A file named directly is read whatever its name.
    assert list(archive_files([tmp_path / "b" / ".x.html"])) == [tmp_path / "b" / ".x.html"]


def test_html_and_text_files_become_pages_under_their_file_uri(tmp_path: Path) -> None:
    html = tmp_path / "story.html"
    html.write_bytes(
        '<html><head><meta charset="iso-8859-1"></head><body><p>Café</p></body></html>'.encode(
            "latin-1"
        )
    )
    text = tmp_path / "story.txt"
    text.write_text("Headline\n\nBody text.", encoding="utf-8")
    legacy = tmp_path / "legacy.txt"
    legacy.write_bytes("Ærøskøbing ferry cancelled.".encode("cp1252"))
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeffWith a byte-order mark.".encode("utf-16-le"))

    found = {Path(p.url).name: p for p in pages(list(read_archives([tmp_path], "local")))}
    assert set(found) == {"story.html", "story.txt", "legacy.txt", "bom.txt"}
    page = found["story.html"]
    assert page.url == page.final_url == file_url(html) == html.resolve().as_uri()
    assert page.url.startswith("file:///")
    assert page.source == "local" and page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.body.decode(page.encoding or "utf-8").count("Café") == 1
    assert found["story.txt"].headers["content-type"].startswith("text/plain")
    assert found["story.txt"].encoding == "utf-8"
    legacy_page = found["legacy.txt"]
    assert legacy_page.body.decode(legacy_page.encoding or "") == "Ærøskøbing ferry cancelled."
    bom_page = found["bom.txt"]
    assert bom_page.body.decode(bom_page.encoding or "").lstrip("\ufeff") == (
        "With a byte-order mark."
    )


def test_other_files_are_skipped_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "labels.json").write_text("{}")
    (tmp_path / "big.html").write_bytes(b"<p>" + b"x" * 5000 + b"</p>")
    items = list(read_archives([tmp_path], "local", max_bytes=4096))
    assert [(i.path.name, i.reason) for i in items if isinstance(i, ArchiveSkip)] == [
        ("big.html", "too_large"),
        ("labels.json", "unsupported_file"),
    ]
    assert not pages(items)


def test_a_warc_gives_its_html_responses_and_counts_the_rest(tmp_path: Path) -> None:
    warc = tmp_path / "crawl.warc.gz"
    write_warc(
        warc,
        [
            (
                "response",
                "https://WWW.Example.com:443/news/a?utm_source=x#top",
                PAGE,
                "text/html; charset=utf-8",
                200,
            ),
            ("response", "https://www.example.com/logo.png", b"\x89PNG", "image/png", 200),
            ("response", "https://www.example.com/gone", b"<p>gone</p>", "text/html", 404),
            ("resource", "https://www.example.com/saved", PAGE, "text/html", 200),
            ("revisit", "https://www.example.com/news/a", b"", "", 200),
            ("response", "ftp://example.com/x.html", PAGE, "text/html", 200),
        ],
    )
    items = list(read_archives([warc], "warc"))
    found = pages(items)
    assert [p.url for p in found] == [
        "https://www.example.com/news/a",
        "https://www.example.com/saved",
    ]
    first = found[0]
    assert first.body == PAGE and first.encoding == "utf-8" and first.status == 200
    assert first.fetched_at == datetime(2024, 10, 21, 8, 30, tzinfo=UTC)
    assert first.headers["content-type"] == "text/html; charset=utf-8"
    skips = sorted(i.reason for i in items if isinstance(i, ArchiveSkip))
    assert skips == ["bad_url", "http_404", "not_html", "revisit"]
    assert not [i for i in items if isinstance(i, ArchiveError)]


def test_an_uncompressed_warc_reads_the_same(tmp_path: Path) -> None:
    warc = tmp_path / "crawl.warc"
    write_warc(warc, [("response", "http://example.org/a", PAGE, "application/xhtml+xml", 200)])
    assert [p.url for p in pages(list(read_archives([warc], "warc")))] == ["http://example.org/a"]


def test_a_damaged_warc_keeps_its_good_records_names_the_file_and_the_rest_go_on(
    tmp_path: Path,
) -> None:
    good = tmp_path / "a-good.warc.gz"
    write_warc(
        good, [("response", f"http://example.org/{i}", PAGE, "text/html", 200) for i in range(3)]
    )
    data = good.read_bytes()
    truncated = tmp_path / "b-truncated.warc.gz"
    truncated.write_bytes(data[: len(data) - 200])
    garbage = tmp_path / "c-garbage.warc"
    garbage.write_bytes(b"this is not a WARC file\n" * 10)
    not_gzip = tmp_path / "d-notgzip.warc.gz"
    not_gzip.write_bytes(gzip.compress(b"WARC/1.0\r\nbroken")[:-8])
    html = tmp_path / "e.html"
    html.write_bytes(PAGE)
    dangling = tmp_path / "f.html"
    dangling.symlink_to(tmp_path / "missing.html")

    items = list(read_archives([tmp_path], "warc"))
    errors = [i for i in items if isinstance(i, ArchiveError)]
    assert [(e.path.name, e.reason) for e in errors] == [
        ("b-truncated.warc.gz", "bad_archive"),
        ("c-garbage.warc", "bad_archive"),
        ("d-notgzip.warc.gz", "bad_archive"),
        ("f.html", "unreadable_file"),
    ]
    assert all(str(e).startswith(str(e.path)) for e in errors)
    assert errors[0].detail.startswith("damaged after 2 records")
    assert errors[1].detail.startswith("not a WARC or ARC file")
    assert "\n" not in "".join(e.detail for e in errors)
    # Every record of the good file, the truncated file's intact ones, and the HTML file.
    good_urls = [f"http://example.org/{i}" for i in range(3)]
    assert [p.url for p in pages(items)] == [*good_urls, *good_urls[:2], file_url(html)]
