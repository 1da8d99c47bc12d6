"""The FastAPI app of ``newsingest serve``: the read API under /api and the status page at /.

Read-only: every route is a GET. With ``serve.token`` set, the API asks for
``Authorization: Bearer <token>`` (declared in the OpenAPI schema) and the page for
the same token (or Basic auth with it as password, see ``newsingest.serve.auth``);
/healthz, /openapi.json and /docs stay open, since they reveal nothing stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.params import Depends as DependsParam
from fastapi.responses import HTMLResponse, JSONResponse

from newsingest import __version__
from newsingest.config import Settings
from newsingest.serve import api, documents
from newsingest.serve.auth import api_guard, page_guard
from newsingest.serve.backend import Backend, get_backend, open_backend
from newsingest.serve.models import ErrorOut, HealthOut
from newsingest.serve.pages import render_status_page
from storage.errors import BadCursorError, StorageError

PAGE_RUNS = 20
PAGE_STORIES = 20
PAGE_MIN_MEMBERS = 2  # most stories have one document; the page shows the ones told twice
PAGE_MEMBERS = 10

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "a bad parameter, named in the sentence"},
    404: {"model": ErrorOut, "description": "no such item"},
}


def create_app(settings: Settings) -> FastAPI:
    """The app over the configured database, which it opens now (errors surface early).

    The database connections are closed when the server shuts the app down.
    """
    backend = open_backend(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        backend.close()

    app = FastAPI(
        title="newsingest",
        version=__version__,
        description="Read-only access to the newsingest corpus: documents, stories, sources.",
        lifespan=lifespan,
    )
    app.state.backend = backend
    token = settings.serve.token
    guard: list[DependsParam] = [Depends(api_guard(token))] if token else []
    responses = dict(_ERRORS)
    if token:
        responses[401] = {"model": ErrorOut, "description": "no token, or a wrong one"}
    for router in (documents.router, api.router):
        app.include_router(router, prefix="/api", dependencies=guard, responses=responses)
    _add_page(app, [Depends(page_guard(token))] if token else [])
    _add_health(app)
    _add_error_handlers(app)
    app.openapi = _openapi_without_422(app)  # type: ignore[method-assign]
    return app


def _add_page(app: FastAPI, guard: list[DependsParam]) -> None:
    @app.get("/", response_class=HTMLResponse, dependencies=guard, include_in_schema=False)
    def status_page(backend: Annotated[Backend, Depends(get_backend)]) -> HTMLResponse:
        """The HTML status page for people."""
        html = render_status_page(
            statuses=api.statuses(backend),
            runs=backend.store.runs(limit=PAGE_RUNS),
            stories=backend.browse.stories(
                limit=PAGE_STORIES, min_members=PAGE_MIN_MEMBERS, members=PAGE_MEMBERS
            ),
            now=datetime.now(UTC),
            min_members=PAGE_MIN_MEMBERS,
        )
        return HTMLResponse(html)


def _add_health(app: FastAPI) -> None:
    @app.get("/healthz", response_model=HealthOut, responses={503: {"model": ErrorOut}})
    def healthz(backend: Annotated[Backend, Depends(get_backend)]) -> HealthOut:
        """Whether the server and its database answer (for load balancers and probes)."""
        backend.browse.source_ids()  # a DatabaseError becomes a 503
        return HealthOut(status="ok")


def _add_error_handlers(app: FastAPI) -> None:
    """Every error a client or the database causes is one sentence, never a traceback."""

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": describe_parameter_error(exc)}, status_code=400)

    @app.exception_handler(BadCursorError)
    async def bad_cursor(request: Request, exc: BadCursorError) -> JSONResponse:
        # The storage message speaks of the export command; this one of the API.
        detail = (
            f"after={exc.token[:80]!r} is not a position this API gave for this database; "
            "pass the 'next' or 'position' of a page, or leave it out to start at the beginning."
        )
        return JSONResponse({"detail": detail}, status_code=400)

    @app.exception_handler(StorageError)
    async def storage_error(request: Request, exc: StorageError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)


def describe_parameter_error(exc: RequestValidationError) -> str:
    """One sentence for the first bad parameter: which one, what was given, what is wrong."""
    first = exc.errors()[0]
    where, *names = (str(part) for part in first.get("loc", ()))
    name = ".".join(names) or where
    kind = {"query": "query parameter", "path": "path parameter"}.get(where, where)
    given = f" = {first['input']!r}" if "input" in first and first["input"] is not None else ""
    message = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
    return f"{kind} {name!r}{given}: {message}."


def _openapi_without_422(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The schema generator, minus FastAPI's 422 answers: bad parameters get a 400 here."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
            for unused in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi
