"""Shared pytest set-up: make the repository importable and apply mmpat before mmseg."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / 'tests'):  # the repo (tools, configs) and the shared test helpers
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# isort: off
import mmpat  # noqa: E402,F401  (compat layer first)
from mmseg.utils import register_all_modules  # noqa: E402
# isort: on

# Build mmseg parts by plain names (as configs with default_scope='mmseg' do).
register_all_modules(init_default_scope=True)
