"""The hub's one settings object, read from the environment (CBAMHUB_*) and an optional TOML file.

Precedence, highest first: keyword arguments, environment variables, the file named by
CBAMHUB_CONFIG_FILE, the defaults below. Nested values use `__` in variable names, e.g.
CBAMHUB_REGIONS__EU=postgresql+asyncpg://hub@db-eu/hub. Defaults are the embedded deployment: one
SQLite file per region under `data_dir`, nothing to install.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_ENV = "CBAMHUB_CONFIG_FILE"

DEFAULT_REGIONS = ("eu", "cn", "in", "tr", "row")

# Data residency, not CBAM scope: EU member states and the EEA keep their data in the EU shard.
_EU_EEA = [
    "AT",
    "BE",
    "BG",
    "HR",
    "CY",
    "CZ",
    "DK",
    "EE",
    "FI",
    "FR",
    "DE",
    "GR",
    "IE",
    "IT",
    "LV",
    "LT",
    "LU",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SK",
    "SI",
    "ES",
    "SE",
    "IS",
    "LI",
    "NO",
]
DEFAULT_COUNTRY_REGIONS: dict[str, str] = {
    **dict.fromkeys(_EU_EEA, "eu"),
    "CN": "cn",
    "HK": "cn",
    "IN": "in",
    "TR": "tr",
}


class WitnessSettings(BaseModel):
    """A witness the logs send checkpoints to: where it answers and the keys its cosignatures use."""

    name: str
    url: str
    bls_public_key: str = Field(description="hex, 48-byte compressed G1 point")
    bls_proof_of_possession: str = Field(description="hex, 96-byte G2 point")
    cosignature_vkey: str | None = Field(
        default=None, description="its Ed25519 cosignature/v1 verifier key, if it emits one"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CBAMHUB_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    data_dir: Path = Field(
        default=Path("var/hub"), description="where embedded shards and keys live"
    )
    regions: dict[str, str] = Field(
        default_factory=dict,
        description="region -> SQLAlchemy async URL of its shard; empty = one SQLite file per "
        "default region under data_dir",
    )
    country_regions: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_COUNTRY_REGIONS))
    default_region: str = Field(
        default="row", description="home of countries not in country_regions"
    )
    log_origin_template: str = Field(
        default="cbam-data-hub.local/log/{region}",
        description="C2SP origin line of each region's log; never change it once a log exists",
    )
    log_key_dir: Path | None = Field(
        default=None,
        description="directory of <region>.skey files (signed-note private keys); "
        "default data_dir/keys",
    )
    create_missing_keys: bool = Field(
        default=False, description="generate missing log keys (demo and first start only)"
    )
    witnesses: list[WitnessSettings] = Field(default_factory=list)
    witness_threshold: int = Field(
        default=0, ge=0, description="cosignatures that make a checkpoint final"
    )
    witness_interval_seconds: float = Field(default=1.0, gt=0)
    host: str = "127.0.0.1"
    port: int = 8000

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise FileNotFoundError(f"{CONFIG_FILE_ENV}={config_file}: no such settings file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @field_validator("country_regions")
    @classmethod
    def _upper_countries(cls, value: dict[str, str]) -> dict[str, str]:
        return {country.upper(): region for country, region in value.items()}

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        regions = self.region_urls()
        unknown = sorted({r for r in self.country_regions.values() if r not in regions})
        if unknown or self.default_region not in regions:
            missing = unknown or [self.default_region]
            raise ValueError(
                f"country_regions/default_region name regions without a shard: {missing}"
            )
        if self.witness_threshold > len(self.witnesses):
            raise ValueError(
                f"witness_threshold {self.witness_threshold} exceeds the {len(self.witnesses)} witnesses"
            )
        if "{region}" not in self.log_origin_template:
            raise ValueError(
                "log_origin_template must contain {region}: every region has its own log"
            )
        return self

    def region_urls(self) -> dict[str, str]:
        if self.regions:
            return dict(self.regions)
        return {
            r: f"sqlite+aiosqlite:///{self.data_dir / f'shard-{r}.db'}" for r in DEFAULT_REGIONS
        }

    def region_for_country(self, country: str) -> str:
        """The home region of an installation in `country` (ISO 3166-1 alpha-2)."""
        return self.country_regions.get(country.upper(), self.default_region)

    def log_origin(self, region: str) -> str:
        return self.log_origin_template.format(region=region)

    def key_dir(self) -> Path:
        return self.log_key_dir or self.data_dir / "keys"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed, validated again."""
        return Settings(**{**self.model_dump(), **changes})
