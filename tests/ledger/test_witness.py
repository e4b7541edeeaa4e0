"""The witness service over real HTTP: uvicorn on 127.0.0.1, the real client, a real database.

Trees are built with a small reference implementation of RFC 9162's MTH and SUBPROOF (below), so the
consistency proofs the witness checks come from an independent, obviously-correct source.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest
import uvicorn
from cbamhub.ledger.checkpoint import Checkpoint, SignedCheckpoint, sign_checkpoint
from cbamhub.ledger.cosign import (
    BlsCosignatureVerifier,
    BlsSigner,
    CosignatureVerifier,
    WitnessPolicy,
)
from cbamhub.ledger.note import Ed25519Signer, NoteVerifier, verify_note
from cbamhub.ledger.verify import leaf_hash, node_hash
from cbamhub.ledger.witness import (
    BadRequest,
    Conflict,
    Cosigner,
    InconsistentProof,
    LogSignatureRejected,
    UnknownLog,
    WitnessClient,
    WitnessConfig,
    WitnessUnavailable,
    create_witness_app,
)
from starlette.applications import Starlette

ORIGIN = "example.com/log"
LOG_KEY = Ed25519Signer(ORIGIN, bytes([1]) * 32)

# --------------------------------------------------------------------------------------------------
# RFC 9162 section 2.1.1 / 2.1.4.1, written for clarity, not speed.


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = _split(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def consistency_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true)."""

    def subproof(m: int, d: Sequence[bytes], complete: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if complete else [mth(d)]
        k = _split(n)
        if m <= k:
            return subproof(m, d[:k], complete) + [mth(d[k:])]
        return subproof(m - k, d[k:], False) + [mth(d[:k])]

    return subproof(m, leaves, True)


class Log:
    """A toy log: a list of leaves and the key that signs its checkpoints."""

    def __init__(self, leaves: Sequence[bytes], key: Ed25519Signer = LOG_KEY) -> None:
        self.leaves = list(leaves)
        self.key = key

    def checkpoint(self, size: int) -> SignedCheckpoint:
        return sign_checkpoint(Checkpoint(ORIGIN, size, mth(self.leaves[:size])), self.key)

    def proof(self, old: int, new: int) -> list[bytes]:
        return consistency_proof(old, self.leaves[:new])

    async def prove(self, old: int, new: int) -> list[bytes]:
        return self.proof(old, new)


def leaves(n: int, tag: bytes = b"leaf") -> list[bytes]:
    return [tag + b"-%d" % i for i in range(n)]


def test_reference_merkle_tree_agrees_with_the_verifier() -> None:
    from cbamhub.ledger.verify import verify_consistency

    data = leaves(11)
    for new in range(1, 12):
        for old in range(1, new + 1):
            verify_consistency(
                old, new, mth(data[:old]), mth(data[:new]), consistency_proof(old, data[:new])
            )


# --------------------------------------------------------------------------------------------------
# Serving


@contextlib.asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[str]:
    """Run `app` under real uvicorn on a free loopback port, in a background task of this loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped during startup")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


def make_config(database_url: str, name: str = "w1.example", index: int = 1) -> WitnessConfig:
    return WitnessConfig(
        name=name,
        ed25519_seed=bytes([100 + index]) * 32,
        bls_secret=BlsSigner.from_seed(name, bytes([200 + index]) * 32).secret_key,
        logs={ORIGIN: LOG_KEY.vkey()},
        database_url=database_url,
        prefix="/witness",
    )


def sqlite_url(tmp_path: Path, name: str = "witness.db") -> str:
    return f"sqlite+aiosqlite:///{tmp_path / name}"


@contextlib.asynccontextmanager
async def witness(config: WitnessConfig) -> AsyncIterator[WitnessClient]:
    async with (
        serving(create_witness_app(config)) as url,
        WitnessClient(url + "/witness") as client,
    ):
        yield client


# --------------------------------------------------------------------------------------------------
# The witness


async def test_accepts_a_consistent_extension_and_cosigns_it(database_url: str) -> None:
    config = make_config(database_url)
    log = Log(leaves(9))
    async with witness(config) as client:
        lines = await client.add_checkpoint(
            0, [], log.checkpoint(5).to_bytes()
        )  # trust on first use
        assert len(lines) == 2
        lines = await client.add_checkpoint(5, log.proof(5, 9), log.checkpoint(9).to_text())
        cosigned = log.checkpoint(9).note.to_text() + "".join(lines)
        bls = BlsCosignatureVerifier(config.name, config.bls_public_key())
        ed = CosignatureVerifier.from_vkey(config.cosignature_vkey())
        verified = verify_note(cosigned, [LOG_KEY.verifier(), ed, bls])
        assert len(verified) == 3
        # Resubmitting the same checkpoint is answered again (same size, same root, empty proof).
        assert len(await client.add_checkpoint(9, [], log.checkpoint(9).to_bytes())) == 2
        assert await client.refusals() == []


async def test_split_view_and_rewritten_history_are_refused_and_recorded(database_url: str) -> None:
    honest = Log(leaves(8))
    forked = Log(leaves(4, b"evil") + leaves(4, b"more"))
    rewritten = Log(honest.leaves[:2] + [b"rewritten"] + honest.leaves[3:])
    async with witness(make_config(database_url)) as client:
        await client.add_checkpoint(0, [], honest.checkpoint(4).to_bytes())

        with pytest.raises(Conflict) as split:
            await client.add_checkpoint(4, [], forked.checkpoint(4).to_bytes())
        assert split.value.latest_size == 4

        with pytest.raises(InconsistentProof, match="does not reproduce"):
            await client.add_checkpoint(
                4, rewritten.proof(4, 6), rewritten.checkpoint(6).to_bytes()
            )

        # The witness's view is intact: the honest extension still goes through.
        await client.add_checkpoint(4, honest.proof(4, 8), honest.checkpoint(8).to_bytes())

        inconsistent, split_view = await client.refusals(origin=ORIGIN)
        assert split_view["reason"] == "split-view" and split_view["status"] == 409
        assert (split_view["old_size"], split_view["new_size"], split_view["latest_size"]) == (
            4,
            4,
            4,
        )
        assert split_view["latest_root"] != split_view["new_root"]
        assert split_view["note"] == forked.checkpoint(4).to_text()
        assert split_view["latest_note"] == honest.checkpoint(4).to_text()
        assert "split view" in split_view["detail"]
        assert inconsistent["reason"] == "inconsistent" and inconsistent["status"] == 422
        assert (inconsistent["old_size"], inconsistent["new_size"]) == (4, 6)
        assert inconsistent["note"] == rewritten.checkpoint(6).to_text()
        assert inconsistent["time"].endswith("+00:00")
        assert await client.refusals(origin="other.example/log") == []


async def test_conflict_carries_the_latest_size(tmp_path: Path) -> None:
    log = Log(leaves(7))
    async with witness(make_config(sqlite_url(tmp_path))) as client:
        with pytest.raises(Conflict) as never_seen:
            await client.add_checkpoint(3, log.proof(3, 5), log.checkpoint(5).to_bytes())
        assert never_seen.value.latest_size == 0
        await client.add_checkpoint(0, [], log.checkpoint(5).to_bytes())
        with pytest.raises(Conflict) as stale:
            await client.add_checkpoint(3, log.proof(3, 7), log.checkpoint(7).to_bytes())
        assert stale.value.latest_size == 5
        assert stale.value.status == 409
        # The raw answer: the size and the spec's content type.
        async with httpx.AsyncClient() as http:
            body = f"old 3\n\n{log.checkpoint(7).to_text()}".encode()
            response = await http.post(client.url + "/add-checkpoint", content=body)
        assert response.status_code == 409
        assert response.headers["content-type"].startswith("text/x.tlog.size")
        assert response.text == "5\n"


async def test_bad_log_signature_is_403_and_unknown_origin_is_404(tmp_path: Path) -> None:
    log = Log(leaves(3))
    impostor = Log(leaves(3), Ed25519Signer(ORIGIN, bytes([2]) * 32))
    async with witness(make_config(sqlite_url(tmp_path))) as client:
        with pytest.raises(LogSignatureRejected, match=ORIGIN):
            await client.add_checkpoint(0, [], impostor.checkpoint(3).to_bytes())
        tampered = log.checkpoint(3).to_text().replace("\n3\n", "\n2\n", 1)
        with pytest.raises(LogSignatureRejected, match="does not verify"):
            await client.add_checkpoint(0, [], tampered)
        stranger = sign_checkpoint(Checkpoint("other.example/log", 3, mth(log.leaves)), LOG_KEY)
        with pytest.raises(UnknownLog, match="other.example/log"):
            await client.add_checkpoint(0, [], stranger.to_bytes())
        assert await client.refusals() == []  # unauthenticated junk proves nothing: not recorded


async def test_malformed_requests_are_400(tmp_path: Path) -> None:
    log = Log(leaves(4))
    async with witness(make_config(sqlite_url(tmp_path))) as client:
        async with httpx.AsyncClient() as http:
            for body in [
                b"",
                b"old x\n\n",
                b"old 01\n\nfoo",
                b"old 0\nnot-base64\n\n" + log.checkpoint(4).to_bytes(),
            ]:
                response = await http.post(client.url + "/add-checkpoint", content=body)
                assert response.status_code == 400, body
            response = await http.post(
                client.url + "/add-checkpoint", content=b"old 0\n\nno note here\n"
            )
            assert response.status_code == 400
            assert "malformed" in response.text
        with pytest.raises(BadRequest, match="exceeds"):
            await client.add_checkpoint(5, [], log.checkpoint(4).to_bytes())
        with pytest.raises(BadRequest, match="must be empty"):
            await client.add_checkpoint(0, log.proof(2, 4), log.checkpoint(4).to_bytes())


async def test_state_survives_a_restart(tmp_path: Path) -> None:
    config = make_config(sqlite_url(tmp_path))
    log = Log(leaves(8))
    async with witness(config) as client:
        await client.add_checkpoint(0, [], log.checkpoint(5).to_bytes())
        with pytest.raises(Conflict):
            await client.add_checkpoint(5, [], Log(leaves(5, b"fork")).checkpoint(5).to_bytes())
    async with witness(config) as client:  # a new process on the same database
        with pytest.raises(Conflict) as conflict:
            await client.add_checkpoint(0, [], log.checkpoint(8).to_bytes())
        assert conflict.value.latest_size == 5
        await client.add_checkpoint(5, log.proof(5, 8), log.checkpoint(8).to_bytes())
        stale, refusal = await client.refusals()  # newest first
        assert stale["reason"] == "stale-old-size"
        assert refusal["reason"] == "split-view"


async def test_concurrent_submissions_never_roll_the_witness_back(database_url: str) -> None:
    """The race of c2sp.org/tlog-witness: two witness processes on one database, racing submissions
    from the same old size. Exactly one may win; the witness must end at the size it cosigned."""
    config = make_config(database_url)
    log = Log(leaves(16))
    async with witness(config) as a, witness(config) as b:
        await a.add_checkpoint(0, [], log.checkpoint(4).to_bytes())
        sizes = [5, 6, 7, 8, 9, 10, 11, 12]
        results = await asyncio.gather(
            *(
                (a if i % 2 else b).add_checkpoint(4, log.proof(4, n), log.checkpoint(n).to_bytes())
                for i, n in enumerate(sizes)
            ),
            return_exceptions=True,
        )
        winners = [n for n, r in zip(sizes, results, strict=True) if isinstance(r, list)]
        assert len(winners) == 1, results
        assert all(isinstance(r, (list, Conflict)) for r in results), results
        with pytest.raises(Conflict) as state:
            await b.add_checkpoint(0, [], log.checkpoint(16).to_bytes())
        assert state.value.latest_size == winners[0]
        reasons = [r["reason"] for r in await a.refusals()]
        assert len(reasons) == len(sizes) and set(reasons) <= {
            "stale-old-size",
            "concurrent-update",
        }


async def test_unreachable_witness_is_a_typed_error(free_port: int) -> None:
    async with WitnessClient(f"http://127.0.0.1:{free_port}") as client:
        with pytest.raises(WitnessUnavailable) as err:
            await client.add_checkpoint(0, [], Log(leaves(1)).checkpoint(1).to_bytes())
        assert err.value.status == 0


# --------------------------------------------------------------------------------------------------
# Collecting cosignatures and finality


async def test_cosigner_quorum_retries_and_finality(tmp_path: Path, free_port: int) -> None:
    configs = [make_config(sqlite_url(tmp_path, f"w{i}.db"), f"w{i}.example", i) for i in (1, 2, 3)]
    policy = WitnessPolicy({c.name: c.bls_public_key() for c in configs}, threshold=2)
    ed25519 = [c.cosigner().verifier() for c in configs]
    log = Log(leaves(12))
    async with contextlib.AsyncExitStack() as stack:
        w1, w2, w3 = [await stack.enter_async_context(witness(c)) for c in configs]
        down = WitnessClient(f"http://127.0.0.1:{free_port}/witness")
        stack.push_async_callback(down.aclose)

        # 1 of 3 reachable, threshold 2: cosigned but NOT final.
        alone = Cosigner([w1, down], policy, ed25519_witnesses=ed25519)
        result = await alone.cosign(log.checkpoint(3), 0, [])
        assert not result.final
        assert result.signers == ("w1.example",)
        assert "1 of the 2" in result.finality.reason
        assert [o.ok for o in result.outcomes] == [True, False]

        # w2 catches up to size 5 on its own.
        await w2.add_checkpoint(0, [], log.checkpoint(5).to_bytes())

        # Size 9 from old size 5: w1 answers 409 (it is at 3) and is retried with a proof from 3,
        # w2 accepts directly, w3 has never seen the log (409 -> 0 -> trust on first use).
        cosigner = Cosigner(
            [w1, w2, w3, down], policy, proof_provider=log.prove, ed25519_witnesses=ed25519
        )
        result = await cosigner.cosign(log.checkpoint(9), 5, log.proof(5, 9))
        assert result.final, result.finality.reason
        assert sorted(result.signers) == ["w1.example", "w2.example", "w3.example"]
        assert [o.retried_from for o in result.outcomes[:3]] == [3, None, 0]
        assert result.outcomes[3].error is not None
        assert result.aggregate_signature is not None
        assert policy.verify_final(
            result.signed.checkpoint, result.signers, result.aggregate_signature
        ).final
        verifiers: list[NoteVerifier] = [
            LOG_KEY.verifier(),
            *ed25519,
            *(policy.verifier(c.name) for c in configs),
        ]
        assert len(verify_note(result.signed.to_text(), verifiers)) == 7

        # Without a proof provider a stale witness cannot be brought along; 2 of 3 is still final.
        for w in (w1, w2):
            await w.add_checkpoint(9, log.proof(9, 10), log.checkpoint(10).to_bytes())
        no_provider = Cosigner([w1, w2, w3], policy)
        result = await no_provider.cosign(log.checkpoint(12), 10, log.proof(10, 12))
        assert result.final
        assert sorted(result.signers) == ["w1.example", "w2.example"]
        assert "no proof provider" in (result.outcomes[2].error or "")


async def test_cosigner_ignores_a_witness_returning_a_forged_bls_signature(tmp_path: Path) -> None:
    """A witness whose BLS key is not the one in the policy cannot count toward the threshold."""
    good = make_config(sqlite_url(tmp_path, "good.db"), "w1.example", 1)
    liar = make_config(sqlite_url(tmp_path, "liar.db"), "w2.example", 2)
    honest_w2 = make_config(sqlite_url(tmp_path, "unused.db"), "w2.example", 3)
    policy = WitnessPolicy(
        {"w1.example": good.bls_public_key(), "w2.example": honest_w2.bls_public_key()}, 2
    )
    log = Log(leaves(2))
    async with witness(good) as w1, witness(liar) as w2:
        result = await Cosigner([w1, w2], policy).cosign(log.checkpoint(2), 0, [])
    assert not result.final
    assert result.signers == ("w1.example",)


# --------------------------------------------------------------------------------------------------
# Running as its own service


async def test_runs_as_its_own_process(tmp_path: Path, free_port: int) -> None:
    config = make_config(sqlite_url(tmp_path))
    env = {
        **os.environ,
        "CBAMHUB_WITNESS_NAME": config.name,
        "CBAMHUB_WITNESS_ED25519_SEED": config.ed25519_seed.hex(),
        "CBAMHUB_WITNESS_BLS_SECRET": config.bls_secret.hex(),
        "CBAMHUB_WITNESS_LOGS": json.dumps(dict(config.logs)),
        "CBAMHUB_WITNESS_DATABASE_URL": config.database_url,
        "CBAMHUB_WITNESS_PREFIX": "/witness",
    }
    command = [sys.executable, "-m", "cbamhub.ledger.witness"]
    keys = await asyncio.create_subprocess_exec(
        *command, "--print-keys", env=env, stdout=asyncio.subprocess.PIPE
    )
    stdout, _ = await keys.communicate()
    assert keys.returncode == 0
    identity = json.loads(stdout)
    assert identity["cosignature_vkey"] == config.cosignature_vkey()
    assert bytes.fromhex(identity["bls_public_key"]) == config.bls_public_key().key

    process = await asyncio.create_subprocess_exec(*command, "--port", str(free_port), env=env)
    try:
        url = f"http://127.0.0.1:{free_port}/witness"
        async with WitnessClient(url) as client:
            for _ in range(200):
                try:
                    lines = await client.add_checkpoint(
                        0, [], Log(leaves(3)).checkpoint(3).to_bytes()
                    )
                    break
                except WitnessUnavailable:
                    await asyncio.sleep(0.05)
            else:
                pytest.fail("the witness process did not come up")
        assert len(lines) == 2
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)
