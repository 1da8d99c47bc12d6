"""One typed ``Settings`` object: a TOML file plus ``NEWSINGEST_*`` environment overrides.

Each room defines its own section next to the code that reads it; this module only
puts them together and turns validation errors into one readable sentence.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from crawler.settings import CrawlSettings
from crawler.sources import SourceConfig
from newsingest.serve.settings import ServeSettings
from pipeline.boilerplate import BoilerplateSettings
from pipeline.copies import CopySettings
from pipeline.settings import PipelineSettings
from pipeline.stories import StorySettings
from scheduler import SchedulerSettings
from storage.settings import DatabaseSettings

DEFAULT_CONFIG = Path("newsingest.toml")


class ConfigError(Exception):
    """The configuration cannot be used; the message says which field and why."""


class Settings(BaseSettings):
    """Everything newsingest can be told, one section per room."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSINGEST_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    copies: CopySettings = Field(default_factory=CopySettings)
    boilerplate: BoilerplateSettings = Field(default_factory=BoilerplateSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    stories: StorySettings = Field(default_factory=StorySettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    sources: list[SourceConfig] = Field(default_factory=list)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one object per line, for collectors

    @model_validator(mode="after")
    def _unique_source_ids(self) -> Settings:
        seen: set[str] = set()
        for source in self.sources:
            if source.id in seen:
                raise ValueError(f"source id {source.id!r} is used twice")
            seen.add(source.id)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file: the file's values arrive as init kwargs.
        return (env_settings, init_settings)

    def source(self, source_id: str) -> SourceConfig:
        """The source with this id; ConfigError names the ids there are."""
        for source in self.sources:
            if source.id == source_id:
                return source
        known = ", ".join(s.id for s in self.sources) or "none"
        raise ConfigError(f"no source with id {source_id!r} (configured: {known})")


def load_settings(path: Path | None = None, *, required: bool = True) -> Settings:
    """Read the TOML config at ``path`` (default ./newsingest.toml) and validate it.

    A missing default file gives the built-in defaults when ``required`` is false.
    """
    explicit = path is not None
    path = path or DEFAULT_CONFIG
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        _resolve_paths(data, path.parent)
    elif explicit or required:
        raise ConfigError(
            f"config file {path} does not exist; pass --config FILE "
            "(newsingest.example.toml is a documented starting point)"
        )
    return build_settings(data, origin=str(path))


def build_settings(data: dict[str, Any], *, origin: str = "settings") -> Settings:
    """Validate a settings mapping, turning the first error into one clear sentence."""
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, origin, data)) from None


def describe_validation_error(exc: ValidationError, origin: str, data: dict[str, Any]) -> str:
    """One sentence for the first problem: where it is, and what is wrong."""
    first = exc.errors()[0]
    loc = first["loc"]
    where = _location(loc, data)
    if first["type"] == "extra_forbidden":
        return f"{origin}: unknown key {where!r}; check its spelling against the README"
    if first["type"] == "missing":
        return f"{origin}: {where} is required"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{origin}: {where}: {message}"


def _location(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    parts: list[str] = []
    for i, item in enumerate(loc):
        if isinstance(item, int):
            name = ""
            if parts == ["sources"]:
                sources = data.get("sources") or []
                if item < len(sources) and isinstance(sources[item], dict):
                    name = str(sources[item].get("id", ""))
            parts[-1] += f"[{name!r}]" if name else f"[{item}]"
        elif i == 0 or not str(item)[0].isupper():  # skip pydantic's union tags
            parts.append(str(item))
    return ".".join(parts) or "(top level)"


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Make source file paths relative to the config file, not the working directory."""
    for source in data.get("sources") or []:
        if isinstance(source, dict) and isinstance(source.get("path"), str):
            candidate = Path(source["path"]).expanduser()
            if not candidate.is_absolute():
                source["path"] = str(base / candidate)
