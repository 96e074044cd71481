"""mmpat necks."""

from .pyramid_tokenizer import PyramidTokenizer
from .top_down_fpn import TopDownFPN

__all__: list[str] = ['PyramidTokenizer', 'TopDownFPN']
