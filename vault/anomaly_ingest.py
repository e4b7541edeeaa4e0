"""Score records at ingest: map each accepted record onto the scorer's input, score a batch at once.

The mapping needs context the record alone lacks: the scorer route (from the record's
`productionMethod.methodId`, else its installation's `production_routes`, through the project's
configured mapping, anomaly/data/route_mapping.json), the installation's previous report (history
features) and identical figures from other installations in the same batch (copies). Context is read
before the shard's writer is taken; scoring itself is CPU only and runs inside the record's
transaction, so the score row commits with the record.

Scoring fails open: a record that cannot be mapped, or a scorer that raises, leaves the record
published with an explicit "unscored" row naming why (logged) — scoring never rejects, changes or
drops a record.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cbamhub.anomaly.record import DataQualityTier as Tier
from cbamhub.anomaly.record import Methodology as Method
from cbamhub.anomaly.record import RecordFeatures, with_copy_counts
from cbamhub.anomaly.registry import ModelRegistry
from cbamhub.anomaly.route_mapping import Mapped, RouteMapping, route_mapping
from cbamhub.anomaly.scoring import Score, Scorer, ScorerConfig
from sqlalchemy import select

from cbamhub.settings import Settings

from . import schema
from .record_model import DataQualityTier, EmissionsRecord, Methodology, parse_record
from .record_scores import SCORED, UNSCORED, ScoreRow
from .shards import Shard

log = logging.getLogger(__name__)

_METHOD = {
    Methodology.CALCULATION: Method.CALCULATION,
    Methodology.MASS_BALANCE: Method.MASS_BALANCE,
    Methodology.MEASUREMENT: Method.MEASUREMENT,
    Methodology.DEFAULT_VALUES: Method.DEFAULT,
}
_TIER = {
    DataQualityTier.DEFAULT: Tier.DEFAULT,
    DataQualityTier.ESTIMATED: Tier.ESTIMATED,
    DataQualityTier.MEASURED: Tier.MEASURED,
    DataQualityTier.VERIFIED_MEASURED: Tier.VERIFIED,
}


@dataclass(frozen=True)
class Previous:
    """The installation's previous report of the same CN code: what the history features need."""

    see_direct: float
    see_indirect: float | None
    method_id: str


@dataclass(frozen=True)
class Prepared:
    """Per batch row: the scorer's input, or why the record cannot be scored."""

    by_row: Mapping[int, RecordFeatures | str]


def _indirect(record: EmissionsRecord) -> tuple[float, float, float]:
    """(SEE indirect, MWh/t, tCO2/MWh); absent figures are NaN (unknown), never a claimed zero."""
    ind = record.indirect_emissions
    if ind is None:
        return math.nan, math.nan, math.nan
    mwh = ind.electricity_consumed_mwh_per_tonnes_good
    ef = ind.emission_factor_tonnes_co2_per_mwh
    return (
        ind.specific_embedded_emissions_indirect,
        math.nan if mwh is None else mwh,
        math.nan if ef is None else ef,
    )


def features_of(
    record: EmissionsRecord, mapped: Mapped, previous: Previous | None
) -> RecordFeatures:
    """The scorer's view of a hub record. Precursor shares stay empty: hub records carry precursor
    masses, not the shares of a mass balance, and the reference gives no mass per tonne to derive
    them (anomaly/README.md, gaps)."""
    see_indirect, mwh, ef = _indirect(record)
    return RecordFeatures(
        record_id="",
        installation_id=record.installation_id or record.installation_cbam_id,
        route=mapped.route,
        country=mapped.country,
        cn_code=record.cn_code,
        see_direct=record.direct_emissions.specific_embedded_emissions_direct,
        see_indirect=see_indirect,
        electricity_mwh_per_t=mwh,
        electricity_ef=ef,
        methodology=_METHOD[record.methodology],
        tier=_TIER[record.data_quality_tier],
        previous_see_direct=None if previous is None else previous.see_direct,
        previous_see_indirect=None if previous is None else previous.see_indirect,
        technology_change=previous is not None
        and previous.method_id != record.production_method.method_id,
    )


def _previous_of(record: EmissionsRecord) -> Previous:
    ind = record.indirect_emissions
    return Previous(
        record.direct_emissions.specific_embedded_emissions_direct,
        None if ind is None else ind.specific_embedded_emissions_indirect,
        record.production_method.method_id,
    )


