"""Shoal's transport: msgpack codec, message envelope, CURVE keys, ZAP auth and RPC over ZeroMQ."""
