"""``newsingest run --metrics-port``: Prometheus counters scraped over HTTP."""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_cli import NEWSINGEST, newsingest, quick_config, serve_feed, write_config
from tests.test_run import TITLES, logged, running, wait_for
from tests.webserver import LocalServer

SOURCE = "harbour"


@pytest.fixture
def site() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text format, or None."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        metric, _, label_text = key.partition("{")
        got = ",".join(sorted(label_text.rstrip("}").split(","))) if label_text else ""
        if metric == name and got == wanted:
            return float(value)
    return None


def test_metrics_endpoint_counts_runs_per_source(
    tmp_path: Path, sqlite_url: str, site: LocalServer
) -> None:
    feed_url = serve_feed(site, TITLES, missing=["gone"])
    config = write_config(
        tmp_path / "newsingest.toml",
        quick_config(
            sqlite_url, [{"id": SOURCE, "kind": "feed", "url": feed_url, "interval": "1s"}]
        ),
    )
    port = free_port()
    log = tmp_path / "run.log"
    args = [str(NEWSINGEST), "--config", str(config), "run", "--metrics-port", str(port)]
    with running(args, log) as proc:
        wait_for(
            lambda: logged(log, rf"run source={SOURCE} status=ok .*stored=4 "), 30, "a run", log
        )
        wait_for(lambda: logged(log, rf"run source={SOURCE} .*stored=0 "), 30, "a second run", log)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0

    assert sample(text, "newsingest_documents_stored_total", source=SOURCE) == len(TITLES)
    assert sample(text, "newsingest_pages_fetched_total", source=SOURCE) == len(TITLES)
    assert sample(text, "newsingest_urls_failed_total", source=SOURCE, reason="http_404") == 1
    runs = sample(text, "newsingest_runs_total", source=SOURCE, status="ok")
    assert runs is not None and runs >= 2
    assert sample(text, "newsingest_run_duration_seconds_count", source=SOURCE) == runs
    assert (sample(text, "newsingest_last_run_timestamp_seconds", source=SOURCE) or 0) > 0


def test_a_busy_metrics_port_is_one_clear_sentence(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(
        tmp_path / "newsingest.toml",
        quick_config(sqlite_url, [{"id": SOURCE, "kind": "feed", "url": "http://127.0.0.1:9/f"}]),
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = newsingest("--config", config, "run", "--metrics-port", str(port))
    assert result.returncode == 2
    assert f"cannot serve metrics on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
