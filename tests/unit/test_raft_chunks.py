"""Chunked transfer of large Raft messages: splitting, and reassembly under duplicates, reordering,
superseding transfers, expiry, a memory bound and malformed records."""

import os
import random

import pytest

from actors.raft import chunks
from actors.raft.values import Entry, Message, Snapshot, SnapshotMeta
from transport import codec

MIB = 1024 * 1024
A, B = b"sender-a", b"sender-b"


def reassembler(max_bytes=64 * MIB, timeout=10.0):
    drops = []
    r = chunks.Reassembler(max_bytes, timeout, on_drop=lambda sender, transfer, reason:
                           drops.append((sender, transfer, reason)))
    return r, drops


def feed(r, sender, records, now=0.0):
    """Feed records in order; the completed messages, in order."""
    done = [r.add(sender, record, now) for record in records]
    return [message for message in done if message is not None]


@pytest.mark.parametrize("size,chunk_size,count", [
    (1, 4, 1), (0, 4, 1), (4, 4, 1), (8, 4, 2), (12, 4, 3), (13, 4, 4), (3 * MIB, MIB, 3),
])
def test_split_counts_and_round_trip(size, chunk_size, count):
    payload = os.urandom(size)
    records = chunks.split(payload, "t1", chunk_size)
    assert len(records) == count
    assert [record["seq"] for record in records] == list(range(count))
    assert all(record["total"] == count and record["transfer"] == "t1" for record in records)
    assert all(len(record["data"]) <= chunk_size for record in records)
    assert all(record["data"] for record in records) or size == 0
    r, drops = reassembler()
    assert feed(r, A, records) == [payload]
    assert drops == [] and r.buffered() == 0


def test_records_survive_the_codec():
    records = chunks.split(b"x" * 10, "t1", 3)
    decoded = [codec.decode(codec.encode(record)) for record in records]
    assert all(chunks.is_chunk(value) for value in decoded)
    r, _ = reassembler()
    assert feed(r, A, decoded) == [b"x" * 10]


def test_40_mib_payload():
    payload = os.urandom(40 * MIB)
    records = chunks.split(payload, "big", MIB)
    assert len(records) == 40
    r, drops = reassembler()
    assert feed(r, A, records[:-1]) == []
    assert r.buffered(A) == 39 * MIB
    assert r.add(A, records[-1], 0.0) == payload
    assert drops == [] and r.buffered() == 0


def test_duplicates_are_ignored():
    records = chunks.split(b"abcdefghij", "t1", 3)
    r, drops = reassembler()
    assert feed(r, A, [records[0], records[0], records[1], records[1], records[0]]) == []
    assert r.buffered(A) == 6
    assert feed(r, A, [records[3], records[2]]) == [b"abcdefghij"]
    # A late duplicate of a finished transfer neither completes it again nor starts a new one.
    assert r.add(A, records[1], 1.0) is None
    assert r.pending(A) is None and r.buffered() == 0 and drops == []


def test_reordering_within_a_transfer():
    payload = os.urandom(1000)
    records = chunks.split(payload, "t1", 7)
    random.Random(4).shuffle(records)
    r, drops = reassembler()
    assert feed(r, A, records) == [payload]
    assert drops == []


def test_senders_are_independent():
    a, b = chunks.split(b"from a!", "same-id", 2), chunks.split(b"from b?", "same-id", 2)
    r, drops = reassembler()
    interleaved = [(A, a[0]), (B, b[0]), (B, b[1]), (A, a[1]), (A, a[2]), (B, b[2]), (B, b[3]), (A, a[3])]
    assert [r.add(sender, record, 0.0) for sender, record in interleaved] == [
        None, None, None, None, None, None, b"from b?", b"from a!"]
    assert drops == []


def test_a_new_transfer_supersedes_an_unfinished_one():
    old, new = chunks.split(b"old message", "t1", 4), chunks.split(b"new message", "t2", 4)
    r, drops = reassembler()
    assert feed(r, A, old[:2]) == []
    assert r.add(A, new[0], 1.0) is None
    assert drops == [(A, "t1", "superseded")]
    assert r.pending(A) == "t2" and r.buffered(A) == 4
    # Stragglers of the superseded transfer do not disturb the new one.
    assert r.add(A, old[2], 1.0) is None
    assert feed(r, A, new[1:], 1.0) == [b"new message"]
    assert len(drops) == 1


def test_incomplete_transfers_expire():
    records = chunks.split(b"0123456789", "t1", 4)
    r, drops = reassembler(timeout=10.0)
    r.add(A, records[0], 100.0)
    r.add(B, chunks.split(b"xyzxyz", "t9", 4)[0], 105.0)
    assert r.expire(110.0) == 0 and drops == []
    assert r.expire(110.5) == 1
    assert drops == [(A, "t1", "expired")] and r.pending(A) is None and r.pending(B) == "t9"
    assert r.buffered(A) == 0
    # A chunk of the expired transfer arriving soon after is ignored; the message is lost, not half-built.
    assert r.add(A, records[1], 111.0) is None and r.pending(A) is None
    assert r.expire(200.0) == 1
    assert r.buffered() == 0 and r.senders() == 1  # A forgotten, B remembers t9 for a while
    assert r.expire(300.0) == 0 and r.senders() == 0  # nothing is kept about idle senders


