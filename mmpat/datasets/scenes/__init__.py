"""The generated open-vocabulary scenes: generator and segmentation dataset."""

from .dataset import ScenesDataset, read_scenes_meta
from .generator import ScenesExistError, generate_scenes

__all__ = ['ScenesDataset', 'ScenesExistError', 'generate_scenes', 'read_scenes_meta']
