"""``newsingest export``: the stored corpus as JSONL, CSV or Parquet, read incrementally."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from newsingest.clicommon import Context, friendly_errors, pass_context
from newsingest.config import ConfigError

if TYPE_CHECKING:
    from newsingest.export import Format

_DATE_HELP = "YYYY-MM-DD or an ISO 8601 time such as 2024-05-01T12:00:00Z (UTC if no zone)"


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "parquet", "csv"]),
    default="jsonl",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--output",
    "-o",
    default="-",
    show_default=True,
    help="File to write ('-' is stdout; Parquet needs a file).",
)
@click.option("--since", default=None, help=f"Only documents from this time on: {_DATE_HELP}.")
@click.option("--until", default=None, help="Only documents before this time (same forms).")
@click.option(
    "--time-field",
    type=click.Choice(["published", "fetched"]),
    default="published",
    show_default=True,
    help="The time --since and --until look at.",
)
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable).")
@click.option("--language", "languages", multiple=True, help="Only this language (repeatable).")
@click.option("--story", type=int, default=None, help="Only the documents of this story id.")
@click.option(
    "--representatives-only",
    is_flag=True,
    help="Only each copy cluster's representative.",
)
@click.option(
    "--cursor",
    default=None,
    help="Read on from this named cursor, and move it once the output is written.",
)
@click.option(
    "--after", default=None, help="Read on from this token (printed by an earlier export)."
)
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most N documents.")
@pass_context
@friendly_errors
def export_command(
    ctx: Context,
    fmt: str,
    output: str,
    since: str | None,
    until: str | None,
    time_field: str,
    sources: Sequence[str],
    languages: Sequence[str],
    story: int | None,
    representatives_only: bool,
    cursor: str | None,
    after: str | None,
    limit: int | None,
) -> None:
    """Write stored documents, one row each, with their copy and story ids.

    Documents come in the order they last changed. At the end the token to read on
    from is printed on stderr ("next: --after TOKEN"); --cursor NAME keeps it in the
    database instead. Either way each document comes once, and again when it changes
    (new text, or a copy cluster or story assigned after it was stored).
    """
    from newsingest.export import write_documents
    from storage.corpus import CorpusFilter, open_corpus

    if cursor is not None and after is not None:
        raise ConfigError("give --cursor NAME or --after TOKEN, not both")
    if cursor is not None and not cursor.strip():
        raise ConfigError("--cursor needs a name, e.g. --cursor nightly")
    destination = None if output == "-" else Path(output)
    if fmt == "parquet" and destination is None:
        raise ConfigError("--format parquet needs --output FILE: Parquet cannot go to stdout")
    filters = CorpusFilter(
        since=_parse_time("--since", since),
        until=_parse_time("--until", until),
        time_field="fetched" if time_field == "fetched" else "published",
        sources=tuple(sources),
        languages=tuple(language.lower() for language in languages),
        story=story,
        representatives_only=representatives_only,
    )
    if filters.since and filters.until and filters.since >= filters.until:
        raise ConfigError(f"--since {since} is not before --until {until}")
    if destination is not None and not destination.parent.is_dir():
        raise ConfigError(
            f"cannot write --output {output}: {destination.parent} is not a directory"
        )

    settings = ctx.settings(required=False)
    corpus = open_corpus(settings.database)
    try:
        known = corpus.sources()
        unknown = [s for s in sources if s not in known]
        if unknown:
            raise ConfigError(
                f"unknown source {unknown[0]!r}: this database knows "
                f"{', '.join(known) or 'no source yet'}"
            )
        if story is not None and not corpus.story_exists(story):
            raise ConfigError(f"there is no story {story} in this database")
        start = corpus.cursor(cursor) if cursor is not None else after
        read = corpus.read(filters, after=start, limit=limit)
        try:
            count = write_documents(read, cast("Format", fmt), destination)
        except BrokenPipeError:
            # The reader went away (`| head`): nothing more to say, and no cursor moves.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except OSError as exc:
            raise ConfigError(f"cannot write --output {output}: {exc.strerror}") from None
        position = read.position
        if cursor is not None and position is not None:
            corpus.move_cursor(cursor, position)
    finally:
        corpus.dispose()
    where = "stdout" if destination is None else str(destination)
    click.echo(f"exported {count} documents ({fmt}) to {where}", err=True)
    if position is not None:
        kept = f" (kept in cursor {cursor!r})" if cursor is not None else ""
        click.echo(f"next: --after {position}{kept}", err=True)


def _parse_time(option: str, value: str | None) -> datetime | None:
    """A user's date or time as tz-aware UTC; ConfigError naming it if it is neither."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{option} {value!r} is not a date; use {_DATE_HELP}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


COMMANDS = [export_command]
