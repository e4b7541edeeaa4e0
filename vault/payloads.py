"""What a signed record payload must be before anything else is looked at: JSON, a valid record, in
RFC 8785 canonical form.

Pure computation with no database and no shard, so the ingest worker processes
(vault/ingest_pool.py) run exactly the check the in-process path runs.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from .errors import BadInput
from .record_model import EmissionsRecord, parse_record, validation_problems
from .verification import is_canonical

MAX_PAYLOAD_BYTES = 64 * 1024


def parse_payload(payload: bytes) -> tuple[EmissionsRecord, Any]:
    """Validate a signed payload: JSON, RFC 8785 canonical, and a well-formed record."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise BadInput(f"payload is {len(payload)} bytes; at most {MAX_PAYLOAD_BYTES}")
    try:
        document = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadInput(f"payload is not JSON: {error}") from error
    try:
        record = parse_record(document)
    except ValidationError as error:
        problems = [{"field": f, "reason": r} for f, r in validation_problems(error)]
        raise BadInput("the record is not valid", {"problems": problems}) from error
    if record.manufacturer_id is None:
        raise BadInput(
            "manufacturerId is required to publish: it names whose key signed the record",
            {"problems": [{"field": "manufacturerId", "reason": "required to publish"}]},
        )
    if not is_canonical(payload, document):
        raise BadInput("payload is not in RFC 8785 canonical form: sign the canonical bytes")
    return record, document
