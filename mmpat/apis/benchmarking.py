"""Building any mmpat (or mmseg) segmentor config for speed and FLOP analysis.

Shared by ``tools/analysis_tools/{benchmark,get_flops,efficiency}.py`` (see docs/tools.md):

- :func:`build_analysis_model`: the config's segmentor with a vocabulary (``--vocab``,
  ``--num-classes`` synthetic names, the checkpoint's ``meta.dataset_meta``, the config's
  ``class_names`` or its test dataset's classes, in this order), the inference mode of its
  ``test_cfg`` (or a forced ``whole``/``slide``) and weights files that do not exist replaced by
  random weights (said in :attr:`AnalysisModel.notes`). A given checkpoint must fit the model
  exactly (``tools/test.py``'s check); it is never replaced by random weights.
- :func:`random_batch`: uint8 images and data samples as a test dataloader gives them.
- :func:`time_calls` / :func:`timing_stats`: warm-up, then synchronised wall-clock timing.
- :class:`PeakMemory`: the process's peak RSS during a block (Linux ``VmHWM`` after resetting
  it through ``/proc/self/clear_refs``), or CUDA's max allocated bytes.
- :func:`device_name`: the CPU model or the GPU name.
- :func:`write_json` / :func:`write_refbench`: the tools' JSON files (``mmpat-refbench/1`` for
  the reference comparisons of ``tools/benchmarks/``).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import os.path as osp
import platform
import resource
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

# Models that train encoders (their weights feed the segmentors) and are no segmentor
# themselves: type -> what to benchmark instead.
PRETRAINING_MODELS = {
    'CLIPContrastive': 'a CLIP image-text pretraining model; its weights feed the dense-CLIP, '
    'PAT and MVP-SEG configs (e.g. configs/dense_clip/dense-clip_vit-scenes-tiny_scenes.py)',
}
# (GroupViTPretrain is measured: at test time it is GroupViT's zero-shot segmentor.)
WEIGHT_KEYS = ('pretrained', 'checkpoint')  # config keys that name a weights file
TEST_TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'test.py'


class AnalysisError(ValueError):
    """Input the analysis tools cannot use; the message says what to change."""


@contextmanager
def analysis_errors() -> Iterator[None]:
    """Exit with ``error: <message>`` for input errors (no traceback), as tools/test.py does."""
    from mmpat.utils.cli import friendly_errors

    try:
        with friendly_errors():
            yield
    except AnalysisError as error:
        raise SystemExit(f'error: {error}') from None


def write_json(path: str, record: dict) -> None:
    """Write ``record`` as indented JSON (NaN refused: readers get null or a number)."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, 'w') as file:
        json.dump(record, file, indent=2, allow_nan=False)
        file.write('\n')


@dataclass
class AnalysisModel:
    """A segmentor built for analysis.

    Attributes:
        model: The segmentor (eval mode, on its device).
        cfg: The full config (overrides applied).
        config: The config path as given.
        checkpoint: The checkpoint loaded, if any.
        num_classes: Output classes of the segmentor.
        notes: What the user should know (random weights, dropped files, vocabulary source).
    """

    model: nn.Module
    cfg: Any
    config: str
    checkpoint: str | None
    num_classes: int
    notes: list[str] = field(default_factory=list)

    @property
    def mode(self) -> str:
        """Inference mode of the model's ``test_cfg``: 'whole' or 'slide'."""
        return str(self.model.test_cfg.get('mode', 'whole'))

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def analysis_parser(
    description: str, *, out_format: str, many_configs: bool = False, checkpoint: bool = True
) -> argparse.ArgumentParser:
    """The arguments every analysis tool takes (see :func:`model_from_args`).

    Args:
        description: The tool's one-line description.
        out_format: The ``format`` of the JSON that ``--out`` writes.
        many_configs: ``configs`` (one or more) instead of one ``config``.
        checkpoint: Whether an optional ``checkpoint`` follows the config.
    """
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(description=description)
    if many_configs:
        parser.add_argument('configs', nargs='+', help='segmentor config files')
    else:
        parser.add_argument('config', help='segmentor config file')
    if checkpoint:
        parser.add_argument(
            'checkpoint', nargs='?', default=None, help='checkpoint (omit: random weights)'
        )
    parser.add_argument(
        '--shape', type=int, nargs=2, default=[512, 512], metavar=('H', 'W'), help='image size'
    )
    vocabulary = parser.add_mutually_exclusive_group()
    vocabulary.add_argument(
        '--vocab', help='classes separated by ";", synonyms by ",": "cat; dog, puppy; sky"'
    )
    vocabulary.add_argument(
        '--num-classes', type=int, help='N synthetic class names (no dataset needed)'
    )
    parser.add_argument(
        '--mode', choices=['whole', 'slide'], help="override the config's test_cfg.mode"
    )
    parser.add_argument('--device', default='cpu', help="'cpu', 'cuda' or 'cuda:N'")
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override config settings, key=value'
    )
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='allow checkpoints with arbitrary pickled objects (only for files you trust)',
    )
    parser.add_argument('--out', help=f'write the {out_format} JSON here')
    return parser


