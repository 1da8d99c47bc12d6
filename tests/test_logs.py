"""Structured logs: with ``log_format = "json"`` every stderr line is one JSON object,
and each run's line carries its counts as fields."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import newsingest, quick_config, serve_feed, write_config
from tests.webserver import LocalServer


def test_json_logs_carry_the_run_counts(tmp_path: Path, sqlite_url: str) -> None:
    with LocalServer() as site:
        feed_url = serve_feed(site, ["Ferry terminal opens", "Quay becomes a market"], ["gone"])
        config = quick_config(sqlite_url, [{"id": "harbour", "kind": "feed", "url": feed_url}])
        config["log_format"] = "json"
        result = newsingest("--config", write_config(tmp_path / "n.toml", config), "crawl")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    [run] = [line for line in lines if line.get("event") == "run"]
    assert run["source"] == "harbour" and run["status"] == "ok"
    assert (run["found"], run["stored"], run["failed"]) == (3, 2, 1)
    assert run["failed_by_reason"] == {"http_404": 1}
    assert run["message"].startswith("run source=harbour status=ok found=3 ")
