"""The store as a sequence of records, the form in which a snapshot of any size travels and is kept.

A snapshot ``{"index": N, "tables": {table: {id: object}}}`` becomes the
records ``{"index": N}``, then ``[table, object]`` for every object (its id
is ``object["ID"]``). Each record is small (the store bounds every object),
so records can be paged into bounded messages (the Raft member streams them
to views) or encoded and decoded a slice at a time (the member's snapshot
files), where one value holding the whole store could not.
"""

from __future__ import annotations

from typing import Collection, Iterable, Iterator


def records(snapshot: dict, tables: Collection[str] | None = None) -> Iterator:
    """The records of ``snapshot`` (``{"index", "tables"}``), header first; only those of ``tables``
    when given."""
    yield {"index": snapshot["index"]}
    for table, objects in snapshot["tables"].items():
        if tables is None or table in tables:
            for obj in objects.values():
                yield [table, obj]


def snapshot_of(items: Iterable) -> dict:
    """The snapshot ``{"index", "tables"}`` that ``items`` (as made by :func:`records`) describe.

    ``ValueError`` when the first record is not a header or a later one is not ``[table, object]``.
    """
    items = iter(items)
    head = next(items, None)
    if not isinstance(head, dict) or not isinstance(head.get("index"), int):
        raise ValueError("a store snapshot starts with {'index': N}")
    tables: dict[str, dict[str, dict]] = {}
    for item in items:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], dict)):
            raise ValueError("a store snapshot record is [table, object]")
        tables.setdefault(item[0], {})[item[1]["ID"]] = item[1]
    return {"index": head["index"], "tables": tables}
