"""Visualisation helpers."""

from .groupvit_groups import draw_stage_groups, groupvit_stage_groups
from .overlay import draw_comparison, draw_overlay

__all__ = ['draw_comparison', 'draw_overlay', 'draw_stage_groups', 'groupvit_stage_groups']
