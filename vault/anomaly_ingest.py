"""Score records at ingest: map each accepted record onto the scorer's input, score a batch at once.

The mapping needs context the record alone lacks: the scorer route (from the record's
`productionMethod.methodId`, else its installation's `production_routes`, through the project's
configured mapping, anomaly/data/route_mapping.json), the installation's previous report (history
features) and identical figures reported by other installations, in this batch or already in the
shard (copies: a keyed digest of the rounded figures, stored with each score row and indexed).

Everything that reads or waits happens in `prepare`, BEFORE the shard's writer is taken: the
context reads and the scoring itself, which may be a network call to a remote scorer
(decision 0082). Inside the writer, `score` only turns the finished scores into rows, so the score
row still commits with its record and no lock is held across a network call.

Scoring fails open: a record that cannot be mapped, or a scorer that raises, is unreachable or
misses its deadline, leaves the record published with an explicit "unscored" row naming why
(logged) — scoring never rejects, changes or drops a record.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cbamhub.anomaly.batch_scorer import (
    BatchScorer,
    InProcessScorer,
    ScoringUnavailable,
    load_scorer,
)
from cbamhub.anomaly.record import DataQualityTier as Tier
from cbamhub.anomaly.record import Methodology as Method
from cbamhub.anomaly.record import RecordFeatures
from cbamhub.anomaly.route_mapping import Mapped, RouteMapping, Unmapped, route_mapping
from cbamhub.anomaly.scoring import Score
from sqlalchemy import Select, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.selectable import CompoundSelect

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


FIGURES_DOMAIN = b"cbamhub/anomaly-figures/v1\n"
SIGNIFICANT_DIGITS = 9
"""Figures are compared at 9 significant digits: float noise from unit conversion vanishes, while
two figures reported differently (to at most 9 digits, as records do) stay different."""
_SPEC = f".{SIGNIFICANT_DIGITS}g"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LOOKUP_CHUNK = 500  # digests per IN (...) query: far below SQLite's and asyncpg's parameter caps
_HISTORY_CHUNK = 300  # pairs per history query: 300 UNION ALL members (SQLite allows 500)


@dataclass(frozen=True)
class Prepared:
    """Per batch row, everything decided before the writer: the scorer's input or why the record
    cannot be scored (`by_row`), the score or why there is none (`scores`), and the digest of its
    figures for later copy lookups (`digests`)."""

    by_row: Mapping[int, RecordFeatures | str]
    scores: Mapping[int, Score | str] = field(default_factory=dict)
    digests: Mapping[int, bytes] = field(default_factory=dict)


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
    record: EmissionsRecord,
    mapped: Mapped,
    previous: Previous | None,
    *,
    record_id: str = "",
    copies: int = 0,
) -> RecordFeatures:
    """The scorer's view of a hub record.

    Precursors: one share per precursor source the record lists, each NaN (unknown). The count is
    the record's own; a share would be the source's mass per tonne of product over the route's
    required precursor mass per tonne, which the reference does not give for any modelled route
    (anomaly/README.md, gaps) — so the mass-balance sum stays missing rather than invented."""
    return _features(record, mapped, previous, record_id, copies, _indirect(record))


def _features(
    record: EmissionsRecord,
    mapped: Mapped,
    previous: Previous | None,
    record_id: str,
    copies: int,
    indirect: tuple[float, float, float],
) -> RecordFeatures:
    """`features_of` with the record's `_indirect` figures already read (ingest reads them once
    for the copies digest and the features both)."""
    see_indirect, mwh, ef = indirect
    return RecordFeatures(
        record_id=record_id,
        installation_id=record.installation_id or record.installation_cbam_id,
        route=mapped.route,
        country=mapped.country,
        cn_code=record.cn_code,
        see_direct=record.direct_emissions.specific_embedded_emissions_direct,
        see_indirect=see_indirect,
        electricity_mwh_per_t=mwh,
        electricity_ef=ef,
        precursor_shares=(math.nan,) * len(record.precursors),
        methodology=_METHOD[record.methodology],
        tier=_TIER[record.data_quality_tier],
        previous_see_direct=None if previous is None else previous.see_direct,
        previous_see_indirect=None if previous is None else previous.see_indirect,
        technology_change=previous is not None
        and previous.method_id != record.production_method.method_id,
        copies=copies,
    )


def figures_digest(index_key: bytes, f: RecordFeatures) -> bytes:
    """HMAC of the figures whose repetition across installations means copy-paste (the scorer's
    `value_key`: route, direct and indirect SEE, electricity per tonne), rounded. Keyed with the
    shard's index key, so the stored digest is no guessable fingerprint of sealed figures."""
    text = _figures_text(f.route, f.see_direct, f.see_indirect, f.electricity_mwh_per_t)
    return hmac.new(index_key, FIGURES_DOMAIN + text, hashlib.sha256).digest()


