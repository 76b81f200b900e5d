"""Opening a divtui DuckDB file: creation, migration, version checks and lock errors."""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from .errors import LockedError, NotADatabaseError, SchemaTooNewError, StoreError
from .schema import MIGRATIONS, SCHEMA_VERSION

# An offline tool: DuckDB must never fetch an extension (it tries, for instance, to install
# sqlite_scanner when handed an SQLite file); every connection of divtui is opened with these.
OFFLINE = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
}

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
        return duckdb.connect(str(path), read_only=read_only, config=dict(OFFLINE))
    except duckdb.IOException as e:
        if "lock" in str(e).lower():
            raise LockedError(_lock_message(path, e)) from None
        text = str(e)
        if "No space left" in text:
            raise StoreError(f"{path}: disk full (no space left on device)") from None
        if "Permission denied" in text or "Read-only file system" in text:
            raise StoreError(
                f"{path}: cannot open for writing (permission denied or read-only file system)"
            ) from None
        raise NotADatabaseError(
            f"{path}: cannot open as a DuckDB database: {_first_line(e)}"
        ) from None
    except duckdb.Error as e:
        raise NotADatabaseError(
            f"{path}: cannot open as a DuckDB database: {_first_line(e)}"
        ) from None


def _first_line(err: BaseException) -> str:
    """The first line of an exception's text."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def schema_version(con: duckdb.DuckDBPyConnection, path: Path | str = "database") -> int | None:
    """The file's schema version, or None for a file with no divtui tables.

    A schema_version table that is empty (in a file with divtui's tables) or that holds
    anything but whole numbers is a NotADatabaseError naming the file.
    """
    has = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchall()[0][0]
    if not has:
        return None
    try:
        values = [v for (v,) in con.execute("SELECT version FROM schema_version").fetchall()]
    except duckdb.Error as e:
        raise NotADatabaseError(
            f"{path}: table schema_version cannot be read: {_first_line(e)}"
        ) from None
    numbers = []
    for v in values:
        text = str(v).strip() if v is not None else ""
        if isinstance(v, bool) or not re.fullmatch(r"[0-9]{1,9}", text):
            raise NotADatabaseError(
                f"{path}: table schema_version holds {text[:40]!r}, not a version number; "
                "the file was changed outside divtui"
            )
        numbers.append(int(text))
    if numbers:
        return max(numbers)
    n_tables = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()[0][0]
    if n_tables > 1:
        raise NotADatabaseError(
            f"{path}: table schema_version is empty, so the file's schema version is unknown; "
            "the file was changed outside divtui"
        )
    return 0


@functools.cache
def _expected_columns() -> dict[str, tuple[str, ...]]:
    """The columns of every divtui table at SCHEMA_VERSION (built once in memory)."""
    mem = duckdb.connect(":memory:", config=dict(OFFLINE))
    try:
        for v in range(1, SCHEMA_VERSION + 1):
            mem.execute(MIGRATIONS[v])
        return _columns(mem)
    finally:
        mem.close()


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, ...]]:
    """Column names of each table of the main schema."""
    out: dict[str, list[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
    ).fetchall():
        out.setdefault(table, []).append(column)
    return {t: tuple(c) for t, c in out.items()}


def check_tables(con: duckdb.DuckDBPyConnection, path: Path | str = "database") -> None:
    """Every divtui table and column is there; else a NotADatabaseError naming what is missing."""
    have = _columns(con)
    for table, columns in _expected_columns().items():
        if table not in have:
            raise NotADatabaseError(
                f"{path}: table {table} is missing (dropped or renamed outside divtui)"
            )
        missing = [c for c in columns if c not in have[table]]
        if missing:
            raise NotADatabaseError(
                f"{path}: table {table} has no column {missing[0]} "
                "(dropped or renamed outside divtui)"
            )


def _unwritable(path: Path) -> StoreError | None:
    """A one-line error when a new database cannot be created in ``path``'s folder."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return StoreError(f"{path}: cannot create the folder {folder}: {e.strerror or e}")
    if not os.access(folder, os.W_OK | os.X_OK):
        return StoreError(
            f"{path}: cannot create the database: the folder {folder} is not writable"
        )
    return None


def _remove_new(path: Path) -> None:
    """Remove a database file (and its WAL) that this process created and failed to set up,
    so no empty or half-made file is left behind."""
    for p in (path, path.with_name(path.name + ".wal")):
        with contextlib.suppress(OSError):
            p.unlink()


def migrate(con: duckdb.DuckDBPyConnection, path: Path | str = "database") -> int:
    """Bring the file to SCHEMA_VERSION in one transaction; refuse a newer file."""
    current = schema_version(con, path)
    if current is not None and current > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"{path}: schema version {current} is newer than this divtui understands "
            f"({SCHEMA_VERSION}); upgrade divtui (pip install -U divtui) to open it"
        )
    if current == SCHEMA_VERSION:
        check_tables(con, path)
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
    new = not path.exists()
    if new:
        if read_only or not create:
            raise NotADatabaseError(
                f"{path}: no such database file; create one with `divtui import` or `divtui demo`"
            )
        problem = _unwritable(path)
        if problem is not None:
            raise problem
    elif path.is_dir():
        raise NotADatabaseError(f"{path}: is a folder, not a database file")
    elif path.stat().st_size == 0:
        raise NotADatabaseError(
            f"{path}: file is empty, not a divtui database; remove it or pass another path"
        )
    elif _header(path).startswith(b"SQLite format 3\0"):
        raise NotADatabaseError(f"{path}: is an SQLite file, not a DuckDB database")
    try:
        con = _connect(path, read_only)
    except BaseException:
        if new:
            _remove_new(path)
        raise
    try:
        if read_only:
            v = schema_version(con, path)
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
            check_tables(con, path)
        else:
            migrate(con, path)
    except BaseException as e:
        _close_quietly(con)
        if new:
            _remove_new(path)
        if isinstance(e, duckdb.Error) and _fatal(e):
            raise database_error(path, e) from None
        raise
    return con


