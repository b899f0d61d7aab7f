"""Answers to gets by id, kept for as long as nothing is committed to their registry.

A get by id spent most of its time in the registry's own code reading the row and its
properties and encoding them, for an answer that changes only when something is
committed. Each answer kept here is stamped with what says, for its database, whether
anything has been committed since; one is given again only while a stamp taken for the
new request is the same: the same bytes a new read would give. Any commit at all drops
them all, so a catalog being written to gains little.

- SQLite counts, for each connection, the commits other connections make to the file
  (PRAGMA data_version, read from the shared WAL index: any process's commit counts).
  The stamp is that count on the reading connection: no round trip.
- PostgreSQL's stamp is the server's current snapshot (which transactions have
  committed), asked after the request arrived: one query for the gets that came
  together on a worker (store.keyed_reads), so replicas never answer from before a
  commit that another replica had acknowledged when the get was sent. A get of a
  catalog at rest costs part of a round trip and no row reading or encoding.
- MariaDB has no such stamp; its gets are not kept.

The stamp is taken before the read. A commit that lands between the two shows in the
row, under the older stamp; the next get sees the stamp moved before it looks, so it
never gets that row under a stamp that hides the commit.

Nothing a request's principal sees differently is kept: the route's permission is
checked before its handler runs, and a get's answer is the same for everyone allowed to
ask.
"""

from __future__ import annotations

from collections.abc import Hashable
from weakref import WeakKeyDictionary

__all__ = ["ReadCache"]


class ReadCache:
    """Encoded answers by key, per stamp owner (a SQLite reading connection, a PostgreSQL
    registry's keyed reads), for its current stamp; at most `size` bytes of them each."""

    def __init__(self, size: int = 8 << 20) -> None:
        self._size = size
        self._kept: WeakKeyDictionary[object, _Kept] = WeakKeyDictionary()

    def get(self, stamp: tuple[object, Hashable], key: Hashable) -> bytes | None:
        owner, value = stamp
        kept = self._kept.get(owner)
        if kept is None or kept.stamp != value:
            return None
        return kept.answers.get(key)

    def put(self, stamp: tuple[object, Hashable], key: Hashable, body: bytes) -> None:
        owner, value = stamp
        kept = self._kept.get(owner)
        if kept is None or kept.stamp != value:
            kept = self._kept[owner] = _Kept(value)
        answers = kept.answers
        old = answers.pop(key, None)
        if old is not None:
            kept.size -= len(old)
        if len(body) > self._size:
            return  # kept, it would leave room for nothing else
        while kept.size + len(body) > self._size:
            kept.size -= len(answers.pop(next(iter(answers))))  # the oldest kept
        answers[key] = body
        kept.size += len(body)


class _Kept:
    __slots__ = ("answers", "size", "stamp")

    def __init__(self, stamp: Hashable) -> None:
        self.stamp = stamp
        self.answers: dict[Hashable, bytes] = {}
        self.size = 0
