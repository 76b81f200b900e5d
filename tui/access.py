"""The UI's hold on its database file: read-only, with a write connection only while writing.

DuckDB lets many processes open a file read-only but a writer excludes every other process, and
inside one process a read-only and a read-write connection to the same file cannot coexist. So
the browser keeps one read-only connection (worker threads take cursors of it through
:meth:`DbAccess.reading`), and :meth:`DbAccess.writing` waits until no cursor is in use, closes
it, opens the file read-write for the one write, and reopens it read-only. While another process
has the file open the write fails with :class:`WriteBlocked` naming that process; the caller says
so and retries. This module never imports Textual.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from divtui.store import LockedError, open_db


class WriteBlocked(RuntimeError):
    """Another process holds the file, so the UI cannot write now; str() is one line and
    ``holder`` names the process ("process 123 (divtui report)") for the status line."""

    def __init__(self, message: str) -> None:
        """Keep the store's one-line lock message and pick the holder out of it."""
        super().__init__(message)
        m = re.search(r"locked by (.*?);", message)
        self.holder = m.group(1) if m else "another process"


class DbAccess:
    """One file, opened read-only; ``writing()`` swaps in a read-write connection briefly.

    ``path=None`` wraps an already open connection ``con`` (in-memory or a caller's own): then
    reads and writes both go to it and nothing is reopened.
    """

    def __init__(self, path: str | Path | None, con: Any = None) -> None:
        """Open ``path`` read-only (or adopt ``con`` when given)."""
        self.path = Path(path) if path is not None else None
        self._own = con is None
        self._con = con if con is not None else open_db(self._file(), read_only=True)
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._waiting_writers = 0
        self.blocked: str | None = None

    def _file(self) -> Path:
        """The file to (re)open; only an access that owns its connections has one."""
        if self.path is None:
            raise ValueError("DbAccess: no file to open (give a path or an open connection)")
        return self.path

    @classmethod
    def wrap(cls, con: Any) -> DbAccess:
        """Adopt an open connection: reads and writes use it as it is."""
        return cls(None, con)

    @property
    def read_only(self) -> bool:
        """Whether reads go through a read-only connection that writes must swap out."""
        return self._own

    @property
    def con(self) -> Any:
        """The current read connection (tests and one-off reads; prefer :meth:`reading`)."""
        if self._con is None:
            self._reopen()
        return self._con

    def _reopen(self) -> None:
        """Open the file read-only again after a write; LockedError (one line) if a writer
        of another process took it in between (the next read tries again)."""
        try:
            self._con = open_db(self._file(), read_only=True)
        except LockedError as e:
            self._con = None
            self.blocked = str(e)
            raise

    def mode(self) -> str:
        """One word for the status line: read-only, writing, or read-write (adopted)."""
        if not self._own:
            return "read-write"
        return "writing" if self._writing else "read-only"

    @contextmanager
    def reading(self) -> Iterator[Any]:
        """A cursor of the read connection, held open until the block ends (waits for a write)."""
        with self._cond:
            while self._writing or self._waiting_writers:
                self._cond.wait()
            if self._con is None:
                self._reopen()
            self._readers += 1
            cur = self._con.cursor()
        try:
            yield cur
        finally:
            cur.close()
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[Any]:
        """A read-write connection for one write; raises WriteBlocked when another process
        holds the file (the read-only connection is back in place either way)."""
        if not self._own:
            cur = self._con.cursor()
            try:
                yield cur
            finally:
                cur.close()
            return
        with self._cond:
            self._waiting_writers += 1
            while self._writing or self._readers:
                self._cond.wait()
            self._waiting_writers -= 1
            self._writing = True
        try:
            if self._con is not None:
                self._con.close()
                self._con = None
            try:
                con = open_db(self._file(), create=False)
            except LockedError as e:
                self.blocked = str(e)
                raise WriteBlocked(str(e)) from None
            self.blocked = None
            try:
                yield con
            finally:
                con.close()
        finally:
            try:
                self._reopen()
            except LockedError:
                pass  # a writer of another process took the file; the next read retries
            finally:
                with self._cond:
                    self._writing = False
                    self._cond.notify_all()

    def close(self) -> None:
        """Close the connection this object opened."""
        if self._own and self._con is not None:
            self._con.close()
            self._con = None
