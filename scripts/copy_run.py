"""Copy a training run's resumable state (run files and newest resume state) to another folder.

Long runs outlive the machines they start on: park one in the repository before a session ends,
and bring it back on the next machine, then resume with the same `train` command:

    .venv/bin/python -m scripts.copy_run runs/distill training/distill   # park (safe while it trains)
    .venv/bin/python -m scripts.copy_run training/distill runs/distill   # bring back, then resume

`--keep-last` makes the copy of a finished run keep its last epoch (`core.training.train.keep_last_epoch`):
what `train --keep last` would have left, for shipping the end of the schedule.
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
    parser.add_argument("--keep-last", action="store_true", help="the copy's model.keras: the last epoch's weights")
    args = parser.parse_args()
    start_tensorflow(verbose=False)  # core.training.checkpoint imports Keras: no C++ start-up lines
    from core.training.checkpoint import copy_resumable
    from core.training.train import keep_last_epoch

    try:
        epochs = copy_resumable(args.source, args.dest)
        kept = f"; it keeps epoch {keep_last_epoch(args.dest)}'s weights" if args.keep_last else ""
    except (PetSegError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(f"copied {args.source} after epoch {epochs} to {args.dest}{kept}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
