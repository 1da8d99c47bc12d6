"""The read API's response bodies, as Pydantic models (they make its OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class DocumentOut(BaseModel):
    """One stored article with its copy cluster and story."""

    id: int
    url: str = Field(description="canonical URL, the natural key")
    final_url: str | None = Field(description="where the fetch ended, after redirects")
    source: str = Field(description="the source that first found the URL")
    title: str | None
    authors: list[str]
    language: str | None
    published_at: datetime | None
    fetched_at: datetime | None
    first_seen_at: datetime
    updated_at: datetime
    text: str = Field(description="the cleaned body text")
    content_hash: str
    copy_id: int | None = Field(description="its copy cluster (null until the copy stage ran)")
    is_representative: bool = Field(description="it represents its copy cluster")
    story_id: int | None


class DocumentPage(BaseModel):
    """One page of documents and the cursor to read on from."""

    items: list[DocumentOut]
    next: str | None = Field(
        description="pass as ?after= to read the next page; null on the last page"
    )
    position: str | None = Field(
        description=(
            "pass as ?after= later to read only what was stored or changed since "
            "(on the last page: after every change seen); null when nothing was read"
        )
    )


class StoryMemberOut(BaseModel):
    """One document of a story."""

    id: int
    url: str
    source: str
    title: str | None
    published_at: datetime | None
    copy_id: int | None
    is_representative: bool


class StoryOut(BaseModel):
    """A story: documents about one event, copies or not."""

    id: int
    size: int = Field(description="documents in the story, also those not listed in members")
    publishers: list[str] = Field(description="source ids of its documents")
    title: str | None = Field(description="the title of its earliest published document")
    first_at: datetime | None
    last_at: datetime | None
    members: list[StoryMemberOut] = Field(description="its documents, earliest published first")


class StoryPage(BaseModel):
    """One page of stories, newest first, and the cursor to read on from."""

    items: list[StoryOut]
    next: str | None = Field(
        description="pass as ?after= to read the next page; null on the last page"
    )


class SourceOut(BaseModel):
    """A source with its health, documents, failures, last run and next run."""

    source: str
    kind: str
    health: str = Field(description="ok, failing, dead, disabled or not configured")
    documents: int
    failed: dict[str, int] = Field(description="failed or skipped URLs by reason")
    consecutive_failures: int
    last_success_at: datetime | None
    last_run_at: datetime | None
    last_run_status: str | None
    next_run_at: datetime | None = Field(description="null when not scheduled")
    last_error: str | None
    dead_reason: str | None


class RunOut(BaseModel):
    """One pass over one source with its outcome counts."""

    id: int
    source: str
    started_at: datetime
    finished_at: datetime | None
    status: str = Field(description="running, ok, failed or interrupted")
    found: int
    new: int
    fetched: int
    stored: int
    updated: int
    unchanged: int
    failed: dict[str, int] = Field(description="failed URLs by reason")
    skipped: dict[str, int] = Field(description="skipped URLs by reason")
    error: str | None


class HealthOut(BaseModel):
    """The server answers and its database too."""

    status: str


class ErrorOut(BaseModel):
    """What every 4xx and 5xx answer carries: one sentence."""

    detail: str
