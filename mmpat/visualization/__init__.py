"""Visualisation helpers."""

from .groupvit_groups import draw_stage_groups, groupvit_stage_groups
from .overlay import draw_overlay

__all__ = ['draw_overlay', 'draw_stage_groups', 'groupvit_stage_groups']
