"""The `cbamhub` command line: clear messages and exit codes (0 ok, 1 not verified or refused,
2 bad usage or unreadable input)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cbamhub.ledger.checkpoint import Checkpoint, sign_checkpoint
from cbamhub.ledger.note import Ed25519Signer
from cbamhub.ledger.verify import EMPTY_ROOT
from cbamhub.vault.signing import OrganisationKey, signature_valid


def cbamhub(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cbamhub.cli", *args],
        input=stdin, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_keygen_writes_a_private_key_once_and_sign_uses_it(tmp_path: Path) -> None:
    key_file = tmp_path / "org.key"
    made = cbamhub("keygen", "--out", str(key_file))
    assert made.returncode == 0, made.stderr
    public = json.loads(made.stdout)
    assert key_file.stat().st_mode & 0o777 == 0o600
    again = cbamhub("keygen", "--out", str(key_file))
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr

    record = tmp_path / "record.json"
    record.write_text(json.dumps({"b": 1, "a": [1.5, "x"]}))
    signed = cbamhub("sign", str(record), "--key", str(key_file))
    assert signed.returncode == 0, signed.stderr
    submission = json.loads(signed.stdout)
    assert submission["payload"] == '{"a":[1.5,"x"],"b":1}'  # RFC 8785 canonical
    assert submission["keyId"] == public["key_id"]
    import base64

    assert signature_valid(
        bytes.fromhex(public["public_key"]),
        submission["payload"].encode(),
        base64.b64decode(submission["signature"]),
    )


def test_unreadable_or_malformed_input_exits_2(tmp_path: Path) -> None:
    key = tmp_path / "org.key"
    key.write_text(OrganisationKey.generate().to_text())
    missing = cbamhub("sign", str(tmp_path / "nope.json"), "--key", str(key))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert cbamhub("sign", str(bad), "--key", str(key)).returncode == 2
    not_a_key = cbamhub("sign", str(bad), "--key", str(bad))
    assert not_a_key.returncode == 2 and "not an organisation key" in not_a_key.stderr
    assert cbamhub("verify").returncode == 2  # argparse usage error


def test_verify_checkpoint_accepts_the_logs_signature_and_rejects_anything_else(
    tmp_path: Path,
) -> None:
    log_key = Ed25519Signer.generate("hub.example/log/eu")
    note = sign_checkpoint(Checkpoint("hub.example/log/eu", 0, EMPTY_ROOT), log_key).to_text()
    path = tmp_path / "checkpoint"
    path.write_text(note)
    ok = cbamhub("verify-checkpoint", str(path), "--log-key", log_key.vkey())
    assert ok.returncode == 0, ok.stderr
    assert "size 0" in ok.stdout

    other = Ed25519Signer.generate("hub.example/log/eu")
    refused = cbamhub("verify-checkpoint", str(path), "--log-key", other.vkey())
    assert refused.returncode == 1 and "NOT VERIFIED" in refused.stderr

    path.write_text(note.replace("\n0\n", "\n1\n", 1))
    tampered = cbamhub("verify-checkpoint", str(path), "--log-key", log_key.vkey())
    assert tampered.returncode == 1 and "NOT VERIFIED" in tampered.stderr


def test_malformed_evidence_is_not_verified(tmp_path: Path) -> None:
    vkey = Ed25519Signer.generate("hub.example/log/eu").vkey()
    result = cbamhub("verify", "-", "--log-key", vkey, stdin='{"format": "something else"}')
    assert result.returncode == 1
    assert "unknown evidence format" in result.stderr
