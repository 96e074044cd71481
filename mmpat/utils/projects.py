"""Configs inside ``projects/<name>/configs/`` (mmseg's convention for method add-ons)."""

from __future__ import annotations

import os.path as osp
import sys
from pathlib import Path

from mmengine.config import Config


def add_projects_root(config_path: str) -> None:
    """Put the folder holding ``projects/`` on ``sys.path`` for a config inside a project.

    mmseg's convention: a config under ``projects/<name>/configs/`` imports its project's
    modules with ``custom_imports = dict(imports=['projects.<name>....'])``, which resolves only
    when the folder that holds ``projects/`` is importable (the repository root): that of the
    config's own path, and that of mmpat's source checkout.
    """
    # A source checkout (editable install): its projects/ sits beside the mmpat package, and a
    # config anywhere may inherit from a project config.
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / 'projects').is_dir() and str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    parts = Path(osp.abspath(config_path)).parts
    for index in range(len(parts) - 3, 0, -1):  # .../projects/<name>/configs/...
        if parts[index] == 'projects' and parts[index + 2] == 'configs':
            root = str(Path(*parts[:index]))
            if root not in sys.path:
                sys.path.insert(0, root)
            return


def load_config_file(path: str) -> Config:
    """``Config.fromfile`` that also resolves a project config's ``custom_imports``."""
    add_projects_root(str(path))
    return Config.fromfile(str(path))
