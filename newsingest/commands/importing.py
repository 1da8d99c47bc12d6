"""``newsingest import PATH...``: local HTML, text and WARC files into the corpus."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from newsingest.clicommon import Context, friendly_errors, pass_context
from newsingest.importer import DEFAULT_SOURCE


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--source",
    "source_id",
    default=DEFAULT_SOURCE,
    show_default=True,
    help="Record the documents under this source id (a files source, or a new id).",
)
@pass_context
@friendly_errors
def import_command(ctx: Context, paths: tuple[Path, ...], source_id: str) -> None:
    """Import local archives: HTML files, text files (one article each) and WARC files.

    Directories are read recursively. The pages go through the same extraction,
    cleaning and dedup as crawled ones; importing again stores nothing twice.
    Exits with status 1 when a file could not be read (the others are imported).
    """
    from newsingest.app import open_app
    from newsingest.importer import import_paths, import_source
    from newsingest.report import print_tables, runs_table

    settings = ctx.settings(required=False)
    source = import_source(settings, source_id, paths)
    with open_app(settings) as app, Console(stderr=True).status("Importing...") as status:
        result = import_paths(
            app.ingestor,
            source,
            paths,
            progress=lambda n: status.update(f"Importing: {n} pages read"),
        )
    for error in result.errors:
        click.echo(f"newsingest import: {error}", err=True)
    print_tables(runs_table([result.report], title="Import"))
    if result.errors or result.report.status != "ok":
        sys.exit(1)


COMMANDS = [import_command]
