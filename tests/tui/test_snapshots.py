"""SVG snapshots of every screen at a fixed size on the fixed study (pytest-textual-snapshot)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from .conftest import SIZE, settle


async def _overview(pilot) -> None:
    """Wait for the overview's data."""
    await settle(pilot, pilot.app)


async def _problems(pilot) -> None:
    """Open the problems screen."""
    await settle(pilot, pilot.app)
    await pilot.press("f3")
    await settle(pilot, pilot.app)


async def _filtered(pilot) -> None:
    """Problems filtered to wrong majority votes at T=1."""
    await _problems(pilot)
    await pilot.press("slash", *"T=1 maj=wrong", "enter")
    await settle(pilot, pilot.app)


async def _batch(pilot) -> None:
    """The batch view of the first draw of the hostile pool."""
    await _problems(pilot)
    await pilot.press("slash", *"T=0.5 k=4", "enter")
    await settle(pilot, pilot.app)
    await pilot.press("enter")
    await settle(pilot, pilot.app)


async def _help(pilot) -> None:
    """F1 over the problems screen."""
    await _problems(pilot)
    await pilot.press("f1")
    await settle(pilot, pilot.app)


async def _viewer(pilot) -> None:
    """One solution full screen."""
    await _batch(pilot)
    await pilot.press("f")
    await settle(pilot, pilot.app)


async def _compare(pilot) -> None:
    """Two solutions compared."""
    await _batch(pilot)
    await pilot.press("m", "right", "c")
    await settle(pilot, pilot.app)


def _snap(snap_compare, make_app, before: Callable[..., Awaitable[None]]) -> bool:
    """Compare one screen with its stored snapshot."""
    return snap_compare(make_app(), terminal_size=SIZE, run_before=before)


def test_snapshot_overview(snap_compare, make_app) -> None:
    assert _snap(snap_compare, make_app, _overview)


def test_snapshot_problems(snap_compare, make_app) -> None:
    assert _snap(snap_compare, make_app, _problems)


def test_snapshot_problems_filtered(snap_compare, make_app) -> None:
    assert _snap(snap_compare, make_app, _filtered)


def test_snapshot_batch(snap_compare, make_app) -> None:
    assert _snap(snap_compare, make_app, _batch)


def test_snapshot_help(snap_compare, make_app) -> None:
    assert _snap(snap_compare, make_app, _help)


def test_snapshot_viewer(snap_compare, make_app) -> None:
    assert _snap(snap_compare, make_app, _viewer)


def test_snapshot_compare(snap_compare, make_app) -> None:
    assert _snap(snap_compare, make_app, _compare)


async def _rerun(pilot) -> None:
    """The remote rerun dialog over the problems screen."""
    await _problems(pilot)
    await pilot.press("R")
    await settle(pilot, pilot.app)


async def _overview_second_run(pilot) -> None:
    """The overview's plot of the second run, then of maj with a line per run."""
    await settle(pilot, pilot.app)
    await pilot.press("u")
    await settle(pilot, pilot.app)


async def _runs_by_aggregator(pilot) -> None:
    """The overview's plot of maj with a line per run."""
    await settle(pilot, pilot.app)
    await pilot.press("a")
    await settle(pilot, pilot.app)


def test_snapshot_overview_80x24(snap_compare, make_app) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_overview)


def test_snapshot_problems_80x24(snap_compare, make_app) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_problems)


def test_snapshot_batch_80x24(snap_compare, make_app) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_batch)


def test_snapshot_rerun_without_hosts(snap_compare, make_app, monkeypatch) -> None:
    monkeypatch.setenv("HOME", "/nonexistent-divtui-home")
    monkeypatch.setenv("DIVTUI_CONFIG", "/nonexistent-divtui/config.toml")
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_rerun)


def test_snapshot_rerun_two_hosts_80x24(snap_compare, make_app, monkeypatch, tmp_path) -> None:
    (tmp_path / "h" / ".ssh").mkdir(parents=True)
    (tmp_path / "h" / ".ssh" / "config").write_text("Host gpu-a\n  HostName a\nHost gpu-b\n")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_rerun)


def test_snapshot_overview_second_run(snap_compare, make_app, two_runs) -> None:
    app = make_app(path=two_runs)
    assert snap_compare(app, terminal_size=SIZE, run_before=_overview_second_run)


def test_snapshot_overview_runs_by_aggregator(snap_compare, make_app, two_runs) -> None:
    app = make_app(path=two_runs)
    assert snap_compare(app, terminal_size=SIZE, run_before=_runs_by_aggregator)
