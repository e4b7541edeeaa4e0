"""Pydantic models at the vault's edge: what a manufacturer submits and what a reader receives."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class EmissionsRecordIn(BaseModel):
    """One installation's specific embedded emissions for one CN code and reporting period.

    The walking skeleton's record; the vault issue widens it to the full CBAM data model.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    manufacturer_id: str = Field(min_length=1, max_length=80)
    installation_id: str = Field(min_length=1, max_length=80)
    installation_country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    cn_code: str = Field(pattern=r"^\d{8}$", description="8-digit Combined Nomenclature code")
    period: str = Field(pattern=r"^\d{4}(-Q[1-4])?$", description="reporting year or quarter")
    see_direct: float = Field(ge=0, le=1000, description="tCO2e per tonne of good")
    see_indirect: float = Field(ge=0, le=1000, description="tCO2e per tonne of good")


class OrganisationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str = Field(pattern=r"^(manufacturer|importer|verifier|regulator|customs)$")
    legal_name: str = Field(min_length=1, max_length=300)
    country: str = Field(pattern=r"^[A-Z]{2}$")
