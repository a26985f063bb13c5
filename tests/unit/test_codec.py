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


def nested(depth: int, inner=0):
    """``inner`` inside ``depth`` levels of lists and maps, alternating."""
    value = inner
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@pytest.mark.parametrize("depth", [1, 16, 32, 33, 40])
def test_the_depth_limit_holds_whether_or_not_the_walk_is_skipped(depth):
    for inner in (0, "\u0100" * 40, b"\x90" * 40):  # container-like bytes inside a string and a binary
        data = msgpack.packb(nested(depth, inner), use_bin_type=True)
        assert codec.container_heads(data) >= depth
        if depth > codec.MAX_DEPTH:
            with pytest.raises(codec.CodecError, match="nested deeper"):
                codec.decode(data)
        else:
            assert codec.decode(data) == nested(depth, inner)
