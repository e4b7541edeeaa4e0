"""Model versions and which one scored which record.

Artefacts live as ``anomaly-<version>.ubj`` + ``.json`` in a models folder; ``active.json`` names the
version in use. The scoring log is JSON Lines, one line per scored record, append-only, so an
auditor can tell which model produced any score the hub ever showed.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from .xgb import Booster

MODELS_DIR = Path(__file__).parent / "models"


@dataclass(frozen=True, slots=True)
class LoadedModel:
    version: str
    booster: Booster
    metadata: dict[str, Any]


class ModelRegistry:
    """The artefacts in one folder; ``active`` is what the scorer uses."""

    def __init__(self, directory: Path = MODELS_DIR) -> None:
        self.directory = directory

    def versions(self) -> list[str]:
        return sorted(
            p.stem.removeprefix("anomaly-")
            for p in self.directory.glob("anomaly-*.json")
            if (p.with_suffix(".ubj")).exists()
        )

    def active_version(self) -> str:
        data: dict[str, str] = json.loads(
            (self.directory / "active.json").read_text(encoding="utf-8")
        )
        return data["version"]

    def activate(self, version: str) -> None:
        if version not in self.versions():
            raise KeyError(f"no model artefact {version!r} in {self.directory}")
        (self.directory / "active.json").write_text(
            json.dumps({"version": version}) + "\n", encoding="utf-8"
        )

    def load(self, version: str | None = None) -> LoadedModel:
        v = version or self.active_version()
        meta: dict[str, Any] = json.loads(
            (self.directory / f"anomaly-{v}.json").read_text(encoding="utf-8")
        )
        return LoadedModel(v, Booster.load(self.directory / f"anomaly-{v}.ubj"), meta)


@dataclass(frozen=True, slots=True)
class ScoringEntry:
    record_id: str
    model_version: str
    score: float
    threshold: float
    flagged: bool
    rule_flagged: bool


class ScoringLog(Protocol):
    """Where the scorer records which model scored which record (the vault will persist it)."""

    def append(self, entries: list[ScoringEntry]) -> None: ...

    def versions_for(self, record_id: str) -> list[str]: ...


class InMemoryScoringLog:
    def __init__(self) -> None:
        self.entries: list[ScoringEntry] = []

    def append(self, entries: list[ScoringEntry]) -> None:
        self.entries.extend(entries)

    def versions_for(self, record_id: str) -> list[str]:
        return [e.model_version for e in self.entries if e.record_id == record_id]


class JsonlScoringLog:
    """Append-only JSON Lines file; safe for threads of one process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, entries: list[ScoringEntry]) -> None:
        lines = "".join(json.dumps(asdict(e), sort_keys=True) + "\n" for e in entries)
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(lines)

    def versions_for(self, record_id: str) -> list[str]:
        if not self.path.exists():
            return []
        out = []
        with self.path.open(encoding="utf-8") as f:
            for line in f:
                e = json.loads(line)
                if e["record_id"] == record_id:
                    out.append(str(e["model_version"]))
        return out
