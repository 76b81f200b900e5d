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
from textual.containers import Horizontal, VerticalScroll
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
            js.score_spec(stub, scorer=req["scorer"])
        else:
            js.grade_spec(stub)
    except js.SpecError as e:
        raise RequestError(str(e).removeprefix("job spec: ")) from None
    return req


FIELD_WIDGETS = {
    "host": "#rerun-host",
    "kind": "#rerun-kind",
    "temperatures": "#rerun-temps",
    "n": "#rerun-n",
    "max tokens": "#rerun-max-tokens",
    "model": "#rerun-model",
    "generate.model": "#rerun-model",
    "backend": "#rerun-backend",
    "scorer": "#rerun-scorer",
}
GENERATING_SOURCES = ("vllm", "transformers")


def field_widget(message: str) -> str | None:
    """The widget id a RequestError message names ("field n: ..." -> "#rerun-n")."""
    name = message.removeprefix("field ").split(":", 1)[0]
    return FIELD_WIDGETS.get(name)


def prefill_model(settings: dict[str, Any]) -> tuple[str, str]:
    """The model to prefill (only a run that was sampled by a model: never a simulated or
    unknown one) and a hint for the model field."""
    model, source = settings.get("model"), str(settings.get("source") or "")
    if model and source in GENERATING_SOURCES:
        return str(model), f"this run's model ({source})"
    if model:
        return (
            "",
            f"this run's model {model!r} ({source or 'unknown source'}) is not one to sample with",
        )
    return "", "this run records no model"


class RemoteRerunScreen(ModalScreen[dict[str, Any] | None]):
    """Ask a remote host for fresh samples of these problems, a regrade or a rescore."""

    BINDINGS = keys.bindings("rerun")
    HELP = (
        "Send a job to a host of your ~/.ssh/config (or a [hosts.NAME] table of divtui's "
        "config): generate (fresh samples of these problems at these temperatures, n per "
        "temperature, with this model and backend) or grade (regrade their stored samples "
        "there) or score (rescore them with a reward model, orm:MODEL or classifier:MODEL, "
        "on the host's GPU). A bad field is named on the error line, which stays until you "
        "change that field. The job's log and progress show on the jobs screen (F4); its "
        "results are ingested into this file when it finishes."
    )

    def __init__(
        self,
        problem_ids: list[str],
        *,
        hosts: list[str],
        run_id: str | None = None,
        temperature: float | None = None,
        model: str | None = None,
        model_hint: str = "",
        host_problem: str | None = None,
        where: str = "~/.ssh/config or [hosts.NAME] in the config",
    ) -> None:
        """The dialog for ``problem_ids``, prefilled with the pool's temperature and model;
        ``where`` says where hosts come from (for the no-hosts line)."""
        super().__init__()
        self.problem_ids, self.hosts, self.run_id = problem_ids, hosts, run_id
        self.temperature, self.model, self.host_problem = temperature, model, host_problem
        self.model_hint, self.where = model_hint, where
        self.error_widget: str | None = None

    def compose(self) -> ComposeResult:
        """The form, one labelled field a line: host, kind, temperatures, n, max tokens,
        model, scorer, backend; the error line and the button."""
        with VerticalScroll(classes="dialog", id="rerun-dialog"):
            yield Label(Text("Remote rerun", style="bold"))
            head = Text("problems: ")
            head.append_text(safe_text(", ".join(self.problem_ids)))
            yield Static(head, id="rerun-problems")
            with Horizontal(classes="rerun-row"):
                yield Label("host", classes="rerun-label")
                if self.hosts:
                    yield Select(
                        [(h, h) for h in self.hosts],
                        prompt="pick a host",
                        value=self.hosts[0] if len(self.hosts) == 1 else Select.NULL,
                        compact=True,
                        id="rerun-host",
                    )
                else:
                    yield Static(
                        safe_text(f"no hosts: add a Host to {self.where}", style="bold"),
                        id="rerun-no-hosts",
                    )
            with Horizontal(classes="rerun-row"):
                yield Label("kind", classes="rerun-label")
                yield Select(
                    [
                        ("generate: fresh samples", "generate"),
                        ("grade: regrade samples", "grade"),
                        ("score: rescore samples", "score"),
                    ],
                    value="generate",
                    allow_blank=False,
                    compact=True,
                    id="rerun-kind",
                )
            temp = "0.7" if self.temperature is None else f"{self.temperature:g}"
            for label, value, wid in (
                ("temperatures", temp, "rerun-temps"),
                ("n per T", "8", "rerun-n"),
                ("max tokens", "1024", "rerun-max-tokens"),
                ("model", self.model or "", "rerun-model"),
            ):
                with Horizontal(classes="rerun-row"):
                    yield Label(label, classes="rerun-label")
                    yield Input(value, compact=True, id=wid)
            yield Static(safe_text(self.model_hint, style="dim"), id="rerun-model-hint")
            with Horizontal(classes="rerun-row"):
                yield Label("scorer", classes="rerun-label")
                yield Input("", compact=True, id="rerun-scorer")
            yield Static(
                Text("score jobs: orm:MODEL or classifier:MODEL", style="dim"),
                id="rerun-scorer-hint",
            )
            with Horizontal(classes="rerun-row"):
                yield Label("backend", classes="rerun-label")
                yield Select(
                    [(b, b) for b in js.BACKENDS],
                    value=js.BACKENDS[0],
                    allow_blank=False,
                    compact=True,
                    id="rerun-backend",
                )
            yield Static(safe_text(self.host_problem or "", style="bold red"), id="rerun-error")
            yield Button("Run on host", id="rerun-submit", variant="primary")

    def values(self) -> dict[str, Any]:
        """The raw field values."""

        def sel(wid: str) -> Any:
            found = self.query(wid)
            if not found:
                return None
            v = found.first(Select).value
            return None if v is Select.NULL else v

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
        """Validate; show the first problem in one line (it stays until that field changes),
        or return the request."""
        values = self.values()
        try:
            if not self.hosts:
                raise RequestError(f"field host: no hosts: add a Host to {self.where}")
            req = validate_request(values)
        except RequestError as e:
            self.show_error(str(e))
            return
        self.dismiss(req)

    def show_error(self, message: str) -> None:
        """The error line, and the named field marked until it is changed."""
        self.clear_error()
        self.query_one("#rerun-error", Static).update(
            Text.assemble(("error: ", "bold red"), safe_text(message))
        )
        wid = field_widget(message)
        if wid is not None and self.query(wid):
            self.query_one(wid).add_class("-invalid")
            self.error_widget = wid

    def clear_error(self) -> None:
        """Drop the error line and the field's mark."""
        if self.error_widget is not None and self.query(self.error_widget):
            self.query_one(self.error_widget).remove_class("-invalid")
        self.error_widget = None
        self.query_one("#rerun-error", Static).update("")

    def on_input_changed(self, event: Input.Changed) -> None:
        """Editing the field an error names clears the error."""
        if self.error_widget == f"#{event.input.id}":
            self.clear_error()

    def on_select_changed(self, event: Select.Changed) -> None:
        """Choosing in the select an error names clears the error."""
        if self.error_widget == f"#{event.select.id}":
            self.clear_error()

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
