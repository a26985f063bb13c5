"""msgpack encoding with hard limits on size and nesting.

Every byte string that crosses a Shoal socket goes through :func:`decode`,
which refuses oversized or too deeply nested input with :class:`CodecError`
instead of letting a peer exhaust memory or the stack.
"""

from __future__ import annotations

import msgpack

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 32


class CodecError(ValueError):
    """Raised for bytes that are not an acceptable msgpack message."""


def encode(value) -> bytes:
    """Serialise ``value`` (dicts, lists, str, bytes, numbers, bool, None) to msgpack.

    Raises CodecError if the value cannot be encoded or the result exceeds
    MAX_MESSAGE_BYTES.
    """
    try:
        data = msgpack.packb(value, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise CodecError(f"cannot encode message: {exc}") from exc
    if len(data) > MAX_MESSAGE_BYTES:
        raise CodecError(f"message of {len(data)} bytes exceeds the limit of {MAX_MESSAGE_BYTES}")
    return data


def decode(data: bytes, max_bytes: int = MAX_MESSAGE_BYTES, max_depth: int = MAX_DEPTH):
    """Parse msgpack ``data`` into Python values, enforcing size and depth limits.

    Raises CodecError for input larger than ``max_bytes``, nested deeper than
    ``max_depth``, truncated, or otherwise invalid.
    """
    if len(data) > max_bytes:
        raise CodecError(f"message of {len(data)} bytes exceeds the limit of {max_bytes}")
    try:
        value = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError, TypeError) as exc:
        raise CodecError(f"invalid msgpack: {exc}") from exc
    if container_heads(data) > max_depth:
        check_depth(value, max_depth)
    return value


# Every byte that can begin a msgpack array or map: fixmap, fixarray, array 16/32, map 16/32.
_CONTAINER_HEADS = bytes(range(0x80, 0xA0)) + bytes(range(0xDC, 0xE0))


def container_heads(data) -> int:
    """An upper bound on the number of arrays and maps in msgpack ``data``: the count of its bytes that
    could begin one (strings and binary data may hold such bytes too). Nesting N levels deep takes N
    containers, so a message with at most ``max_depth`` of these bytes needs no walk over its values,
    which costs several times the decoding (most messages are small and mostly text)."""
    if not isinstance(data, bytes):
        data = bytes(data)
    return len(data) - len(data.translate(None, _CONTAINER_HEADS))


def check_depth(value, max_depth: int = MAX_DEPTH) -> None:
    """Raise CodecError if ``value`` nests lists/maps deeper than ``max_depth``."""
    # Level by level, looking only at containers: every message on every socket passes here.
    level = [value] if isinstance(value, _CONTAINERS) else []
    depth = 1
    while level:
        if depth > max_depth:
            raise CodecError(f"message nested deeper than {max_depth} levels")
        nested = []
        for node in level:
            if isinstance(node, dict):
                nested += [key for key in node if isinstance(key, _CONTAINERS)]
                node = node.values()
            nested += [child for child in node if isinstance(child, _CONTAINERS)]
        level, depth = nested, depth + 1


_CONTAINERS = (dict, list, tuple)
