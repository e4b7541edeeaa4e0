"""gRPC TLS credentials: servers' (the RPC door, the anomaly scorer) and clients' (the hub's adapters
and remote scorer, mutual TLS). In the core because both doors and the scorer use it (decision 0084).

Plaintext stays possible for loopback and tests: no certificate configured means an insecure port
or channel, chosen explicitly by leaving the settings empty, never as a fallback after an error.
"""

from __future__ import annotations

from pathlib import Path

import grpc

from cbamhub.settings import Settings


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise FileNotFoundError(f"{what}: cannot read {path}: {error}") from error


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS for the RPC port, with client certificates of grpc_tls_client_ca when configured."""
    if settings.grpc_tls_cert is None and settings.grpc_tls_key is None:
        if settings.grpc_tls_client_ca is not None or settings.grpc_require_client_cert:
            raise ValueError("client certificates need TLS: set grpc_tls_cert and grpc_tls_key")
        return None
    if settings.grpc_tls_cert is None or settings.grpc_tls_key is None:
        raise ValueError("grpc_tls_cert and grpc_tls_key go together")
    pair = (
        _read(settings.grpc_tls_key, "grpc_tls_key"),
        _read(settings.grpc_tls_cert, "grpc_tls_cert"),
    )
    client_ca = (
        None
        if settings.grpc_tls_client_ca is None
        else _read(settings.grpc_tls_client_ca, "grpc_tls_client_ca")
    )
    if settings.grpc_require_client_cert != (client_ca is not None):
        # grpcio verifies client certificates only when it requires them: a CA without the
        # requirement would ask for nothing and silently authenticate nobody.
        raise ValueError("grpc_tls_client_ca and grpc_require_client_cert=true go together")
    return grpc.ssl_server_credentials(
        [pair],
        root_certificates=client_ca,
        require_client_auth=settings.grpc_require_client_cert,
    )


def channel_credentials(
    ca: Path | None, cert: Path | None = None, key: Path | None = None
) -> grpc.ChannelCredentials | None:
    """Client credentials: the server's CA, and the client's own certificate for mutual TLS."""
    if ca is None:
        if cert is not None or key is not None:
            raise ValueError("a client certificate needs the server's CA too")
        return None
    if (cert is None) != (key is None):
        raise ValueError("a client certificate and its key go together")
    return grpc.ssl_channel_credentials(
        root_certificates=_read(ca, "CA"),
        private_key=None if key is None else _read(key, "client key"),
        certificate_chain=None if cert is None else _read(cert, "client certificate"),
    )


def open_channel(target: str, credentials: grpc.ChannelCredentials | None) -> grpc.aio.Channel:
    if credentials is None:
        return grpc.aio.insecure_channel(target)
    return grpc.aio.secure_channel(target, credentials)
