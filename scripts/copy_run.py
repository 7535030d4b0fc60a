"""Copy a training run's resumable state (run files and newest resume state) to another folder.

Long runs outlive the machines they start on: park one in the repository before a session ends,
and bring it back on the next machine, then resume with the same `train` command:

    .venv/bin/python -m scripts.copy_run runs/distill training/distill   # park (safe while it trains)
    .venv/bin/python -m scripts.copy_run training/distill runs/distill   # bring back, then resume
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli import EXIT_ERROR, start_tensorflow
from core.errors import PetSegError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="a training run folder (--out of train)")
    parser.add_argument("dest", type=Path, help="where the copy goes (replaced)")
    args = parser.parse_args()
    start_tensorflow(verbose=False)  # core.training.checkpoint imports Keras: no C++ start-up lines
    from core.training.checkpoint import copy_resumable

    try:
        epochs = copy_resumable(args.source, args.dest)
    except (PetSegError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(f"copied {args.source} after epoch {epochs} to {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
