"""Pydantic models at the vault's edge: what a manufacturer submits and what a reader receives."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from .record_model import CnCode, UnLoCode


def _compact_upper(value: object) -> object:
    return re.sub(r"\s+", "", value).upper() if isinstance(value, str) else value


Eori = Annotated[
    str,
    BeforeValidator(_compact_upper),
    Field(pattern=r"^[A-Z]{2}[A-Z0-9]{1,15}$", description="2-letter country + up to 15 chars"),
]
"""An EORI number: the issuing state's 2-letter code and up to 15 alphanumerics. The prefix need not
be the organisation's country: a non-EU company gets its EORI from the first member state it uses."""

PublicKeyHex = Annotated[str, BeforeValidator(_compact_upper), Field(pattern=r"^[0-9A-F]{64}$")]
"""A 32-byte Ed25519 public key in hex (either case)."""


class OrganisationIn(BaseModel):
    """An organisation. The EORI number is required for importers (they declare at EU customs) and
    optional for the other roles (EU manufacturers and customs representatives hold one too); when
    given it is validated whatever the role."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str = Field(pattern=r"^(manufacturer|importer|verifier|regulator|customs)$")
    legal_name: str = Field(min_length=1, max_length=300)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    eori: Eori | None = None

    @model_validator(mode="after")
    def _importers_have_an_eori(self) -> OrganisationIn:
        if self.role == "importer" and self.eori is None:
            raise ValueError("an importer needs an EORI number (eori)")
        return self


# --- signed identity documents ----------------------------------------------------------------
# Each carries an `action`, so a document signed for one action can never be submitted as another
# (and, having keys a record does not allow, never as an emissions record).


class _Signed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrganisationRegistration(OrganisationIn):
    """Self-signed by `public_key`: the registrant proves it holds the private key."""

    action: Literal["organisation.register"]
    public_key: PublicKeyHex


class KeyAddition(_Signed):
    """Signed by another key of the organisation valid now. `valid_from` defaults to the time the hub
    accepts it and may not be earlier; `ends_key` ends that key's validity at `valid_from`
    (rotation)."""

    action: Literal["key.add"]
    organisation: str = Field(min_length=1, max_length=120)
    public_key: PublicKeyHex
    valid_from: AwareDatetime | None = None
    ends_key: str | None = Field(default=None, min_length=1, max_length=120)


class KeyRevocation(_Signed):
    """Signed by another key of the organisation valid now. `revoked_at` may lie in the past (a
    compromise found late: signatures from then on are refused), never in the future."""

    action: Literal["key.revoke"]
    organisation: str = Field(min_length=1, max_length=120)
    key_id: str = Field(min_length=1, max_length=120)
    revoked_at: AwareDatetime | None = None
    reason: str | None = Field(default=None, max_length=500)


RouteCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,40}$")]


class InstallationIn(_Signed):
    """A manufacturer's installation; its country decides the home region (settings)."""

    action: Literal["installation.register"]
    organisation: str = Field(min_length=1, max_length=120)
    name: str = Field(min_length=1, max_length=300)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    un_locode: UnLoCode | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    production_routes: list[RouteCode] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _located(self) -> InstallationIn:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude come together")
        if self.un_locode is None and self.latitude is None:
            raise ValueError("the installation needs a UN/LOCODE or coordinates")
        if self.un_locode is not None and not self.un_locode.startswith(self.country):
            raise ValueError(f"UN/LOCODE {self.un_locode} is not in the country {self.country}")
        return self


class ProductLineIn(_Signed):
    """A named set of Annex I CN codes made at one installation (and stored in its shard)."""

    action: Literal["product_line.register"]
    organisation: str = Field(min_length=1, max_length=120)
    installation: str = Field(min_length=1, max_length=120)
    name: str = Field(min_length=1, max_length=300)
    cn_codes: list[CnCode] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _distinct(self) -> ProductLineIn:
        if len(set(self.cn_codes)) != len(self.cn_codes):
            raise ValueError("cn_codes lists a code twice")
        return self


# --- signed lifecycle documents (vault/lifecycle.py) -------------------------------------------


class VerificationRequest(_Signed):
    """The manufacturer assigns a verifier to a submitted record; only an assigned verifier may
    attest or reject it."""

    action: Literal["record.request_verification"]
    record: str = Field(min_length=1, max_length=120)
    verifier: str = Field(min_length=1, max_length=120)


class Attestation(_Signed):
    """A verifier's opinion on a record, e.g. "reasonable assurance" or "qualified" (free text: the
    hub records the verifier's words, it does not grade them). The record is then locked."""

    action: Literal["record.attest"]
    record: str = Field(min_length=1, max_length=120)
    verifier: str = Field(min_length=1, max_length=120)
    opinion: str = Field(min_length=1, max_length=200)
    statement: str | None = Field(default=None, max_length=5000)


class Rejection(_Signed):
    action: Literal["record.reject"]
    record: str = Field(min_length=1, max_length=120)
    verifier: str = Field(min_length=1, max_length=120)
    reason: str = Field(min_length=1, max_length=5000)


# --- signed grant documents (vault/grants.py) ---------------------------------------------------


class _Terms(_Signed):
    """What an importer may read: a product line (or some of its CN codes), for a period, for a
    purpose, optionally only some record fields (KIT names, top level; None = all)."""

    product_line: str = Field(min_length=1, max_length=120)
    cn_codes: list[CnCode] | None = Field(default=None, min_length=1, max_length=500)
    fields: list[str] | None = Field(default=None, max_length=100)
    purpose: str = Field(min_length=1, max_length=500)
    valid_from: AwareDatetime
    valid_until: AwareDatetime

    @model_validator(mode="after")
    def _a_period(self) -> _Terms:
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class GrantIn(_Terms):
    """Signed by the manufacturer."""

    action: Literal["grant.create"]
    manufacturer: str = Field(min_length=1, max_length=120)
    importer: str = Field(min_length=1, max_length=120)


class GrantRevocation(_Signed):
    """Signed by the manufacturer; effective when the hub records it (never back-dated)."""

    action: Literal["grant.revoke"]
    grant: str = Field(min_length=1, max_length=120)
    reason: str | None = Field(default=None, max_length=2000)


class AccessRequestIn(_Terms):
    """Signed by the importer; the manufacturer sees it pending until it answers."""

    action: Literal["access.request"]
    importer: str = Field(min_length=1, max_length=120)


class AccessAnswer(_Signed):
    """Signed by the manufacturer: "grant" creates a grant on the request's terms, "decline" closes
    the request."""

    action: Literal["access.answer"]
    request: str = Field(min_length=1, max_length=120)
    answer: Literal["grant", "decline"]
    reason: str | None = Field(default=None, max_length=2000)
