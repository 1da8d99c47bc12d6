"""The ``newsingest`` command line, run for real: config files, database commands, crawl.

Every test runs the installed console script in a subprocess with a TOML file written
to tmp_path, so what is tested is what a user types: exit statuses, the one-line
error on stderr, and the tables on stdout.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.webserver import LocalServer, Route, html_page, status_page

NEWSINGEST = Path(sys.executable).parent / "newsingest"

STORY = (
    "The harbour authority opened the new ferry terminal on Monday after three years of "
    "building work. Commuters said the crossing now takes twelve minutes instead of forty, "
    "and the old quay will become a market with room for sixty stalls and a playground. "
)


# -- helpers shared with test_run.py ---------------------------------------------------


def toml_value(value: Any) -> str:
    """A TOML literal for a str, bool, int or float (JSON strings are TOML basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def write_config(path: Path, config: Mapping[str, Any]) -> Path:
    """Write ``config`` (top-level keys, [sections] and [[sources]]) as a TOML file."""
    lines = [f"{k} = {toml_value(v)}" for k, v in config.items() if not isinstance(v, dict | list)]
    for name, section in config.items():
        if isinstance(section, dict):
            lines += ["", f"[{name}]", *(f"{k} = {toml_value(v)}" for k, v in section.items())]
    for source in config.get("sources", []):
        lines += ["", "[[sources]]", *(f"{k} = {toml_value(v)}" for k, v in source.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def quick_config(
    database_url: str, sources: Sequence[Mapping[str, Any]], **database: Any
) -> dict[str, Any]:
    """A config that crawls a local server fast: no delays, one extraction worker."""
    return {
        "database": {"url": database_url, **database},
        "crawl": {"delay": 0, "autothrottle": False, "timeout": 2, "retries": 0},
        "pipeline": {"workers": 1, "min_text_chars": 100},
        "sources": list(sources),
    }


def cli_env() -> dict[str, str]:
    """The environment for a child: no NEWSINGEST_* overrides, a wide table console."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    env.update(COLUMNS="200", PYTHONUNBUFFERED="1", NO_COLOR="1")
    return env


def newsingest(
    *args: str | Path, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the console script to completion."""
    return subprocess.run(
        [str(NEWSINGEST), *map(str, args)],
        capture_output=True,
        text=True,
        env=cli_env(),
        cwd=cwd,
        timeout=timeout,
    )


def rss(items: Sequence[tuple[str, str]]) -> bytes:
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link>"
        "<pubDate>Mon, 21 Oct 2024 08:00:00 GMT</pubDate></item>"
        for title, link in items
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour News</title>'
        f"{body}</channel></rss>"
    ).encode()


def article(title: str) -> Route:
    """An article page with well over 300 characters of body text."""
    return html_page(title, STORY * 2 + title)


def serve_feed(server: LocalServer, titles: Sequence[str], missing: Sequence[str] = ()) -> str:
    """Serve /feed.xml listing an article per title (plus 404 links); return its URL."""
    items = []
    for i, title in enumerate(titles):
        path = f"/news/{i}.html"
        server.add(path, article(title))
        items.append((title, server.url(path)))
    for name in missing:
        path = f"/news/{name}.html"
        server.add(path, status_page(404))
        items.append((name, server.url(path)))
    server.add("/feed.xml", Route(body=rss(items), headers={"Content-Type": "application/rss+xml"}))
    return server.url("/feed.xml")


def assert_one_line_error(result: subprocess.CompletedProcess[str], *names: str) -> str:
    """Exit status 2 and a single ``newsingest:`` line naming each of ``names``."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("newsingest: ")
    for name in names:
        assert name in lines[0]
    return lines[0]


def table_row(output: str, first_cell: str) -> list[str]:
    """The cells of the rich table row whose first cell is ``first_cell``."""
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃").split("│")]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in:\n{output}")


def table_header(output: str) -> list[str]:
    for line in output.splitlines():
        if "┃" in line:
            return [c.strip() for c in line.strip().strip("┃").split("┃")]
    raise AssertionError(f"no table header in:\n{output}")


def column(row: dict[str, str], prefix: str) -> str:
    """The cell whose header starts with ``prefix`` (headers gain detail over time)."""
    [value] = [v for k, v in row.items() if k.startswith(prefix)]
    return value


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "news.db"


# -- configuration errors -------------------------------------------------------------


FEED = {"id": "harbour", "kind": "feed", "url": "http://127.0.0.1:9/feed.xml"}


@pytest.mark.parametrize(
    ("config", "names"),
    [
        pytest.param({"crawl": {"dealy": 1}}, ["crawl.dealy", "unknown key"], id="unknown-key"),
        pytest.param(
            {"sources": [{**FEED, "url": "ftp://127.0.0.1/feed.xml"}]},
            ["sources['harbour'].url", "ftp://127.0.0.1/feed.xml"],
            id="bad-feed-url",
        ),
        pytest.param(
            {"sources": [{**FEED, "interval": "every hour"}]},
            ["sources['harbour'].interval", "every hour"],
            id="bad-interval",
        ),
        pytest.param(
            {"sources": [{**FEED, "cron": "at noon"}]},
            ["sources['harbour'].cron", "at noon"],
            id="bad-cron",
        ),
        pytest.param(
            {"sources": [{"id": "backfill", "kind": "urls", "path": "no-such-list.txt"}]},
            ["sources['backfill']", "no-such-list.txt", "does not exist"],
            id="missing-url-list",
        ),
    ],
)
def test_bad_config_is_one_line_naming_the_field(
    tmp_path: Path, db_file: Path, config: dict[str, Any], names: list[str]
) -> None:
    path = write_config(
        tmp_path / "bad.toml", {"database": {"url": f"sqlite:///{db_file}"}, **config}
    )
    result = newsingest("--config", path, "status")
    line = assert_one_line_error(result, *names)
    assert str(path) in line  # which file
    assert not db_file.exists()  # refused before touching the database


def test_invalid_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[database]\nurl = "sqlite:///x.db\n', encoding="utf-8")
    result = newsingest("--config", path, "crawl")
    assert_one_line_error(result, str(path), "not valid TOML", "line 2")


def test_missing_config_file_says_it_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "newsingest.toml"
    result = newsingest("--config", missing, "run")
    assert_one_line_error(result, str(missing), "does not exist")


def test_run_without_sources_is_refused(tmp_path: Path, db_file: Path) -> None:
    path = write_config(tmp_path / "empty.toml", {"database": {"url": f"sqlite:///{db_file}"}})
    assert_one_line_error(newsingest("--config", path, "run"), "no sources are configured")


# -- database commands -----------------------------------------------------------------


def test_db_upgrade_creates_the_schema_and_db_current_agrees(tmp_path: Path, db_file: Path) -> None:
    path = write_config(tmp_path / "db.toml", {"database": {"url": f"sqlite:///{db_file}"}})

    before = newsingest("--config", path, "db", "current")
    assert before.returncode == 0, before.stderr
    assert before.stdout.startswith("database: empty; code: ")

    upgraded = newsingest("--config", path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    head = upgraded.stdout.strip().rsplit("-> ", 1)[1]
    assert upgraded.stdout.startswith("database schema: empty -> ")
    with sqlite3.connect(db_file) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sources", "documents", "runs", "fetch_state", "alembic_version"} <= tables

    current = newsingest("--config", path, "db", "current")
    assert current.returncode == 0, current.stderr
    assert current.stdout.strip() == f"database: {head}; code: {head}"

    again = newsingest("--config", path, "db", "upgrade")  # a no-op at head
    assert again.returncode == 0 and again.stdout.strip() == f"database schema: {head} -> {head}"


def test_empty_database_is_created_even_without_auto_migrate(tmp_path: Path, db_file: Path) -> None:
    # storage.migrate.ensure_schema creates an empty database whatever auto_migrate says
    # (nothing can be lost); auto_migrate = false only guards a database behind head.
    path = write_config(
        tmp_path / "db.toml",
        {"database": {"url": f"sqlite:///{db_file}", "auto_migrate": False}, "sources": [FEED]},
    )
    result = newsingest("--config", path, "status")
    assert result.returncode == 0, result.stderr
    assert "Sources" in result.stdout
    current = newsingest("--config", path, "db", "current")
    database, code = current.stdout.strip().removeprefix("database: ").split("; code: ")
    assert database == code


def test_database_from_a_newer_newsingest_is_refused(tmp_path: Path, db_file: Path) -> None:
    path = write_config(
        tmp_path / "db.toml",
        {"database": {"url": f"sqlite:///{db_file}", "auto_migrate": False}},
    )
    assert newsingest("--config", path, "db", "upgrade").returncode == 0
    with sqlite3.connect(db_file) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffff_from_the_future'")

    result = newsingest("--config", path, "status")
    assert_one_line_error(result, str(db_file), "ffff_from_the_future", "upgrade newsingest")
    # db upgrade cannot go back in time either: the same sentence, not Alembic's traceback.
    upgrade = newsingest("--config", path, "db", "upgrade")
    assert_one_line_error(upgrade, str(db_file), "ffff_from_the_future", "upgrade newsingest")


def test_unreachable_database_is_one_sentence_with_the_password_masked(tmp_path: Path) -> None:
    url = "postgresql+psycopg://postgres:s3cret@127.0.0.1:1/x"
    path = write_config(tmp_path / "pg.toml", {"database": {"url": url}})
    for command in (["status"], ["db", "current"], ["db", "upgrade"]):
        result = newsingest("--config", path, *command, timeout=30)
        line = assert_one_line_error(result, "postgresql+psycopg://postgres:***@127.0.0.1:1/x")
        assert "s3cret" not in result.stderr
        assert "check database.url" in line


# -- crawl and status --------------------------------------------------------------------


def test_crawl_prints_counts_stores_once_and_status_shows_documents(
    tmp_path: Path, database_url: str
) -> None:
    with LocalServer() as server:
        feed_url = serve_feed(server, ["Ferry terminal opens", "Quay becomes a market"], ["gone"])
        path = write_config(
            tmp_path / "news.toml",
            quick_config(database_url, [{"id": "harbour", "kind": "feed", "url": feed_url}]),
        )

        first = newsingest("--config", path, "crawl")
        assert first.returncode == 0, first.stderr
        header = table_header(first.stdout)
        row = dict(zip(header, table_row(first.stdout, "harbour"), strict=True))
        assert row["status"] == "ok"
        assert (row["found"], row["new"], row["stored"]) == ("3", "3", "2")
        assert column(row, "failed") == "http_404 1"
        assert server.hits("/news/0.html") == 1 and server.hits("/news/gone.html") == 1

        second = newsingest("--config", path, "crawl")
        assert second.returncode == 0, second.stderr
        row = dict(zip(header, table_row(second.stdout, "harbour"), strict=True))
        assert (row["found"], row["new"], row["fetched"], row["stored"]) == ("3", "0", "0", "0")
        # Stored articles and permanent failures are not fetched again.
        assert server.hits("/news/0.html") == 1 and server.hits("/news/gone.html") == 1

        unknown = newsingest("--config", path, "crawl", "harbour", "nope")
        assert_one_line_error(unknown, "'nope'", "configured: harbour")
        assert server.hits("/feed.xml") == 2  # refused before polling anything

    status = newsingest("--config", path, "status")
    assert status.returncode == 0, status.stderr
    row = dict(zip(table_header(status.stdout), table_row(status.stdout, "harbour"), strict=True))
    assert row["kind"] == "feed"
    assert row["documents"] == "2"
    assert column(row, "failed") == "http_404 1"
    assert row["health"] == "ok"
    assert row["last run"].endswith("(ok)")


def test_crawl_of_a_dead_feed_exits_1_with_the_failure_in_the_table(
    tmp_path: Path, db_file: Path
) -> None:
    path = write_config(
        tmp_path / "news.toml",
        quick_config(f"sqlite:///{db_file}", [FEED]),
    )
    result = newsingest("--config", path, "crawl")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    row = table_row(result.stdout, "harbour")
    assert row[1] == "failed" and "feed_connection 1" in row