class AnomalyIngest:
    """The scorer as the vault uses it at ingest."""

    def __init__(self, scorer: Scorer, mapping: RouteMapping | None = None) -> None:
        self.scorer = scorer
        self.mapping = mapping or route_mapping()

    @classmethod
    def from_settings(cls, settings: Settings) -> AnomalyIngest:
        registry = (
            ModelRegistry(Path(settings.anomaly_model_dir))
            if settings.anomaly_model_dir
            else ModelRegistry()
        )
        model = registry.load(settings.anomaly_model_version)
        return cls(Scorer(model=model, config=ScorerConfig(threshold=settings.anomaly_threshold)))

    async def prepare(self, shard: Shard, records: Mapping[int, EmissionsRecord]) -> Prepared:
        """Map each row; reads installations' route codes and previous reports. Never raises."""
        try:
            return await self._prepare(shard, records)
        except Exception as error:  # fail open: the records still publish
            log.exception("anomaly scoring context failed in shard %s", shard.region)
            return Prepared({row: f"unscored: {error!r}" for row in records})

    async def _prepare(self, shard: Shard, records: Mapping[int, EmissionsRecord]) -> Prepared:
        installations = {r.installation_id for r in records.values() if r.installation_id}
        routes = await _installation_routes(shard, installations)
        out: dict[int, RecordFeatures | str] = {}
        mapped: dict[int, Mapped] = {}
        for row, record in records.items():
            codes = [
                record.production_method.method_id,
                *routes.get(record.installation_id or "", ()),
            ]
            found = self.mapping.resolve(record.country_code, record.cn_code, codes)
            if isinstance(found, Mapped):
                mapped[row] = found
            else:
                out[row] = f"unscored: {found.reason}"
        previous = await _previous_reports(shard, {row: records[row] for row in mapped})
        for row, route in mapped.items():
            out[row] = features_of(records[row], route, previous.get(row))
        features = {row: f for row, f in out.items() if isinstance(f, RecordFeatures)}
        counted = with_copy_counts(list(features.values()))
        out.update(zip(features, counted, strict=True))
        return Prepared(out)

    def score(self, prepared: Prepared, ids: Mapping[int, tuple[str, str]]) -> list[ScoreRow]:
        """Score rows for the rows in ``ids`` (row -> (record id, manufacturer id)): one
        ``score_batch`` for the batch. Never raises: a failing scorer gives "unscored" rows."""
        rows = [r for r in ids if r in prepared.by_row]
        scorable = [r for r in rows if isinstance(prepared.by_row[r], RecordFeatures)]
        out: list[ScoreRow] = []
        for row in rows:
            reason = prepared.by_row[row]
            if isinstance(reason, str):
                out.append(ScoreRow(*ids[row], UNSCORED, unscored_reason=reason))
        if not scorable:
            return out
        inputs = []
        for row in scorable:
            f = prepared.by_row[row]
            assert isinstance(f, RecordFeatures)
            inputs.append(replace(f, record_id=ids[row][0]))
        try:
            scores = self.scorer.score_batch(inputs)
        except Exception as error:  # fail open, but loudly
            log.exception("anomaly scorer failed on a batch of %d records", len(inputs))
            out.extend(
                ScoreRow(*ids[r], UNSCORED, unscored_reason=f"unscored: {error!r}")
                for r in scorable
            )
            return out
        out.extend(_row(ids[r], s) for r, s in zip(scorable, scores, strict=True))
        return out


def _row(ident: tuple[str, str], s: Score) -> ScoreRow:
    explanation: dict[str, Any] = {
        "reasons": [
            {
                "feature": r.feature,
                "quantity": r.quantity,
                "contribution": r.contribution,
                "text": r.text,
            }
            for r in s.reasons
        ],
        "rule": {
            "flagged": s.rule.flagged,
            "zDirect": s.rule.z_direct,
            "expectedDirect": s.rule.expected_direct,
            "text": s.rule.text,
        },
    }
    return ScoreRow(
        ident[0],
        ident[1],
        SCORED,
        model_version=s.model_version,
        probability=s.probability,
        flagged=s.flagged,
        rule_flagged=s.rule.flagged,
        explanation=explanation,
    )


async def _installation_routes(shard: Shard, ids: set[str]) -> dict[str, tuple[str, ...]]:
    if not ids:
        return {}
    t = schema.installations
    async with shard.engine.connect() as conn:
        rows = await conn.execute(
            select(t.c.id, t.c.production_routes).where(t.c.id.in_(sorted(ids)))
        )
        return {r.id: tuple(json.loads(r.production_routes)) for r in rows}


async def _previous_reports(
    shard: Shard, records: Mapping[int, EmissionsRecord]
) -> dict[int, Previous]:
    """Per row, the same installation's latest report of the same CN code for an earlier period:
    from this batch if it holds one, else from the shard (one indexed query per installation and
    CN code). Records published concurrently by another batch may be missed: history is context."""
    by_key: dict[tuple[str, str], list[int]] = {}
    for row, r in records.items():
        by_key.setdefault((r.installation_id or "", r.cn_code), []).append(row)
    out: dict[int, Previous] = {}
    t = schema.records
    async with shard.engine.connect() as conn:
        for (installation, cn), rows in by_key.items():
            rows.sort(key=lambda row: records[row].activity_data.reference_period_start)
            first = records[rows[0]].activity_data.reference_period_start
            found = (
                await conn.execute(
                    select(t.c.id, t.c.payload)
                    .where(
                        t.c.installation_id == installation,
                        t.c.cn_code == cn,
                        t.c.valid_from < first.astimezone(UTC),
                    )
                    .order_by(t.c.valid_from.desc(), t.c.version.desc())
                    .limit(1)
                )
            ).first()
            best: Previous | None = None
            if found is not None:
                payload = shard.open_sealed(found.payload, found.id, "payload")
                best = _previous_of(parse_record(json.loads(payload)))
            group_start: datetime | None = None
            group_last: Previous | None = None
            for row in rows:  # by period: a row's history is the last row of an earlier period
                start = records[row].activity_data.reference_period_start
                if group_start is None:
                    group_start = start
                elif start > group_start:
                    best, group_start = group_last, start
                if best is not None:
                    out[row] = best
                group_last = _previous_of(records[row])
    return out
