"""The Alembic migrations, run for real on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.config import Config
from sqlalchemy import Engine, Row, inspect, text

from alembic import command
from storage.errors import SchemaOutOfDateError, SchemaTooNewError
from storage.migrate import (
    SCRIPT_LOCATION,
    alembic_config,
    current_revision,
    downgrade,
    ensure_schema,
    head_revision,
    upgrade,
)
from storage.schema import metadata
from storage.stories import UNDATED_FIRST, UNDATED_LAST, time_key

REPO = SCRIPT_LOCATION.parent
# Every table the models define (features add theirs through storage.schema).
TABLES = set(metadata.tables)

EXTRA_REVISION = '''"""A later revision, for tests only."""
import sqlalchemy as sa
from alembic import op

revision = "0099"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("extra", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("extra")
'''


def _rows(engine: Engine, sql: str) -> list[Row[Any]]:
    with engine.begin() as conn:
        return list(conn.execute(text(sql)))


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


@pytest.fixture
def newer_scripts(tmp_path: Path) -> Path:
    """A copy of our migrations plus one revision past head: a newer newsingest."""
    location = tmp_path / "alembic"
    shutil.copytree(SCRIPT_LOCATION, location, ignore=shutil.ignore_patterns("__pycache__"))
    (location / "versions" / "0099_extra.py").write_text(
        EXTRA_REVISION.format(head=head_revision())
    )
    return location


def test_upgrade_and_downgrade_base(engine: Engine) -> None:
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert tables(engine) == TABLES
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert tables(engine) == set()
    upgrade(engine)  # and back up again: the downgrade left nothing in the way
    assert tables(engine) == TABLES


def test_models_match_migrations(engine: Engine) -> None:
    """`alembic check`: autogenerate finds nothing the migrations forgot."""
    upgrade(engine)
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.check(config)


def test_alembic_command_line(database_url: str, engine: Engine) -> None:
    """`alembic upgrade head` and `downgrade base` from the repository, as a user runs them."""
    alembic = Path(sys.executable).with_name("alembic")
    env = {k: v for k, v in os.environ.items() if k != "NEWSINGEST_DATABASE__URL"}
    for args in (["upgrade", "head"], ["downgrade", "base"], ["upgrade", "head"]):
        subprocess.run(
            [str(alembic), "-x", f"url={database_url}", *args],
            cwd=REPO,
            env=env,
            check=True,
            capture_output=True,
        )
    assert current_revision(engine) == head_revision()
    assert tables(engine) == TABLES


def test_empty_database_is_created_even_without_auto_migrate(engine: Engine) -> None:
    ensure_schema(engine, auto_migrate=False)
    assert current_revision(engine) == head_revision()


def test_out_of_date_database_is_refused_without_auto_migrate(
    engine: Engine, newer_scripts: Path
) -> None:
    upgrade(engine)  # at our head, which the newer code considers old
    with pytest.raises(SchemaOutOfDateError) as caught:
        ensure_schema(engine, auto_migrate=False, script_location=newer_scripts)
    message = str(caught.value)
    assert head_revision() in message and "0099" in message
    assert "newsingest db upgrade" in message
    assert engine.url.render_as_string(hide_password=True) in message
    assert current_revision(engine) == head_revision()  # untouched


def test_out_of_date_database_is_upgraded_with_auto_migrate(
    engine: Engine, newer_scripts: Path
) -> None:
    upgrade(engine)
    ensure_schema(engine, auto_migrate=True, script_location=newer_scripts)
    assert current_revision(engine) == "0099"
    assert "extra" in tables(engine)


def test_database_from_newer_code_is_refused(engine: Engine, newer_scripts: Path) -> None:
    upgrade(engine, script_location=newer_scripts)
    with pytest.raises(SchemaTooNewError, match="0099"):
        ensure_schema(engine, auto_migrate=True)


def test_alembic_config_does_not_depend_on_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert isinstance(alembic_config(), Config)
    # The newest migration file, found without Alembic, is the head from anywhere.
    versions = Path(__file__).resolve().parents[2] / "alembic" / "versions"
    assert head_revision() == max(p.name.split("_")[0] for p in versions.glob("0*.py"))


def test_story_postings_survive_the_move_to_time_keys(engine: Engine) -> None:
    """0008 re-keys the story index by time: listed stories stay listed, both ways."""
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0007")
        conn.execute(
            text(
                "INSERT INTO stories (id, vector, members, first_at, last_at, touched) VALUES "
                "(1, '{}', 2, '2024-03-01 10:00:00.000000', '2024-03-02 12:30:00.250000', 5), "
                "(2, '{}', 1, NULL, NULL, 6)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO story_postings (term, story_id, first_at, last_at, touched) VALUES "
                "('quake', 1, '2024-03-01 10:00:00.000000', '2024-03-02 12:30:00.250000', 5), "
                "('n:kim_jong_un', 1, '2024-03-01 10:00:00.000000', "
                "'2024-03-02 12:30:00.250000', 5), ('quake', 2, NULL, NULL, 6)"
            )
        )
    upgrade(engine)
    stored = {
        (row.term, row.story_id): (row.first_key, row.last_key, row.touched)
        for row in _rows(engine, "SELECT * FROM story_postings")
    }
    assert stored == {
        ("quake", 1): (
            time_key(datetime(2024, 3, 1, 10, tzinfo=UTC)),
            time_key(datetime(2024, 3, 2, 12, 30, 0, 250_000, tzinfo=UTC)),
            5,
        ),
        ("n:kim_jong_un", 1): stored[("quake", 1)],
        ("quake", 2): (UNDATED_FIRST, UNDATED_LAST, 6),
    }
    downgrade(engine, "0007")
    back = {
        (row.term, row.story_id): (row.first_at, row.last_at)
        for row in _rows(engine, "SELECT * FROM story_postings")
    }
    assert back[("quake", 2)] == (None, None)
    assert back[("quake", 1)][1] is not None
    assert str(back[("quake", 1)][1]).startswith("2024-03-02 12:30:00.25")
    assert len(back) == 3
