"""The demo build timed per stage: main's code (before), this code with torch and with ONNX, one run.

    python -m bench.demo_build                        # this checkout: torch, onnx, onnx-int8
    python -m bench.demo_build --before /work/main    # also the demo of another checkout first

Each build is ``build_demo`` from scratch into a fresh file (the other checkout's by its own virtualenv's
python), in sequence, so they share the machine's load. Prints seconds per stage, the
SBERT share of the build, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

from divtui.engine.demo import build_demo

STAGES = ("simulate", "grade", "embed", "draws", "prune")


def this_build(path: Path, backend: str) -> dict[str, float]:
    """Seconds per stage of this checkout's demo build with ``backend``."""
    out = build_demo(path, progress=None, notice=lambda m: None, backend=backend)
    return out["seconds"]


def other_build(checkout: Path, path: Path) -> dict[str, float]:
    """Seconds per stage of another checkout's ``build_demo`` (run by its own virtualenv)."""
    code = (
        "import json, sys; from divtui.engine.demo import build_demo; "
        "print(json.dumps(build_demo(sys.argv[1], notice=lambda m: None)['seconds']))"
    )
    exe = checkout / ".venv" / "bin" / "python"
    done = subprocess.run(
        [str(exe), "-c", code, str(path)], check=True, capture_output=True, text=True, cwd="/"
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Build the demos and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=None, help="another checkout to time first")
    parser.add_argument("--backends", default="torch,onnx,onnx-int8")
    args = parser.parse_args()
    print(f"load {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        header = " ".join(f"{s:>9}" for s in (*STAGES, "total"))
        print(f"{'build':<16} {header}  SBERT share", flush=True)
        builds: list[tuple[str, str | None]] = []
        if args.before is not None:
            builds.append(("before (torch)", None))
        builds += [(b, b) for b in args.backends.split(",")]
        for label, backend in builds:
            path = Path(tmp) / f"{label.split()[0]}.duckdb"
            s = other_build(args.before, path) if backend is None else this_build(path, backend)
            cells = " ".join(f"{s.get(k, 0.0):9.1f}" for k in (*STAGES, "total"))
            print(f"{label:<16} {cells}  {s['embed'] / s['total']:.0%}", flush=True)
    print(f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
