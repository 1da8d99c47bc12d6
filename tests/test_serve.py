"""``newsingest serve``: the read API over real HTTP against real databases.

The app runs under uvicorn on 127.0.0.1 over a newsroom stored through the real write
path (articles, failures, polls, runs, copy and story clusters), on SQLite and on
PostgreSQL; the command itself runs as a subprocess.
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from newsingest.config import ConfigError, build_settings
from storage.corpus import Corpus
from storage.store import Store, open_store
from tests.serving import FILLERS, MARKUP_TITLE, fill_newsroom, serving, settings_for
from tests.storage.databases import postgres_base_url
from tests.stories_cases import CHILE, FOOTBALL

NEWSINGEST = Path(sys.executable).parent / "newsingest"
TOKEN = "s3cret-token-for-tests"

API_PATHS = [
    "/api/documents",
    "/api/documents/{document_id}",
    "/api/stories",
    "/api/stories/{story_id}",
    "/api/sources",
    "/api/runs",
]


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ],
)
def newsroom_url(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[str]:
    """A database of each kind holding the newsroom (filled once per module)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('serve') / 'news.db'}"
        fill_newsroom(url)
        yield url
        return
    base = postgres_base_url()
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        rendered = url.render_as_string(hide_password=False)
        fill_newsroom(rendered)
        yield rendered
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def store(newsroom_url: str) -> Iterator[Store]:
    """The newsroom's store, to check answers against what is stored."""
    store = open_store(settings_for(newsroom_url).database)
    yield store
    store.dispose()


@pytest.fixture(scope="module")
def api(newsroom_url: str) -> Iterator[httpx.Client]:
    """A client of the app served without a token."""
    with serving(settings_for(newsroom_url)) as url, httpx.Client(base_url=url) as client:
        yield client


