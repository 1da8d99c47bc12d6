"""Configuration: the example loads, bad configs stop with one sentence naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsingest.config import ConfigError, load_settings
from tests.conftest import REPO


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "newsingest.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_config_is_valid() -> None:
    settings = load_settings(REPO / "newsingest.example.toml")
    assert settings.sources[0].kind == "feed"
    assert settings.crawl.obey_robots is True


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[database]\nurl = "sqlite:///from-file.db"\n[crawl]\ndelay = 3\n')
    monkeypatch.setenv("NEWSINGEST_DATABASE__URL", "sqlite:///from-env.db")
    settings = load_settings(path)
    assert settings.database.url == "sqlite:///from-env.db"
    assert settings.crawl.delay == 3  # what the environment does not set stays


def test_url_list_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "list.txt").write_text("http://127.0.0.1/a\n")
    path = write(tmp_path, '[[sources]]\nid = "b"\nkind = "urls"\npath = "list.txt"\n')
    assert load_settings(path).sources[0].path == tmp_path / "list.txt"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[crawl]\ndelai = 1\n", "unknown key 'crawl.delai'"),
        (
            '[[sources]]\nid = "x"\nkind = "feed"\nurl = "ftp://example.org/feed"\n',
            "sources['x'].url: 'ftp://example.org/feed' is not an http(s) URL",
        ),
        (
            '[[sources]]\nid = "x"\nkind = "feed"\nurl = "http://e.org/f"\n'
            'interval = "5 minutes"\n',
            "sources['x'].interval: '5 minutes' is not an interval",
        ),
        (
            '[[sources]]\nid = "x"\nkind = "feed"\nurl = "http://e.org/f"\ncron = "61 * * * *"\n',
            "sources['x'].cron: '61 * * * *' is not a crontab expression",
        ),
        ('[[sources]]\nid = "x"\nkind = "urls"\npath = "missing.txt"\n', "does not exist"),
        (
            '[[sources]]\nid = "x"\nkind = "feed"\nurl = "http://e.org/a"\n'
            '[[sources]]\nid = "x"\nkind = "feed"\nurl = "http://e.org/b"\n',
            "source id 'x' is used twice",
        ),
        ("[crawl\n", "is not valid TOML"),
    ],
)
def test_a_bad_config_is_one_sentence_naming_the_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message and "Traceback" not in message


def test_a_missing_config_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not exist; pass --config FILE"):
        load_settings(tmp_path / "nope.toml")
