"""What the endpoints read from: one engine's store, story browser and corpus."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from newsingest.config import Settings
from storage.browse import BrowseStore
from storage.corpus import Corpus
from storage.store import Store, open_store


@dataclass(frozen=True, slots=True, kw_only=True)
class Backend:
    """The storage readers of one app, sharing one engine (thread-safe like it)."""

    settings: Settings
    store: Store
    browse: BrowseStore
    corpus: Corpus

    def close(self) -> None:
        """Close the engine's pooled connections."""
        self.store.dispose()


def open_backend(settings: Settings) -> Backend:
    """Connect to the configured database (bringing its schema to head if allowed)."""
    store = open_store(settings.database)
    return Backend(
        settings=settings,
        store=store,
        browse=BrowseStore(store.engine),
        corpus=Corpus(store.engine),
    )


def get_backend(request: Request) -> Backend:
    """The app's backend (a FastAPI dependency)."""
    backend: Backend = request.app.state.backend
    return backend