def _figures_text(route: str, see_direct: float, see_indirect: float, mwh: float) -> bytes:
    """`route|direct|indirect|mwh`: each figure at SIGNIFICANT_DIGITS, "-" when unknown (NaN),
    never "-0" (+ 0.0), in one f-string (half the time of a join over a per-figure function; it
    runs for every scored record of a batch)."""
    a, b, c = see_direct + 0.0, see_indirect + 0.0, mwh + 0.0
    return (
        f"{route}|{'-' if a != a else format(a, _SPEC)}|{'-' if b != b else format(b, _SPEC)}"
        f"|{'-' if c != c else format(c, _SPEC)}"
    ).encode()


class _FiguresHasher:
    """`figures_digest` for a whole batch under one key: the keyed HMAC over the domain is set up
    once and copied per record."""

    def __init__(self, index_key: bytes) -> None:
        self._keyed = hmac.new(index_key, FIGURES_DOMAIN, hashlib.sha256)

    def digest(self, route: str, see_direct: float, see_indirect: float, mwh: float) -> bytes:
        mac = self._keyed.copy()
        mac.update(_figures_text(route, see_direct, see_indirect, mwh))
        return mac.digest()


def _previous_of(record: EmissionsRecord) -> Previous:
    ind = record.indirect_emissions
    return Previous(
        record.direct_emissions.specific_embedded_emissions_direct,
        None if ind is None else ind.specific_embedded_emissions_indirect,
        record.production_method.method_id,
    )


