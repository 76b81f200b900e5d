"""User settings: default paths and the config file location."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """Where divtui keeps its own files (the demo database), honouring XDG_DATA_HOME."""
    base = os.environ.get("DIVTUI_HOME") or os.environ.get("XDG_DATA_HOME")
    root = Path(base) if base else Path.home() / ".local" / "share"
    return (root / "divtui") if not os.environ.get("DIVTUI_HOME") else root


def config_path() -> Path:
    """The TOML config file (keys, hosts), honouring XDG_CONFIG_HOME and DIVTUI_CONFIG."""
    if os.environ.get("DIVTUI_CONFIG"):
        return Path(os.environ["DIVTUI_CONFIG"])
    base = os.environ.get("XDG_CONFIG_HOME")
    return (Path(base) if base else Path.home() / ".config") / "divtui" / "config.toml"


def default_db() -> Path:
    """The database used when none is named: $DIVTUI_DB or the demo database."""
    if os.environ.get("DIVTUI_DB"):
        return Path(os.environ["DIVTUI_DB"])
    return data_dir() / "demo.duckdb"
