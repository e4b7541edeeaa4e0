"""The supplier response message of the Catena-X CBAM KIT v1.0 (SAMM ``io.catenax.cbam`` 1.0.0).

Shape read: ``{header, content: {good: [{cnCode, operator: [{operatorIdentification.operatorIds
.operatorCbamId, installation: [{installationIdentification: {installationIds.installationCbamId,
address: {countryCode, unLoCode, latitude, longitude}}, emissionsRecords: [...]}]}]}]}``; a bare
``content`` object is accepted too. Each emissions record becomes one hub record, its KIT fields copied
one to one.

WHY hub fields can ride along: the KIT has no methodology, data-quality tier, precursors, evidence or
declared gaps. A sender may add them to an emissions record as extension keys (the names of
`EmissionsRecord`), or the importer states them for the whole message with ``hub_fields``; a record
with neither is rejected — the hub never guesses a methodology or a tier.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..record_model import EmissionsRecord, Tolerance, record_document
from .report import Batch, Collector, validate_record

__all__ = [
    "HUB_EXTENSIONS",
    "KIT_RECORD_FIELDS",
    "RESPONSE_CONTEXT",
    "parse_response",
    "to_response",
]

RESPONSE_CONTEXT = "CarbonBorderAdjustmentMechanism-CBAMAPI-Response:1.0.0"
KIT_RECORD_FIELDS = (
    "productionMethod",
    "activityData",
    "directEmissions",
    "indirectEmissions",
    "freeAllocationFactor",
    "attestationOfConformance",
    "carbonPricePaid",
)
HUB_EXTENSIONS = (
    "manufacturerId",
    "installationId",
    "productLineId",
    "supersedesRecordId",
    "precursors",
    "methodology",
    "dataQualityTier",
    "defaultValueSource",
    "evidenceDocuments",
    "missingData",
)
_ADDRESS_FIELDS = ("countryCode", "unLoCode", "latitude", "longitude")


def _list(parent: Mapping[str, Any], key: str, path: str, collector: Collector[Any]) -> list[Any]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        collector.problem(path, key, "expected an array")
        return []
    return value


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        value = _object(value).get(key)
    return value


def parse_response(
    message: Mapping[str, Any] | str | bytes,
    *,
    hub_fields: Mapping[str, Any] | None = None,
    tolerance: Tolerance | None = None,
) -> Batch[EmissionsRecord]:
    """Every emissions record of the message as a hub record, or every problem with its JSON path."""
    collector: Collector[EmissionsRecord] = Collector()
    if isinstance(message, str | bytes):
        try:
            message = json.loads(message)
        except json.JSONDecodeError as error:
            collector.problem("$", "(message)", f"not JSON: {error.msg}")
            return collector.result()
    if not isinstance(message, Mapping):
        collector.problem("$", "(message)", "a CBAM KIT message is a JSON object")
        return collector.result()
    root = "$"
    content: Any = message
    if "content" in message:
        context = _dig(message, "header", "context")
        if context is not None and not str(context).startswith(
            "CarbonBorderAdjustmentMechanism-CBAMAPI-Response"
        ):
            collector.problem("$.header", "context", f"not a CBAM KIT response: {context!r}")
        content, root = message["content"], "$.content"
    if not isinstance(content, Mapping):
        collector.problem(root, "(message)", "the content is not an object")
        return collector.result()
    defaults = dict(hub_fields or {})
    unknown = set(defaults) - set(HUB_EXTENSIONS)
    if unknown:
        collector.problem("(hub_fields)", ", ".join(sorted(unknown)), "not a hub extension field")
    count = 0
    for g, good in enumerate(_list(content, "good", root, collector)):
        good_path = f"{root}.good[{g}]"
        for o, operator in enumerate(_list(_object(good), "operator", good_path, collector)):
            operator_path = f"{good_path}.operator[{o}]"
            installations = _list(_object(operator), "installation", operator_path, collector)
            for i, installation in enumerate(installations):
                installation_path = f"{operator_path}.installation[{i}]"
                records = _list(
                    _object(installation), "emissionsRecords", installation_path, collector
                )
                for r, entry in enumerate(records):
                    count += 1
                    path = f"{installation_path}.emissionsRecords[{r}]"
                    if not isinstance(entry, Mapping):
                        collector.problem(path, "(record)", "an emissions record is an object")
                        continue
                    _one(collector, good, good_path, operator, operator_path, installation,
                         installation_path, entry, path, defaults, tolerance)  # fmt: skip
    if count == 0 and collector.clean:
        collector.problem(root, "good", "the message holds no emissions records")
    return collector.result()


def _one(
    collector: Collector[EmissionsRecord],
    good: Any,
    good_path: str,
    operator: Any,
    operator_path: str,
    installation: Any,
    installation_path: str,
    entry: Mapping[str, Any],
    path: str,
    defaults: Mapping[str, Any],
    tolerance: Tolerance | None,
) -> None:
    ids = _dig(installation, "installationIdentification")
    address = _object(_dig(ids, "address"))
    document: dict[str, Any] = {
        "operatorCbamId": _dig(operator, "operatorIdentification", "operatorIds", "operatorCbamId"),
        "installationCbamId": _dig(ids, "installationIds", "installationCbamId"),
        "cnCode": _dig(good, "cnCode"),
    }
    document.update({k: address[k] for k in _ADDRESS_FIELDS if address.get(k) not in (None, "")})
    unknown = [k for k in entry if k not in KIT_RECORD_FIELDS and k not in HUB_EXTENSIONS]
    for key in unknown:
        collector.problem(path, key, "not a field of a KIT emissions record nor a hub extension")
    document.update(
        {k: v for k, v in entry.items() if k in KIT_RECORD_FIELDS or k in HUB_EXTENSIONS}
    )
    for key, value in defaults.items():
        document.setdefault(key, value)
    if document.get("carbonPricePaid") == []:
        del document["carbonPricePaid"]
    locate = {
        "operatorCbamId": f"{operator_path}.operatorIdentification.operatorIds",
        "installationCbamId": f"{installation_path}.installationIdentification.installationIds",
        "cnCode": good_path,
        **{k: f"{installation_path}.installationIdentification.address" for k in _ADDRESS_FIELDS},
    }
    if unknown:
        return
    absent = frozenset(k for k in ("methodology", "dataQualityTier") if k not in document)
    for key in sorted(absent):
        collector.problem(
            path, key, "the KIT has no such field: add it to the record as a hub extension, or "
            "state it for the whole message (hub_fields); the hub never guesses it"
        )  # fmt: skip
    validate_record(collector, document, path, tolerance=tolerance, locate=locate, reported=absent)


def to_response(
    records: Iterable[EmissionsRecord],
    *,
    header: Mapping[str, Any] | None = None,
    hub_extensions: bool = True,
) -> dict[str, Any]:
    """A KIT response message grouping records by good, operator and installation.

    With ``hub_extensions`` the hub's extra fields ride along in each emissions record, so that
    ``parse_response(to_response(records))`` gives the records back; without them the message holds
    KIT fields only.
    """
    goods: dict[str, dict[str, dict[tuple[Any, ...], list[dict[str, Any]]]]] = {}
    for record in records:
        document = record_document(record)
        address = {k: document[k] for k in _ADDRESS_FIELDS if k in document}
        key = (document["installationCbamId"], tuple(sorted(address.items())))
        entry = {k: document[k] for k in KIT_RECORD_FIELDS if k in document}
        if hub_extensions:
            entry.update({k: document[k] for k in HUB_EXTENSIONS if k in document})
        operators = goods.setdefault(document["cnCode"], {})
        operators.setdefault(document["operatorCbamId"], {}).setdefault(key, []).append(entry)
    content = {
        "good": [
            {
                "cnCode": cn,
                "operator": [
                    {
                        "operatorIdentification": {"operatorIds": {"operatorCbamId": operator}},
                        "installation": [
                            {
                                "installationIdentification": {
                                    "installationIds": {"installationCbamId": installation},
                                    "address": dict(address),
                                },
                                "emissionsRecords": entries,
                            }
                            for (installation, address), entries in installations.items()
                        ],
                    }
                    for operator, installations in operators.items()
                ],
            }
            for cn, operators in goods.items()
        ]
    }
    message: dict[str, Any] = {"content": content}
    if header is not None:
        message = {"header": {"context": RESPONSE_CONTEXT, **header}, "content": content}
    return message
