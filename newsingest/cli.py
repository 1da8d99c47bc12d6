"""The ``newsingest`` command line: run, crawl, demo, db, status."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import click
from rich.console import Console

from newsingest.clicommon import Context, friendly_errors, pass_context
from newsingest.config import ConfigError
from newsingest.logs import setup_logging

logger = logging.getLogger(__name__)


@click.group()
@click.option(
    "--config",
    "-c",
    type=click.Path(path_type=Path),
    default=None,
    help="TOML config file (default: ./newsingest.toml).",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default=None,
    help="Overrides log_level from the config.",
)
@click.version_option(package_name="newsingest")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, log_level: str | None) -> None:
    """newsingest: collect news from feeds on a schedule into a clean corpus."""
    ctx.obj = Context(config, log_level.upper() if log_level else None)


@cli.command()
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve Prometheus metrics on this port (/metrics).",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Address the metrics endpoint listens on (0.0.0.0 for every interface).",
)
@pass_context
@friendly_errors
def run(ctx: Context, metrics_port: int | None, metrics_host: str) -> None:
    """Run the scheduler until Ctrl-C or SIGTERM (the long-running main job).

    One process per database schedules; a second one stands by and takes over when
    the first stops or dies.
    """
    from scheduler import serve

    settings = ctx.settings()
    if not settings.sources:
        raise ConfigError("no sources are configured; add [[sources]] entries to the config file")
    stop = threading.Event()
    _stop_on_signals(stop)
    metrics, endpoint = None, None
    if metrics_port is not None:
        from newsingest.metrics import RunMetrics, serve_metrics

        metrics = RunMetrics()
        try:
            endpoint = serve_metrics(metrics, metrics_port, metrics_host)
        except OSError as exc:
            raise ConfigError(
                f"cannot serve metrics on {metrics_host}:{metrics_port} ({exc.strerror}); "
                "choose another --metrics-port"
            ) from None
    try:
        status = serve(settings, stop, metrics.observe if metrics else None)
    finally:
        if endpoint is not None:
            endpoint.shutdown()
    if status != 0:
        click.echo("newsingest: lost the scheduler lock to another process; stopped", err=True)
        sys.exit(1)
    logger.info("stopped cleanly")


@cli.command()
@click.argument("source_ids", nargs=-1)
@pass_context
@friendly_errors
def crawl(ctx: Context, source_ids: Sequence[str]) -> None:
    """One pass over the sources (all, or the SOURCE_IDS given), then a summary."""
    from newsingest.app import open_app
    from newsingest.report import print_tables, runs_table

    settings = ctx.settings()
    sources = [settings.source(i) for i in source_ids] if source_ids else settings.sources
    if not sources:
        raise ConfigError("no sources are configured; add [[sources]] entries to the config file")
    stop = threading.Event()
    _stop_on_signals(stop)
    with open_app(settings, stop) as app:
        reports = app.ingestor.run(sources)
    print_tables(runs_table(reports, title="Crawl"))
    if any(r.status == "failed" for r in reports):
        sys.exit(1)


@cli.command()
@click.option(
    "--db",
    type=click.Path(path_type=Path),
    default=None,
    help="Keep the demo's SQLite file here (default: a temporary file).",
)
@click.option("--cycles", type=click.IntRange(1, 20), default=2, show_default=True)
@click.option("--interval", default="5s", show_default=True, help="Each source's cadence.")
@click.option(
    "--log-level",
    "demo_log_level",
    default="WARNING",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@friendly_errors
def demo(db: Path | None, cycles: int, interval: str, demo_log_level: str) -> None:
    """Serve the bundled newsroom on 127.0.0.1 and ingest it for two cycles."""
    from newsingest.demo_run import print_demo, run_demo

    setup_logging(demo_log_level.upper())
    # On a busy machine a demo run can outlast its 5 s slot; APScheduler's "skipped:
    # maximum number of running instances" is expected then, and only noise here.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
    console = Console()
    console.print(
        "Serving the sample newsroom on 127.0.0.1 and running the scheduler "
        f"for {cycles} cycles (feed poll, Scrapy fetch, trafilatura, SQLite)..."
    )
    result = run_demo(db, cycles=cycles, interval=interval)
    print_demo(result, console)
    if db:
        console.print(f"The corpus is in {db}.")
    if result.refetched:
        sys.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the same as a JSON array.")
@pass_context
@friendly_errors
def status(ctx: Context, as_json: bool) -> None:
    """Sources with their health, documents, failures, last run, next run and last error."""
    from newsingest.health import source_statuses, status_json, status_table
    from newsingest.report import print_tables
    from storage.store import open_store

    settings = ctx.settings()
    store = open_store(settings.database)
    try:
        statuses = source_statuses(store, settings.sources, settings.scheduler)
    finally:
        store.dispose()
    if as_json:
        click.echo(status_json(statuses))
    else:
        print_tables(status_table(statuses))


@cli.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@pass_context
@friendly_errors
def db_upgrade(ctx: Context) -> None:
    """Apply the schema migrations (Alembic) to the configured database."""
    from storage.database import create_engine_for
    from storage.migrate import current_revision, ensure_schema, head_revision

    settings = ctx.settings(required=False)
    engine = create_engine_for(settings.database)
    try:
        before = current_revision(engine)
        # ensure_schema refuses a revision this code does not know (SchemaTooNewError)
        # instead of letting Alembic fail with a traceback.
        ensure_schema(engine, auto_migrate=True)
        click.echo(f"database schema: {before or 'empty'} -> {head_revision()}")
    finally:
        engine.dispose()


@db.command("current")
@pass_context
@friendly_errors
def db_current(ctx: Context) -> None:
    """Print the database's schema revision and the code's."""
    from storage.database import create_engine_for
    from storage.migrate import current_revision, head_revision

    settings = ctx.settings(required=False)
    engine = create_engine_for(settings.database)
    try:
        click.echo(f"database: {current_revision(engine) or 'empty'}; code: {head_revision()}")
    finally:
        engine.dispose()


def _stop_on_signals(stop: threading.Event) -> None:
    """First SIGINT/SIGTERM: finish the current batch and stop. Second: stop now."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        logger.info("received %s: finishing the current batch", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _add_feature_commands(group: click.Group) -> None:
    """Add every command that a module of ``newsingest.commands`` lists in ``COMMANDS``.

    Each feature keeps its commands in a module of its own there, so adding one
    never means editing this file.
    """
    import importlib
    import pkgutil

    import newsingest.commands as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for command in getattr(module, "COMMANDS", ()):
            group.add_command(command)


_add_feature_commands(cli)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="newsingest")
