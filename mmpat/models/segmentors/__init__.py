"""mmpat segmentors."""

from .clip_contrastive import CLIPContrastive
from .groupvit_pretrain import GroupViTPretrain
from .groupvit_zero_shot import GroupViTZeroShot
from .open_vocab_encoder_decoder import OpenVocabEncoderDecoder

__all__: list[str] = [
    'CLIPContrastive',
    'GroupViTPretrain',
    'GroupViTZeroShot',
    'OpenVocabEncoderDecoder',
]
