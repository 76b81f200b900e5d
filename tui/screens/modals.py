"""Small modal screens: a text prompt, rerun settings, a full-screen viewer, compare, help."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from .. import keys
from ..widgets.diff import diff_texts
from ..widgets.key_bar import KeyBar
from ..widgets.safe_text import safe_text


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text (a path, a batch size); Enter accepts, Escape cancels."""

    BINDINGS = [("escape", "cancel", "Cancel")]

    def __init__(self, title: str, default: str) -> None:
        """A prompt titled ``title`` prefilled with ``default``."""
        super().__init__()
        self.title_text = title
        self.default = default

    def compose(self) -> ComposeResult:
        """Title and input."""
        with Vertical(classes="dialog"):
            yield Label(Text(self.title_text))
            yield Input(self.default, id="prompt-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Return the text."""
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        """Return None."""
        self.dismiss(None)


class RerunScreen(ModalScreen[dict[str, Any] | None]):
    """Choose scorer, embedder and weighting for rerunning the aggregators."""

    BINDINGS = [("escape", "cancel", "Cancel")]

    def __init__(self, scorers: list[str], embedders: list[str], current: dict[str, Any]) -> None:
        """Offer ``scorers`` and ``embedders``, preselecting ``current``."""
        super().__init__()
        self.scorers, self.embedders, self.current = scorers, embedders, current

    def compose(self) -> ComposeResult:
        """Two selects, a checkbox and a button."""
        with Vertical(classes="dialog"):
            yield Label("Rerun aggregators with")
            yield Label("scorer (wmaj, bst)", classes="rerun-label-above")
            yield Select(
                [(s, s) for s in self.scorers],
                value=self._known(self.current.get("scorer"), self.scorers),
                prompt="no scorer" if not self.scorers else "pick a scorer",
                id="rerun-scorer",
            )
            yield Label("embedder (mbr_sem, DPP)", classes="rerun-label-above")
            yield Select(
                [(e, e) for e in self.embedders],
                value=self._known(self.current.get("embedder"), self.embedders),
                prompt="no embedder" if not self.embedders else "pick an embedder",
                id="rerun-embedder",
            )
            yield Checkbox(
                "weighted (wmaj by reward)", self.current.get("weighted", True), id="rerun-weighted"
            )
            yield Button("Rerun", id="rerun-go", variant="primary")

    @staticmethod
    def _known(value: Any, options: list[str]) -> Any:
        """``value`` when it is one of the options, else no selection (a Select refuses
        anything else)."""
        return value if value in options else Select.NULL

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Return the chosen settings."""
        sc = self.query_one("#rerun-scorer", Select).value
        em = self.query_one("#rerun-embedder", Select).value
        self.dismiss(
            {
                "scorer": None if sc is Select.NULL else str(sc),
                "embedder": None if em is Select.NULL else str(em),
                "weighted": self.query_one("#rerun-weighted", Checkbox).value,
            }
        )

    def action_cancel(self) -> None:
        """Return None."""
        self.dismiss(None)


class ViewerScreen(Screen[None]):
    """One solution full screen."""

    BINDINGS = keys.bindings("viewer")
    HELP = "One solution, full screen. Scroll with the arrow keys or PageUp/PageDown."

    def __init__(self, title: Text, body: Text) -> None:
        """Show ``title`` above ``body``."""
        super().__init__()
        self.head, self.body = title, body

    def compose(self) -> ComposeResult:
        """Header and scrollable body."""
        yield Static(self.head, id="viewer-head")
        with VerticalScroll(id="viewer-scroll"):
            yield Static(self.body, id="viewer-body")
        yield KeyBar()

    def action_back(self) -> None:
        """Close."""
        self.app.pop_screen()


class CompareScreen(Screen[None]):
    """Two solutions side by side with their word differences highlighted."""

    BINDINGS = keys.bindings("viewer")
    HELP = (
        "Two solutions side by side. Words only in the left one are red, words only in the "
        "right one are green."
    )

    def __init__(self, left: tuple[Text, str], right: tuple[Text, str]) -> None:
        """``left``/``right`` are (header, text)."""
        super().__init__()
        self.left, self.right = left, right

    def compose(self) -> ComposeResult:
        """Two scrollable panes."""
        a, b = diff_texts(self.left[1], self.right[1])
        with Horizontal(id="compare"):
            for head, body, wid in ((self.left[0], a, "cmp-left"), (self.right[0], b, "cmp-right")):
                with Vertical(classes="cmp-pane"):
                    yield Static(head, classes="sol-head")
                    with VerticalScroll():
                        yield Static(body, id=wid)
        yield KeyBar()

    def action_back(self) -> None:
        """Close."""
        self.app.pop_screen()


class HelpScreen(ModalScreen[None]):
    """F1: what the screen underneath shows and the keys it (and the app) binds."""

    BINDINGS = [("escape", "close", "Close"), ("f1", "close", "Close")]

    def __init__(self, screen: Screen[Any], keymap: dict[str, str]) -> None:
        """Describe ``screen`` with keys remapped by ``keymap``."""
        super().__init__()
        self.target, self.keymap = screen, keymap

    def compose(self) -> ComposeResult:
        """Help text and a key table."""
        text = Text()
        text.append(f"{type(self.target).__name__.removesuffix('Screen')}\n\n", style="bold")
        text.append(getattr(self.target, "HELP", "") + "\n\n")
        for b in [*self.target.BINDINGS, *self.app.BINDINGS]:
            if isinstance(b, Binding) and b.id in keys.DEFAULT_KEYS:
                text.append(f"{keys.key_for(b.id, self.keymap):>10}  ", style="bold cyan")
                text.append(f"{b.description}\n")
        with VerticalScroll(classes="dialog", id="help"):
            yield Static(text, id="help-text")

    def action_close(self) -> None:
        """Close."""
        self.dismiss(None)


def member_title(pos: int, m: dict[str, Any]) -> Text:
    """A short header naming a batch member for the viewer and compare screens."""
    marks: dict[bool | None, str] = {True: "✓", False: "✗"}
    mark = marks.get(m.get("correct"), "?")
    t = Text(f"#{pos} idx {m.get('idx')} {mark} answer ")
    t.append_text(safe_text(m.get("answer")))
    return t
