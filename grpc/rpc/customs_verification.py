"""The customs client's check of a CustomsCheck answer, with the region log's public key alone:
nothing the hub says is taken on trust except what the log commits to (decision 0055).

1. the record's entry is in the log under a checkpoint the log signed (`verify_entry_inclusion`);
2. the entry is a `record.published` statement of the record the answer names;
3. the members the answer opens are the logged record's (the document and salt for a full reader,
   `verify_evidence`; else the selective disclosure against the entry's per-field commitment);
4. the record is for the line's CN code, and every figure of the answer is what the verified
   members give for the line's mass (`line_figures`, the server's own function).

What it cannot check from the log: the record's lifecycle state (attestations are other entries)
and, when the policy withholds the location, that the installation is in the line's country.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from cbamhub.ledger.evidence import verify_evidence
from cbamhub.ledger.statements import Statement, StatementKind
from cbamhub.ledger.verify import VerificationError
from cbamhub.vault.record_model import normalise_cn

from .evidence_message import record_evidence, verify_disclosed
from .generated import customs_pb2
from .line_figures import FiguresUnavailable, line_figures

CN = "cnCode"


class AnswerMismatch(VerificationError):
    """A figure or id of the answer is not what the verified record members give."""


@dataclass(frozen=True)
class VerifiedLine:
    statement: Statement
    members: Mapping[str, Any]
    """The record members verified against the log (KIT names)."""
    withheld: tuple[str, ...]


def verify_line_check(
    answer: customs_pb2.LineCheck, line: customs_pb2.DeclarationLine, log_vkey: str
) -> VerifiedLine:
    """Check an OK answer to `line` end to end; raises VerificationError (AnswerMismatch,
    DisclosureError, ...) saying what does not hold."""
    evidence = answer.evidence
    if evidence.document:
        statement = verify_evidence(record_evidence(evidence), log_vkey).statement
        members: Mapping[str, Any] = record_evidence(evidence).document
        withheld: tuple[str, ...] = ()
    else:
        report = verify_disclosed(evidence, log_vkey)
        statement, members, withheld = report.statement, report.disclosed, report.withheld
    if statement.kind != StatementKind.RECORD_PUBLISHED:
        raise AnswerMismatch(f"the entry is a {statement.kind.value} statement, not a record's")
    if statement.subject.get("record") != answer.record_id:
        raise AnswerMismatch(
            f"the entry is record {statement.subject.get('record')!r}'s, the answer names "
            f"{answer.record_id!r}"
        )
    if sorted(withheld) != sorted(answer.withheld_fields):
        raise AnswerMismatch(
            f"the answer lists {sorted(answer.withheld_fields)} as withheld, the disclosure "
            f"{sorted(withheld)}"
        )
    cn = str(normalise_cn(line.cn_code))
    if CN not in members:
        raise AnswerMismatch("the record's CN code is not disclosed: the line cannot be matched")
    if str(normalise_cn(members[CN])) != cn:
        raise AnswerMismatch(f"the record is for CN {members[CN]}, the line for {cn}")
    try:
        mass = Decimal(line.net_mass)
        expected = line_figures(members, withheld, cn, mass)
    except (InvalidOperation, FiguresUnavailable) as error:
        raise AnswerMismatch(f"the figures cannot be recomputed: {error}") from error
    for name, value in asdict(expected).items():
        given = getattr(answer, name)
        if given != value:
            raise AnswerMismatch(
                f"{name} is {given!r} in the answer, {value!r} from the verified record"
            )
    return VerifiedLine(statement, members, withheld)
