"""``newsingest reclean`` and ``newsingest explain``: cleaning stored documents again."""

from __future__ import annotations

import sys

import click

from crawler.urls import canonical_url
from newsingest.clicommon import Context, friendly_errors, pass_context
from newsingest.config import ConfigError
from storage.records import StoredDocument
from storage.store import Store

_BATCH_OPTION_MAX = 10_000


@click.command("reclean")
@click.option("--source", "source_id", default=None, help="Only this source's documents.")
@click.option(
    "--batch-size",
    type=click.IntRange(1, _BATCH_OPTION_MAX),
    default=200,
    show_default=True,
    help="Documents written per transaction.",
)
@pass_context
@friendly_errors
def reclean_command(ctx: Context, source_id: str | None, batch_size: int) -> None:
    """Clean stored documents again from their raw text (rules, then learned boilerplate)."""
    from newsingest.cleaning import reclean
    from newsingest.copies import CopyStage
    from storage.boilerplate import BoilerplateStore
    from storage.copies import CopyIndex
    from storage.store import open_store

    settings = ctx.settings(required=False)
    store = open_store(settings.database)
    try:
        if source_id is not None:
            _require_source(store, source_id, [s.id for s in settings.sources])
        result = reclean(
            BoilerplateStore(store.engine, settings.boilerplate),
            settings.boilerplate,
            source_id=source_id,
            batch_size=batch_size,
        )
        # Copy clusters follow the changed texts: their fingerprints are taken again.
        refingerprinted = CopyStage(CopyIndex(store.engine, settings.copies)).catch_up()
    finally:
        store.dispose()
    click.echo(
        f"Re-cleaned {result.examined} document(s): {result.changed} changed, "
        f"{result.learned} boilerplate paragraph(s) newly learned, "
        f"{refingerprinted} copy fingerprint(s) taken again."
    )


@click.command("explain")
@click.argument("url")
@pass_context
@friendly_errors
def explain_command(ctx: Context, url: str) -> None:
    """Show what cleaning removed from the stored document at URL, and by which rule."""
    from newsingest.cleaning import explain
    from storage.boilerplate import BoilerplateStore
    from storage.store import open_store

    settings = ctx.settings(required=False)
    store = open_store(settings.database)
    try:
        doc = _find(store, url)
        outcome = explain(
            doc, BoilerplateStore(store.engine, settings.boilerplate), settings.boilerplate
        )
    finally:
        store.dispose()

    click.echo(f"{outcome.url}  (host {outcome.host})")
    click.echo(f"Removed {len(outcome.removed)} paragraph(s):")
    for removal in outcome.removed:
        seen = outcome.learned_counts.get(removal.paragraph) if removal.rule == "learned" else None
        label = removal.rule if seen is None else f"learned from {seen} documents of this host"
        click.echo(f"  [{label}] {removal.paragraph}")
    if outcome.authors:
        click.echo(f"Authors taken from bylines: {', '.join(outcome.authors)}")
    if outcome.stored_text_differs:
        click.echo("The stored text was cleaned differently; `newsingest reclean` updates it.")
    click.echo("Kept text:")
    click.echo(outcome.text)


def _find(store: Store, url: str) -> StoredDocument:
    """The stored article at ``url`` (as given, or in canonical form), else exit 2."""
    doc = store.document(url)
    if doc is None:
        try:
            doc = store.document(canonical_url(url))
        except ValueError:
            doc = None
    if doc is None:
        _fail(f"no document is stored for {url!r}; `newsingest status` lists the sources")
    elif doc.status != "ok":
        _fail(f"{url!r} is stored without text: it {doc.status} ({doc.reason})")
    assert doc is not None
    return doc


def _require_source(store: Store, source_id: str, configured: list[str]) -> None:
    if source_id not in configured and store.count_documents(source_id, status=None) == 0:
        known = ", ".join(configured) or "none"
        raise ConfigError(f"no source with id {source_id!r} (configured: {known})")


def _fail(message: str) -> None:
    click.echo(f"newsingest: {message}", err=True)
    sys.exit(2)


COMMANDS = [reclean_command, explain_command]
