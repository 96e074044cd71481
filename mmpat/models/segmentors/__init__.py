"""mmpat segmentors."""

from .groupvit_zero_shot import GroupViTZeroShot
from .open_vocab_encoder_decoder import OpenVocabEncoderDecoder

__all__: list[str] = ['GroupViTZeroShot', 'OpenVocabEncoderDecoder']
