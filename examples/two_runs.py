"""Write a simulated two-run study (base.jsonl, tuned.jsonl) for `divtui report --runs`.

    python examples/two_runs.py DIR [--problems 40] [--samples 32] [--seed 0]

Everything in the files is simulated (see divtui.engine.simulate_pair); import them with
`divtui import DIR/base.jsonl --format jsonl --run base` and the same for tuned.
"""

from __future__ import annotations

import argparse

from divtui.engine.simulate_pair import write_pair


def main() -> None:
    """Parse the arguments and write the two files."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--problems", type=int, default=40)
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for path in write_pair(args.folder, args.problems, args.samples, args.seed):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
