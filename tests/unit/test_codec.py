"""Codec and envelope limits: bad input gets a precise error, never a crash."""

import msgpack
import pytest

from transport import codec, envelope


def test_round_trip():
    value = {"a": [1, 2, {"b": b"\x00bytes"}], "s": "text", "n": None}
    assert codec.decode(codec.encode(value)) == value


def test_oversized_input_is_refused_before_parsing():
    with pytest.raises(codec.CodecError, match="exceeds the limit"):
        codec.decode(b"\x00" * 100, max_bytes=10)


def test_deep_nesting_is_refused():
    value = []
    for _ in range(40):
        value = [value]
    data = msgpack.packb(value)
    with pytest.raises(codec.CodecError, match="nested deeper"):
        codec.decode(data)


def test_garbage_and_truncated_input():
    with pytest.raises(codec.CodecError):
        codec.decode(b"\xc1")
    with pytest.raises(codec.CodecError):
        codec.decode(codec.encode({"key": "value"})[:-2])


def test_envelope_round_trip_and_errors():
    message = envelope.unpack(envelope.pack("ping", {"x": 1}, "c-1"))
    assert (message.kind, message.id, message.body) == ("ping", "c-1", {"x": 1})
    error = envelope.unpack(envelope.pack_error("bad", "why", "c-2"))
    assert error.is_error and error.body == {"code": "bad", "message": "why"}


@pytest.mark.parametrize("raw, reason", [
    ([1, 2], "not a map"),
    ({"v": 99, "k": "x", "id": "1"}, "unsupported protocol version"),
    ({"v": 1, "id": "1"}, "no kind"),
    ({"v": 1, "k": "x"}, "no correlation id"),
])
def test_malformed_envelopes_say_why(raw, reason):
    with pytest.raises(envelope.MalformedMessage, match=reason):
        envelope.unpack(msgpack.packb(raw))
