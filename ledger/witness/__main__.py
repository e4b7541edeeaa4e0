"""Run a witness as its own service: `python -m cbamhub.ledger.witness [--host H] [--port P]`.

Configured from the environment, so secrets never appear on a command line:

    CBAMHUB_WITNESS_NAME          key name, e.g. witness.example.eu/w1
    CBAMHUB_WITNESS_ED25519_SEED  64 hex digits (the Ed25519 cosignature key seed)
    CBAMHUB_WITNESS_BLS_SECRET    64 hex digits (the BLS secret key, big-endian)
    CBAMHUB_WITNESS_LOGS          JSON object: log origin -> log verifier key (vkey)
    CBAMHUB_WITNESS_DATABASE_URL  sqlite+aiosqlite:///... or postgresql+asyncpg://...
    CBAMHUB_WITNESS_PREFIX        optional URL prefix, e.g. /witness

`--print-keys` prints what others configure to trust this witness and exits.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence

from .app import WitnessConfig, create_witness_app

ENV_PREFIX = "CBAMHUB_WITNESS_"


def config_from_env(environ: Mapping[str, str] = os.environ) -> WitnessConfig:
    def need(key: str) -> str:
        value = environ.get(ENV_PREFIX + key, "").strip()
        if not value:
            raise SystemExit(f"{ENV_PREFIX}{key} is not set")
        return value

    logs = json.loads(need("LOGS"))
    if not isinstance(logs, dict) or not all(isinstance(v, str) for v in logs.values()):
        raise SystemExit(f"{ENV_PREFIX}LOGS must be a JSON object mapping origin to vkey")
    return WitnessConfig(
        name=need("NAME"),
        ed25519_seed=bytes.fromhex(need("ED25519_SEED")),
        bls_secret=bytes.fromhex(need("BLS_SECRET")),
        logs=logs,
        database_url=need("DATABASE_URL"),
        prefix=environ.get(ENV_PREFIX + "PREFIX", "").strip(),
    )


def public_identity(config: WitnessConfig) -> dict[str, str]:
    bls = config.bls_public_key()
    return {
        "name": config.name,
        "cosignature_vkey": config.cosignature_vkey(),
        "bls_public_key": bls.key.hex(),
        "bls_proof_of_possession": bls.proof.hex(),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="tlog-witness service")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--print-keys", action="store_true", help="print the public keys and exit")
    args = parser.parse_args(argv)
    config = config_from_env()
    if args.print_keys:
        print(json.dumps(public_identity(config), indent=2))
        return
    import uvicorn

    uvicorn.run(create_witness_app(config), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
