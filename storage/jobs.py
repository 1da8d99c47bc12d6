"""APScheduler's job table, declared here so migrations create it and ``alembic check``
knows it; ``SQLAlchemyJobStore`` reads and writes it (``scheduler.py``).

The columns are exactly those APScheduler 3 defines for ``apscheduler_jobs``.
"""

from __future__ import annotations

from sqlalchemy import Float, LargeBinary, Unicode
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base

JOBS_TABLE = "apscheduler_jobs"


class SchedulerJobRow(Base):
    """One scheduled job: its id, next run time (Unix seconds) and pickled state."""

    __tablename__ = JOBS_TABLE

    id: Mapped[str] = mapped_column(Unicode(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Float(25), index=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)
