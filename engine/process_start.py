"""How worker processes start: from a forkserver when they can import divtui, else by fork."""

from __future__ import annotations

import multiprocessing
import os
import sys
from importlib.machinery import PathFinder
from multiprocessing.context import BaseContext


def children_find_divtui() -> bool:
    """Whether a fresh interpreter with this one's flags and ``sys.path`` imports divtui.

    A forkserver starts with the parent's interpreter flags and ``sys.path``. Without ``-S`` it
    runs ``site`` too, so ``.pth`` hooks (an editable install's finder) work there; with ``-S``
    only a package found on ``sys.path`` itself (an ordinary install) can be imported.
    """
    if not sys.flags.no_site:
        return True
    spec = PathFinder.find_spec("divtui", sys.path)
    places = list(spec.submodule_search_locations or []) if spec is not None else []
    return any(os.path.isdir(os.path.join(p, "engine")) for p in places)


def worker_context(preload: list[str]) -> BaseContext:
    """A forkserver context that imports ``preload`` once (the writer holds DuckDB threads, so
    forking it is the fallback), or a fork context when a forkserver could not import divtui
    (``python -S`` over an editable install: a launcher that adds the site folder by hand)."""
    if not children_find_divtui():
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(preload)
    return context
