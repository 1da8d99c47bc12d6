"""A real HTTP server on 127.0.0.1 for tests, with fixture sites and fault routes.

Tests never reach the internet; they talk to this server instead. It is a
``ThreadingHTTPServer`` on an ephemeral port in a background thread, serving a dict
of routes (path → :class:`Route`, or path → callable returning a ``Route``) and
recording every request it receives, so tests can assert on what a client sent::

    from tests.webserver import LocalServer, Route, html_page, status_page

    with LocalServer({"/": html_page("Home"), "/gone": status_page(404)}) as server:
        fetch(server.url("/"))
        assert server.hits("/") == 1
        assert server.requests_to("/")[0].headers["user-agent"].startswith("newsingest")

Routes match on the path with its query first, then on the path alone; anything
else is a 404. Routes may be added while the server runs (``server.add(path, route)``).
A callable route gets the :class:`RecordedRequest` and returns a ``Route``, for
dynamic answers (counting, conditional GET, ...).

Fault helpers: :func:`slow` (sleeps before answering), :func:`redirect`,
:func:`redirect_loop`, :func:`status_page` (404, 500, 503, ...), :func:`pdf`,
:func:`robots_txt`, :func:`gzipped`, :func:`gzip_bomb`, :func:`truncated`,
:func:`bad_encoding_page` and :func:`conditional` (ETag / Last-Modified → 304).
"""

from __future__ import annotations

import contextlib
import gzip
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = [
    "LocalServer",
    "RecordedRequest",
    "Route",
    "bad_encoding_page",
    "conditional",
    "gzip_bomb",
    "gzipped",
    "html_page",
    "pdf",
    "redirect",
    "redirect_loop",
    "robots_txt",
    "slow",
    "status_page",
    "truncated",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """What the server answers on one path."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0  # seconds to sleep before sending anything
    truncate_to: int | None = None  # send only this many body bytes, then close
    content_length: bool = True  # send Content-Length (len(body)) unless headers do


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-case names
    received_at: float  # time.monotonic()


RouteLike = Route | Callable[[RecordedRequest], Route]


class LocalServer:
    """A threaded HTTP server on 127.0.0.1:<ephemeral port>; use as a context manager."""

    def __init__(self, routes: Mapping[str, RouteLike] | None = None) -> None:
        self.routes: dict[str, RouteLike] = dict(routes or {})
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> LocalServer:
        """Bind a free port and serve in a daemon thread."""
        handler = type("_BoundHandler", (_Handler,), {"server_state": self})
        httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._httpd = httpd
        # A short poll interval keeps shutdown (once per test) quick.
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.02,), daemon=True, name=f"LocalServer:{self.port}"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses and routes --------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._httpd is None:
            raise RuntimeError("LocalServer is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def add(self, path: str, route: RouteLike) -> None:
        """Serve ``route`` on ``path`` (also while running)."""
        with self._lock:
            self.routes[path] = route

    # -- what was received ------------------------------------------------------------

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The requests received on ``path`` (matched with, or without, the query)."""
        with self._lock:
            return [r for r in self.requests if path in (r.path, r.path.partition("?")[0])]

    def hits(self, path: str) -> int:
        """How many requests ``path`` received."""
        return len(self.requests_to(path))

    def _record(self, request: RecordedRequest) -> RouteLike | None:
        with self._lock:
            self.requests.append(request)
            return self.routes.get(request.path) or self.routes.get(request.path.partition("?")[0])


class _QuietServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that does not wait for slow handlers or report hang-ups."""

    # Slow routes must not hold up shutdown or the end of the test run.
    daemon_threads = True
    block_on_close = False
    # The default backlog of 5 drops SYNs when a crawler opens 16 connections at
    # once; the retransmission then costs a second and looks like a timeout.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or cancel a download hang up on us: that is the test.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Answers from the owning LocalServer's routes."""

    server_state: LocalServer
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        recorded = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            received_at=time.monotonic(),
        )
        found = self.server_state._record(recorded)
        route = found(recorded) if callable(found) else found
        if route is None:
            route = status_page(404)
        if route.delay:
            time.sleep(route.delay)
        # The client may have given up (timed out) meanwhile: that is expected.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._send(route, send_body=send_body)

    def _send(self, route: Route, *, send_body: bool) -> None:
        self.send_response(route.status)
        names = {k.lower() for k in route.headers}
        for name, value in route.headers.items():
            self.send_header(name, value)
        if route.content_length and "content-length" not in names:
            self.send_header("Content-Length", str(len(route.body)))
        if route.truncate_to is not None or not route.content_length:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if send_body and route.status not in (204, 304):
            body = route.body if route.truncate_to is None else route.body[: route.truncate_to]
            self.wfile.write(body)
            self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet


