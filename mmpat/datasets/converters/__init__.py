"""Dataset converters (logic of ``tools/dataset_converters/*.py``)."""

from .ade20k_full import convert_ade20k_full
from .coco_object import convert_coco_object
from .common import OutputExistsError
from .pascal_context_459 import convert_pascal_context_459

__all__ = [
    'OutputExistsError',
    'convert_ade20k_full',
    'convert_coco_object',
    'convert_pascal_context_459',
]
