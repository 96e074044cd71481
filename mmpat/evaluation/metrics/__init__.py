"""mmpat metrics, registered into ``mmseg.registry.METRICS``."""

from .open_vocab_iou import OpenVocabIoUMetric

__all__: list[str] = ['OpenVocabIoUMetric']