# -- routes for fixture sites and faults ------------------------------------------------


def html_page(
    title: str, text: str = "", *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Route:
    """A small UTF-8 HTML article page."""
    text = text or f"This is the article called {title}."
    body = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"</head><body><article><h1>{title}</h1><p>{text}</p></article></body></html>"
    )
    return Route(
        status=status,
        body=body.encode(),
        headers={"Content-Type": "text/html; charset=utf-8", **(headers or {})},
    )


def status_page(status: int, *, headers: Mapping[str, str] | None = None) -> Route:
    """An HTML error page with ``status`` (404, 500, 503, ...)."""
    return html_page(f"Error {status}", status=status, headers=headers)


def slow(seconds: float, route: Route | None = None) -> Route:
    """``route`` (a page by default), answered only after sleeping ``seconds``."""
    route = route or html_page("Slow")
    return Route(status=route.status, headers=route.headers, body=route.body, delay=seconds)


def redirect(location: str, status: int = 302) -> Route:
    """A redirect to ``location`` (relative or absolute, any scheme)."""
    return Route(status=status, headers={"Location": location})


def redirect_loop(*paths: str) -> dict[str, Route]:
    """Routes redirecting each of ``paths`` to the next, the last back to the first."""
    return {path: redirect(paths[(i + 1) % len(paths)]) for i, path in enumerate(paths)}


def pdf() -> Route:
    """A (tiny, fake) PDF document: not HTML."""
    return Route(
        body=b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n%%EOF\n",
        headers={"Content-Type": "application/pdf"},
    )


def robots_txt(disallow: Iterable[str] = (), *, agent: str = "*") -> Route:
    """A robots.txt disallowing ``disallow`` path prefixes for ``agent``."""
    lines = [f"User-agent: {agent}", *(f"Disallow: {p}" for p in disallow), ""]
    return Route(body="\n".join(lines).encode(), headers={"Content-Type": "text/plain"})


def gzipped(route: Route) -> Route:
    """``route`` with its body gzip-compressed and ``Content-Encoding: gzip``."""
    return Route(
        status=route.status,
        body=gzip.compress(route.body),
        delay=route.delay,
        headers={**route.headers, "Content-Encoding": "gzip"},
    )


def gzip_bomb(
    decompressed_bytes: int = 50_000_000, content_type: str = "text/html; charset=utf-8"
) -> Route:
    """A small gzip body that inflates to ``decompressed_bytes`` (about 1000:1)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * 1_000_000
    parts = [compressor.compress(b"<html><body>")]
    for _ in range(decompressed_bytes // len(chunk)):
        parts.append(compressor.compress(chunk))
    parts.append(compressor.flush())
    return Route(
        body=b"".join(parts), headers={"Content-Type": content_type, "Content-Encoding": "gzip"}
    )


def truncated(route: Route | None = None, send: int = 20) -> Route:
    """``route`` announcing its full Content-Length but closing after ``send`` bytes."""
    route = route or html_page("Truncated", "x" * 2000)
    return Route(status=route.status, headers=route.headers, body=route.body, truncate_to=send)


def bad_encoding_page() -> Route:
    """A page declaring UTF-8 whose body is really Latin-1 (invalid UTF-8 bytes)."""
    body = (
        "<html><head><title>Caf\xe9</title></head><body><p>Cr\xe8me br\xfbl\xe9e</p></body></html>"
    )
    return Route(body=body.encode("latin-1"), headers={"Content-Type": "text/html; charset=utf-8"})


def conditional(
    route: Route, *, etag: str | None = None, last_modified: str | None = None
) -> Callable[[RecordedRequest], Route]:
    """A dynamic route sending validators, answering 304 when the client's match."""
    validators = {
        **({"ETag": etag} if etag else {}),
        **({"Last-Modified": last_modified} if last_modified else {}),
    }

    def answer(request: RecordedRequest) -> Route:
        same_etag = etag is not None and request.headers.get("if-none-match") == etag
        same_date = (
            last_modified is not None and request.headers.get("if-modified-since") == last_modified
        )
        if same_etag or same_date:
            return Route(status=304, headers=validators, content_length=True)
        return Route(
            status=route.status,
            body=route.body,
            delay=route.delay,
            headers={**route.headers, **validators},
        )

    return answer
