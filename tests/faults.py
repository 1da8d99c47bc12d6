"""A raw-socket HTTP server for faults ``tests.webserver`` cannot stage.

``LocalServer`` answers with whole bodies; these faults need control of the socket:

* :func:`trickle`: one byte every ``every`` seconds, so no single read times out
  but the whole answer takes far longer than any sane timeout;
* :func:`reset`: reads the request, then aborts the connection with a TCP RST;
* :func:`huge`: a page of ``size`` bytes streamed in chunks, never held in memory.

    with FaultServer({"/slow": trickle(b"<rss>...</rss>", every=0.2)}) as server:
        poll_feed(..., server.url("/slow"), ...)
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType

Handler = Callable[[socket.socket], None]

_HTML = b"text/html; charset=utf-8"


def _head(status: str, content_type: bytes, length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {status}".encode(), b"Content-Type: " + content_type]
    if length is not None:
        lines.append(f"Content-Length: {length}".encode())
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def trickle(body: bytes, *, every: float, content_type: bytes = _HTML) -> Handler:
    """Send the headers at once, then ``body`` one byte per ``every`` seconds."""

    def handle(conn: socket.socket) -> None:
        conn.sendall(_head("200 OK", content_type, len(body)))
        for byte in body:
            conn.sendall(bytes([byte]))
            time.sleep(every)

    return handle


def reset() -> Handler:
    """Abort the connection with a TCP RST instead of answering."""

    def handle(conn: socket.socket) -> None:
        # SO_LINGER on with a zero timeout turns close() into an RST.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    return handle


def huge(
    size: int, *, declare: bool = True, chunk: int = 1 << 20, content_type: bytes = _HTML
) -> Handler:
    """A ``size``-byte HTML page streamed chunk by chunk, its length announced in
    Content-Length if ``declare`` (else the end is the connection closing)."""
    block = b"<p>" + b"x" * (chunk - 7) + b"</p>\n"

    def handle(conn: socket.socket) -> None:
        conn.sendall(_head("200 OK", content_type, size if declare else None))
        conn.sendall(b"<html><body>")
        sent = 12
        while sent < size:
            piece = block[: size - sent]
            conn.sendall(piece)
            sent += len(piece)

    return handle


class FaultServer:
    """A threaded raw HTTP/1.1 server on 127.0.0.1; one handler per request path."""

    def __init__(self, routes: Mapping[str, Handler]) -> None:
        self.routes = dict(routes)
        self.hits: dict[str, int] = {}
        self._sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="FaultServer")

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        self._sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            conn.settimeout(10)
            request = b""
            while b"\r\n\r\n" not in request:
                data = conn.recv(4096)
                if not data:
                    return
                request += data
            path = request.split(b" ", 2)[1].decode("latin-1")
            self.hits[path] = self.hits.get(path, 0) + 1
            handler = self.routes.get(path)
            if handler is None:
                conn.sendall(_head("404 Not Found", _HTML, 0))
                return
            handler(conn)
