"""The read API's document endpoints: filtered pages read on by cursor, and one document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from newsingest.serve.api import check_sources
from newsingest.serve.backend import Backend, get_backend
from newsingest.serve.models import DocumentOut, DocumentPage
from storage.corpus import CorpusDocument, CorpusFilter

router = APIRouter()

Reader = Annotated[Backend, Depends(get_backend)]


@router.get("/documents", response_model=DocumentPage, summary="Documents, a page at a time")
def list_documents(
    backend: Reader,
    since: Annotated[
        datetime | None,
        Query(description="from this time on (ISO 8601; a time without a zone is UTC)"),
    ] = None,
    until: Annotated[datetime | None, Query(description="before this time (ISO 8601)")] = None,
    time_field: Annotated[
        Literal["published", "fetched"], Query(description="the time since/until apply to")
    ] = "published",
    source: Annotated[
        list[str] | None, Query(description="only these source ids (repeat for several)")
    ] = None,
    language: Annotated[
        list[str] | None, Query(description="only these languages, e.g. en (repeatable)")
    ] = None,
    story: Annotated[
        int | None, Query(ge=1, description="only the documents of this story")
    ] = None,
    representatives_only: Annotated[
        bool, Query(description="one document per copy cluster: its representative")
    ] = False,
    after: Annotated[
        str | None, Query(description="the 'next' of the previous page, to read on from there")
    ] = None,
    limit: Annotated[
        int | None, Query(ge=1, le=1000, description="documents per page (default serve.page_size)")
    ] = None,
) -> DocumentPage:
    """Stored documents matching every filter given, in a stable order.

    Documents come in the order they were stored or last changed. Follow ``next``
    until it is null to read each of them once; keep the last page's ``position`` and
    read from it later to get only the documents stored or changed since.
    """
    after = after or None  # "?after=" with nothing: from the beginning
    sources = tuple(source or ())
    if sources:
        check_sources(backend, list(sources))
    if story is not None and not backend.browse.has_story(story):
        raise HTTPException(status_code=400, detail=f"There is no story with id {story}.")
    filters = CorpusFilter(
        since=_utc(since),
        until=_utc(until),
        time_field=time_field,
        sources=sources,
        languages=tuple(language or ()),
        story=story,
        representatives_only=representatives_only,
    )
    limit = limit or backend.settings.serve.page_size
    # One more than a page: whether it comes tells if there is a next page.
    read = backend.corpus.read(filters, after=after, limit=limit + 1)
    found = list(read)
    page = found[:limit]
    if len(found) > limit:
        next_page = backend.corpus.position(page[-1])
        return DocumentPage(
            items=[document_out(d) for d in page], next=next_page, position=next_page
        )
    # The whole rest was read: its position is after every change seen, so a reader
    # that comes back with it later gets only what was stored or changed since.
    return DocumentPage(items=[document_out(d) for d in page], next=None, position=read.position)


@router.get("/documents/{document_id}", response_model=DocumentOut, summary="One document")
def get_document(backend: Reader, document_id: Annotated[int, Path(ge=1)]) -> DocumentOut:
    """One stored document by its id."""
    document = backend.corpus.document(document_id)
    if document is None:
        raise HTTPException(
            status_code=404, detail=f"There is no stored document with id {document_id}."
        )
    return document_out(document)


def document_out(document: CorpusDocument) -> DocumentOut:
    """A corpus document as the API shows it."""
    return DocumentOut.model_validate(document, from_attributes=True)


def _utc(value: datetime | None) -> datetime | None:
    """``value`` in UTC; a time given without a zone is taken to be UTC already."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
