"""One settings object: defaults for the embedded hub, environment over file over defaults, and
refusal of inconsistent configurations."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from cbamhub.settings import CONFIG_FILE_ENV, Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("CBAMHUB_"):
            monkeypatch.delenv(name)


def test_defaults_are_one_sqlite_shard_per_region_under_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    urls = settings.region_urls()
    assert set(urls) == {"eu", "cn", "in", "tr", "row"}
    assert urls["eu"] == f"sqlite+aiosqlite:///{tmp_path / 'shard-eu.db'}"
    assert settings.key_dir() == tmp_path / "keys"


def test_countries_route_to_their_home_region() -> None:
    settings = Settings()
    assert settings.region_for_country("de") == "eu"
    assert settings.region_for_country("NO") == "eu"
    assert settings.region_for_country("CN") == "cn"
    assert settings.region_for_country("IN") == "in"
    assert settings.region_for_country("TR") == "tr"
    assert settings.region_for_country("BR") == "row"


def test_environment_overrides_the_file_which_overrides_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(
        "port = 9000\nwitness_interval_seconds = 5.0\n"
        '[regions]\neu = "sqlite+aiosqlite:///eu.db"\nrow = "sqlite+aiosqlite:///row.db"\n'
        '[country_regions]\nDE = "eu"\n'
    )
    monkeypatch.setenv(CONFIG_FILE_ENV, str(config))
    monkeypatch.setenv("CBAMHUB_PORT", "9100")
    monkeypatch.setenv("CBAMHUB_REGIONS__EU", "postgresql+asyncpg://hub@db-eu/hub")
    settings = Settings()
    assert settings.port == 9100
    assert settings.witness_interval_seconds == 5.0
    assert settings.region_urls()["eu"] == "postgresql+asyncpg://hub@db-eu/hub"


def test_a_missing_settings_file_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(CONFIG_FILE_ENV, str(tmp_path / "nope.toml"))
    with pytest.raises(FileNotFoundError, match="no such settings file"):
        Settings()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"regions": {"eu": "sqlite+aiosqlite:///x.db"}}, "without a shard"),
        ({"default_region": "mars"}, "without a shard"),
        ({"witness_threshold": 2}, "exceeds"),
        ({"log_origin_template": "hub.example/log"}, "{region}"),
        ({"unknown_option": 1}, "Extra inputs"),
    ],
)
def test_inconsistent_settings_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**changes)  # type: ignore[arg-type]
