"""The change stream's paging of large batches (pure code: no sockets)."""

import pytest

from actors.common.changes import BatchAssembler, Gap, batch_messages
from transport import codec


def change(number: int, size: int) -> dict:
    return {"table": "services", "id": f"s{number}", "action": "create",
            "object": {"ID": f"s{number}", "Spec": {"Labels": {"pad": "x" * size}}}}


def test_a_small_batch_is_one_message_as_before():
    messages = batch_messages(7, 1.5, [change(1, 10)], page_bytes=1000)
    assert [codec.decode(m) for m in messages] == [{"index": 7, "time": 1.5, "changes": [change(1, 10)]}]


def test_a_large_batch_is_parts_each_within_the_page_and_reassembles_whole():
    changes = [change(n, 300) for n in range(20)]
    messages = batch_messages(9, 2.0, changes, page_bytes=1000)
    assert len(messages) > 5 and all(len(m) <= 1000 + 100 for m in messages)
    assembler = BatchAssembler()
    results = [assembler.add(codec.decode(m)) for m in messages]
    assert results[:-1] == [None] * (len(messages) - 1)
    assert results[-1] == {"index": 9, "time": 2.0, "changes": changes}


def test_a_lost_part_is_a_gap_and_nothing_of_the_batch_applies():
    messages = [codec.decode(m) for m in batch_messages(9, 2.0, [change(n, 300) for n in range(20)], 1000)]
    assembler = BatchAssembler()
    assert assembler.add(messages[0]) is None
    with pytest.raises(Gap):
        assembler.add(messages[2])
    with pytest.raises(Gap):  # the rest of the broken batch is refused too
        assembler.add(messages[3])
    assert assembler.add({"index": 10, "time": 3.0, "changes": []})["index"] == 10
