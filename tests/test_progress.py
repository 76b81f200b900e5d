"""divtui.commands.progress: the one progress bar, its terminal-only form, remote job lines."""

from __future__ import annotations

import pytest

from divtui.commands.progress import job_progress, progress_bar, terminal_progress_bar
from divtui.store.terminal import is_safe

OSC52 = "\x1b]52;c;cHduZWQ=\x07"


def test_job_progress_prints_untrusted_fields_as_one_escaped_line(capsys) -> None:
    job_progress({"stage": "draw" + OSC52, "done": "2" + OSC52, "total": [OSC52], "label": "a\nb"})
    job_progress({})
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(is_safe(line) for line in err), err
    assert err[0].startswith("  draw\\x1b]52;c;cHduZWQ=\\x07: 2\\x1b]52") and "a\\nb" in err[0]
    assert err[1] == "  ?: / "  # missing fields print empty, as before


@pytest.mark.parametrize("total", [1, 7, 40])
def test_progress_bar_ends_at_the_last_count_with_its_label(capsys, total: int) -> None:
    with progress_bar("draw") as bar:
        for done in range(1, total + 1):
            bar(done, total, "pools")
    err = capsys.readouterr().err
    assert f"{total}/{total} pools" in err and err.startswith("draw")


def test_progress_bar_unused_prints_nothing_and_off_a_terminal_nothing_at_all(capsys) -> None:
    with progress_bar("idle"):
        pass
    with terminal_progress_bar("grade") as bar:
        assert bar is None
    assert capsys.readouterr().err == ""