def _header(path: Path) -> bytes:
    """The first 16 bytes of a file (b"" when unreadable: DuckDB then says why)."""
    try:
        with open(path, "rb") as f:
            return f.read(16)
    except OSError:
        return b""


def _close_quietly(con: duckdb.DuckDBPyConnection) -> None:
    """Close a connection that may already be unusable (after a fatal I/O error)."""
    with contextlib.suppress(duckdb.Error):
        con.close()


def database_error(path: Path | str, err: BaseException) -> StoreError:
    """A DuckDB failure while using the file at ``path`` as one line: disk full, I/O error,
    a damaged file."""
    text = str(err)
    if "No space left" in text or "disk full" in text.lower():
        return StoreError(
            f"{path}: disk full (no space left on device); the transaction was rolled back, "
            "nothing of it is stored: free some space and run the command again"
        )
    if isinstance(err, duckdb.IOException):
        return StoreError(f"{path}: I/O error: {_first_line(err)}")
    return NotADatabaseError(f"{path}: damaged or not a divtui database: {_first_line(err)}")


def db_path(con: duckdb.DuckDBPyConnection) -> str:
    """The file behind a connection, for messages ("database" when it cannot be asked)."""
    try:
        rows = con.execute(
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchall()
    except duckdb.Error:
        return "database"
    return str(rows[0][0]) if rows and rows[0][0] else "database"


def _fatal(err: BaseException) -> bool:
    """Whether a DuckDB error is about the file itself (disk full, I/O), not the statement."""
    return isinstance(err, duckdb.IOException | duckdb.FatalException) or "No space left" in str(
        err
    )


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, rolled back on any exception so nothing half-done is stored.

    A full disk or an I/O error (also at COMMIT) becomes a one-line StoreError naming the file.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException as e:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        if isinstance(e, duckdb.Error) and _fatal(e):
            raise database_error(db_path(con), e) from None
        raise
    try:
        con.execute("COMMIT")
    except duckdb.Error as e:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise database_error(db_path(con), e) from None