def parse_analysis_args(parser: argparse.ArgumentParser, argv: list[str] | None):
    """Parse and check the arguments of :func:`analysis_parser` (and the tool's own)."""
    args = parser.parse_args(argv)
    if min(args.shape) < 1:
        parser.error(f'--shape {args.shape}: give a positive height and width')
    if getattr(args, 'repeat', 1) < 1:
        parser.error(f'--repeat {args.repeat}: give at least 1 timed call')
    if getattr(args, 'warmup', 0) < 0:
        parser.error(f'--warmup {args.warmup}: give 0 or more')
    return args


def model_from_args(args: argparse.Namespace, config: str | None = None) -> AnalysisModel:
    """:func:`build_analysis_model` from the arguments of :func:`analysis_parser`."""
    if getattr(args, 'trust_checkpoint', False):
        from mmpat.compat import TRUST_ENV

        os.environ[TRUST_ENV] = '1'
    return build_analysis_model(
        config or args.config,
        getattr(args, 'checkpoint', None),
        vocab=args.vocab,
        num_classes=args.num_classes,
        mode=args.mode,
        device=check_device(args.device),
        cfg_options=args.cfg_options,
    )


REFBENCH_FORMAT = 'mmpat-refbench/1'


def refbench_row(
    benchmark: str,
    *,
    ours: str,
    reference: str | None,
    ours_s: float,
    reference_s: float | None = None,
    max_abs_diff: float | None = None,
) -> dict:
    """One row of a reference comparison: what, the two implementations, their median times
    (``ours_ms``, ``reference_ms``), ``ratio`` = ours / reference (below 1: ours is faster;
    None without a reference) and the parity check (max abs difference of the outputs, None
    when not compared)."""
    return dict(
        benchmark=benchmark,
        ours=ours,
        reference=reference,
        ours_ms=1000.0 * ours_s,
        reference_ms=1000.0 * reference_s if reference_s else None,
        ratio=ours_s / reference_s if reference_s else None,
        max_abs_diff=max_abs_diff,
    )


def write_refbench(path: str, *, tool: str, title: str, rows: list[dict], **notes: Any) -> dict:
    """Write a reference comparison's table (``tools/benchmarks/bench_*.py --out``).

    Args:
        path: JSON file to write.
        tool: The script's name (e.g. 'bench_clip').
        title: What the table compares.
        rows: One object per table row (same keys in every row where possible).
        **notes: Scalars describing the run (threads, repeats, ...); the torch version and
            the CPU model are added.

    Returns:
        dict: The ``mmpat-refbench/1`` record written.
    """
    record = dict(
        format=REFBENCH_FORMAT,
        tool=tool,
        title=title,
        torch=torch.__version__,
        device_name=device_name('cpu'),
        **notes,
        rows=rows,
    )
    write_json(path, record)
    return record


