"""The command palette's provider: screens and the focused screen's actions."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from . import keys
from .app_of import app_of


class DivCommands(Provider):
    """Go to a screen, or run an action of the screen on top."""

    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        """(title, help, callback) for everything offered now."""
        app = app_of(self)
        out: list[tuple[str, str, Callable[[], Any]]] = [
            (
                "Go to overview",
                "runs, accuracy plot, report tables",
                partial(app.action_goto, "overview"),
            ),
            ("Go to problems", "filterable problem table", partial(app.action_goto, "problems")),
            ("Help", "keys and columns of this screen", app.action_help),
            ("Cancel running work", "cancel every worker", app.action_cancel_work),
            ("Jobs", "remote jobs: log, progress, cancel", app.action_open_jobs),
            ("Compare runs", "two runs' pass@k curves, crossing, pools", app.action_open_compare),
        ]
        if app.current_pool(self.screen) is not None:
            out.append(
                ("Remote rerun", "fresh samples or a regrade on a host", app.action_open_rerun)
            )
        if app.current_batch(self.screen) is not None:
            out.append(("Pruning", "k-medoids of this draw, live", app.action_open_prune))
        screen = self.screen
        for b in getattr(screen, "BINDINGS", []):
            bid = getattr(b, "id", None)
            if bid in keys.DEFAULT_KEYS and "(" not in b.action:
                fn = getattr(screen, f"action_{b.action}", None)
                if fn is not None:
                    out.append((b.description, f"key {keys.key_for(bid, app.keymap)}", fn))
        return out

    async def discover(self) -> Hits:
        """Everything, for an empty query."""
        for title, help_, cb in self._commands():
            yield DiscoveryHit(title, cb, help=help_)

    async def search(self, query: str) -> Hits:
        """Fuzzy matches of ``query`` against the titles."""
        matcher = self.matcher(query)
        for title, help_, cb in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), cb, help=help_)
