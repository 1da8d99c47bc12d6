"""What every subcommand shares: the context from the group options, error handling."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from crawler.errors import CrawlerError
from newsingest.config import ConfigError, Settings, load_settings
from newsingest.logs import setup_logging
from storage.errors import StorageError

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Turn errors a user can cause into one sentence on stderr and exit status 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ConfigError, StorageError, CrawlerError) as exc:
            click.echo(f"newsingest: {exc}", err=True)
            sys.exit(2)

    return cast(F, wrapper)


class Context:
    """What the group options give to every subcommand."""

    def __init__(self, config: Path | None, log_level: str | None) -> None:
        self.config = config
        self.log_level = log_level

    def settings(self, *, required: bool = True) -> Settings:
        settings = load_settings(self.config, required=required)
        setup_logging(self.log_level or settings.log_level, settings.log_format)
        return settings


pass_context = click.make_pass_decorator(Context)
