"""Who asks (`Principal`) and about what (`RecordRef`): the policy's view of a request."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    MANUFACTURER = "manufacturer"
    IMPORTER = "importer"
    VERIFIER = "verifier"
    REGULATOR = "regulator"
    CUSTOMS = "customs"


@dataclass(frozen=True)
class Principal:
    """An authenticated organisation acting in one role, from its home region.

    `role` is a plain string so an unknown role reaches the policy and is denied there with a
    reason, rather than failing somewhere before it.
    """

    organisation_id: str
    role: str
    region: str

    def to_input(self) -> dict[str, Any]:
        return {"organisation_id": self.organisation_id, "role": self.role, "region": self.region}


@dataclass(frozen=True)
class RecordRef:
    """The identifying fields of a stored record: all a decision needs, never the figures."""

    id: str
    manufacturer_id: str
    installation_id: str | None
    product_line_id: str | None
    cn_code: str
    region: str

    def to_input(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "manufacturer_id": self.manufacturer_id,
            "installation_id": self.installation_id,
            "product_line_id": self.product_line_id,
            "cn_code": self.cn_code,
            "region": self.region,
        }
