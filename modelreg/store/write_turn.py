"""SQLite's writers, queued: one at a time per database file, across threads and processes.

SQLite lets one writer in at a time. A writer kept out waits in its busy handler, which
sleeps in growing steps (1, 2, 5, 10 ... up to 100 ms) between tries, so under contention a
write often waited for many times the length of the one before it: with two uvicorn
workers registering models, most of the time went to those sleeps. Writers queue here
instead, and the next one goes in as soon as the lock is let go: threads of one process
on a lock, processes on an `flock` of a file beside the database (the kernel lets go of
it when a process dies, so a crash never leaves it held).
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from types import TracebackType

__all__ = ["WriteTurn", "lock_path"]


def lock_path(database: str | None) -> Path | None:
    """The lock file for a SQLite database file; None for an in-memory database."""
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database).with_name(Path(database).name + ".write-lock")


class WriteTurn:
    """A re-entrant turn at writing: a thread that holds it may take it again."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._threads = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int:
        # A forked child must not share its parent's open file: flock belongs to the
        # open file, and the two would hold the turn together.
        if self._fd is None or self._pid != os.getpid():
            assert self._path is not None
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd

    def acquire(self, *, blocking: bool = True) -> bool:
        """Take the turn; without `blocking`, only if it is free now (False if not)."""
        if not self._threads.acquire(blocking):
            return False
        try:
            if self._depth == 0 and self._path is not None:
                flags = fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB
                try:
                    fcntl.flock(self._file(), flags)
                except BlockingIOError:
                    self._threads.release()
                    return False
        except BaseException:
            self._threads.release()
            raise
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def __enter__(self) -> WriteTurn:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None