class AnomalyIngest:
    """The scorer as the vault uses it at ingest, in process or remote (`BatchScorer`)."""

    def __init__(self, scorer: BatchScorer, mapping: RouteMapping | None = None) -> None:
        self.scorer = scorer
        self.mapping = mapping or route_mapping()

    @classmethod
    def from_settings(cls, settings: Settings) -> AnomalyIngest:
        if settings.anomaly_scorer_url:  # lazily: grpcio loads only for a remote scorer
            from cbamhub.anomaly.remote import RemoteScorer

            return cls(RemoteScorer.from_settings(settings))
        return cls(
            InProcessScorer(
                load_scorer(
                    settings.anomaly_model_dir,
                    settings.anomaly_model_version,
                    settings.anomaly_threshold,
                )
            )
        )

    async def aclose(self) -> None:
        """Close the remote scorer's channel (nothing to do in process)."""
        await self.scorer.aclose()

    async def prepare(self, shard: Shard, records: Mapping[int, EmissionsRecord]) -> Prepared:
        """Map and score each row: reads the installations' route codes, previous reports and
        copies, then scores the batch with one call. Never raises; call it before the writer."""
        try:
            by_row, digests = await self._context(shard, records)
        except Exception as error:  # fail open: the records still publish
            log.exception("anomaly scoring context failed in shard %s", shard.region)
            return Prepared({row: f"unscored: {error!r}" for row in records})
        return Prepared(by_row, await self._score(by_row), digests)

    async def _context(
        self, shard: Shard, records: Mapping[int, EmissionsRecord]
    ) -> tuple[dict[int, RecordFeatures | str], dict[int, bytes]]:
        """Every read on one connection, each a constant number of queries for the whole batch;
        each row's features built once, with its copies and the id the scorer sees."""
        installations = {r.installation_id for r in records.values() if r.installation_id}
        out: dict[int, RecordFeatures | str] = {}
        mapped: dict[int, Mapped] = {}
        async with shard.engine.connect() as conn:
            routes = await _installation_routes(conn, installations)
            resolved: dict[tuple[str, str, str, str], Mapped | Unmapped] = {}  # a batch repeats
            for row, record in records.items():
                key = (
                    record.country_code,
                    record.cn_code,
                    record.production_method.method_id,
                    record.installation_id or "",
                )
                found = resolved.get(key)
                if found is None:
                    codes = [key[2], *routes.get(key[3], ())]
                    found = resolved[key] = self.mapping.resolve(key[0], key[1], codes)
                if isinstance(found, Mapped):
                    mapped[row] = found
                else:
                    out[row] = f"unscored: {found.reason}"
            previous = await _previous_reports(shard, conn, {row: records[row] for row in mapped})
            # Default values are the same published figure for everyone: repeating them is no copy.
            hasher = _FiguresHasher(shard.index_key)
            digests: dict[int, bytes] = {}
            indirect: dict[int, tuple[float, float, float]] = {}
            for row, m in mapped.items():
                record = records[row]
                figures = indirect[row] = _indirect(record)
                if record.methodology is not Methodology.DEFAULT_VALUES:
                    direct = record.direct_emissions.specific_embedded_emissions_direct
                    digests[row] = hasher.digest(m.route, direct, figures[0], figures[1])
            reporting = await _installations_with(conn, set(digests.values()))
        installation = {
            row: records[row].installation_id or records[row].installation_cbam_id for row in mapped
        }
        for row, digest in digests.items():
            reporting[digest].add(installation[row])
        for row, m in mapped.items():
            same = digests.get(row)
            copies = 0 if same is None else len(reporting[same] - {installation[row]})
            out[row] = _features(
                records[row], m, previous.get(row), f"row:{row}", copies, indirect[row]
            )
        return out, digests

    async def _score(self, by_row: Mapping[int, RecordFeatures | str]) -> dict[int, Score | str]:
        """One `score_batch` for the mappable rows; a failure gives every one its reason. The
        features already carry the ids the scorer sees ("row:N"; record ids come in the writer)."""
        rows = [row for row, f in by_row.items() if isinstance(f, RecordFeatures)]
        if not rows:
            return {}
        inputs = [f for f in by_row.values() if isinstance(f, RecordFeatures)]
        try:
            scores = await self.scorer.score_batch(inputs)
            if len(scores) != len(inputs):
                raise ScoringUnavailable(
                    f"{self.scorer.description} returned {len(scores)} scores for {len(inputs)}"
                )
        except ScoringUnavailable as error:  # fail open: said in the rows, logged without trace
            log.warning("anomaly scoring of %d records failed: %s", len(inputs), error)
            return {row: f"unscored: {error}" for row in rows}
        except Exception as error:  # fail open, but loudly
            log.exception("anomaly scorer failed on a batch of %d records", len(inputs))
            return {row: f"unscored: {error!r}" for row in rows}
        return dict(zip(rows, scores, strict=True))

    def score(self, prepared: Prepared, ids: Mapping[int, tuple[str, str]]) -> list[ScoreRow]:
        """The score rows of the rows in ``ids`` (row -> (record id, manufacturer id)), from the
        scores `prepare` computed: no scorer call, no I/O, never raises — it runs in the writer."""
        out: list[ScoreRow] = []
        for row, ident in ids.items():
            if row not in prepared.by_row:
                continue
            digest = prepared.digests.get(row)
            outcome = prepared.scores.get(row, prepared.by_row[row])
            if isinstance(outcome, Score):
                out.append(_row(ident, outcome, digest))
            elif isinstance(outcome, str):
                out.append(
                    ScoreRow(*ident, UNSCORED, unscored_reason=outcome, figures_digest=digest)
                )
            else:  # features without a score: prepare was not given the chance to score
                out.append(
                    ScoreRow(
                        *ident,
                        UNSCORED,
                        unscored_reason="unscored: not scored before the write",
                        figures_digest=digest,
                    )
                )
        return out


def _row(ident: tuple[str, str], s: Score, digest: bytes | None) -> ScoreRow:
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
        figures_digest=digest,
    )


async def _installation_routes(conn: AsyncConnection, ids: set[str]) -> dict[str, tuple[str, ...]]:
    if not ids:
        return {}
    t = schema.installations
    rows = await conn.execute(select(t.c.id, t.c.production_routes).where(t.c.id.in_(sorted(ids))))
    return {r.id: tuple(json.loads(r.production_routes)) for r in rows}


def reporting_query(digests: Sequence[bytes]) -> Select[tuple[bytes, str]]:
    """(digest, installation) pairs of the shard's scored records with any of ``digests``: an
    indexed lookup (ix_record_scores_figures, then the records' primary key), never a scan."""
    s, r = schema.record_scores, schema.records
    return (
        select(s.c.figures_digest, r.c.installation_id)
        .distinct()
        .select_from(s.join(r, r.c.id == s.c.record_id))
        .where(s.c.figures_digest.in_(list(digests)))
    )


async def _installations_with(
    conn: AsyncConnection, digests: set[bytes]
) -> defaultdict[bytes, set[str]]:
    """Per figures digest, the installations of the shard's records reporting those figures."""
    out: defaultdict[bytes, set[str]] = defaultdict(set)
    ordered = sorted(digests)
    for i in range(0, len(ordered), _LOOKUP_CHUNK):
        rows = await conn.execute(reporting_query(ordered[i : i + _LOOKUP_CHUNK]))
        for row in rows:
            out[row.figures_digest].add(row.installation_id)
    return out


