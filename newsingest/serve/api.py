"""The read API's endpoints for stories, sources, runs and the health check.

Every endpoint is a GET that reads through ``storage``; the documents endpoints are
in ``newsingest.serve.documents``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from newsingest.health import SourceStatus, source_statuses
from newsingest.serve.backend import Backend, get_backend
from newsingest.serve.models import RunOut, SourceOut, StoryOut, StoryPage
from storage.browse import StoryView
from storage.records import RunRecord

router = APIRouter()

Reader = Annotated[Backend, Depends(get_backend)]


@router.get("/stories", response_model=StoryPage, summary="Stories, newest first, with members")
def list_stories(
    backend: Reader,
    limit: Annotated[
        int | None, Query(ge=1, le=1000, description="stories per page (default serve.page_size)")
    ] = None,
    after: Annotated[
        str | None, Query(description="the 'next' of the previous page, to read on from there")
    ] = None,
    min_members: Annotated[
        int, Query(ge=1, description="only stories of at least this many documents")
    ] = 1,
    members: Annotated[
        int, Query(ge=0, le=1000, description="documents listed per story, earliest first")
    ] = 20,
) -> StoryPage:
    """Stories newest first, each with its first ``members`` documents."""
    limit = limit or backend.settings.serve.page_size
    before = _story_cursor(after)
    stories = backend.browse.stories(
        limit=limit + 1, before=before, min_members=min_members, members=members
    )
    more = len(stories) > limit
    stories = stories[:limit]
    return StoryPage(
        items=[story_out(s) for s in stories],
        next=str(stories[-1].id) if more else None,
    )


@router.get("/stories/{story_id}", response_model=StoryOut, summary="One story, all members")
def get_story(backend: Reader, story_id: Annotated[int, Path(ge=1)]) -> StoryOut:
    """One story with every document in it."""
    story = backend.browse.story(story_id)
    if story is None:
        raise HTTPException(status_code=404, detail=f"There is no story with id {story_id}.")
    return story_out(story)


@router.get("/sources", response_model=list[SourceOut], summary="Sources with their health")
def list_sources(backend: Reader) -> list[SourceOut]:
    """Every source the database knows: health, documents, failures, last and next run."""
    return [source_out(s) for s in statuses(backend)]


@router.get("/runs", response_model=list[RunOut], summary="Recent runs, newest first")
def list_runs(
    backend: Reader,
    limit: Annotated[int, Query(ge=1, le=1000, description="how many runs")] = 50,
    source: Annotated[str | None, Query(description="only the runs of this source id")] = None,
) -> list[RunOut]:
    """The most recent runs over all sources (or one), newest first."""
    if source is not None:
        check_sources(backend, [source])
    return [run_out(r) for r in backend.store.runs(source, limit=limit)]


def statuses(backend: Backend) -> list[SourceStatus]:
    """The status of every source, as ``newsingest status`` reports it."""
    settings = backend.settings
    return source_statuses(backend.store, settings.sources, settings.scheduler)


def check_sources(backend: Backend, wanted: list[str]) -> None:
    """400 naming the first of ``wanted`` that the database does not know."""
    known = backend.browse.source_ids()
    for source in wanted:
        if source not in known:
            names = ", ".join(known) or "none yet"
            raise HTTPException(
                status_code=400,
                detail=f"Unknown source {source!r}; the sources are: {names}.",
            )


def story_out(story: StoryView) -> StoryOut:
    """A story as the API shows it."""
    return StoryOut.model_validate(story, from_attributes=True)


def source_out(status: SourceStatus) -> SourceOut:
    """A source status as the API shows it."""
    return SourceOut.model_validate(status, from_attributes=True)


def run_out(run: RunRecord) -> RunOut:
    """A run as the API shows it."""
    c = run.counts
    return RunOut(
        id=run.id,
        source=run.source,
        started_at=run.started_at,
        finished_at=run.finished_at,
        status=run.status,
        found=c.found,
        new=c.new,
        fetched=c.fetched,
        stored=c.stored,
        updated=c.updated,
        unchanged=c.unchanged,
        failed=dict(c.failed),
        skipped=dict(c.skipped),
        error=run.error,
    )


def _story_cursor(after: str | None) -> int | None:
    """The story id a stories cursor stands for; 400 when it is not one of ours."""
    if not after:  # "?after=" with nothing: from the beginning
        return None
    if not after.isdigit() or int(after) < 1:
        raise HTTPException(
            status_code=400,
            detail=f"after={after!r} is not a stories cursor; pass the 'next' of a page.",
        )
    return int(after)
