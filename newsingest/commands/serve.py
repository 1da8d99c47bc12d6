"""``newsingest serve``: the read-only HTTP API and the HTML status page."""

from __future__ import annotations

import click

from newsingest.clicommon import Context, friendly_errors, pass_context
from newsingest.config import ConfigError


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (overrides serve.host).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port to listen on, 0 for any free one (overrides serve.port).",
)
@pass_context
@friendly_errors
def serve_command(ctx: Context, host: str | None, port: int | None) -> None:
    """Serve the read API (/api, schema at /openapi.json) and the status page (/).

    Runs until Ctrl-C or SIGTERM, which let open requests finish. Without
    serve.token it listens on 127.0.0.1 only.
    """
    from newsingest.serve.app import create_app
    from newsingest.serve.server import listen, run_until_stopped
    from newsingest.serve.settings import exposure_problem

    settings = ctx.settings()
    token = settings.serve.token
    problem = exposure_problem(
        host or settings.serve.host, token, host_name="--host" if host else "serve.host"
    )
    if problem:
        raise ConfigError(problem)
    host = host or settings.serve.host
    sock = listen(host, settings.serve.port if port is None else port)
    try:
        app = create_app(settings)
    except BaseException:
        sock.close()
        raise
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    auth = "a bearer token" if token else "no token (this machine only)"
    click.echo(f"Serving http://{shown}:{bound}/ (API under /api, {auth}); Ctrl-C stops.")
    run_until_stopped(app, sock)
    click.echo("Stopped.")


COMMANDS = [serve_command]