# ------------------------------------------------------------------------------ building
def _drop_missing_weights(node: Any, path: str, dropped: list[str]) -> None:
    """Set weights-file references that are not files to None (in place), noting each one.

    A ``Pretrained`` init_cfg whose checkpoint is missing is removed as a whole.
    """
    if isinstance(node, dict):
        for key in list(node):
            value, where = node[key], f'{path}.{key}'
            if key in WEIGHT_KEYS and isinstance(value, str) and not osp.isfile(value):
                node[key] = None
                dropped.append(f'{where}={value!r}')
            elif (
                key == 'init_cfg' and isinstance(value, dict) and value.get('type') == 'Pretrained'
            ):
                file = value.get('checkpoint')
                if isinstance(file, str) and not osp.isfile(file):
                    node[key] = None
                    dropped.append(f'{where}.checkpoint={file!r}')
            else:
                _drop_missing_weights(value, where, dropped)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _drop_missing_weights(item, f'{path}[{index}]', dropped)


def _no_embedding_cache(node: Any) -> None:
    """Turn off the text encoders' on-disk embedding cache (no files written by analysis)."""
    if isinstance(node, dict):
        if 'cache_dir' in node:
            node['cache_dir'] = None
        for value in node.values():
            _no_embedding_cache(value)
    elif isinstance(node, list):
        for item in node:
            _no_embedding_cache(item)


def _check_segmentor_type(model_cfg: dict, config: str) -> None:
    from mmseg.models.segmentors import BaseSegmentor
    from mmseg.registry import MODELS

    kind = model_cfg.get('type')
    if kind in PRETRAINING_MODELS:
        raise AnalysisError(
            f'{config} builds {kind}, {PRETRAINING_MODELS[kind]}. It is a pretraining model, '
            'not a segmentor: the speed and FLOP tools take segmentor configs.'
        )
    cls = MODELS.get(kind) if isinstance(kind, str) else kind
    if cls is None:
        raise AnalysisError(f'{config}: model type {kind!r} is not registered')
    if not (isinstance(cls, type) and issubclass(cls, BaseSegmentor)):
        raise AnalysisError(
            f'{config} builds {kind}, which is not a segmentor (no mmseg BaseSegmentor): the '
            'speed and FLOP tools take segmentor configs'
        )


def load_analysis_config(config: str, cfg_options: dict | None = None):
    """The config with overrides; errors name the file."""

    if not osp.isfile(config):
        raise AnalysisError(f'config file {config!r} does not exist')
    from mmpat.utils.projects import load_config_file

    cfg = load_config_file(config)  # a project config's custom_imports resolve too
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('model') is None:
        raise AnalysisError(f'{config} has no `model`')
    return cfg


def synthetic_vocabulary(num_classes: int) -> list[str]:
    """``num_classes`` distinct names for speed tests ('class 0', 'class 1', ...)."""
    if num_classes < 2:
        raise AnalysisError(f'--num-classes {num_classes}: give at least 2 classes')
    return [f'class {index}' for index in range(num_classes)]


def checkpoint_check() -> Callable[[nn.Module, str], None]:
    """``tools/test.py``'s ``check_checkpoint_fits`` (loads the weights, exits naming the keys
    that do not fit); a strict ``load_state_dict`` where the repository's tools are absent."""
    if TEST_TOOL.is_file():
        spec = importlib.util.spec_from_file_location('mmpat_test_tool', TEST_TOOL)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.check_checkpoint_fits

    def strict_load(model: nn.Module, checkpoint: str) -> None:
        from mmpat.compat import load_checkpoint_file

        loaded = load_checkpoint_file(checkpoint, map_location='cpu')
        state = loaded.get('state_dict', loaded) if isinstance(loaded, dict) else {}
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as error:
            raise AnalysisError(f'{checkpoint} does not fit the model: {error}') from None

    return strict_load


