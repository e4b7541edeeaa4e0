"""Cost of making a checkpoint final: log signature, 3 BLS cosignatures, aggregation, one verification.

    python bench/bench_checkpoint.py [--runs N]

Prints the median of N runs for each step, for py_ecc (the reference) and, when installed, blspy (the
optional fast path). These are per-checkpoint costs, never per-record ones.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from collections.abc import Callable

from cbamhub.ledger import cosign
from cbamhub.ledger.checkpoint import Checkpoint, sign_checkpoint
from cbamhub.ledger.cosign import BlsSigner, WitnessPolicy, aggregate
from cbamhub.ledger.note import Ed25519Signer

WITNESSES = 3


def median_seconds(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(backend: str, runs: int) -> None:
    cosign.set_bls_backend(backend)
    log = Ed25519Signer("bench.example/log", bytes([1]) * 32)
    checkpoint = Checkpoint("bench.example/log", 1_000_000, hashlib.sha256(b"root").digest())
    witnesses = [
        BlsSigner.from_seed(f"w{i}.example", bytes([i + 1]) * 32) for i in range(WITNESSES)
    ]
    policy = WitnessPolicy({w.name: w.public() for w in witnesses}, threshold=2)
    names = [w.name for w in witnesses]
    signatures = [w.cosign(checkpoint).signature for w in witnesses]
    agg = aggregate(signatures)

    def final_checkpoint() -> None:
        sign_checkpoint(checkpoint, log)
        sigs = [w.cosign(checkpoint).signature for w in witnesses]
        policy.verify_final(checkpoint, names, aggregate(sigs)).raise_unless_final()

    rows = [
        (
            "Ed25519 checkpoint sign",
            median_seconds(lambda: sign_checkpoint(checkpoint, log), runs * 20),
        ),
        (
            f"{WITNESSES} BLS cosignatures",
            median_seconds(lambda: [w.cosign(checkpoint) for w in witnesses], runs),
        ),
        (f"aggregate {WITNESSES} signatures", median_seconds(lambda: aggregate(signatures), runs)),
        (
            "aggregate verify (FastAggregateVerify)",
            median_seconds(lambda: policy.verify_final(checkpoint, names, agg), runs),
        ),
        ("final checkpoint (all of the above)", median_seconds(final_checkpoint, runs)),
    ]
    print(f"\nBLS backend: {backend} (median of {runs} runs)")
    for label, seconds in rows:
        print(f"  {label:<42} {seconds * 1000:10.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    bench("py_ecc", args.runs)
    if cosign.FAST_BACKEND is not None:
        bench("blspy", args.runs)
    else:
        print("\nblspy not installed: no fast-path figures")


if __name__ == "__main__":
    main()
