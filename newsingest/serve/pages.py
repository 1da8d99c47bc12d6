"""The HTML status page: sources and their health, recent runs, recent stories.

Rendered on the server from records into one self-contained document (inline CSS,
no scripts, no fonts or images to fetch), so it needs no build step and works in
any browser, offline. Every value from the database is escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape

from newsingest.health import SourceStatus
from storage.browse import StoryView
from storage.records import RunRecord

REFRESH_SECONDS = 60

_CSS = """
:root { color-scheme: light; }
body { font: 15px/1.45 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1f2328;
       background: #f6f8fa; margin: 0; padding: 24px 32px; }
header { display: flex; align-items: baseline; gap: 16px; margin-bottom: 8px; }
h1 { font-size: 26px; margin: 0; }
h2 { font-size: 19px; margin: 28px 0 10px; border-bottom: 2px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 0 0 4px; }
.muted { color: #59636e; }
table { border-collapse: collapse; width: 100%; background: #ffffff; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #d0d7de;
         vertical-align: top; }
th { background: #eaeef2; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.health { display: inline-block; padding: 1px 10px; border-radius: 10px; color: #ffffff;
          font-weight: 600; }
.health-ok { background: #1a7f37; }
.health-failing { background: #9a6700; }
.health-dead { background: #cf222e; }
.health-disabled, .health-not-configured { background: #6e7781; }
.run-ok { color: #1a7f37; }
.run-failed { color: #cf222e; }
.run-running, .run-interrupted { color: #9a6700; }
.stories { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr));
           gap: 12px; }
.story { background: #ffffff; border: 1px solid #d0d7de; border-left: 6px solid #0969da;
         padding: 10px 14px; }
.story ul { margin: 6px 0 0; padding-left: 18px; }
.story li { margin: 2px 0; }
.publisher { display: inline-block; background: #ddf4ff; color: #0550ae; border-radius: 4px;
             padding: 0 6px; margin-right: 4px; font-size: 13px; }
a { color: #0550ae; text-decoration: none; }
.empty { background: #ffffff; border: 1px dashed #d0d7de; padding: 12px; }
"""


def render_status_page(
    *,
    statuses: Sequence[SourceStatus],
    runs: Sequence[RunRecord],
    stories: Sequence[StoryView],
    now: datetime,
    min_members: int,
) -> str:
    """The whole status page as one HTML document."""
    documents = sum(s.documents for s in statuses)
    unhealthy = sum(1 for s in statuses if s.health in ("failing", "dead"))
    summary = (
        f"{len(statuses)} sources ({unhealthy} failing or dead), {documents} documents; "
        f"as of {_when(now)}, refreshed every {REFRESH_SECONDS} s"
    )
    return "".join(
        [
            '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">',
            "<title>newsingest status</title>",
            f"<style>{_CSS}</style></head><body>",
            f'<header><h1>newsingest</h1><span class="muted">{escape(summary)}</span></header>',
            '<section id="sources"><h2>Sources</h2>',
            _sources_table(statuses),
            "</section>",
            '<section id="runs"><h2>Recent runs</h2>',
            _runs_table(runs),
            "</section>",
            f'<section id="stories"><h2>Recent stories ({min_members}+ documents)</h2>',
            _stories(stories),
            "</section></body></html>\n",
        ]
    )


def _sources_table(statuses: Sequence[SourceStatus]) -> str:
    if not statuses:
        return '<p class="empty">No source has been run against this database yet.</p>'
    head = _row(
        "th",
        ["source", "kind", "health", ("documents", "num"), "failed URLs", "last run", "next run"],
    )
    rows = []
    for s in statuses:
        label = s.health
        if s.health == "failing":
            label = f"failing x{s.consecutive_failures}"
        elif s.health == "dead" and s.dead_reason:
            label = f"dead ({s.dead_reason})"
        badge = f'<span class="health health-{s.health.replace(" ", "-")}">{escape(label)}</span>'
        if s.last_error and s.health != "ok":
            badge += f'<div class="muted">{escape(s.last_error[:160])}</div>'
        failed = ", ".join(f"{reason} {n}" for reason, n in sorted(s.failed.items())) or "-"
        last = f"{_when(s.last_run_at)} ({s.last_run_status})" if s.last_run_at else "-"
        rows.append(
            "<tr>"
            f"<td><strong>{escape(s.source)}</strong></td><td>{escape(s.kind)}</td>"
            f'<td>{badge}</td><td class="num">{s.documents}</td>'
            f"<td>{escape(failed)}</td><td>{escape(last)}</td>"
            f"<td>{escape(_when(s.next_run_at))}</td>"
            "</tr>"
        )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _runs_table(runs: Sequence[RunRecord]) -> str:
    if not runs:
        return '<p class="empty">No runs yet.</p>'
    numbers = ("found", "new", "fetched", "stored", "updated", "failed")
    head = _row("th", ["started", "source", "status", "took", *((n, "num") for n in numbers)])
    rows = []
    for r in runs:
        c = r.counts
        took = "-"
        if r.finished_at is not None:
            took = f"{(r.finished_at - r.started_at).total_seconds():.1f} s"
        status = f'<span class="run-{escape(r.status)}">{escape(r.status)}</span>'
        if r.error:
            status += f'<div class="muted">{escape(r.error[:160])}</div>'
        figures = (c.found, c.new, c.fetched, c.stored, c.updated, c.failed_total)
        rows.append(
            f"<tr><td>{escape(_when(r.started_at))}</td><td>{escape(r.source)}</td>"
            f'<td>{status}</td><td class="num">{took}</td>'
            + "".join(f'<td class="num">{n}</td>' for n in figures)
            + "</tr>"
        )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _stories(stories: Sequence[StoryView]) -> str:
    if not stories:
        return '<p class="empty">No stories of this size yet.</p>'
    cards = []
    for story in stories:
        publishers = "".join(
            f'<span class="publisher">{escape(p)}</span>' for p in story.publishers
        )
        span = _span(story.first_at, story.last_at)
        members = "".join(
            f"<li>{_link(m.url, m.title or m.url)} "
            f'<span class="muted">{escape(m.source)}, {escape(_when(m.published_at))}</span></li>'
            for m in story.members
        )
        more = story.size - len(story.members)
        if more > 0:
            members += f'<li class="muted">and {more} more</li>'
        cards.append(
            f'<article class="story" id="story-{story.id}">'
            f"<h3>{escape(story.title or '(untitled)')}</h3>"
            f'<div>{publishers} <span class="muted">{story.size} documents, '
            f"{escape(span)}</span></div><ul>{members}</ul></article>"
        )
    return f'<div class="stories">{"".join(cards)}</div>'


def _row(cell: str, columns: Iterable[str | tuple[str, str]]) -> str:
    parts = []
    for column in columns:
        name, css = (column, "") if isinstance(column, str) else column
        attribute = f' class="{css}"' if css else ""
        parts.append(f"<{cell}{attribute}>{escape(name)}</{cell}>")
    return f"<tr>{''.join(parts)}</tr>"


def _link(url: str, text: str) -> str:
    # Only web addresses become links: a stored "javascript:" URL must not run here.
    if not url.lower().startswith(("http://", "https://")):
        return escape(text)
    return f'<a href="{escape(url)}" rel="noreferrer">{escape(text)}</a>'


def _span(first: datetime | None, last: datetime | None) -> str:
    """ "2024-03-10 08:00-10:00 UTC" within a day, else both times in full."""
    if first is None or last is None or last == first:
        return _when(first or last)
    if first.date() == last.date():
        return f"{first:%Y-%m-%d %H:%M}-{last:%H:%M} UTC"
    return f"{_when(first)} to {_when(last)}"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"
