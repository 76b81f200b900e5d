"""Errors the store raises, each carrying a one-line message meant for the user."""

from __future__ import annotations


class StoreError(Exception):
    """A problem with a database file that the user can act on; str() is one line."""

    exit_code = 1


class LockedError(StoreError):
    """Another process holds the database file open for writing."""

    exit_code = 2


class SchemaTooNewError(StoreError):
    """The file was written by a newer divtui whose schema this one does not know."""

    exit_code = 2


class NotADatabaseError(StoreError):
    """The path is missing, empty or not a divtui database."""

    exit_code = 2
