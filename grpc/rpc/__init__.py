"""The hub's gRPC servers and clients (installed as cbamhub.rpc: grpc/ itself must never be a package)."""
