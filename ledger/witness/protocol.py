"""Wire format of the tlog-witness `add-checkpoint` call (c2sp.org/tlog-witness), shared by both ends.

Request body: "old <size>\\n", up to 63 base64 consistency-proof lines, an empty line, then the signed
checkpoint note. Kept apart from the server and the client so both parse and format it identically.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..note import MalformedNoteError, b64decode, b64encode
from ..verify import HASH_SIZE

SIZE_CONTENT_TYPE = "text/x.tlog.size"
"""Content type of a 409 answer, whose body is the witness's latest size for the origin."""

MAX_PROOF_LINES = 63
_OLD_LINE = re.compile(r"old (0|[1-9][0-9]*)")


class MalformedRequestError(ValueError):
    """The add-checkpoint body does not follow the protocol (answered with 400)."""


@dataclass(frozen=True)
class AddCheckpointRequest:
    """One add-checkpoint submission: the size the client thinks the witness is at, and the proof."""

    old_size: int
    proof: tuple[bytes, ...]
    note: bytes

    def to_bytes(self) -> bytes:
        lines = [f"old {self.old_size}\n", *(b64encode(h) + "\n" for h in self.proof), "\n"]
        return "".join(lines).encode() + self.note

    @classmethod
    def build(
        cls, old_size: int, proof: Sequence[bytes], note: bytes | str
    ) -> AddCheckpointRequest:
        if old_size < 0:
            raise MalformedRequestError(f"old size {old_size} is negative")
        if len(proof) > MAX_PROOF_LINES:
            raise MalformedRequestError(
                f"{len(proof)} proof lines, the protocol allows {MAX_PROOF_LINES}"
            )
        for position, h in enumerate(proof):
            if len(h) != HASH_SIZE:
                raise MalformedRequestError(
                    f"proof hash {position} is {len(h)} bytes, not {HASH_SIZE}"
                )
        return cls(old_size, tuple(proof), note.encode() if isinstance(note, str) else note)

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpointRequest:
        header, sep, note = body.partition(b"\n\n")
        if not sep:
            raise MalformedRequestError(
                "no empty line between the old size / proof and the checkpoint"
            )
        try:
            lines = header.decode("ascii").split("\n")
        except UnicodeDecodeError as exc:
            raise MalformedRequestError("old size and proof lines must be ASCII") from exc
        match = _OLD_LINE.fullmatch(lines[0])
        if match is None:
            raise MalformedRequestError(
                f"first line must be 'old <decimal size>', got {lines[0][:40]!r}"
            )
        proof_lines = lines[1:]
        if len(proof_lines) > MAX_PROOF_LINES:
            raise MalformedRequestError(
                f"{len(proof_lines)} proof lines, the protocol allows {MAX_PROOF_LINES}"
            )
        proof = []
        for position, line in enumerate(proof_lines):
            try:
                h = b64decode(line, f"proof line {position}")
            except MalformedNoteError as exc:
                raise MalformedRequestError(str(exc)) from exc
            if len(h) != HASH_SIZE:
                raise MalformedRequestError(
                    f"proof line {position} is {len(h)} bytes, not {HASH_SIZE}"
                )
            proof.append(h)
        if not note:
            raise MalformedRequestError("no checkpoint after the empty line")
        return cls(int(match.group(1)), tuple(proof), note)


def format_size(size: int) -> bytes:
    """Body of a 409 answer."""
    return f"{size}\n".encode()


def parse_size(body: bytes) -> int:
    text = body.decode("ascii", errors="replace")
    if not re.fullmatch(r"(0|[1-9][0-9]*)\n", text):
        raise ValueError(f"not a tree size line: {text[:40]!r}")
    return int(text)
