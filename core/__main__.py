"""Command line: `python -m core train|evaluate|predict|download`."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter off the terminal

from core.cli import main  # noqa: E402

raise SystemExit(main())
