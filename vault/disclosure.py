"""The selective disclosure of a stored record: the members a reader may see, opened with their
field salts, and the digests of the others (ledger/disclosure.py, decision 0055).

The record's one stored salt is all the hub keeps; each field salt is derived from it when the field
is disclosed, so a disclosure never carries the record salt or a withheld member's salt.
"""

from __future__ import annotations

from collections.abc import Collection

from cbamhub.ledger.disclosure import SelectiveDisclosure, disclose
from cbamhub.ledger.statements import Statement

from .reading import StoredRecord


def record_disclosure(stored: StoredRecord, visible: Collection[str]) -> SelectiveDisclosure | None:
    """The record's members named in `visible` (KIT names, the document's top-level keys) opened,
    every other member as its digest; None when the record's entry predates per-field commitments
    (a version-1 statement: only its inclusion can be proven to a masked reader)."""
    if Statement.parse(stored.evidence.entry).fields is None:
        return None
    return disclose(stored.evidence.salt, stored.document, visible)