@pytest.fixture(scope="module")
def secured(newsroom_url: str) -> Iterator[httpx.Client]:
    """A client (sending no credentials by itself) of the app served with a token."""
    settings = settings_for(newsroom_url, token=TOKEN)
    with serving(settings) as url, httpx.Client(base_url=url) as client:
        yield client


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(password: str, user: str = "me") -> dict[str, str]:
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def ok_json(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def all_documents(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Every document matching ``params``, read page by page."""
    items: list[dict[str, Any]] = []
    after = None
    while True:
        page = ok_json(api.get("/api/documents", params={**params, "after": after}))
        items += page["items"]
        if page["next"] is None:
            return items
        after = page["next"]


def urls(items: list[dict[str, Any]]) -> set[str]:
    return {item["url"] for item in items}


# -- documents ---------------------------------------------------------------------------


def test_documents_read_by_cursor_give_every_stored_document_once(
    api: httpx.Client, store: Store
) -> None:
    stored = {d.id: d for d in store.documents()}
    seen: list[int] = []
    after, pages = None, 0
    while True:
        page = ok_json(api.get("/api/documents", params={"limit": 4, "after": after}))
        pages += 1
        assert len(page["items"]) <= 4
        seen += [item["id"] for item in page["items"]]
        if page["next"] is None:
            break
        assert page["position"] == page["next"]
        after = page["next"]

    assert len(seen) == len(set(seen)), "a document came twice"
    assert set(seen) == set(stored)
    assert pages == -(-len(stored) // 4)
    # The last page's position reads on after everything: nothing new, nothing again.
    rest = ok_json(api.get("/api/documents", params={"after": page["position"]}))
    assert rest["items"] == [] and rest["next"] is None

    first = ok_json(api.get("/api/documents", params={"limit": 1}))["items"][0]
    document = stored[first["id"]]
    assert first["url"] == document.url and first["source"] == document.source
    assert first["text"] == document.text and first["authors"] == list(document.authors)


def test_documents_default_page_is_serve_page_size(newsroom_url: str) -> None:
    with serving(settings_for(newsroom_url, page_size=5)) as url:
        page = ok_json(httpx.get(f"{url}/api/documents"))
    assert len(page["items"]) == 5 and page["next"] is not None


def test_documents_filter_by_source_and_language(api: httpx.Client, store: Store) -> None:
    harbour = all_documents(api, source="harbour", limit=3)
    assert {d["source"] for d in harbour} == {"harbour"}
    assert len(harbour) == store.count_documents("harbour")

    two = all_documents(api, source=["harbour", "ledger"])
    assert len(two) == store.count_documents("harbour") + store.count_documents("ledger")

    spanish = all_documents(api, language="es")
    assert [(d["url"], d["title"]) for d in spanish] == [
        ("http://ledger.test/cup-final-copy", MARKUP_TITLE)
    ]


def test_documents_filter_by_time_published_or_fetched(api: httpx.Client) -> None:
    # The Chile reports were published at 08:00, 09:00 and 10:00 and fetched 30 min later.
    window = {"since": "2024-03-10T09:15:00Z", "until": "2024-03-11T00:00:00Z"}
    assert urls(all_documents(api, **window)) == {"http://ledger.test/chile-2"}
    assert urls(all_documents(api, **window, time_field="fetched")) == {
        "http://harbour.test/chile-1",
        "http://ledger.test/chile-2",
    }
    # A time without a zone is UTC; another zone is converted.
    assert urls(all_documents(api, since="2024-03-10T09:15:00", until="2024-03-11")) == {
        "http://ledger.test/chile-2"
    }
    assert urls(
        all_documents(api, since="2024-03-10T11:15:00+02:00", until="2024-03-11T00:00:00Z")
    ) == {"http://ledger.test/chile-2"}


def test_documents_filter_by_story_and_representatives(api: httpx.Client, store: Store) -> None:
    everything = all_documents(api)
    chile = next(d for d in everything if d["title"] == CHILE[0][0])
    members = all_documents(api, story=chile["story_id"])
    assert {d["title"] for d in members} == {title for title, _ in CHILE}
    assert {d["story_id"] for d in members} == {chile["story_id"]}

    # The cup final and its syndicated copy are one copy cluster: one representative.
    representatives = all_documents(api, representatives_only="true")
    assert len(representatives) == len(everything) - 1
    assert all(d["is_representative"] for d in representatives)
    final = [d for d in everything if d["title"] in (FOOTBALL[0], MARKUP_TITLE)]
    assert len({d["copy_id"] for d in final}) == 1
    assert len([d for d in representatives if d["copy_id"] == final[0]["copy_id"]]) == 1


def test_one_document_by_id(api: httpx.Client, store: Store) -> None:
    listed = ok_json(api.get("/api/documents", params={"limit": 3}))["items"][2]
    assert ok_json(api.get(f"/api/documents/{listed['id']}")) == listed

    missing = api.get("/api/documents/999999")
    assert missing.status_code == 404
    assert "999999" in missing.json()["detail"]
    # A URL that failed to fetch has a row, but no document to show.
    failed = store.document("http://harbour.test/gone")
    assert failed is not None and failed.status == "failed"
    assert api.get(f"/api/documents/{failed.id}").status_code == 404


# -- stories, sources, runs --------------------------------------------------------------


def test_stories_newest_first_with_their_members(api: httpx.Client, newsroom_url: str) -> None:
    page = ok_json(api.get("/api/stories", params={"min_members": 2}))
    assert page["next"] is None
    stories = {s["title"]: s for s in page["items"]}
    assert set(stories) == {
        CHILE[0][0],
        FOOTBALL[0],
        "Magnitude 7.1 earthquake hits northern Japan",
    }
    ids = [s["id"] for s in page["items"]]
    assert ids == sorted(ids, reverse=True)

    chile = stories[CHILE[0][0]]
    assert chile["size"] == 3
    assert chile["publishers"] == ["harbour", "ledger", "northwind"]
    # Earliest published first: the reports came at 08:00, 09:00, 10:00.
    assert [m["title"] for m in chile["members"]] == [title for title, _ in CHILE]
    assert chile["first_at"] == "2024-03-10T08:00:00Z"

    final = stories[FOOTBALL[0]]
    assert [m["is_representative"] for m in final["members"]] == [True, False]
    assert final["members"][1]["title"] == MARKUP_TITLE

    assert ok_json(api.get(f"/api/stories/{chile['id']}")) == chile
    capped = ok_json(api.get("/api/stories", params={"min_members": 3, "members": 1}))
    assert [(s["size"], len(s["members"])) for s in capped["items"]] == [(3, 1)]


def test_stories_read_by_cursor_give_every_story_once(api: httpx.Client, newsroom_url: str) -> None:
    corpus = Corpus(open_store(settings_for(newsroom_url).database).engine)
    try:
        expected = {d.story_id for d in corpus.documents()}
    finally:
        corpus.dispose()
    assert len(expected) == 3 + FILLERS
    seen: list[int] = []
    after = None
    while True:
        page = ok_json(api.get("/api/stories", params={"limit": 5, "after": after}))
        seen += [s["id"] for s in page["items"]]
        if page["next"] is None:
            break
        after = page["next"]
    assert len(seen) == len(set(seen))
    assert set(seen) == expected
    assert seen == sorted(seen, reverse=True)


def test_sources_with_health_documents_and_runs(api: httpx.Client, store: Store) -> None:
    sources = {s["source"]: s for s in ok_json(api.get("/api/sources"))}
    assert set(sources) == {"harbour", "ledger", "northwind"}
    assert sources["northwind"]["health"] == "ok"
    assert sources["northwind"]["last_run_status"] == "ok"
    assert sources["harbour"]["health"] == "failing"
    assert sources["harbour"]["consecutive_failures"] == 2
    assert sources["harbour"]["failed"] == {"http_404": 1}
    assert sources["ledger"]["health"] == "dead"
    assert sources["ledger"]["dead_reason"] == "http_410"
    assert sources["ledger"]["next_run_at"] is None
    for source, status in sources.items():
        assert status["documents"] == store.count_documents(source)


def test_runs_newest_first(api: httpx.Client) -> None:
    runs = ok_json(api.get("/api/runs"))
    assert len(runs) == 4
    started = [r["started_at"] for r in runs]
    assert started == sorted(started, reverse=True)
    harbour = ok_json(api.get("/api/runs", params={"source": "harbour", "limit": 5}))
    assert [(r["source"], r["status"], r["error"]) for r in harbour] == [
        ("harbour", "failed", "feed answered 503")
    ] * 2
    (northwind,) = ok_json(api.get("/api/runs", params={"source": "northwind"}))
    assert (northwind["found"], northwind["stored"], northwind["failed"]) == (9, 3, {})
    assert len(ok_json(api.get("/api/runs", params={"limit": 1}))) == 1


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/api/documents", {"limit": "0"}, "limit"),
        ("/api/documents", {"limit": "ten"}, "limit"),
        ("/api/documents", {"limit": "5000"}, "limit"),
        ("/api/documents", {"time_field": "modified"}, "time_field"),
        ("/api/documents", {"since": "yesterday"}, "since"),
        ("/api/documents", {"representatives_only": "maybe"}, "representatives_only"),
        ("/api/documents", {"after": "not-a-token"}, "after"),
        ("/api/documents", {"after": "eyJ2IjoxLCJzIjo5OTk5OTksImkiOjF9"}, "after"),
        ("/api/documents", {"source": "nowhere"}, "nowhere"),
        ("/api/documents", {"story": "987654"}, "987654"),
        ("/api/documents/abc", {}, "document_id"),
        ("/api/stories", {"after": "abc"}, "after"),
        ("/api/stories", {"limit": "0"}, "limit"),
        ("/api/stories", {"min_members": "none"}, "min_members"),
        ("/api/stories/abc", {}, "story_id"),
        ("/api/runs", {"source": "nowhere"}, "nowhere"),
        ("/api/runs", {"limit": "-1"}, "limit"),
    ],
)
def test_bad_input_is_a_400_naming_it(
    api: httpx.Client, path: str, params: dict[str, str], named: str
) -> None:
    response = api.get(path, params=params)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and named in detail
    assert "\n" not in detail and "Traceback" not in detail


@pytest.mark.parametrize("path", ["/api/stories/987654", "/api/documents/987654"])
def test_unknown_ids_are_404(api: httpx.Client, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 404
    assert "987654" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/documents"),
        ("DELETE", "/api/documents/1"),
        ("PUT", "/api/stories/1"),
        ("POST", "/"),
    ],
)
def test_read_only(api: httpx.Client, method: str, path: str) -> None:
    assert api.request(method, path).status_code == 405


# -- schema and auth ---------------------------------------------------------------------


def test_openapi_schema_lists_the_endpoints(api: httpx.Client) -> None:
    schema = ok_json(api.get("/openapi.json"))
    assert set(API_PATHS) | {"/healthz"} <= set(schema["paths"])
    for path, operations in schema["paths"].items():
        assert list(operations) == ["get"], path
        responses = operations["get"]["responses"]
        assert "422" not in responses  # bad parameters are 400s here
        if path.startswith("/api/"):
            assert "400" in responses
    page = schema["components"]["schemas"]["DocumentPage"]["properties"]
    assert {"items", "next", "position"} <= set(page)
    assert "securitySchemes" not in schema.get("components", {})  # no token, no auth
    assert api.get("/docs").status_code == 200


def test_without_token_no_credentials_are_needed(api: httpx.Client) -> None:
    assert api.get("/").status_code == 200
    assert api.get("/api/sources").status_code == 200
    assert ok_json(api.get("/healthz")) == {"status": "ok"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/documents",
        "/api/documents/1",
        "/api/stories",
        "/api/stories/1",
        "/api/sources",
        "/api/runs",
    ],
)
def test_with_token_the_api_needs_it(secured: httpx.Client, path: str) -> None:
    missing = secured.get(path)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in missing.json()["detail"]

    wrong = secured.get(path, headers=bearer("not-the-token"))
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
    # The API takes the token as a bearer token only, not as a Basic password.
    assert secured.get(path, headers=basic(TOKEN)).status_code == 401

    assert secured.get(path, headers=bearer()).status_code in (200, 404)


def test_with_token_the_page_asks_the_browser_for_it(secured: httpx.Client) -> None:
    missing = secured.get("/")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Basic")
    assert secured.get("/", headers=basic("wrong")).status_code == 401
    assert secured.get("/", headers=bearer("wrong")).status_code == 401

    page = secured.get("/", headers=basic(TOKEN))
    assert page.status_code == 200 and "northwind" in page.text
    assert secured.get("/", headers=bearer()).status_code == 200
    # The probe and the schema reveal nothing stored, and stay open.
    assert ok_json(secured.get("/healthz")) == {"status": "ok"}


def test_with_token_the_schema_declares_the_bearer_scheme(secured: httpx.Client) -> None:
    schema = ok_json(secured.get("/openapi.json"))
    schemes = schema["components"]["securitySchemes"]
    assert [(s["type"], s["scheme"]) for s in schemes.values()] == [("http", "bearer")]
    (name,) = schemes
    for path in API_PATHS:
        operation = schema["paths"][path]["get"]
        assert operation["security"] == [{name: []}]
        assert "401" in operation["responses"]
    assert "security" not in schema["paths"]["/healthz"]["get"]


# -- binding: no token, no network -------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "news.example.org"])
def test_config_refuses_other_hosts_without_a_token(host: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_settings({"serve": {"host": host}}, origin="news.toml")
    message = str(caught.value)
    assert host in message and "serve.token" in message and "\n" not in message
    assert build_settings({"serve": {"host": host, "token": TOKEN}}).serve.host == host


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_config_allows_this_machine_without_a_token(host: str) -> None:
    assert build_settings({"serve": {"host": host}}).serve.token is None


def test_config_refuses_an_empty_token() -> None:
    with pytest.raises(ConfigError, match="token"):
        build_settings({"serve": {"host": "0.0.0.0", "token": "  "}})


def write_config(tmp_path: Path, database_url: str, serve: str = "") -> Path:
    config = tmp_path / "news.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n\n[serve]\n{serve}\n')
    return config


def run_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NEWSINGEST), "--config", str(config), "serve", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_command_refuses_host_without_token(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'news.db'}")
    done = run_cli(config, "--host", "0.0.0.0", "--port", "0")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "--host" in done.stderr and "serve.token" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_serve_command_names_a_taken_port(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'news.db'}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = run_cli(config, "--port", str(taken.getsockname()[1]))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--port" in done.stderr


def test_serve_command_serves_until_sigterm(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'news.db'}"
    fill_newsroom(database)
    config = write_config(tmp_path, database, f'port = 0\ntoken = "{TOKEN}"')
    proc = subprocess.Popen(
        [str(NEWSINGEST), "--config", str(config), "serve", "--host", "127.0.0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("Serving http://127.0.0.1:"), line
        url = line.split()[1].rstrip("/")
        sources = httpx.get(f"{url}/api/sources", headers=bearer(), timeout=30)
        assert {s["source"] for s in sources.json()} == {"harbour", "ledger", "northwind"}
        assert httpx.get(f"{url}/api/sources", timeout=30).status_code == 401
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.strip() == "Stopped."
    assert "Traceback" not in err
