"""The KIT documents the hub publishes (the demo's records, the test samples of every sector, a
Catena-X response) take the fast per-field commitment path (decision 0094) and get exactly the
commitment of the reference definition (`fields_commitment_of`, over `rfc8785`): if a change to
the records ever made the fast path step aside, the publish path would silently slow down, so the
fast path being taken is asserted too."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cbamhub.ledger.disclosure import (
    _encoded_members,
    fields_commitment_of,
    fields_commitment_of_canonical,
    fields_commitment_of_document,
)
from cbamhub.vault.publishing import parse_payload
from vault_samples import SAMPLES, sample

from cbamhub.demo import SAMPLE_RECORDS, sample_record


def _documents() -> list[tuple[str, dict[str, Any]]]:
    out = [(f"sample:{name}", sample(name)) for name in SAMPLES]
    for i, s in enumerate(SAMPLE_RECORDS):
        out.append(
            (f"demo:{i}", sample_record("org_tr_demo", product_line_id="pl_tr_1", **s))  # type: ignore[arg-type]
        )
    catenax = Path(__file__).with_name("catenax_response_sample.json")
    out.append(("catena-x response", json.loads(catenax.read_text())))
    return out


@pytest.mark.parametrize(("label", "document"), _documents(), ids=lambda v: str(v)[:24])
def test_kit_documents_take_the_fast_path_to_the_same_commitment(
    label: str, document: dict[str, Any]
) -> None:
    salt = secrets.token_bytes(32)
    canonical = rfc8785.dumps(document)
    parsed = json.loads(canonical)
    assert _encoded_members(canonical.decode(), parsed) is not None, label
    expected = fields_commitment_of(salt, document)
    assert fields_commitment_of_canonical(salt, canonical) == expected
    assert fields_commitment_of_document(salt, canonical, parsed) == expected


def test_the_document_parse_payload_returns_is_the_one_the_fast_path_proves() -> None:
    """publish hands `fields_commitment_of_document` the document `parse_payload` returned."""
    document = sample_record("org_tr_demo", product_line_id="pl_tr_1", **SAMPLE_RECORDS[0])  # type: ignore[arg-type]
    payload = rfc8785.dumps(document)
    _, parsed = parse_payload(payload)
    assert _encoded_members(payload.decode(), parsed) is not None
