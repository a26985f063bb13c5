"""The change stream's messages: a committed batch published in parts of bounded size.

A batch whose changes encode to at most PAGE_BYTES is one message
``{"index", "time", "changes"}``. A larger one (many objects written at once)
is several: ``{"index", "time", "part": i, "parts": k, "changes": [...]}`` for
i = 0 .. k-1, published back to back. A subscriber applies the batch only when
all its parts have arrived, so it never sees half a batch; a part missing
(dropped by a full queue) is a gap, after which it reads a snapshot. Pure code.
"""

from __future__ import annotations

import msgpack

from transport.pages import pages


def batch_messages(index: int, time: float, changes: list[dict], page_bytes: int) -> list[bytes]:
    """The encoded messages that publish the batch at ``index``: one, or its parts in order.

    Each change is encoded once and the messages are put together from those
    bytes (a large batch is encoded on the Raft loop, so once matters)."""
    encoded = [msgpack.packb(change, use_bin_type=True) for change in changes]
    if sum(map(len, encoded)) <= page_bytes:
        return [_message({"index": index, "time": time}, encoded)]
    groups = list(pages(encoded, page_bytes, size_of=len))
    return [_message({"index": index, "time": time, "part": number, "parts": len(groups)}, group)
            for number, group in enumerate(groups)]


def _message(fields: dict, encoded_changes: list[bytes]) -> bytes:
    """msgpack of ``{**fields, "changes": [...]}`` from the changes' encodings."""
    packer = msgpack.Packer(use_bin_type=True)
    head = packer.pack_map_header(len(fields) + 1) + b"".join(
        packer.pack(key) + packer.pack(value) for key, value in fields.items())
    return head + packer.pack("changes") + packer.pack_array_header(len(encoded_changes)) + b"".join(encoded_changes)


class Gap(Exception):
    """A part of a batch is missing: the subscriber must read a snapshot."""


class BatchAssembler:
    """Puts the parts of one batch back together; whole batches pass through."""

    def __init__(self):
        self._partial: dict | None = None

    def add(self, message: dict) -> dict | None:
        """The whole batch once ``message`` completes it (a whole message completes itself), else None.

        Raises :class:`Gap` when ``message`` is not the part expected next
        (a part was lost), forgetting what was collected.
        """
        if "parts" not in message:
            self._partial = None
            return message
        partial = self._partial
        if message["part"] == 0:
            partial = {"index": message["index"], "time": message["time"], "changes": [], "next": 0}
        if partial is None or partial["index"] != message["index"] or partial["next"] != message["part"]:
            self._partial = None
            raise Gap(f"part {message['part']} of batch {message['index']} arrived without the parts before it")
        partial["changes"].extend(message["changes"])
        partial["next"] += 1
        if partial["next"] < message["parts"]:
            self._partial = partial
            return None
        self._partial = None
        return {"index": partial["index"], "time": partial["time"], "changes": partial["changes"]}

    def reset(self) -> None:
        """Forget a partly collected batch (after a snapshot)."""
        self._partial = None