def _checkpoint_meta(checkpoint: str) -> dict | None:
    from mmpat.compat import load_checkpoint_file

    loaded = load_checkpoint_file(checkpoint, map_location='cpu')
    meta = loaded.get('meta') if isinstance(loaded, dict) else None
    return (meta or {}).get('dataset_meta')


def _set_vocabulary(
    model: nn.Module, cfg, *, vocab: str | None, num_classes: int | None, meta: dict | None
) -> str:
    """Give an open-vocabulary segmentor its classes; returns where they came from."""
    if vocab is not None or num_classes is not None:
        names = synthetic_vocabulary(num_classes) if vocab is None else vocab
        try:
            model.set_vocabulary(names)
        except (ValueError, TypeError) as error:
            raise AnalysisError(f'vocabulary: {error}') from None
        return '--vocab' if vocab is not None else f'{num_classes} synthetic names'
    if meta:
        model.dataset_meta = meta
        if model.class_names:
            return "the checkpoint's meta.dataset_meta"
    if model.class_names:
        return "the config's model.class_names"
    model.cfg = cfg
    try:
        model.dataset_meta  # noqa: B018  (resolves the config's test dataset classes)
    except (ValueError, FileNotFoundError, KeyError) as error:
        raise AnalysisError(
            f'no vocabulary: {error}. Pass --vocab "cat; dog; sky" or --num-classes N.'
        ) from None
    return "the config's test dataset"


def _set_mode(model: nn.Module, mode: str | None, config: str) -> None:
    from mmengine.config import ConfigDict

    test_cfg = model.test_cfg if model.test_cfg is not None else ConfigDict(mode='whole')
    if mode is not None:
        test_cfg.mode = mode
    if test_cfg.get('mode', 'whole') == 'slide':
        missing = [k for k in ('crop_size', 'stride') if test_cfg.get(k) is None]
        if missing:
            raise AnalysisError(
                f'slide inference needs test_cfg.{" and ".join(missing)}; {config} has none: '
                'pass e.g. --cfg-options model.test_cfg.crop_size="(512,512)" '
                'model.test_cfg.stride="(341,341)"'
            )
    model.test_cfg = test_cfg


