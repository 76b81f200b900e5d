"""The remote rerun dialog: pick a host and ask for fresh samples, a regrade or a rescore.

Hosts come from the user's ``~/.ssh/config`` (aliases without wildcards) and divtui's config
``[hosts.NAME]`` tables. Every field is checked here with a one-line message, then again by the
job spec's own validation (``engine.remote.jobspec``) before anything is sent.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from divtui.engine.remote import jobspec as js
from divtui.engine.remote.hosts import HostConfigError, load_host_settings, ssh_config_hosts

from .. import keys
from ..widgets.safe_text import safe_text

DIALOG_KINDS = ("generate", "grade", "score")


class RequestError(ValueError):
    """A dialog field that is not valid; ``str()`` is one line naming the field."""


def known_hosts(ssh_config: Path, divtui_config: Path) -> tuple[list[str], str | None]:
    """Host aliases from the ssh config then divtui's [hosts] tables, and a config problem."""
    names = ssh_config_hosts(ssh_config)
    try:
        settings = load_host_settings(divtui_config)
    except HostConfigError as e:
        return names, str(e)
    return list(dict.fromkeys([*names, *settings])), None


def _temperatures(text: str) -> list[float]:
    """Comma-separated temperatures, each a finite number in [0, 5]."""
    out = []
    for part in [p.strip() for p in text.split(",")]:
        if not part:
            continue
        try:
            t = float(part)
        except ValueError:
            raise RequestError(f"field temperatures: {part!r} is not a number") from None
        if not math.isfinite(t) or not 0.0 <= t <= 5.0:
            raise RequestError(f"field temperatures: {part} is outside [0, 5]")
        out.append(t)
    if not out:
        raise RequestError("field temperatures: give at least one, e.g. 0.3,0.7")
    return sorted(set(out))


def _positive(text: str, field: str, hi: int) -> int:
    """A whole number in [1, hi]."""
    try:
        v = int(text.strip())
    except ValueError:
        raise RequestError(f"field {field}: {text.strip()!r} is not a whole number") from None
    if not 1 <= v <= hi:
        raise RequestError(f"field {field}: {v} is outside [1, {hi}]")
    return v


def validate_request(values: dict[str, Any]) -> dict[str, Any]:
    """The checked request (host, kind, problem_ids, run_id, temperatures, n, model, backend,
    max_tokens), or a RequestError naming the first bad field in one line."""
    host = values.get("host")
    if not host:
        raise RequestError("field host: pick a host (from ~/.ssh/config or [hosts] in the config)")
    kind = values.get("kind")
    if kind not in DIALOG_KINDS:
        raise RequestError(f"field kind: must be one of {', '.join(DIALOG_KINDS)}")
    problems = [str(p) for p in values.get("problem_ids") or []]
    if not problems:
        raise RequestError("field problems: no problem selected")
    req: dict[str, Any] = {
        "host": str(host),
        "kind": kind,
        "problem_ids": problems,
        "run_id": values.get("run_id"),
    }
    stub = [{"problem_id": p, "question": ""} for p in problems]
    try:
        if kind == "generate":
            model = str(values.get("model") or "").strip()
            if not model:
                raise RequestError("field model: give a model id or a folder on the host")
            backend = values.get("backend")
            if backend not in js.BACKENDS:
                raise RequestError(f"field backend: must be one of {', '.join(js.BACKENDS)}")
            req.update(
                temperatures=_temperatures(str(values.get("temperatures") or "")),
                n=_positive(str(values.get("n") or ""), "n", 100_000),
                model=model,
                backend=backend,
                max_tokens=_positive(str(values.get("max_tokens") or ""), "max tokens", 1_000_000),
            )
            js.generate_spec(
                stub,
                model=req["model"],
                temperatures=req["temperatures"],
                n=req["n"],
                backend=req["backend"],
                max_tokens=req["max_tokens"],
            )
        elif kind == "score":
            req["scorer"] = js.check_scorer(
                str(values.get("scorer") or "").strip(), "scorer", "job spec"
            )
        else:
            js.grade_spec(stub)
    except js.SpecError as e:
        raise RequestError(str(e).removeprefix("job spec: ")) from None
    return req


