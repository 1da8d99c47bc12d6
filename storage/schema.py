"""The whole schema: every module that defines tables, imported in one place.

Alembic (``alembic/env.py``) and the migration checks compare the database against
``metadata``; a feature that keeps tables in a module of its own adds one import here.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from storage import aliases as _aliases  # noqa: F401  (its tables)
from storage import backfill as _backfill  # noqa: F401  (its tables)
from storage import boilerplate as _boilerplate  # noqa: F401  (its tables)
from storage import copies as _copies  # noqa: F401  (its tables)
from storage import cursors as _cursors  # noqa: F401  (its tables)
from storage import health as _health  # noqa: F401  (its tables)
from storage import jobs as _jobs  # noqa: F401  (its tables)
from storage import leader as _leader  # noqa: F401  (its tables)
from storage import stories as _stories  # noqa: F401  (its tables)
from storage.models import Base

metadata: MetaData = Base.metadata
