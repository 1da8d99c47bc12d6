"""URL aliases: every other URL under which a stored document was met.

A document is keyed by its canonical URL (``documents.url``). The URL a feed or list
gave, the URL a redirect ended on, and the page's own rel=canonical / og:url can all
differ from it; each variant is kept here, so that meeting it again never fetches
the page twice nor creates a second document.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class UrlAliasRow(Base):
    """One URL variant (``alias``, canonicalised) of the document ``document_id``."""

    __tablename__ = "url_aliases"

    alias: Mapped[str] = mapped_column(Text, primary_key=True)
    document_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
