"""Answers to gets by id on a SQLite registry, kept for as long as nothing is committed.

A get by id spent most of its time in the registry's own code reading the row and its
properties and encoding them, for an answer that changes only when something is
committed. SQLite counts, for each connection, the commits other connections make to
the file (PRAGMA data_version, read from the shared WAL index: any process's commit
counts). The answers kept here are stamped with that count on the reading connection,
and one is given again only while the count has not moved since it was read: the same
bytes a new read would give. Any commit at all drops them all, so a catalog being
written to gains little, and loses a PRAGMA per get.

The count is taken before the read. A commit that lands between the two shows in the
row, under the older count; the next get sees the count moved before it looks, so it
never gets that row under a count that hides the commit.

PostgreSQL has no such count short of a round trip to ask, which costs what a keyed
read does, so its gets are not kept. Nor is anything a request's principal sees
differently: the route's permission is checked before its handler runs, and a get's
answer is the same for everyone allowed to ask.
"""

from __future__ import annotations

from collections.abc import Hashable
from weakref import WeakKeyDictionary

__all__ = ["ReadCache"]


class ReadCache:
    """Encoded answers by key, per reading connection, for its current commit count."""

    def __init__(self, size: int = 8192) -> None:
        self._size = size
        self._kept: WeakKeyDictionary[object, tuple[int, dict[Hashable, bytes]]] = WeakKeyDictionary()

    def get(self, stamp: tuple[object, int], key: Hashable) -> bytes | None:
        conn, count = stamp
        kept = self._kept.get(conn)
        if kept is None or kept[0] != count:
            return None
        return kept[1].get(key)

    def put(self, stamp: tuple[object, int], key: Hashable, body: bytes) -> None:
        conn, count = stamp
        kept = self._kept.get(conn)
        if kept is None or kept[0] != count:
            kept = self._kept[conn] = (count, {})
        answers = kept[1]
        if len(answers) >= self._size:
            del answers[next(iter(answers))]  # the oldest kept
        answers[key] = body