class RemoteRerunScreen(ModalScreen[dict[str, Any] | None]):
    """Ask a remote host for fresh samples of these problems, a regrade or a rescore."""

    BINDINGS = keys.bindings("rerun")
    HELP = (
        "Send a job to a host of your ~/.ssh/config: generate (fresh samples of these problems "
        "at these temperatures, n per temperature, with this model and backend) or grade "
        "(regrade their stored samples there) or score (rescore them with a reward model, "
        "orm:MODEL or classifier:MODEL, on the host's GPU). The job's log and progress show on the jobs "
        "screen (F4); its results are ingested into this file when it finishes."
    )

    def __init__(
        self,
        problem_ids: list[str],
        *,
        hosts: list[str],
        run_id: str | None = None,
        temperature: float | None = None,
        model: str | None = None,
        host_problem: str | None = None,
    ) -> None:
        """The dialog for ``problem_ids``, prefilled with the pool's temperature and model."""
        super().__init__()
        self.problem_ids, self.hosts, self.run_id = problem_ids, hosts, run_id
        self.temperature, self.model, self.host_problem = temperature, model, host_problem

    def compose(self) -> ComposeResult:
        """The form: host, kind, problems, temperatures, n, model, backend, max tokens."""
        with Vertical(classes="dialog", id="rerun-dialog"):
            yield Label(Text("Remote rerun", style="bold"))
            head = Text("problems: ")
            head.append_text(safe_text(", ".join(self.problem_ids)))
            yield Static(head, id="rerun-problems")
            yield Select(
                [(h, h) for h in self.hosts],
                prompt="host (~/.ssh/config)",
                value=self.hosts[0] if len(self.hosts) == 1 else Select.BLANK,
                id="rerun-host",
            )
            yield Select(
                [
                    ("generate: fresh samples", "generate"),
                    ("grade: regrade samples", "grade"),
                    ("score: rescore samples", "score"),
                ],
                value="generate",
                allow_blank=False,
                id="rerun-kind",
            )
            temp = "0.7" if self.temperature is None else f"{self.temperature:g}"
            with Horizontal(classes="rerun-row"):
                yield Input(temp, placeholder="temperatures", id="rerun-temps")
                yield Input("8", placeholder="n", id="rerun-n")
                yield Input("1024", placeholder="max tokens", id="rerun-max-tokens")
            yield Input(
                self.model or "", placeholder="model id or folder on the host", id="rerun-model"
            )
            yield Input(
                "",
                placeholder="scorer for score jobs: orm:MODEL or classifier:MODEL",
                id="rerun-scorer",
            )
            yield Select(
                [(b, b) for b in js.BACKENDS],
                value=js.BACKENDS[0],
                allow_blank=False,
                id="rerun-backend",
            )
            note = self.host_problem or (
                "" if self.hosts else "no hosts: add a Host to ~/.ssh/config or [hosts.NAME]"
            )
            yield Static(safe_text(note, style="bold red"), id="rerun-error")
            yield Button("Run on host", id="rerun-submit", variant="primary")

    def values(self) -> dict[str, Any]:
        """The raw field values."""

        def sel(wid: str) -> Any:
            v = self.query_one(wid, Select).value
            return None if v is Select.BLANK else v

        return {
            "host": sel("#rerun-host"),
            "kind": sel("#rerun-kind"),
            "backend": sel("#rerun-backend"),
            "problem_ids": self.problem_ids,
            "run_id": self.run_id,
            "temperatures": self.query_one("#rerun-temps", Input).value,
            "n": self.query_one("#rerun-n", Input).value,
            "max_tokens": self.query_one("#rerun-max-tokens", Input).value,
            "model": self.query_one("#rerun-model", Input).value,
            "scorer": self.query_one("#rerun-scorer", Input).value,
        }

    def submit(self) -> None:
        """Validate; show the first problem in one line, or return the request."""
        try:
            req = validate_request(self.values())
        except RequestError as e:
            self.query_one("#rerun-error", Static).update(
                Text.assemble(("error: ", "bold red"), safe_text(str(e)))
            )
            return
        self.dismiss(req)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The submit button."""
        if event.button.id == "rerun-submit":
            self.submit()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in any field submits."""
        self.submit()

    def action_cancel(self) -> None:
        """Close without a job."""
        self.dismiss(None)
