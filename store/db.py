"""Opening a divtui DuckDB file: creation, migration, version checks and lock errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from .errors import LockedError, NotADatabaseError, SchemaTooNewError
from .schema import MIGRATIONS, SCHEMA_VERSION

_PID = re.compile(r"PID (\d+)")


def _lock_message(path: Path, err: Exception) -> str:
    """One line naming the file, the process holding it, and what to do."""
    m = _PID.search(str(err))
    who = f"process {m.group(1)}" if m else "another process"
    holder = ""
    if m:
        try:
            cmd = Path(f"/proc/{m.group(1)}/cmdline").read_bytes().replace(b"\0", b" ").strip()
            text = " ".join(cmd.decode(errors="replace").split())
            holder = f" ({text[:80]})"
        except OSError:
            holder = ""
    return (
        f"{path}: database is locked by {who}{holder}; close that program "
        "(or wait for it to finish) and run this command again"
    )


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """duckdb.connect with errors turned into one-line StoreErrors."""
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as e:
        if "lock" in str(e).lower():
            raise LockedError(_lock_message(path, e)) from None
        raise NotADatabaseError(
            f"{path}: cannot open as a DuckDB database: {_first_line(e)}"
        ) from None
    except duckdb.Error as e:
        raise NotADatabaseError(
            f"{path}: cannot open as a DuckDB database: {_first_line(e)}"
        ) from None


def _first_line(err: Exception) -> str:
    """The first line of an exception's text."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The file's schema version, or None for a file with no divtui tables."""
    has = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchall()[0][0]
    if not has:
        return None
    row = con.execute("SELECT max(version) FROM schema_version").fetchall()[0]
    return int(row[0]) if row and row[0] is not None else 0


def migrate(con: duckdb.DuckDBPyConnection, path: Path | str = "database") -> int:
    """Bring the file to SCHEMA_VERSION in one transaction; refuse a newer file."""
    current = schema_version(con)
    if current is not None and current > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"{path}: schema version {current} is newer than this divtui understands "
            f"({SCHEMA_VERSION}); upgrade divtui (pip install -U divtui) to open it"
        )
    if current == SCHEMA_VERSION:
        return current
    if current is None:
        n_tables = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()[0][0]
        if n_tables:
            raise NotADatabaseError(
                f"{path}: a DuckDB file with other tables and no divtui schema; "
                "use a new file for divtui"
            )
    con.execute("BEGIN TRANSACTION")
    try:
        if current is None:
            con.execute(
                "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
                "applied_at TIMESTAMP DEFAULT current_timestamp)"
            )
            current = 0
        for v in range(current + 1, SCHEMA_VERSION + 1):
            con.execute(MIGRATIONS[v])
            con.execute("INSERT INTO schema_version (version) VALUES (?)", [v])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION


def open_db(
    path: str | Path, *, read_only: bool = False, create: bool = True
) -> duckdb.DuckDBPyConnection:
    """Open (and create or migrate) a divtui database; errors are one-line StoreErrors."""
    path = Path(path)
    if not path.exists():
        if read_only or not create:
            raise NotADatabaseError(
                f"{path}: no such database file; create one with `divtui import` or `divtui demo`"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
    elif path.is_dir():
        raise NotADatabaseError(f"{path}: is a folder, not a database file")
    elif path.stat().st_size == 0:
        raise NotADatabaseError(
            f"{path}: file is empty, not a divtui database; remove it or pass another path"
        )
    con = _connect(path, read_only)
    try:
        if read_only:
            v = schema_version(con)
            if v is None:
                raise NotADatabaseError(f"{path}: not a divtui database (no schema_version table)")
            if v > SCHEMA_VERSION:
                raise SchemaTooNewError(
                    f"{path}: schema version {v} is newer than this divtui understands "
                    f"({SCHEMA_VERSION}); upgrade divtui to open it"
                )
            if v < SCHEMA_VERSION:
                con.close()
                open_db(path).close()  # migrate once read-write, then reopen as asked
                return open_db(path, read_only=True)
        else:
            migrate(con, path)
    except Exception:
        con.close()
        raise
    return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, rolled back on any exception so nothing half-done is stored."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
