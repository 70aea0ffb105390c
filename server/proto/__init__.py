"""Generated gRPC stubs of the client-daemon protocol (regenerate with scripts/gen_protos.py)."""
