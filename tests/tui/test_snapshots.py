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
