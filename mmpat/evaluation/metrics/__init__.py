"""mmpat metrics, registered into ``mmseg.registry.METRICS``, and the benchmark table."""

from .benchmarks import BENCHMARK_AVERAGE, benchmark_name, config_benchmark
from .open_vocab_iou import OpenVocabIoUMetric

__all__: list[str] = [
    'BENCHMARK_AVERAGE',
    'OpenVocabIoUMetric',
    'benchmark_name',
    'config_benchmark',
]
