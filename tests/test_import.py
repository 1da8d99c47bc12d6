"""``newsingest import``, run for real: seeds, HTML and WARC files, a damaged file, twice.

Every import goes through the installed console script against a SQLite file, and
what was stored is read back from it: documents, their aliases, copy clusters and
stories.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from storage.copies import CopyIndex
from storage.settings import DatabaseSettings
from storage.store import Store, open_store
from storage.stories import StoryStore
from tests.conftest import SHARED
from tests.test_cli import newsingest, write_config

SEEDS = SHARED / "seeds"

HARBOUR = "https://www.gazette.co.uk/news/harbour"
FERRY = "https://www.courier.co.uk/news/ferry"


def article_html(title: str, sentences: list[str], canonical: str | None) -> bytes:
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    paragraphs = "".join(f"<p>{s}</p>" for s in sentences)
    return (
        f"<html><head><title>{title}</title>{link}</head><body><nav><a href='/'>Home</a></nav>"
        f"<article><h1>{title}</h1>{paragraphs}</article>"
        "<footer>Copyright 2024. All rights reserved.</footer></body></html>"
    ).encode()


HARBOUR_PAGE = article_html(
    "Harbour reopens after the storm",
    [
        "The harbour reopened on Monday after a storm closed it for three days, the port "
        "authority said in a statement on Monday evening.",
        "Fishing boats returned to their moorings in the morning, and the ferry to the "
        "islands resumed at noon after engineers inspected the breakwater overnight.",
        "The harbour master said the damage to the outer wall was minor and would be "
        "repaired before the winter storms arrive in November.",
    ],
    HARBOUR,
)
FERRY_PAGE = article_html(
    "New ferry timetable starts in spring",
    [
        "A new ferry timetable starts in March with crossings every forty minutes, the "
        "island council announced on Tuesday after months of consultation.",
        "Commuters had asked for an earlier first sailing, and the council agreed to add "
        "a crossing at six in the morning on weekdays throughout the year.",
        "Fares stay the same for residents, while visitors will pay one pound more for a "
        "return ticket bought on board rather than online.",
    ],
    None,
)
LIBRARY_PAGE = article_html(
    "Library extends its opening hours",
    [
        "The town library will open until nine in the evening from next month, the "
        "council said, after a survey of more than two thousand residents.",
        "Students asked for longer hours during the exam season, and the library will "
        "also open on Sunday afternoons between October and June.",
        "Two new staff members will be hired, paid for by a grant from the regional "
        "education fund that was approved by councillors last week.",
    ],
    None,
)


def write_warc(path: Path) -> None:
    """A WARC with the harbour story met under its mobile URL, the ferry story and an image."""
    records = [
        (HARBOUR.replace("www.", "m.") + "?utm_source=app", HARBOUR_PAGE, "text/html"),
        (FERRY, FERRY_PAGE, "text/html; charset=utf-8"),
        ("https://www.courier.co.uk/logo.png", b"\x89PNG\r\n", "image/png"),
    ]
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for uri, body, content_type in records:
            headers = StatusAndHeaders("200 OK", [("Content-Type", content_type)], "HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(
                    uri, "response", payload=BytesIO(body), http_headers=headers
                )
            )


@contextmanager
def opened(database: Path) -> Iterator[Store]:
    store = open_store(DatabaseSettings(url=f"sqlite:///{database}"))
    try:
        yield store
    finally:
        store.dispose()


def config(tmp_path: Path, **extra: object) -> Path:
    return write_config(
        tmp_path / "newsingest.toml",
        {
            "database": {"url": f"sqlite:///{tmp_path / 'news.db'}"},
            "pipeline": {"workers": 1},
            **extra,
        },
    )


def table_row(stdout: str, source: str) -> list[str]:
    """The cells of the summary table's row for ``source``."""
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if cells and cells[0] == source:
            return cells
    raise AssertionError(f"no row for {source!r} in:\n{stdout}")


