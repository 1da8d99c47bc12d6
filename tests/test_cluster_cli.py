"""`newsingest cluster` through the real console script, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED
from tests.stories_cases import CHILE, CHILE_AT, FOOTBALL, JAPAN, JAPAN_AT

NEWSINGEST = Path(sys.executable).parent / "newsingest"


def cluster(lines: list[str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NEWSINGEST), "--log-level", "WARNING", "cluster", *args],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,  # no newsingest.toml there: the built-in defaults
    )


def line(doc_id: str, report: tuple[str, str], published_at: str | None, url: str = "") -> str:
    title, text = report
    record: dict[str, Any] = {
        "id": doc_id,
        "title": title,
        "text": text,
        "url": url,
        "published_at": published_at,
    }
    return json.dumps(record)


def output(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    records = [json.loads(x) for x in done.stdout.splitlines()]
    return {r["id"]: r for r in records}


def test_cluster_writes_copy_and_story_for_each_line(tmp_path: Path) -> None:
    chile, japan = CHILE_AT.isoformat(), JAPAN_AT.isoformat()
    lines = [
        line("c0", CHILE[0], chile, url="https://example.org/chile-quake"),
        line("j0", JAPAN[0], japan),
        line("c1", CHILE[1], chile),
        line("c0-copy", CHILE[0], chile, url="https://mirror.example.net/chile"),
        line("f", FOOTBALL, None),
        line("j1", JAPAN[1], japan),
    ]
    done = cluster(lines, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = output(done)
    assert list(out) == ["c0", "j0", "c1", "c0-copy", "f", "j1"]  # input order
    assert out["c0"]["story"] == out["c1"]["story"] == out["c0-copy"]["story"]
    assert out["j0"]["story"] == out["j1"]["story"] != out["c0"]["story"]
    assert out["f"]["story"] not in {out["c0"]["story"], out["j0"]["story"]}
    assert all(isinstance(r["story"], int) for r in out.values())
    # The word-for-word copy is one copy cluster with its original; the rest are not.
    assert out["c0-copy"]["copy"] == out["c0"]["copy"]
    assert len({r["copy"] for r in out.values()}) == 5


def test_bad_lines_are_named_and_the_others_go_on(tmp_path: Path) -> None:
    lines = [
        line("c0", CHILE[0], None),
        "{not json",
        json.dumps({"id": "no-text", "title": "t"}),
        line("c0", CHILE[1], None),  # the id again
        json.dumps({"id": "late", "text": "x", "published_at": "last Tuesday"}),
        line("c1", CHILE[1], None),
    ]
    done = cluster(lines, cwd=tmp_path)
    assert done.returncode == 1
    errors = done.stderr.splitlines()
    assert len(errors) == 4, done.stderr
    assert errors[0].startswith("newsingest cluster: line 2: not valid JSON")
    assert errors[1].startswith("newsingest cluster: line 3:") and '"text"' in errors[1]
    assert errors[2].startswith("newsingest cluster: line 4:") and "line 1" in errors[2]
    assert errors[3].startswith("newsingest cluster: line 5:") and "ISO 8601" in errors[3]
    assert "Traceback" not in done.stderr
    out = output(done)
    assert list(out) == ["c0", "c1"]
    assert out["c0"]["story"] == out["c1"]["story"]


def test_a_kept_database_remembers_the_stories(tmp_path: Path) -> None:
    db = tmp_path / "clusters.sqlite"
    first = cluster(
        [line("c0", CHILE[0], None), line("j0", JAPAN[0], None)], "--db", str(db), cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr
    second = cluster(
        [line("c1", CHILE[1], None), line("c0", CHILE[0], None)], "--db", str(db), cwd=tmp_path
    )
    assert second.returncode == 0, second.stderr
    before, after = output(first), output(second)
    assert after["c1"]["story"] == before["c0"]["story"]
    assert after["c0"] == before["c0"]  # the same line again: the same clusters


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared data not found at {SHARED}")
def test_the_seeds_are_one_story_and_five_copy_clusters(tmp_path: Path) -> None:
    seeds = sorted((SHARED / "seeds").glob("*.txt"))
    assert len(seeds) == 5
    lines = [
        json.dumps(
            {
                "id": p.name,
                "title": "",
                "text": p.read_text("utf-8"),
                "url": "",
                "published_at": None,
            }
        )
        for p in seeds
    ]
    for order in (lines, lines[::-1]):
        done = cluster(order, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        out = output(done)
        assert len(out) == 5
        assert len({r["story"] for r in out.values()}) == 1
        assert len({r["copy"] for r in out.values()}) == 5
