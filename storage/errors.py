"""Errors raised by ``storage``.

The hierarchy::

    StorageError                  anything storage refuses to do
    ├── DatabaseError             cannot connect, or the database URL is malformed
    ├── SchemaOutOfDateError      the database is behind this code and auto_migrate is off
    ├── SchemaTooNewError         the database carries a revision this code does not know
    ├── UnknownSourceError        a write names a source that sync_sources never stored
    └── BadCursorError            a corpus position token that this database never gave

Every message is one sentence naming the database (password masked) or the input, and
what to do about it, so the entry point can print it without a traceback.
"""

from __future__ import annotations

import re

_PASSWORD_IN_URL = re.compile(r"(?P<head>://[^:/@]*:)[^@]*(?P<tail>@)")


def mask_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``.

    Works on strings SQLAlchemy cannot parse too, which is exactly when we most need
    to name the URL in a message.
    """
    return _PASSWORD_IN_URL.sub(r"\g<head>***\g<tail>", url)


class StorageError(Exception):
    """Base class of everything ``storage`` raises on purpose."""


class DatabaseError(StorageError):
    """The database cannot be reached, or its URL is malformed."""

    def __init__(self, url: str, problem: str) -> None:
        self.url = mask_url(url)
        self.problem = problem
        super().__init__(
            f"Cannot use the database at {self.url}: {problem}; "
            "check database.url and that the database server is running."
        )


class SchemaOutOfDateError(StorageError):
    """The database's schema is behind this code and ``auto_migrate`` is off."""

    def __init__(self, url: str, current: str, head: str) -> None:
        self.url = mask_url(url)
        self.current = current
        self.head = head
        super().__init__(
            f"The database at {self.url} is at schema revision {current} but this "
            f"version of newsingest needs {head}; run `newsingest db upgrade` "
            "(or set database.auto_migrate = true)."
        )


class SchemaTooNewError(StorageError):
    """The database carries a schema revision this code does not know."""

    def __init__(self, url: str, current: str, head: str) -> None:
        self.url = mask_url(url)
        self.current = current
        self.head = head
        super().__init__(
            f"The database at {self.url} is at schema revision {current}, which this "
            f"version of newsingest (newest revision {head}) does not know; upgrade "
            "newsingest or point database.url at another database."
        )


class UnknownSourceError(StorageError):
    """A write names sources that are not in the ``sources`` table."""

    def __init__(self, source_ids: list[str]) -> None:
        self.source_ids = source_ids
        names = ", ".join(repr(s) for s in source_ids)
        super().__init__(
            f"Unknown source(s) {names}: call Store.sync_sources with the configured "
            "sources before writing documents, polls or runs for them."
        )


class BadCursorError(StorageError):
    """A corpus position token (``--after``, a cursor's position) is not one we gave."""

    def __init__(self, token: str, *, ahead: bool = False) -> None:
        self.token = token
        shown = token if len(token) <= 80 else token[:77] + "..."
        problem = (
            "is ahead of every change in this database (is it from another database?)"
            if ahead
            else "is not one that newsingest printed"
        )
        super().__init__(
            f"The position token {shown!r} {problem}; pass the token from a previous "
            "export's 'next:' line, or none to start from the beginning."
        )
