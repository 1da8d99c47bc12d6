"""``newsingest revive``: poll a dead (or backing-off) source again at its next slot."""

from __future__ import annotations

from collections.abc import Sequence

import click

from newsingest.clicommon import Context, friendly_errors, pass_context
from newsingest.config import ConfigError


@click.command("revive")
@click.argument("source_ids", nargs=-1, required=True)
@pass_context
@friendly_errors
def revive_command(ctx: Context, source_ids: Sequence[str]) -> None:
    """Bring dead sources back: they are polled again at their next slot, without back-off.

    A running ``newsingest run`` sees the change at the source's next slot.
    """
    from storage.health import HealthStore
    from storage.store import open_store

    settings = ctx.settings()
    for source_id in source_ids:
        settings.source(source_id)  # ConfigError naming the configured ids
    store = open_store(settings.database)
    try:
        known = {s.source for s in store.source_summaries()}
        health = HealthStore(store.engine)
        for source_id in source_ids:
            if source_id not in known:
                raise ConfigError(
                    f"source {source_id!r} has never been run against this database; "
                    "there is nothing to revive"
                )
            was_dead = health.revive(source_id)
            click.echo(
                f"{source_id}: revived, polled at its next slot"
                if was_dead
                else f"{source_id}: was not dead; its back-off is reset"
            )
    finally:
        store.dispose()


COMMANDS = [revive_command]
