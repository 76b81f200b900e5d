"""Job specs: allowlists against a brute-force character check, quoting through a real sh, errors."""

from __future__ import annotations

import json
import string
import subprocess
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from divtui.engine.remote import jobspec as js
from divtui.engine.remote.client import launch_command, shell_line

ID_CHARS = set(string.ascii_letters + string.digits + "._:/@+=,-")
PROBLEM = {"problem_id": "p1", "question": "What is 1+1?", "gold_answer": "2"}


def _id_ok(s: str) -> bool:
    """Independent statement of the problem-id allowlist."""
    return (
        0 < len(s) <= 256
        and all(c in ID_CHARS for c in s)
        and (s[0].isalnum() or s[0] == "_")
        and ".." not in s.split("/")
    )


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.printable + "é$`'\"\\;|&", max_size=40))
def test_id_allowlist_matches_a_brute_force_check(s: str) -> None:
    try:
        js.check_id(s, "problem_id", "spec.json")
        accepted = True
    except js.SpecError as e:
        accepted = False
        assert str(e).startswith("spec.json: field problem_id: ") and "\n" not in str(e)
    assert accepted == _id_ok(s)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        # any character a command line can carry: not NUL, not a lone surrogate
        st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30),
        max_size=4,
    )
)
def test_shell_line_passes_any_value_through_a_real_sh_unchanged(args: list[str]) -> None:
    script = 'for a in "$@"; do printf "%s\\0" "$a"; done'
    out = subprocess.run(["sh", "-c", shell_line(script, *args)], capture_output=True, check=True)
    assert out.stdout.split(b"\0")[:-1] == [a.encode() for a in args]


def test_launch_command_keeps_hostile_paths_literal(tmp_path) -> None:
    job_dir = tmp_path / "jobs $(touch PWNED); `id` 'x\"" / "j1"
    job_dir.mkdir(parents=True)
    cmd = launch_command(str(job_dir), ["/bin/echo", "arg with space;$HOME"])
    subprocess.run(["sh", "-c", cmd], cwd=tmp_path, check=True, capture_output=True)
    for _ in range(50):
        if (job_dir / "log").exists() and (job_dir / "log").read_text():
            break
        time.sleep(0.05)
    assert (job_dir / "log").read_text() == "arg with space;$HOME worker run spec.json\n"
    assert not (tmp_path / "PWNED").exists()


def test_generate_spec_round_trip_and_normalisation() -> None:
    spec = js.generate_spec([PROBLEM], model="org/model-1.5B", temperatures=[1, 0.3, 0.3], n=4)
    assert spec["generate"]["temperatures"] == [0.3, 1.0]
    again = js.validate_spec(json.loads(js.dump_spec(spec)))
    assert again == spec and js.JOB_ID.match(spec["job_id"])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "train"}, "field kind"),
        ({"divtui_job": 2}, "field divtui_job"),
        ({"job_id": "../etc"}, "field job_id"),
        ({"problems": []}, "field problems"),
        ({"problems": [PROBLEM, PROBLEM]}, "field problems[1].problem_id: duplicate"),
        ({"problems": [{**PROBLEM, "question": 3}]}, "field problems[0].question"),
        ({"generate": {"model": "m; rm -rf ~", "temperatures": [0.5], "n": 2}}, "generate.model"),
        ({"generate": {"model": "m", "temperatures": [float("nan")], "n": 2}}, "temperatures"),
        ({"generate": {"model": "m", "temperatures": [0.5], "n": 0}}, "field generate.n"),
        ({"generate": {"model": "m", "temperatures": [0.5], "n": True}}, "field generate.n"),
        ({"extra": 1}, "field extra: unknown field"),
    ],
)
def test_bad_specs_give_one_line_naming_the_field(change: dict, field: str) -> None:
    spec = js.generate_spec([PROBLEM], model="m", temperatures=[0.5], n=2)
    with pytest.raises(js.SpecError) as e:
        js.validate_spec({**spec, **change}, "job.json")
    assert str(e.value).startswith("job.json: ") and field in str(e.value)
    assert "\n" not in str(e.value)


def test_load_spec_names_the_line_of_bad_json(tmp_path) -> None:
    path = tmp_path / "spec.json"
    path.write_text('{\n "kind": "grade",\n "job_id": x\n}\n')
    with pytest.raises(js.SpecError, match=r"spec\.json:3: invalid JSON"):
        js.load_spec(path)
