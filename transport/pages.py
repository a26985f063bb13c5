"""Splitting a sequence of values into pages of bounded encoded size.

Pure code. The RPC layer sends a streamed reply as such pages, and the Raft
member publishes a large batch of changes as such pages, so that no single
message carries more than about ``max_bytes`` whatever the size of the store.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

import msgpack


def encoded_size(value) -> int:
    """Bytes of ``value`` as msgpack (the codec's encoding)."""
    return len(msgpack.packb(value, use_bin_type=True))


def pages(items: Iterable, max_bytes: int, max_items: int | None = None,
          size_of: Callable[[object], int] = encoded_size) -> Iterator[list]:
    """Consecutive lists of ``items``, in order, each of at most ``max_bytes`` by ``size_of`` (by default
    the item's encoding, so a page encodes to at most ``max_bytes`` plus a few bytes of list header) and
    holding at most ``max_items`` items (when given), except that an item larger than ``max_bytes``
    alone makes a page.

    Yields nothing for no items. The caller bounds single items (the store bounds every object).
    """
    page, size = [], 0
    for item in items:
        item_size = size_of(item)
        if page and (size + item_size > max_bytes or len(page) == max_items):
            yield page
            page, size = [], 0
        page.append(item)
        size += item_size
    if page:
        yield page