def build_analysis_model(
    config: str,
    checkpoint: str | None = None,
    *,
    vocab: str | Sequence | None = None,
    num_classes: int | None = None,
    mode: str | None = None,
    device: str = 'cpu',
    cfg_options: dict | None = None,
    check: Callable[[nn.Module, str], None] | None = None,
    seed: int = 0,
) -> AnalysisModel:
    """Build a config's segmentor for speed / FLOP analysis.

    Args:
        config: Config file path.
        checkpoint: Checkpoint to load; it must fit the model exactly (``check``).
        vocab: Vocabulary of an open-vocabulary segmentor ("cat; dog, puppy" or a list).
        num_classes: Synthetic vocabulary size (open vocabulary) or the head's
            ``num_classes`` (a closed-vocabulary mmseg segmentor).
        mode: 'whole' or 'slide' to override the config's ``test_cfg.mode``.
        device: Torch device.
        cfg_options: Config overrides (``--cfg-options``).
        check: ``(model, checkpoint)`` loader that refuses a checkpoint not fitting the model
            (default: :func:`checkpoint_check`).
        seed: Seed of the random weights (the global RNG state is left as it was).

    Returns:
        AnalysisModel: The model in eval mode, with notes on its weights and vocabulary.

    Raises:
        AnalysisError: Missing files, a pretraining (non-segmentor) config, an unusable
            vocabulary, slide mode without crop settings.
    """
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import mmpat  # noqa: F401  (registers the mmpat parts)

    cfg = load_analysis_config(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model_cfg = copy.deepcopy(cfg.model.to_dict())
    _check_segmentor_type(model_cfg, config)
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise AnalysisError(f'checkpoint {checkpoint!r} does not exist')
    dropped: list[str] = []
    _drop_missing_weights(model_cfg, 'model', dropped)
    _no_embedding_cache(model_cfg)
    # An open-vocabulary segmentor: a text encoder in the config, or a preset-built one such
    # as GroupViTPretrain (arch=...) whose class sets its vocabulary.
    model_class = MODELS.get(model_cfg['type']) if isinstance(model_cfg.get('type'), str) else None
    open_vocab = 'text_encoder' in model_cfg or hasattr(model_class, 'set_vocabulary')
    if not open_vocab and vocab is not None:
        raise AnalysisError(
            f'{config} builds a closed-vocabulary {model_cfg["type"]} (no text encoder): '
            '--vocab does not apply; --num-classes N sets its decode_head.num_classes'
        )
    if not open_vocab and num_classes is not None:
        model_cfg['decode_head']['num_classes'] = int(num_classes)
    notes = []
    if checkpoint is None:
        notes.append('no checkpoint: random weights except for weights files that exist')
    if dropped:
        notes.append(f'weights files not found, random weights instead: {", ".join(dropped)}')
    from mmengine.config import ConfigDict

    with torch.random.fork_rng():  # the same random weights at every build
        torch.manual_seed(seed)
        model = revert_sync_batchnorm(MODELS.build(ConfigDict(model_cfg)))
    meta = None
    if checkpoint is not None:
        (check or checkpoint_check())(model, checkpoint)
        meta = _checkpoint_meta(checkpoint)
        notes.append(f'weights from {checkpoint}')
    if open_vocab:
        source = _set_vocabulary(model, cfg, vocab=vocab, num_classes=num_classes, meta=meta)
        classes = len(model.class_names)
        notes.append(f'vocabulary: {classes} classes from {source}')
    else:
        classes = int(model.decode_head.num_classes)
    _set_mode(model, mode, config)
    model = model.to(torch.device(device)).eval()
    return AnalysisModel(model, cfg, config, checkpoint, classes, notes)


# ------------------------------------------------------------------------------- inputs
def random_batch(shape: Sequence[int], batch_size: int = 1, seed: int = 0) -> dict:
    """A test-dataloader batch of random images.

    Args:
        shape: (H, W) of the images (as the test pipeline would give them).
        batch_size: Images in the batch.
        seed: Seed of the pixel values.

    Returns:
        dict: ``inputs`` (list of uint8 [3, H, W]) and ``data_samples`` (``SegDataSample`` with
        ``img_shape`` / ``ori_shape``), ready for the model's data preprocessor.
    """
    from mmseg.structures import SegDataSample

    height, width = (int(v) for v in shape)
    generator = torch.Generator().manual_seed(seed)
    inputs = [
        torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=generator)
        for _ in range(batch_size)
    ]
    metainfo = dict(img_shape=(height, width), ori_shape=(height, width))
    samples = [SegDataSample(metainfo=dict(metainfo)) for _ in range(batch_size)]
    return dict(inputs=inputs, data_samples=samples)


def preprocessed_batch(analysis: AnalysisModel, shape: Sequence[int]) -> dict:
    """:func:`random_batch` through the model's data preprocessor (images on its device)."""
    with torch.no_grad():
        return analysis.model.data_preprocessor(random_batch(shape), False)


# ------------------------------------------------------------------------------- timing
def synchronize(device: torch.device | str) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_calls(
    fn: Callable[[], Any],
    *,
    repeat: int,
    warmup: int = 0,
    device: torch.device | str = 'cpu',
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """Seconds of ``repeat`` calls of ``fn`` after ``warmup`` untimed ones (device-synced).

    ``clock``: wall time by default; ``time.process_time`` gives the process's CPU seconds
    (all threads), which other processes' load on a shared machine does not inflate.
    """
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeat):
        start = clock()
        fn()
        synchronize(device)
        times.append(clock() - start)
    return times


