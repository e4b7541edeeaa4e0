"""Transparency-log checkpoints (c2sp.org/tlog-checkpoint): the signed statement of a tree head.

The body is exactly: origin line, decimal tree size, base64 root hash, then optional extension lines,
each ending in a newline. Parsing is strict (no leading zeros, 32-byte root, non-empty lines) because
two encodings of one tree head would let a log present two different signed texts for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .note import (
    Ed25519Signer,
    Ed25519Verifier,
    MalformedNoteError,
    Note,
    Signature,
    b64decode,
    b64encode,
    sign_note,
    verify_note,
)
from .verify import HASH_SIZE, VerificationError

MAX_TREE_SIZE = 2**63 - 1
"""Sizes must fit a signed 64-bit database column (and Go's int64 timestamps/sizes)."""

_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class MalformedCheckpointError(VerificationError):
    """The note text is not a well-formed checkpoint body."""


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: which log (origin), how many leaves (size), and their Merkle root."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin:
            raise MalformedCheckpointError("checkpoint origin is empty")
        if any(c < " " for c in self.origin):
            raise MalformedCheckpointError(
                f"checkpoint origin {self.origin!r} contains a control character"
            )
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise MalformedCheckpointError(
                f"tree size must be an int, got {type(self.size).__name__}"
            )
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedCheckpointError(f"tree size {self.size} is outside 0..2^63-1")
        if len(self.root) != HASH_SIZE:
            raise MalformedCheckpointError(
                f"root hash is {len(self.root)} bytes, a SHA-256 hash is {HASH_SIZE}"
            )
        for extension in self.extensions:
            if not extension or any(c < " " for c in extension):
                raise MalformedCheckpointError(
                    f"extension line {extension!r} is empty or contains a control character"
                )

    def body(self) -> bytes:
        """The note text a log signs and a witness cosigns."""
        lines = [self.origin, str(self.size), b64encode(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines).encode()

    @classmethod
    def parse(cls, body: bytes | str) -> Checkpoint:
        """Parse a checkpoint body (note text, without signatures)."""
        if isinstance(body, bytes):
            try:
                body = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise MalformedCheckpointError(f"checkpoint is not valid UTF-8: {exc}") from exc
        if not body.endswith("\n"):
            raise MalformedCheckpointError("checkpoint body must end in a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpointError(
                f"checkpoint has {len(lines)} line(s); it needs origin, tree size and root hash"
            )
        origin, size_line, root_line, *extensions = lines
        if not _DECIMAL.fullmatch(size_line):
            raise MalformedCheckpointError(
                f"tree size line {size_line!r} is not a decimal number without leading zeros"
            )
        try:
            root = b64decode(root_line, "root hash")
        except MalformedNoteError as exc:
            raise MalformedCheckpointError(str(exc)) from exc
        return cls(origin, int(size_line), root, tuple(extensions))


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint with its signed note (the log's signature plus any cosignatures)."""

    checkpoint: Checkpoint
    note: Note

    def __post_init__(self) -> None:
        if self.note.text.encode() != self.checkpoint.body():
            raise MalformedCheckpointError("the note text is not this checkpoint's body")

    def to_text(self) -> str:
        return self.note.to_text()

    def to_bytes(self) -> bytes:
        return self.note.to_bytes()

    def with_signatures(
        self, signatures: tuple[Signature, ...] | list[Signature]
    ) -> SignedCheckpoint:
        """Add (co)signature lines, e.g. those a witness returned."""
        return SignedCheckpoint(self.checkpoint, self.note.with_signatures(signatures))

    @classmethod
    def parse(cls, data: bytes | str) -> SignedCheckpoint:
        """Parse a signed checkpoint note; signatures are NOT checked (see `verify_checkpoint`)."""
        note = Note.parse(data)
        return cls(Checkpoint.parse(note.text), note)


def sign_checkpoint(checkpoint: Checkpoint, signer: Ed25519Signer) -> SignedCheckpoint:
    """The log signs its checkpoint with its Ed25519 note key (key name SHOULD equal the origin)."""
    return SignedCheckpoint(checkpoint, sign_note(checkpoint.body().decode(), signer))


def verify_checkpoint(
    signed: SignedCheckpoint | bytes | str, log_key: Ed25519Verifier | str
) -> SignedCheckpoint:
    """Parse `signed` and check the log's signature on it; raise VerificationError if it fails.

    Signatures by other keys (witnesses, rotated log keys) are ignored.
    """
    if not isinstance(signed, SignedCheckpoint):
        signed = SignedCheckpoint.parse(signed)
    verifier = Ed25519Verifier.from_vkey(log_key) if isinstance(log_key, str) else log_key
    verify_note(signed.note, [verifier])
    return signed
