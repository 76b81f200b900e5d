"""Fixtures for the UI tests: the small study on disk and an app opened on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from divtui.tui.access import DbAccess
from divtui.tui.app import DivApp

from .tui_fixtures import add_second_run, build_study

SIZE = (120, 36)


@pytest.fixture(scope="session")
def study_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The study built once per session; tests copy it."""
    return build_study(tmp_path_factory.mktemp("study") / "study.duckdb")


@pytest.fixture
def study(study_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the study database for one test."""
    path = tmp_path / "study.duckdb"
    path.write_bytes(study_template.read_bytes())
    return path


@pytest.fixture(scope="session")
def two_runs_template(tmp_path_factory: pytest.TempPathFactory, study_template: Path) -> Path:
    """The study plus run-b (problems gsm8k:1, gsm8k:2, gsm8k:10 at T=0.7), built once."""
    path = tmp_path_factory.mktemp("two-runs") / "two.duckdb"
    path.write_bytes(study_template.read_bytes())
    return add_second_run(path)


@pytest.fixture
def two_runs(two_runs_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the two-run study for one test."""
    path = tmp_path / "two.duckdb"
    path.write_bytes(two_runs_template.read_bytes())
    return path


def screen_text(app: DivApp) -> str:
    """The whole screen as the compositor paints it, as plain text (one line per row)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


@pytest.fixture
def make_app(study: Path) -> Iterator[Callable[..., DivApp]]:
    """Build DivApps on the study, each holding it read-only as `divtui browse` does (closed
    after the test)."""
    held = []

    def make(keymap: dict[str, str] | None = None, path: Path | None = None) -> DivApp:
        db = DbAccess(path or study)
        held.append(db)
        return DivApp(db, (path or study).name, keymap)

    yield make
    for db in held:
        db.close()


async def settle(pilot, app: DivApp) -> None:
    """Wait until every worker is done and every message handled."""
    for _ in range(3):
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
