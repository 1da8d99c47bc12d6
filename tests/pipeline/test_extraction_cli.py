"""``newsingest extract``, run for real: JSON lines and HTML files in, JSON lines out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED

NEWSINGEST = Path(sys.executable).parent / "newsingest"
GOLDEN = Path(__file__).parent / "golden"
SEEDS = SHARED / "seeds"


def extract(
    *args: str | Path, lines: list[str] | None = None, cwd: Path | None = None
) -> tuple[list[dict[str, Any]], subprocess.CompletedProcess[str]]:
    result = subprocess.run(
        [str(NEWSINGEST), "extract", *map(str, args)],
        input="".join(line + "\n" for line in lines or []),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
    return [json.loads(line) for line in result.stdout.splitlines()], result


@pytest.mark.skipif(not SEEDS.is_dir(), reason=f"shared seeds not found at {SEEDS}")
def test_seeds_lose_their_boilerplate_and_keep_their_article_lines(tmp_path: Path) -> None:
    labels = json.loads((SEEDS / "labels.json").read_text(encoding="utf-8"))["files"]
    names = sorted(labels)
    inputs = [json.dumps({"id": n, "text": (SEEDS / n).read_text(encoding="utf-8")}) for n in names]
    records, result = extract("--text", lines=inputs, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [r["id"] for r in records] == names
    for name, record in zip(names, records, strict=True):
        kept = set(record["text"].split("\n"))
        boilerplate = set(labels[name]["boilerplate"])
        optional = set(labels[name]["optional"])
        for line in (SEEDS / name).read_text(encoding="utf-8").split("\n"):
            line = line.strip()
            if not line or line in optional:
                continue
            if line in boilerplate:
                assert line not in kept, f"{name}: boilerplate kept: {line!r}"
            else:
                assert line in kept, f"{name}: article line lost: {line!r}"


def test_html_lines_give_metadata_and_clean_text_in_input_order(tmp_path: Path) -> None:
    wire = (GOLDEN / "wire-story.html").read_text(encoding="utf-8")
    notice = (GOLDEN / "ai-notice.html").read_text(encoding="utf-8")
    # More pages than the in-process threshold, so the worker pool is used.
    urls = [f"http://127.0.0.1/{n}.html" for n in range(10)]
    inputs = [json.dumps({"url": u, "html": wire if n % 2 else notice}) for n, u in enumerate(urls)]
    records, result = extract(lines=inputs, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [r["url"] for r in records] == urls
    first, second = records[0], records[1]
    assert set(second) == {"url", "title", "authors", "published_at", "language", "text"}
    assert second["title"] == "Storm closes harbour for three days"
    assert second["published_at"] == "2024-10-21T08:30:00+00:00"
    assert second["language"] == "en"
    assert "JANE ROE/AFP" not in second["text"]
    assert "Generative AI" not in first["text"]
    assert first["text"].startswith("New bus routes start on Monday")


def test_a_failed_page_and_malformed_lines_still_get_their_lines(tmp_path: Path) -> None:
    wire = (GOLDEN / "wire-story.html").read_text(encoding="utf-8")
    inputs = [
        json.dumps({"url": "http://127.0.0.1/ok.html", "html": wire}),
        "{not json",
        json.dumps(
            {"url": "http://127.0.0.1/empty.html", "html": "<html><body><p>Hi.</p></body></html>"}
        ),
        json.dumps({"url": "http://127.0.0.1/no-html.html"}),
        json.dumps({"url": "http://127.0.0.1/ok2.html", "html": wire}),
    ]
    records, result = extract(lines=inputs, cwd=tmp_path)
    assert result.returncode == 1
    assert len(records) == 5
    assert records[0]["text"] and records[4]["text"]
    assert records[2]["text"] == "" and records[2]["error"].startswith("no_main_text")
    assert records[1]["error"].startswith("input line 2:")
    assert records[3]["error"].startswith("input line 4:")
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2
    assert errors[0].startswith("newsingest extract: input line 2: not valid JSON")
    assert errors[1] == 'newsingest extract: input line 4: "html" is missing or not a string'


def test_html_files_as_arguments(tmp_path: Path) -> None:
    records, result = extract(GOLDEN / "wire-story.html", GOLDEN / "ai-notice.html", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [Path(r["url"]).name for r in records] == ["wire-story.html", "ai-notice.html"]
    assert records[0]["url"].startswith("file://")
    assert "Fishermen moved their boats" in records[0]["text"]


def test_text_mode_cleans_plain_text(tmp_path: Path) -> None:
    text = "Share this article\nThe council met on Tuesday to approve the budget.\n0"
    records, result = extract("--text", lines=[json.dumps({"id": 7, "text": text})], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert records == [{"id": 7, "text": "The council met on Tuesday to approve the budget."}]
