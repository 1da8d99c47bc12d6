"""Reading URL lists: canonical URLs, bad lines with their numbers, streaming, resuming."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from crawler.records import FeedEntry
from crawler.urllist import BadLine, ListedURL, URLListReader, count_lines, read_url_list

LIST = """\
# exported from the archive
https://Example.ORG/news/one.html?utm_source=rss
http://example.org:80/news/./two.html

ftp://example.org/files/three.txt
not a url at all
https://example.org/news/four.html
"""


def test_lines_become_canonical_urls_and_numbered_bad_lines() -> None:
    items = list(URLListReader(io.StringIO(LIST), blank_is_bad=True))
    assert items == [
        ListedURL(line_no=2, url="https://example.org/news/one.html"),
        ListedURL(line_no=3, url="http://example.org/news/two.html"),
        BadLine(line_no=4, text="", why="empty"),
        BadLine(
            line_no=5,
            text="ftp://example.org/files/three.txt",
            why="scheme 'ftp' is not http or https",
        ),
        BadLine(line_no=6, text="not a url at all", why="not an absolute URL"),
        ListedURL(line_no=7, url="https://example.org/news/four.html"),
    ]


def test_blank_lines_are_skipped_unless_asked() -> None:
    items = list(URLListReader(io.StringIO(LIST)))
    assert [i.line_no for i in items] == [2, 3, 5, 6, 7]


def test_start_after_resumes_with_the_files_line_numbers() -> None:
    reader = URLListReader(io.StringIO(LIST), start_after=5)
    items = list(reader)
    assert [i.line_no for i in items] == [6, 7]
    assert reader.lines_read == 7


def test_lines_read_counts_a_list_that_ends_before_the_resume_point() -> None:
    reader = URLListReader(io.StringIO(LIST), start_after=100)
    assert list(reader) == []
    assert reader.lines_read == 7


def test_lines_read_follows_the_reader_and_counts_comments() -> None:
    reader = URLListReader(io.StringIO("# a\nhttp://a.example/1\n# trailing\n"))
    iterator = iter(reader)
    assert next(iterator) == ListedURL(line_no=2, url="http://a.example/1")
    assert reader.lines_read == 2
    assert list(iterator) == []
    assert reader.lines_read == 3


def test_the_list_is_streamed_not_loaded() -> None:
    consumed = 0

    def endless() -> Iterator[str]:
        nonlocal consumed
        while True:
            consumed += 1
            yield f"http://example.org/{consumed}\n"

    iterator = iter(URLListReader(endless()))
    first = [next(iterator) for _ in range(3)]
    assert [i.line_no for i in first] == [1, 2, 3]
    assert consumed == 3


def test_read_url_list_reads_a_file_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes("\ufeffhttp://example.org/a\r\nmailto:x@example.org\r\n".encode())
    assert list(read_url_list(path)) == [
        FeedEntry(url="http://example.org/a"),
        BadLine(line_no=2, text="mailto:x@example.org", why="scheme 'mailto' is not http or https"),
    ]


def test_count_lines(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(b"")
    assert count_lines(path) == 0
    path.write_bytes(b"a\nb\n")
    assert count_lines(path) == 2
    path.write_bytes(b"a\nb")  # no final newline: the last line still counts
    assert count_lines(path) == 2
    path.write_bytes(b"x\n" * 5000)
    assert count_lines(path, block_size=7) == 5000
