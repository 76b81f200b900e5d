"""The running divtui App of a screen, widget or command provider, typed (no ``app: Any``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, cast

from textual.app import App

if TYPE_CHECKING:
    from .app import DivApp


class InApp(Protocol):
    """Anything Textual attaches to a running App (screens, widgets, command providers)."""

    @property
    def app(self) -> App[Any]:
        """The running App."""
        ...


def app_of(node: InApp) -> DivApp:
    """``node.app`` as the DivApp it runs in (every divtui screen runs in one)."""
    return cast("DivApp", node.app)
