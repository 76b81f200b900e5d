"""Default key bindings of every screen, each with an id, and the TOML remap of those ids."""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.binding import Binding, BindingType

# id -> (key, action, description); the id's prefix names the screen ("app" is global)
DEFAULT_KEYS: dict[str, tuple[str, str, str]] = {
    "app.help": ("f1", "help", "Help"),
    "app.overview": ("f2", "goto('overview')", "Overview"),
    "app.problems": ("f3", "goto('problems')", "Problems"),
    "app.cancel": ("ctrl+g", "cancel_work", "Cancel work"),
    "app.quit": ("ctrl+q", "quit", "Quit"),
    "app.jobs": ("f4", "goto('jobs')", "Jobs"),
    "overview.next_table": ("t", "next_table", "Next table"),
    "overview.compare": ("c", "app.open_compare", "Compare runs"),
    "overview.run": ("u", "plot_run", "Plot: next run"),
    "overview.aggregator": ("a", "plot_aggregator", "Plot: runs by aggregator"),
    "problems.filter": ("slash", "focus_filter", "Filter"),
    "problems.clear": ("x", "clear_filters", "Clear filters"),
    "problems.sort": ("s", "sort_column", "Sort column"),
    "problems.back": ("escape", "back", "Back"),
    "problems.open": ("o", "open_batch", "Open batch"),
    "problems.export": ("e", "export", "Export rows"),
    "problems.remote": ("R", "app.open_rerun", "Remote rerun"),
    "batch.next": ("n", "step(1)", "Next draw"),
    "batch.prev": ("p", "step(-1)", "Prev draw"),
    "batch.draw": ("d", "fresh_draw", "Fresh draw"),
    "batch.rerun": ("r", "rerun", "Rerun aggregators"),
    "batch.full": ("f", "full_screen", "Full screen"),
    "batch.mark": ("m", "mark", "Mark"),
    "batch.compare": ("c", "compare", "Compare"),
    "batch.export": ("e", "export", "Export batch"),
    "batch.left": ("left", "move(-1)", "Left"),
    "batch.right": ("right", "move(1)", "Right"),
    "batch.together": ("s", "toggle_together", "Scroll together"),
    "batch.prune": ("k", "app.open_prune", "Pruning"),
    "batch.remote": ("R", "app.open_rerun", "Remote rerun"),
    "batch.back": ("escape", "back", "Back"),
    "prune.more": ("plus,up", "change_m(1)", "m + 1"),
    "prune.less": ("minus,down", "change_m(-1)", "m - 1"),
    "prune.metric": ("s", "next_metric", "Metric space"),
    "prune.weighted": ("w", "toggle_weighted", "Weighted"),
    "prune.aggregator": ("a", "next_aggregator", "Plotted aggregator"),
    "prune.back": ("escape", "back", "Back"),
    "jobs.cancel": ("c", "cancel_job", "Cancel job"),
    "jobs.fetch": ("f", "fetch_job", "Reconnect / fetch"),
    "jobs.refresh": ("r", "refresh", "Refresh"),
    "jobs.back": ("escape", "back", "Back"),
    "rerun.cancel": ("escape", "cancel", "Cancel"),
    "viewer.back": ("escape", "back", "Back"),
    "compare.more": ("plus", "change_k(1)", "K up"),
    "compare.less": ("minus", "change_k(-1)", "K down"),
    "compare.open": ("o", "open_problem", "Open pools"),
    "compare.back": ("escape", "back", "Back"),
    "pools.next": ("n", "next_batch", "Next batches"),
    "pools.back": ("escape", "back", "Back"),
}


class KeymapError(ValueError):
    """The [keys] table of the config file is malformed; str() is one line."""


def bindings(screen: str) -> list[BindingType]:
    """The Bindings of one screen (``"app"`` for the global ones), ids attached for remapping."""
    out: list[BindingType] = []
    for bid, (key, action, desc) in DEFAULT_KEYS.items():
        if bid.split(".", 1)[0] == screen:
            show = not action.startswith("move")
            priority = action.startswith("move")  # before the focused column's own scrolling
            out.append(Binding(key, action, desc, id=bid, show=show, priority=priority))
    return out


def load_keymap(path: Path) -> dict[str, str]:
    """The ``[keys]`` table of the TOML file at ``path`` (binding id -> key); {} if absent."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise KeymapError(f"{path}: not valid TOML: {e}") from None
    keys = data.get("keys", {})
    if not isinstance(keys, dict):
        raise KeymapError(f'{path}: [keys] must be a table of binding id = "key"')
    out = {}
    for bid, key in keys.items():
        if bid not in DEFAULT_KEYS:
            raise KeymapError(f"{path}: field keys.{bid}: no such binding id")
        if not isinstance(key, str) or not key:
            raise KeymapError(f'{path}: field keys.{bid}: expected a key name like "ctrl+x"')
        out[bid] = key
    return out


def key_for(bid: str, keymap: dict[str, str]) -> str:
    """The key a binding id is bound to after remapping."""
    return keymap.get(bid, DEFAULT_KEYS[bid][0])
