"""The hub's one settings object, read from the environment (CBAMHUB_*) and an optional TOML file.

Precedence, highest first: keyword arguments, environment variables, the file named by
CBAMHUB_CONFIG_FILE, the defaults below. Nested values use `__` in variable names, e.g.
CBAMHUB_REGIONS__EU=postgresql+asyncpg://hub@db-eu/hub. Defaults are the embedded deployment: one
SQLite file per region under `data_dir`, nothing to install.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

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
    port: int = Field(default=8000, ge=0, le=65535, description="0 = any free port")
    shard_pool_size: int = Field(
        default=24,
        ge=1,
        description="database connections each process keeps open per shard (as many again may "
        "be opened for bursts, and closed after): at least the requests a replica serves at once",
    )
    shard_read_connections: int = Field(
        default=2,
        ge=1,
        le=64,
        description="read-only driver connections each process keeps per SQLite shard for the "
        "serving path's SELECTs (vault/driver_sql.py; each has its own thread)",
    )
    workers: int = Field(
        default=1,
        ge=1,
        description="gateway processes serving the port, each with its own SO_REUSEPORT socket "
        "(cbamhub.gateway.serving); in-process rate limits and caches are then per worker",
    )
    # Authorization (cbamhub.policies): which engine runs the Rego policies, where an OPA server
    # answers, how long a decision may take before the request is denied, and which bundle to load.
    policy_engine: Literal["embedded", "opa"] = Field(
        default="embedded",
        description="embedded = regopy in process; opa = an OPA server's REST API at opa_url",
    )
    opa_url: str = Field(
        default="http://127.0.0.1:8181", description="the OPA server (policy_engine=opa)"
    )
    policy_timeout_seconds: float = Field(
        default=2.0, gt=0, description="a decision not made in time is a denial (fail closed)"
    )
    policy_bundle_dir: Path | None = Field(
        default=None,
        description="folder of .rego files and data/*.json; default: the installed policies folder",
    )

    # --- authentication and limits of the HTTP front door (gateway/authentication.py) ---
    auth_max_signature_age_seconds: int = Field(
        default=300, gt=0, description="how old an RFC 9421 request signature may be"
    )
    auth_clock_skew_seconds: int = Field(default=30, ge=0)
    auth_token_ttl_seconds: int = Field(default=900, gt=0, description="bearer token lifetime")
    auth_token_secret: str | None = Field(
        default=None,
        description="hex, >= 32 bytes, shared by all gateway replicas; unset = random per process "
        "(tokens then work only on the replica that issued them)",
    )
    auth_key_cache_seconds: float = Field(
        default=1.0, ge=0, description="how long a checked key is trusted before revocation bites"
    )
    rate_limit_per_minute: int = Field(
        default=6000, gt=0, description="requests per organisation (or anonymous client) a minute"
    )
    max_request_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    max_inflight_requests: int = Field(
        default=64, gt=0, description="per process; beyond it requests get 503 at once"
    )
    record_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        description="how long a replica reuses a record with its proof (content never changes; "
        "the proof then names a checkpoint up to this old)",
    )
    grant_cache_seconds: float = Field(
        default=0.5,
        ge=0,
        lt=1.0,
        description="how long a replica reuses an importer's grant set (a revocation made on "
        "another replica is seen within this, at once on this one)",
    )
    # Apollo Federation: representations one `_entities` request may resolve (gateway/federation.py);
    # each is batched per type, but a router asking for 100,000 is still a denial of service.
    max_entities_per_request: int = Field(default=500, gt=0)
    # Anomaly scoring at ingest (vault/anomaly_ingest.py, anomaly/): every published record gets a
    # score row in its own transaction; records at or above the threshold enter the review queue.
    anomaly_scoring: bool = Field(default=True, description="score records at ingest")
    anomaly_threshold: float = Field(default=0.5, gt=0, le=1)
    anomaly_model_dir: Path | None = Field(
        default=None, description="model artefacts folder; default the packaged anomaly/models"
    )
    anomaly_model_version: str | None = Field(
        default=None, description="model version to score with; default the folder's active one"
    )
    # Where ingest scores (decision 0082): in process, or on a remote AnomalyScoring service
    # (anomaly/remote.py). Scoring fails open: an unreachable or slow scorer leaves
    # "unscored" rows naming why; the records still publish.
    anomaly_scorer_url: str | None = Field(
        default=None,
        description="host:port of a remote AnomalyScoring service; unset or empty = in process",
    )
    anomaly_scorer_tls_ca: Path | None = Field(
        default=None, description="PEM CA of the scoring service's certificate; unset = plaintext"
    )
    anomaly_scorer_tls_cert: Path | None = Field(
        default=None, description="PEM client certificate for the scoring service (mutual TLS)"
    )
    anomaly_scorer_tls_key: Path | None = Field(
        default=None, description="PEM key of anomaly_scorer_tls_cert"
    )
    anomaly_scorer_deadline_seconds: float = Field(
        default=5.0, gt=0, description="deadline of one batch's remote scoring call"
    )
    # The AnomalyScoring service itself: `cbamhub anomaly-serve` listens here (TLS from grpc_tls_*);
    # anomaly_grpc_mount also serves it on the hub's main gRPC server (grpc/rpc/server.py).
    anomaly_grpc_host: str = "127.0.0.1"
    anomaly_grpc_port: int = Field(default=50052, ge=0, le=65535, description="0 = any free port")
    anomaly_grpc_mount: bool = Field(
        default=False, description="serve AnomalyScoring on the main gRPC server too"
    )
    # Bulk ingest (vault/verification.py): a batch's Ed25519 signatures are checked on this many
    # worker threads while the event loop parses the next rows (PyNaCl releases the GIL); 0 checks
    # them inline. Batches smaller than ingest_threaded_min_batch are always checked inline.
    ingest_signature_threads: int = Field(default=2, ge=0, le=32)
    ingest_threaded_min_batch: int = Field(default=64, gt=0)
    # The parallel check phase (vault/ingest_pool.py, decision 0096): batches of at least
    # ingest_process_min_batch rows are parsed, validated, signature-checked, sealed and committed to
    # in this many worker processes (forkserver), ingest_process_chunk rows per task, while the
    # event loop keeps the database work; 0 = everything in process.
    ingest_processes: int = Field(
        default_factory=lambda: min(os.cpu_count() or 1, 4) if (os.cpu_count() or 1) > 1 else 0,
        ge=0,
        le=64,
        description="worker processes of the ingest check phase (default: the cores, at most 4; "
        "0 on one core)",
    )
    ingest_process_min_batch: int = Field(
        default=1000, gt=0, description="smaller batches are checked in process"
    )
    ingest_process_chunk: int = Field(default=250, gt=0, description="rows per worker task")
    redis_url: str | None = Field(
        default=None,
        description="redis://… when the gateway runs as several replicas: shared caches, rate "
        "limits, invalidation and subscription fan-out; unset = in process",
    )

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

    # --- the gRPC front door (cbamhub.rpc) and the external systems it calls ---
    grpc_host: str = "127.0.0.1"
    grpc_port: int = Field(default=50051, ge=0, le=65535, description="0 = any free port")
    grpc_tls_cert: Path | None = Field(
        default=None,
        description="PEM server certificate chain; unset = plaintext (tests, loopback)",
    )
    grpc_tls_key: Path | None = Field(default=None, description="PEM private key of grpc_tls_cert")
    grpc_tls_client_ca: Path | None = Field(
        default=None,
        description="PEM CA whose client certificates authenticate organisations (mTLS); the "
        "certificate's subject CN names the organisation id",
    )
    grpc_require_client_cert: bool = Field(
        default=False, description="refuse TLS clients without a certificate of grpc_tls_client_ca"
    )
    grpc_signature_max_age_seconds: int = Field(
        default=300, gt=0, description="how far a signed call's timestamp may be from now"
    )
    grpc_max_call_seconds: float = Field(
        default=30.0,
        gt=0,
        description="server-side cap on one call, whatever the client's deadline",
    )
    grpc_max_concurrent_streams: int = Field(default=256, gt=0)
    grpc_workers: int = Field(
        default=1,
        ge=1,
        description="server processes of `cbamhub grpc-serve` on grpc_port (SO_REUSEPORT: the "
        "kernel spreads connections, not calls, over them); each keeps its own caches",
    )
    grpc_stall_log_ms: float = Field(
        default=100.0,
        ge=0,
        description="log each stall of a gRPC server's event loop and each garbage-collector "
        "pause longer than this (WARNING, logger cbamhub.rpc.stalls); 0 = off",
    )
    grpc_gc_freeze: bool = Field(
        default=True,
        description="move the objects left by start-up out of the garbage collector's view once "
        "the server is up: a full collection walked ~220,000 of them (74 ms, a stall of every call)",
    )
    external_customs_url: str | None = Field(
        default=None, description="host:port of the customs declarations system (gRPC)"
    )
    external_registry_url: str | None = Field(
        default=None, description="host:port of the CBAM registry (gRPC)"
    )
    external_price_feed_url: str | None = Field(
        default=None, description="host:port of the EU ETS auction price feed (gRPC)"
    )
    external_tls_ca: Path | None = Field(
        default=None, description="PEM CA the external systems' server certificates chain to"
    )
    external_tls_cert: Path | None = Field(
        default=None, description="PEM client certificate of the hub (mutual TLS)"
    )
    external_tls_key: Path | None = Field(default=None, description="PEM key of external_tls_cert")
    external_deadline_seconds: float = Field(
        default=5.0, gt=0, description="deadline of every call to an external system"
    )
    external_retry_attempts: int = Field(
        default=3, ge=1, description="tries of an idempotent external call (never of a submission)"
    )
    external_retry_base_seconds: float = Field(
        default=0.1, gt=0, description="first backoff; doubles per retry, with full jitter"
    )
    external_breaker_failures: int = Field(
        default=5, ge=1, description="consecutive failures that open an adapter's circuit"
    )
    external_breaker_reset_seconds: float = Field(
        default=30.0, gt=0, description="how long an open circuit refuses before one trial call"
    )
    grpc_identity_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        description="how long the RPC door trusts a looked-up organisation and "
        "its keys (so a revocation bites within this); 0 = look up on every call",
    )
    grpc_read_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        description="how long a grant answer, a lifecycle state and an importer lookup are "
        "reused across calls (a revoked grant or a withdrawn record bites within it); 0 = read on "
        "every call",
    )
    grpc_proof_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="how long a record read with its inclusion proof is reused: the record never "
        "changes, its proof only ages (still valid against the checkpoint it names)",
    )
