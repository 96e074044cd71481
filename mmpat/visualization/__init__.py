"""Visualisation helpers."""

from .overlay import draw_overlay

__all__ = ['draw_overlay']
