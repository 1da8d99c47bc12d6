"""The pipeline section of the settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PipelineSettings(BaseModel):
    """How pages become articles."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workers: int = Field(0, ge=0, le=256)  # extraction processes; 0 = one per CPU
    min_text_chars: int = Field(200, ge=0)  # shorter main text counts as no main text
    favor_precision: bool = False  # trafilatura's precision mode
    batch_size: int = Field(50, ge=1, le=10_000)  # outcomes written per transaction
