"""divtui.store: the DuckDB schema, migrations, bulk writes and read queries."""

from .db import migrate, open_db, schema_version, transaction
from .errors import LockedError, NotADatabaseError, SchemaTooNewError, StoreError
from .ids import draw_id, sample_id, stable_id
from .schema import SCHEMA_VERSION, TABLES
from .write import insert, update

__all__ = [
    "SCHEMA_VERSION",
    "TABLES",
    "LockedError",
    "NotADatabaseError",
    "SchemaTooNewError",
    "StoreError",
    "draw_id",
    "insert",
    "migrate",
    "open_db",
    "sample_id",
    "schema_version",
    "stable_id",
    "transaction",
    "update",
]
