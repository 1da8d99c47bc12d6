"""Run the app with uvicorn on a socket we bind ourselves, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import socket
from types import FrameType

import uvicorn
from fastapi import FastAPI

from newsingest.config import ConfigError


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: any free port).

    Bound here rather than by uvicorn so that a taken port or an unknown address is
    one sentence naming them (uvicorn logs it and exits), and so the port chosen for
    0 is known before serving starts.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host!r}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host} port {port} ({exc.strerror or exc}); "
            "choose another --port or serve.port"
        ) from None
    return sock


def server_for(app: FastAPI) -> uvicorn.Server:
    """A uvicorn server for ``app`` that logs through our logging set-up."""
    config = uvicorn.Config(
        app,
        log_config=None,  # the entry point configured logging already
        proxy_headers=False,  # no proxy is assumed; client addresses are logged as seen
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    return uvicorn.Server(config)


def run_until_stopped(app: FastAPI, sock: socket.socket) -> None:
    """Serve on ``sock`` until SIGINT or SIGTERM, then finish open requests and return.

    uvicorn handles both signals itself while it serves, and afterwards sends the
    signal again to the handler that was there before it, so that the process would
    die of it. A handler that ignores it is put there first: the shutdown is complete
    by then, and the command ends normally with exit status 0.
    """

    def stopped_already(signum: int, frame: FrameType | None) -> None:
        return None

    previous = {sig: signal.signal(sig, stopped_already) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server_for(app).run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
