"""The pipeline section of the settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PipelineSettings(BaseModel):
    """How pages become articles."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workers: int = Field(0, ge=0, le=256)  # extraction processes; 0 = one per CPU
    min_text_chars: int = Field(200, ge=0)  # shorter main text counts as no main text
    favor_precision: bool = False  # trafilatura's precision mode
    # Outcomes written per transaction. The copy and story stages pay per batch for
    # what a batch's articles share (their terms' statistics, the stories they join),
    # so larger batches cost less per article: 200 gives ~30% more articles per CPU
    # second than 50 (benchmarks/dedup_scale.py), and the same stories on ECB+.
    batch_size: int = Field(200, ge=1, le=10_000)
    # ... or fewer, when a page arrives this long after the batch's first one, so a
    # slow trickle of pages is stored within seconds and not held until 200 arrive.
    batch_seconds: float = Field(10.0, gt=0, le=3600)