async def _previous_reports(
    shard: Shard, conn: AsyncConnection, records: Mapping[int, EmissionsRecord]
) -> dict[int, Previous]:
    """Per row, the same installation's latest report of the same CN code for an earlier period:
    from this batch if it holds one, else from the shard (`_latest_before`: one query for up to
    _HISTORY_CHUNK installation and CN code pairs). Records published concurrently by another
    batch may be missed: history is context."""
    by_key: dict[tuple[str, str], list[int]] = {}
    since: dict[int, timedelta] = {}  # a period's start as a timedelta orders as the instant does,
    for row, r in records.items():  # and compares without the aware datetimes' offset calls
        by_key.setdefault((r.installation_id or "", r.cn_code), []).append(row)
        since[row] = r.activity_data.reference_period_start - _EPOCH
    for rows in by_key.values():
        rows.sort(key=since.__getitem__)  # by period, ties in row order
    stored = await _latest_before(
        conn,
        {
            key: records[rows[0]].activity_data.reference_period_start
            for key, rows in by_key.items()
        },
    )
    out: dict[int, Previous] = {}
    for key, rows in by_key.items():
        found = stored.get(key)
        best: Previous | None = None
        if found is not None:
            record_id, sealed = found
            best = _stored_previous(json.loads(shard.open_sealed(sealed, record_id, "payload")))
        group_start: timedelta | None = None
        group_last: EmissionsRecord | None = None
        for row in rows:  # by period: a row's history is the last row of an earlier period
            start = since[row]
            if group_start is None:
                group_start = start
            elif start > group_start:
                assert group_last is not None
                best, group_start = _previous_of(group_last), start
            if best is not None:
                out[row] = best
            group_last = records[row]
    return out


async def _latest_before(
    conn: AsyncConnection, firsts: Mapping[tuple[str, str], datetime]
) -> dict[tuple[str, str], tuple[str, bytes]]:
    """Per (installation, CN code), the (id, sealed payload) of its latest stored record whose
    period starts before the given time: the latest period, then the highest version, then the
    first published (recorded_at, id), the same tie-break on every backend."""
    keys = list(firsts.items())
    out: dict[tuple[str, str], tuple[str, bytes]] = {}
    for i in range(0, len(keys), _HISTORY_CHUNK):
        for row in await conn.execute(history_query(keys[i : i + _HISTORY_CHUNK])):
            out[(row.installation_id, row.cn_code)] = (row.id, row.payload)
    return out


def history_query(
    keys: Sequence[tuple[tuple[str, str], datetime]],
) -> Select[Any] | CompoundSelect[Any]:
    """For each ((installation, CN code), first period start), its latest stored record of an
    earlier period: one top-1 per pair, each a seek of ix_records_history (a window over every
    record of the pair read them all, so a publish slowed as its installation's history grew)."""
    t = schema.records
    latest = [
        select(t.c.id, t.c.payload, t.c.installation_id, t.c.cn_code)
        .where(
            t.c.installation_id == installation,
            t.c.cn_code == cn,
            t.c.valid_from < first.astimezone(UTC),
        )
        .order_by(t.c.valid_from.desc(), t.c.version.desc(), t.c.recorded_at, t.c.id)
        .limit(1)
        .subquery()  # SQLite takes ORDER BY and LIMIT in a compound's member only so
        for (installation, cn), first in keys
    ]
    members = [select(*q.c) for q in latest]
    return members[0] if len(members) == 1 else union_all(*members)


def _stored_previous(document: Any) -> Previous:
    """`_previous_of(parse_record(document))` for a stored (validated) record, read straight from
    its JSON when the three figures are plain numbers and a string, as validation left them; any
    other form (a {value, unit} quantity) goes through the record model."""
    try:
        direct = document["directEmissions"]["specificEmbeddedEmissionsDirect"]
        block = document.get("indirectEmissions")
        indirect = None if block is None else block["specificEmbeddedEmissionsIndirect"]
        method = document["productionMethod"]["methodId"]
    except (KeyError, TypeError, AttributeError):
        return _previous_of(parse_record(document))
    number = (int, float)
    if type(direct) in number and type(method) is str:
        if indirect is None:
            return Previous(float(direct), None, method)
        if type(indirect) in number:
            return Previous(float(direct), float(indirect), method)
    return _previous_of(parse_record(document))
