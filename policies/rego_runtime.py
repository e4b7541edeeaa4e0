"""One compiled policy bundle in a rego-cpp interpreter (regopy): the synchronous core that the
embedded engine and the OPA-compatible server both run.

The decision entry points are compiled once into a plan (`Interpreter.build`) and each decision runs
that plan: ~0.2 ms against ~1.1 ms for `Interpreter.query`, which compiles the query every time
(measured, docs/decisions/0041). Any other path is answered with `query`. Not thread-safe: one
caller at a time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from regopy import Interpreter, LogLevel, RegoError  # type: ignore[import-untyped]

from .bundle import PolicyBundle
from .errors import PolicyEngineError, PolicyLoadError

DECISION_ENTRYPOINTS = (
    "cbamhub/authz/read",
    "cbamhub/authz/customs_check",
    "cbamhub/authz/audit",
    "cbamhub/authz/verify",
    "cbamhub/authz/scopes",
    "cbamhub/authz/ready",
)

_ERROR = re.compile(
    r"\(error \d+:(?P<name>[^|\s]*)\|(?P<offset>\d+)\|\d+\s*\(errormsg \d+:(?P<msg>[^)]*)\)"
)
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$")


def rego_error_text(error: BaseException, sources: Mapping[str, str]) -> str:
    """rego-cpp's error tree as "file:line: message" lines (the tree itself if it has no errors)."""
    text = str(error)
    lines = []
    for match in _ERROR.finditer(text):
        name, offset, msg = match["name"], int(match["offset"]), match["msg"].strip()
        source = sources.get(name)
        where = f"{name}:{source.count(chr(10), 0, offset) + 1}" if source is not None else name
        lines.append(f"{where}: {msg}")
    return "; ".join(dict.fromkeys(lines)) or text.strip()


def _rule_query(path: str) -> str:
    if not _PATH.match(path):
        raise PolicyEngineError(f"{path!r} is not a policy path (package/rule, slash separated)")
    return "data." + path.replace("/", ".")


class RegoRuntime:
    """Compiles a bundle on construction; `PolicyLoadError` names the file and line if it cannot."""

    def __init__(self, bundle: PolicyBundle, entrypoints: Iterable[str] = DECISION_ENTRYPOINTS):
        self.bundle = bundle
        self._sources = {m.name: m.source for m in bundle.modules}
        self._interpreter = Interpreter()
        self._interpreter.log_level = LogLevel.NONE
        for module in bundle.modules:
            try:
                self._interpreter.add_module(module.name, module.source)
            except RegoError as exc:
                raise PolicyLoadError(
                    f"policy {bundle.root / module.name} does not compile: "
                    f"{rego_error_text(exc, self._sources)}"
                ) from exc
        for name, document in bundle.data:
            try:
                self._interpreter.add_data_json(json.dumps(document))
            except RegoError as exc:
                raise PolicyLoadError(f"policy data {name} rejected: {exc}") from exc
        self._entrypoints = frozenset(entrypoints)
        try:
            self._plan = self._interpreter.build(None, sorted(self._entrypoints))
        except RegoError as exc:
            raise PolicyLoadError(
                f"policy bundle {bundle.root} does not compile: {rego_error_text(exc, self._sources)}"
            ) from exc
        if not self._plan.ok():
            raise PolicyLoadError(f"policy bundle {bundle.root} did not build")

    def evaluate(self, path: str, input_document: Any) -> Any:
        """The value of rule `path` (e.g. "cbamhub/authz/read") for this input; None if undefined."""
        try:
            # regopy's Python-object conversion is ~2x faster than rego-cpp parsing JSON text
            self._interpreter.set_input(input_document)
            if path in self._entrypoints:
                output = self._interpreter.query_bundle_entrypoint(self._plan, path)
            else:
                output = self._interpreter.query(_rule_query(path))
        except (RegoError, TypeError, ValueError) as exc:
            raise PolicyEngineError(
                f"rego-cpp failed on {path}: {rego_error_text(exc, self._sources)}"
            ) from exc
        if not output.ok():
            raise PolicyEngineError(f"rego-cpp failed on {path}: {str(output).strip()[:500]}")
        if not output.results or not output.results[0].expressions:
            return None
        return output.results[0].expressions[0]
