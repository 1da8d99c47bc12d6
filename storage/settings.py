"""The database section of the settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DatabaseSettings(BaseModel):
    """Where the corpus lives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = "sqlite:///newsingest.db"  # or postgresql+psycopg://user@host/db
    auto_migrate: bool = True  # upgrade an out-of-date schema on open, else refuse
    echo: bool = False
