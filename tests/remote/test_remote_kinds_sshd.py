"""A score job through a real OpenSSH sshd: shipped samples scored on the remote, rows ingested.

The classifier kind runs here (the ORM kind with hidden states runs in test_worker_kinds).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from divtui.engine.specs import ScoreSpec
from divtui.store import jobs as jq
from divtui.store import open_db
from tests.conftest import run_divtui
from tests.remote.study_helpers import assert_rows_close, random_study, sorted_rows
from tests.tiny_models import build_classifier

pytestmark = pytest.mark.usefixtures("no_agent")


@pytest.fixture
def shared_classifier(sshd: dict) -> Iterator[Path]:
    """A tiny two-label classifier in a folder the non-root login can read (removed after)."""
    folder = Path(tempfile.mkdtemp(prefix="divtui-clf-"))
    folder.chmod(0o755)
    build_classifier(folder / "tiny-clf", seed=6, num_labels=2)
    for p in folder.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    yield folder / "tiny-clf"
    shutil.rmtree(folder, ignore_errors=True)


def test_score_job_over_ssh_matches_local_scoring(
    sshd: dict, shared_classifier: Path, tmp_path: Path
) -> None:
    from divtui.engine.rewards import score_db

    db = random_study(tmp_path / "study.duckdb", 51)
    local = tmp_path / "local.duckdb"
    shutil.copy(db, local)
    scorer = f"classifier:{shared_classifier}"
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    args = [
        "remote", "run", "gpubox", "--kind", "score", "--scorer", scorer,
        "--problem", "test/algebra/0.json", "--problem", "test/algebra/2.json",
        "--batch-size", "4", "--dtype", "float32", "--db", str(db),
        "--remote-divtui", sshd["user_divtui"], "--ssh-config", sshd["ssh_config"],
    ]  # fmt: skip
    out = run_divtui(*args, env=env)
    assert out.returncode == 0, out.stderr
    assert "ingested (24 scores)" in out.stdout, out.stdout
    job_id = next(x.split()[1] for x in out.stdout.splitlines() if "started" in x)
    con = open_db(db, read_only=True)
    job = jq.get_job(con, job_id)
    con.close()
    assert job["status"] == "ingested" and job["kind"] == "score"
    assert job["spec"]["spec"]["score"] == {
        "scorer": scorer,
        "batch_size": 4,
        "store_hidden": False,
        "dtype": "float32",
    }
    con = open_db(local)
    con.execute("DELETE FROM samples WHERE problem_id = 'test/algebra/1.json'")
    score_db(con, ScoreSpec(scorer=scorer, batch_size=4, dtype="float32"))
    con.close()
    assert_rows_close(sorted_rows(db, "scores"), sorted_rows(local, "scores"), 1e-5)
    assert sorted_rows(db, "embeddings") == []
    again = run_divtui(
        "remote", "fetch", job_id, "--db", str(db), "--ssh-config", sshd["ssh_config"], env=env
    )
    assert again.returncode == 0, again.stderr
    assert "ingested (0 scores)" in again.stdout, again.stdout
    assert len(sorted_rows(db, "scores")) == 24
