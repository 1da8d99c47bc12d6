"""``newsingest backfill FILE|-``, run for real against a local site and a real database.

Every test runs the console script in a subprocess (stderr is a pipe, not a terminal,
so progress comes as plain lines) and asserts on what the site served: a page fetched
twice would show in its hit count.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from storage.backfill import BackfillStore
from storage.settings import DatabaseSettings
from storage.store import open_store
from tests.test_cli import (
    NEWSINGEST,
    article,
    assert_one_line_error,
    cli_env,
    newsingest,
    quick_config,
    table_row,
    write_config,
)
from tests.webserver import LocalServer, slow


@pytest.fixture
def site() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


def publish(site: LocalServer, count: int, *, delay: float = 0.0) -> list[str]:
    """Serve ``count`` article pages at /p/<n>.html; return their URLs."""
    urls = []
    for n in range(count):
        page = article(f"Backfilled story number {n}")
        site.add(f"/p/{n}.html", slow(delay, page) if delay else page)
        urls.append(site.url(f"/p/{n}.html"))
    return urls


def write_list(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def config_for(tmp_path: Path, database_url: str, **crawl: object) -> Path:
    config = quick_config(database_url, [])
    config["crawl"].update(crawl)
    return write_config(tmp_path / "newsingest.toml", config)


def status_row(config: Path, source: str) -> dict[str, object]:
    done = newsingest("-c", config, "status", "--json")
    assert done.returncode == 0, done.stderr
    rows = {row["source"]: row for row in json.loads(done.stdout)}
    return dict(rows[source])


@pytest.mark.slow
def test_backfill_stores_canonical_urls_once_and_skips_what_is_stored(
    site: LocalServer, database_url: str, tmp_path: Path
) -> None:
    urls = publish(site, 6)
    config = config_for(tmp_path, database_url)
    first = write_list(
        tmp_path / "first.txt",
        [
            "# the first three, spelled the way archives spell them",
            urls[0] + "?utm_source=archive",
            urls[1].replace("http://127.0.0.1", "HTTP://127.0.0.1"),
            urls[2],
            urls[2] + "#comments",  # the same page again
            "http://127.0.0.1:1/dead-host.html",  # nothing listens there
        ],
    )
    done = newsingest("-c", config, "backfill", first, "--chunk-size", "2", timeout=180)
    assert done.returncode == 0, done.stderr
    assert [site.hits(f"/p/{n}.html") for n in range(6)] == [1, 1, 1, 0, 0, 0]
    cells = table_row(done.stdout, "backfill")
    # status, found (the repeated page once), new, fetched, stored
    assert cells[1:6] == ["ok", "4", "4", "3", "3"]
    assert table_row(done.stdout, "connection")[1:3] == ["1", "failed"]
    assert "Reached the end of" in done.stdout

    # A second list naming the same pages differently fetches only the new ones.
    second = write_list(
        tmp_path / "second.txt",
        [urls[0], urls[1] + "?utm_medium=email", urls[2], *urls[3:]],
    )
    done = newsingest("-c", config, "backfill", second, timeout=180)
    assert done.returncode == 0, done.stderr
    assert [site.hits(f"/p/{n}.html") for n in range(6)] == [1, 1, 1, 1, 1, 1]
    assert table_row(done.stdout, "backfill")[1:6] == ["ok", "6", "3", "3", "3"]

    # status shows the source and its documents.
    row = status_row(config, "backfill")
    assert row["kind"] == "urls" and row["documents"] == 6
    assert row["last_run_status"] == "ok"


@pytest.mark.slow
def test_bad_lines_are_counted_with_their_numbers_and_never_fatal(
    site: LocalServer, sqlite_url: str, tmp_path: Path
) -> None:
    urls = publish(site, 2)
    bad = [f"gopher://example.org/{n}" for n in range(23)]
    listing = write_list(
        tmp_path / "list.txt",
        [urls[0], "", "ftp://example.org/file.txt", "just words", *bad, urls[1]],
    )
    done = newsingest(
        "-c",
        config_for(tmp_path, sqlite_url),
        "backfill",
        listing,
        "--progress-every",
        "0.2",
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert [site.hits(f"/p/{n}.html") for n in range(2)] == [1, 1]
    assert "26 bad lines (not fetched):" in done.stdout
    assert "line 2: '' (empty)" in done.stdout
    assert "line 3: 'ftp://example.org/file.txt' (scheme 'ftp' is not http or https)" in done.stdout
    assert "line 4: 'just words' (not an absolute URL)" in done.stdout
    assert "line 21: 'gopher://example.org/16'" in done.stdout  # the 20th listed
    assert "line 22:" not in done.stdout
    assert "... and 6 more" in done.stdout
    assert "bad_url_line 26" in table_row(done.stdout, "backfill")[8]
    # stderr is not a terminal: plain progress lines, the last one at the end of the list.
    progress = [line for line in done.stderr.splitlines() if line.startswith("backfill: ")]
    assert progress, done.stderr
    assert progress[-1].startswith("backfill: line 28 of 28 (100%)")
    assert "stored 2," in progress[-1] and "bad lines 26" in progress[-1]


@contextlib.contextmanager
def running(args: list[str], log: Path) -> Iterator[subprocess.Popen[str]]:
    """Start ``args`` in its own process group; kill whatever is left afterwards."""
    with log.open("w") as err:
        proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=cli_env(),
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def wait_for(condition: Callable[[], object], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_an_interrupted_backfill_resumes_without_fetching_any_page_twice(
    site: LocalServer, sqlite_url: str, tmp_path: Path
) -> None:
    urls = publish(site, 12, delay=0.5)
    config = config_for(tmp_path, sqlite_url, concurrency_per_domain=2)
    listing = write_list(tmp_path / "list.txt", urls)
    args = [str(NEWSINGEST), "-c", str(config), "backfill", str(listing), "--chunk-size", "4"]

    with running(args, tmp_path / "first.log") as proc:
        wait_for(lambda: site.hits("/p/0.html") or site.hits("/p/1.html"), "the first page")
        proc.send_signal(signal.SIGINT)  # the first Ctrl-C: finish the chunk in hand
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, (tmp_path / "first.log").read_text()
    assert "Stopped: lines up to 4 of" in out
    assert table_row(out, "backfill")[1] == "interrupted"
    assert [site.hits(f"/p/{n}.html") for n in range(12)] == [1] * 4 + [0] * 8

    store = open_store(DatabaseSettings(url=sqlite_url))
    try:
        recorded = BackfillStore(store.engine).progress(str(listing.resolve()))
        assert recorded is not None and recorded.lines_done == 4 and recorded.finished_at is None
    finally:
        store.dispose()

    done = newsingest("-c", config, "backfill", listing, "--chunk-size", "4", timeout=180)
    assert done.returncode == 0, done.stderr
    assert "Reached the end of" in done.stdout
    assert [site.hits(f"/p/{n}.html") for n in range(12)] == [1] * 12
    # It read only the lines after the stored chunk.
    assert table_row(done.stdout, "backfill")[2] == "8"

    # Run once more: the list is done, nothing is read or fetched.
    again = newsingest("-c", config, "backfill", listing, timeout=180)
    assert again.returncode == 0, again.stderr
    assert table_row(again.stdout, "backfill")[2] == "0"
    assert len(site.requests) == 12 + site.hits("/robots.txt")


@pytest.mark.slow
def test_backfill_reads_stdin_and_skips_what_is_stored_there_too(
    site: LocalServer, sqlite_url: str, tmp_path: Path
) -> None:
    urls = publish(site, 3)
    config = config_for(tmp_path, sqlite_url)
    args = [str(NEWSINGEST), "-c", str(config), "backfill", "-", "--source", "archive"]
    for _ in range(2):
        done = subprocess.run(
            args,
            input="\n".join([*urls, "file:///etc/passwd"]) + "\n",
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=180,
        )
        assert done.returncode == 0, done.stderr
        assert "line 4: 'file:///etc/passwd'" in done.stdout
        assert "Read from stdin" in done.stdout
    assert [site.hits(f"/p/{n}.html") for n in range(3)] == [1, 1, 1]
    assert table_row(done.stdout, "archive")[1:4] == ["ok", "3", "0"]


def test_a_missing_list_is_one_clear_sentence(sqlite_url: str, tmp_path: Path) -> None:
    config = config_for(tmp_path, sqlite_url)
    done = newsingest("-c", config, "backfill", tmp_path / "nowhere.txt")
    assert_one_line_error(done, "nowhere.txt", "cannot read URL list")


def test_a_source_of_another_kind_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    config = quick_config(
        sqlite_url, [{"id": "wire", "kind": "feed", "url": "http://127.0.0.1:1/feed.xml"}]
    )
    path = write_config(tmp_path / "newsingest.toml", config)
    listing = write_list(tmp_path / "list.txt", ["http://example.org/a"])
    done = newsingest("-c", path, "backfill", listing, "--source", "wire")
    assert_one_line_error(done, "'wire'", "--source")
    bad_id = newsingest("-c", path, "backfill", listing, "--source", "no spaces please")
    assert_one_line_error(bad_id, "'no spaces please'")


def test_a_list_shorter_than_its_recorded_progress_asks_for_restart(
    sqlite_url: str, tmp_path: Path
) -> None:
    config = config_for(tmp_path, sqlite_url)
    listing = write_list(tmp_path / "list.txt", ["http://example.org/a", "http://example.org/b"])
    store = open_store(DatabaseSettings(url=sqlite_url))
    try:
        BackfillStore(store.engine).record(
            str(listing.resolve()),
            source_id="backfill",
            path="list.txt",
            lines_done=500,
            bad_lines=0,
        )
    finally:
        store.dispose()
    done = newsingest("-c", config, "backfill", listing)
    assert_one_line_error(done, str(listing), "--restart")
