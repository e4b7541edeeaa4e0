"""The policy bundle on disk: the .rego modules and data/*.json of one folder, read once.

Both engines load the same bundle, so embedded and OPA decisions come from the same files.
Data files are merged at the root of `data` (regions.json holds {"cbamhub": {"regions": ...}}).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import PolicyLoadError

TEST_SUFFIX = "_test.rego"


def installed_bundle_dir() -> Path:
    """The policies folder installed with the hub (this package's own folder)."""
    return Path(str(resources.files("cbamhub.policies")))


@dataclass(frozen=True)
class PolicyModule:
    name: str  # file name relative to the bundle folder, e.g. "authz.rego"
    source: str

    @property
    def is_test(self) -> bool:
        return self.name.endswith(TEST_SUFFIX)


@dataclass(frozen=True)
class PolicyBundle:
    root: Path
    modules: tuple[PolicyModule, ...]
    data: tuple[tuple[str, dict[str, Any]], ...]  # (file name, document merged at data's root)

    def without_tests(self) -> PolicyBundle:
        return PolicyBundle(self.root, tuple(m for m in self.modules if not m.is_test), self.data)

    def merged_data(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for _, document in self.data:
            _merge(merged, document)
        return merged


def _merge(into: dict[str, Any], document: dict[str, Any]) -> None:
    for key, value in document.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def load_bundle(root: Path | None = None, *, include_tests: bool = False) -> PolicyBundle:
    """Read every *.rego of `root` (not recursive) and every data/*.json under it."""
    folder = root or installed_bundle_dir()
    if not folder.is_dir():
        raise PolicyLoadError(f"policy bundle folder {folder} does not exist")
    modules = []
    for path in sorted(folder.glob("*.rego")):
        if path.name.endswith(TEST_SUFFIX) and not include_tests:
            continue
        try:
            modules.append(PolicyModule(path.name, path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyLoadError(f"{path}: unreadable policy file: {exc}") from exc
    if not any(not m.is_test for m in modules):
        raise PolicyLoadError(f"policy bundle folder {folder} has no .rego policy")
    data = []
    for path in sorted((folder / "data").glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PolicyLoadError(f"{path}: unreadable policy data: {exc}") from exc
        if not isinstance(document, dict):
            raise PolicyLoadError(f"{path}: policy data must be a JSON object")
        data.append((path.name, document))
    return PolicyBundle(folder, tuple(modules), tuple(data))