@pytest.mark.skipif(not SEEDS.is_dir(), reason=f"shared seeds not found at {SEEDS}")
def test_the_seeds_become_five_documents_one_story_five_copy_clusters(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    cfg = config(tmp_path)

    first = newsingest("--config", cfg, "import", seeds, cwd=tmp_path, timeout=300)
    assert first.returncode == 0, first.stderr
    # source status found new fetched stored updated unchanged failed skipped seconds
    row = table_row(first.stdout, "import")
    assert row[1:8] == ["ok", "5", "5", "5", "5", "0", "0"]
    assert row[9] == "unsupported_file 1"  # labels.json

    with opened(tmp_path / "news.db") as store:
        documents = list(store.documents("import"))
        assert len(documents) == 5
        assert {d.url for d in documents} == {
            (seeds / n).resolve().as_uri() for n in sorted(p.name for p in seeds.glob("*.txt"))
        }
        by_name = {d.url.rsplit("/", 1)[1]: d for d in documents}
        # The seeds' leftover boilerplate went through the same cleaning.
        assert "first Drop" not in (by_name["002_f8f31cfa6756e2bb.txt"].text or "")
        assert "[Generative AI is experimental.]" not in (
            by_name["004_7f54ddbf018cabb4.txt"].text or ""
        )
        urls = [d.url for d in documents]
        assert len(set(CopyIndex(store.engine).copies_of(urls).values())) == 5
        stories = StoryStore(store.engine).story_ids(urls)
        assert len(stories) == 5 and len(set(stories.values())) == 1

    second = newsingest("--config", cfg, "import", seeds, cwd=tmp_path, timeout=300)
    assert second.returncode == 0, second.stderr
    assert table_row(second.stdout, "import")[1:8] == ["ok", "5", "0", "5", "0", "0", "5"]
    with opened(tmp_path / "news.db") as store:
        assert store.count_documents(status=None) == 5


def test_html_and_warc_files_share_identity_and_dedup_and_a_damaged_file_is_named(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "archive"
    (archive / "pages").mkdir(parents=True)
    saved = archive / "pages" / "harbour.html"
    saved.write_bytes(HARBOUR_PAGE)
    library = archive / "pages" / "library.htm"
    library.write_bytes(LIBRARY_PAGE)
    write_warc(archive / "crawl.warc.gz")
    broken = archive / "broken.warc.gz"
    broken.write_bytes((archive / "crawl.warc.gz").read_bytes()[:-100])
    cfg = config(tmp_path)

    done = newsingest(
        "--config", cfg, "import", archive, "--source", "archive", cwd=tmp_path, timeout=300
    )
    # One file was damaged: named on stderr in one line, exit status 1, the rest stored.
    assert done.returncode == 1, done.stderr
    assert f"newsingest import: {broken}: damaged after" in done.stderr
    assert "Traceback" not in done.stderr
    row = table_row(done.stdout, "archive")
    assert row[8] == "bad_archive 1"
    assert row[9].startswith("not_html")  # the image (and its copy, if intact)

    with opened(tmp_path / "news.db") as store:
        documents = {d.url: d for d in store.documents("archive")}
        # The harbour story, met in the saved file, the WARC and the damaged WARC under
        # three URLs, is one document under its canonical URL.
        assert set(documents) == {HARBOUR, FERRY, library.resolve().as_uri()}
        for variant in (saved.resolve().as_uri(), "https://m.gazette.co.uk/news/harbour"):
            found = store.document(variant)
            assert found is not None and found.url == HARBOUR
        assert store.count_documents(status=None) == 3
        ferry = documents[FERRY]
        assert ferry.title == "New ferry timetable starts in spring"
        assert "Copyright" not in (ferry.text or "")

    again = newsingest(
        "--config", cfg, "import", archive, "--source", "archive", cwd=tmp_path, timeout=300
    )
    assert again.returncode == 1
    row = table_row(again.stdout, "archive")
    # Stored, updated, unchanged: each of the three documents once, however often met.
    assert row[5:8] == ["0", "0", "3"]
    with opened(tmp_path / "news.db") as store:
        assert store.count_documents(status=None) == 3


def test_a_files_source_in_the_config_is_crawled_like_any_other(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "library.html").write_bytes(LIBRARY_PAGE)
    cfg = config(tmp_path, sources=[{"id": "local", "kind": "files", "path": str(pages)}])
    done = newsingest("--config", cfg, "crawl", "local", cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert table_row(done.stdout, "local")[1:6] == ["ok", "1", "1", "1", "1"]
    with opened(tmp_path / "news.db") as store:
        [doc] = store.documents("local")
        assert doc.url == (pages / "library.html").resolve().as_uri()
        assert doc.title == "Library extends its opening hours"

    # Importing into a source that is not a files source is refused in one sentence.
    feed = config(tmp_path, sources=[{"id": "news", "kind": "feed", "url": "http://127.0.0.1/"}])
    refused = newsingest("--config", feed, "import", pages, "--source", "news", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        "newsingest: source 'news' is a feed source in the config; "
        "import into a files source or under a new id (--source)"
    )
    bad_id = newsingest("--config", cfg, "import", pages, "--source", "no spaces", cwd=tmp_path)
    assert bad_id.returncode == 2
    assert "'no spaces' is not a source id" in bad_id.stderr
    missing = newsingest("--config", cfg, "import", tmp_path / "nowhere", cwd=tmp_path)
    assert missing.returncode == 2 and "nowhere" in missing.stderr