def timing_stats(seconds: Sequence[float]) -> dict[str, float]:
    """median / mean / std / min / max / iqr of timings, in milliseconds."""
    ms = [1000.0 * s for s in seconds]
    if not ms:
        raise ValueError('no timings')
    quartiles = statistics.quantiles(ms, n=4, method='inclusive') if len(ms) > 1 else [ms[0]] * 3
    return dict(
        median=statistics.median(ms),
        mean=statistics.fmean(ms),
        std=statistics.stdev(ms) if len(ms) > 1 else 0.0,
        min=min(ms),
        max=max(ms),
        iqr=quartiles[2] - quartiles[0],
    )


# ------------------------------------------------------------------------------- memory
_STATUS = '/proc/self/status'


def _status_kib(key: str) -> int | None:
    try:
        with open(_STATUS) as status:
            for line in status:
                if line.startswith(key + ':'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset Linux's peak RSS (VmHWM) to the current RSS; False where that is not possible."""
    try:
        with open('/proc/self/clear_refs', 'w') as clear:
            clear.write('5')
    except OSError:
        return False
    return _status_kib('VmHWM') is not None


class PeakMemory:
    """Peak memory during a ``with`` block, in MiB (:attr:`peak_mb`, :attr:`kind`).

    - CUDA: ``torch.cuda.max_memory_allocated`` after a reset (``cuda_max_allocated``: the
      tensors' memory, not the caching allocator's reserve).
    - CPU (``rss``): the whole process's peak resident set size during the block, weights
      included. On Linux, the kernel's own high-water mark ``VmHWM`` of /proc/self/status,
      reset at entry by writing 5 to /proc/self/clear_refs (exact: no sampling). Where that
      reset is refused, a thread samples ``VmRSS`` every 5 ms; without /proc, the lifetime
      peak ``ru_maxrss``.
    """

    def __init__(self, device: torch.device | str = 'cpu') -> None:
        self.device = torch.device(device)
        self.kind = 'cuda_max_allocated' if self.device.type == 'cuda' else 'rss'
        self.peak_mb = 0.0
        self._sampler: threading.Thread | None = None
        self._stop = threading.Event()
        self._sampled_kib = 0

    def __enter__(self) -> PeakMemory:
        if self.kind == 'cuda_max_allocated':
            torch.cuda.reset_peak_memory_stats(self.device)
        elif not _reset_peak_rss() and _status_kib('VmRSS') is not None:
            self._sampler = threading.Thread(target=self._sample, daemon=True)
            self._sampler.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self._sampled_kib = max(self._sampled_kib, _status_kib('VmRSS') or 0)

    def __exit__(self, *exc) -> None:
        if self.kind == 'cuda_max_allocated':
            synchronize(self.device)
            self.peak_mb = torch.cuda.max_memory_allocated(self.device) / 2**20
        elif self._sampler is not None:
            self._stop.set()
            self._sampler.join()
            self.peak_mb = max(self._sampled_kib, _status_kib('VmRSS') or 0) / 1024
        elif _status_kib('VmHWM') is not None:
            self.peak_mb = _status_kib('VmHWM') / 1024
        else:  # no /proc: ru_maxrss, KiB on Linux, bytes on macOS
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            self.peak_mb = peak / (2**20 if platform.system() == 'Darwin' else 1024)


# ------------------------------------------------------------------------------- device
def device_name(device: torch.device | str = 'cpu') -> str:
    """The GPU's name, or the CPU model from /proc/cpuinfo (else ``platform``'s guess)."""
    device = torch.device(device)
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    try:
        with open('/proc/cpuinfo') as info:
            for line in info:
                if line.lower().startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or 'unknown CPU'


def check_device(device: str) -> str:
    """The device string, refused clearly when this machine does not have it."""
    try:
        parsed = torch.device(device)
    except RuntimeError as error:
        raise AnalysisError(f'--device {device!r}: {error}') from None
    if parsed.type == 'cuda' and not torch.cuda.is_available():
        raise AnalysisError(f'--device {device}: this machine has no CUDA device; use cpu')
    if parsed.type not in ('cpu', 'cuda'):
        raise AnalysisError(f'--device {device}: the analysis tools support cpu and cuda')
    return device