def test_memory_bound_per_sender():
    r, drops = reassembler(max_bytes=10)
    records = chunks.split(b"a" * 12, "big", 4)
    assert feed(r, A, records) == []
    assert drops == [(A, "big", "too_large")]
    assert r.buffered(A) == 0 and r.pending(A) is None
    # The bound is per sender, and a transfer within it still completes.
    assert feed(r, B, chunks.split(b"b" * 10, "ok", 4)) == [b"b" * 10]
    assert feed(r, A, chunks.split(b"c" * 9, "next", 4)) == [b"c" * 9]
    assert len(drops) == 1


def test_a_declared_total_beyond_the_bound_is_dropped_at_once():
    r, drops = reassembler(max_bytes=10)
    assert r.add(A, {"transfer": "t", "seq": 0, "total": 11, "data": b"x"}, 0.0) is None
    assert drops == [(A, "t", "too_large")] and r.buffered() == 0


@pytest.mark.parametrize("record,error", [
    ([1, 2], "is a map"),
    ({"transfer": "t", "seq": 0, "total": 1}, "missing \\['data'\\]"),
    ({"transfer": "t", "seq": 0, "total": 1, "data": b"", "x": 1}, "unexpected \\[\"'x'\"\\]"),
    ({"transfer": "", "seq": 0, "total": 1, "data": b"x"}, "transfer id"),
    ({"transfer": "t" * 65, "seq": 0, "total": 1, "data": b"x"}, "transfer id"),
    ({"transfer": 7, "seq": 0, "total": 1, "data": b"x"}, "transfer id"),
    ({"transfer": "t", "seq": 1, "total": 1, "data": b"x"}, "seq must be"),
    ({"transfer": "t", "seq": -1, "total": 2, "data": b"x"}, "seq must be"),
    ({"transfer": "t", "seq": True, "total": 2, "data": b"x"}, "seq must be"),
    ({"transfer": "t", "seq": 0, "total": 0, "data": b"x"}, "total must be"),
    ({"transfer": "t", "seq": 0, "total": "2", "data": b"x"}, "total must be"),
    ({"transfer": "t", "seq": 0, "total": 1, "data": "text"}, "data must be bytes"),
    ({"transfer": "t", "seq": 0, "total": 2, "data": b""}, "may be empty only"),
])
def test_malformed_records_are_refused(record, error):
    r, drops = reassembler()
    with pytest.raises(ValueError, match=error):
        r.add(A, record, 0.0)
    assert drops == [] and r.buffered() == 0


def test_a_total_that_changes_mid_transfer_drops_it():
    r, drops = reassembler()
    r.add(A, {"transfer": "t", "seq": 0, "total": 3, "data": b"x"}, 0.0)
    with pytest.raises(ValueError, match="disagrees"):
        r.add(A, {"transfer": "t", "seq": 1, "total": 2, "data": b"y"}, 0.0)
    assert drops == [(A, "t", "inconsistent")] and r.buffered() == 0


@pytest.mark.parametrize("args,error", [
    ((b"x", "t", 0), "chunk size"),
    ((b"x", "t", 1.5), "chunk size"),
    ((b"x", "", 4), "transfer id"),
    (("text", "t", 4), "only bytes"),
])
def test_split_refuses_bad_arguments(args, error):
    with pytest.raises(ValueError, match=error):
        chunks.split(*args)


def test_whole_messages_are_not_chunks():
    message = Message("append", "b", "a", 3, entries=[Entry(1, 1, "normal", b"x")])
    assert not chunks.is_chunk(codec.decode(codec.encode(message.to_dict())))
    assert chunks.frames(chunks.pack(message.to_dict()), "t", MIB) == [codec.encode(message.to_dict())]


def test_snapshot_message_over_the_codec_limit_round_trips():
    snapshot = Snapshot(SnapshotMeta(120, 7, ("a", "b", "c"), ("d",)), os.urandom(codec.MAX_MESSAGE_BYTES + MIB))
    message = Message("snapshot", "b", "a", 7, snapshot=snapshot, context=b"ctx")
    data = chunks.pack(message.to_dict())
    assert len(data) > codec.MAX_MESSAGE_BYTES
    with pytest.raises(codec.CodecError):
        codec.encode(message.to_dict())
    # What PeerLinks.send puts on the wire, and what PeerLinks.receive does with it.
    frames = chunks.frames(data, "snap-1", MIB)
    assert len(frames) == 18 and all(len(frame) < 2 * MIB for frame in frames)
    r, drops = reassembler(max_bytes=64 * MIB)
    done = None
    for frame in frames:
        value = codec.decode(frame)
        assert chunks.is_chunk(value)
        done = r.add(A, value, 0.0)
    assert done == data and drops == []
    received = Message.from_dict(chunks.unpack(done, 64 * MIB))
    received.check()
    assert received == message
    with pytest.raises(codec.CodecError, match="exceeds the limit"):
        chunks.unpack(done, 16 * MIB)
