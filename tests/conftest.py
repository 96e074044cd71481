"""Shared pytest set-up: make the repository importable and apply mmpat before mmseg."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import mmpat  # noqa: E402,F401  (compat layer first)
