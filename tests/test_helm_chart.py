"""The Helm chart: its policy copy is the repository's policies, and every value its templates use
exists in values.yaml (no helm binary on these machines, so this is what can be checked here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from cbamhub.settings import DEFAULT_REGIONS

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "helm" / "cbam-data-hub"


def test_the_charts_policies_are_the_repositorys() -> None:
    source = sorted(p.relative_to(ROOT / "policies") for p in (ROOT / "policies").rglob("*.rego"))
    source += sorted(
        p.relative_to(ROOT / "policies") for p in (ROOT / "policies/data").glob("*.json")
    )
    copied = CHART / "policies"
    for relative in source:
        original, copy = ROOT / "policies" / relative, copied / relative
        assert copy.is_file(), f"{copy} missing: run scripts/sync-helm-policies"
        assert copy.read_bytes() == original.read_bytes(), (
            f"{copy} is stale: run scripts/sync-helm-policies"
        )
    extra = {p.relative_to(copied) for p in copied.rglob("*") if p.is_file()} - set(source)
    assert not extra, f"files the repository no longer has: {sorted(map(str, extra))}"


def _lookup(values: dict[str, Any], dotted: str) -> bool:
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_every_value_the_templates_use_is_defined() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    used = {
        m.group(1)
        for t in (CHART / "templates").iterdir()
        for m in re.finditer(r"\.Values\.([A-Za-z0-9_.]+)", t.read_text())
    }
    assert used, "the templates use no values?"
    missing = sorted(u for u in used if not _lookup(values, u))
    assert not missing, f"templates use undefined values: {missing}"


def test_the_chart_deploys_every_default_region_and_talks_to_its_opa_sidecar() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["regions"]["names"] == list(DEFAULT_REGIONS)
    assert values["gateway"]["env"]["CBAMHUB_POLICY_ENGINE"] == "opa"
    assert values["gateway"]["env"]["CBAMHUB_OPA_URL"].endswith(f":{values['opa']['port']}")
    assert values["gateway"]["replicas"] >= 2 and values["redis"]["enabled"]
