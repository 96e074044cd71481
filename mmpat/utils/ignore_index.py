"""Check that a config uses one ignore index end to end.

The ignore label is set in several independent places of an mmseg config, each with its own
default of 255. With 16-bit benchmarks (A-847, PC-459: ignore 65535, and 255 is a real class) a
single forgotten place silently trains on or scores the ignore label. They must agree per phase:

* training: the train dataset(s) ``ignore_index``, the train pipeline's ``LoadAnnotationsUint16``
  / ``RandomCrop`` (when ``cat_max_ratio < 1``) / any transform with an explicit
  ``ignore_index``, the data preprocessor's ``seg_pad_val`` (the value padded ground truth gets),
  and every decode / auxiliary head's ``ignore_index`` (the loss);
* validation and test: the dataset(s), their pipelines, and the evaluator(s) ``ignore_index``.

Training on 255 and evaluating zero-shot on 65535 is allowed (different phases). An ignore
index above 255 with mmseg's uint8 ``LoadAnnotations`` in the same phase is an error too.
Unset values take the default of the registered class (``inspect`` of its constructor).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from mmengine.config import Config, ConfigDict
from mmseg import registry

Source = tuple[str, int]

_UINT8_LOADERS = ('LoadAnnotations',)


def _get(node: Any, key: str, default: Any = None) -> Any:
    if isinstance(node, dict):
        return node.get(key, default)
    return getattr(node, key, default)


def _default_ignore(registry_name: str, type_: Any, key: str = 'ignore_index') -> int | None:
    """Default of ``key`` in the constructor of a registered class (walking the MRO)."""
    cls = type_
    if isinstance(type_, str):
        reg = getattr(registry, registry_name)
        cls = reg.get(type_)
        if cls is None:
            return None
    for klass in inspect.getmro(cls) if inspect.isclass(cls) else ():
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        try:
            param = inspect.signature(init).parameters.get(key)
        except (TypeError, ValueError):
            continue
        if param is not None and param.default is not inspect.Parameter.empty:
            return param.default
    return None


def _value(node: dict, registry_name: str, key: str = 'ignore_index') -> int | None:
    if key in node and node[key] is not None:
        return int(node[key])
    return _default_ignore(registry_name, node.get('type'), key)


def _datasets(node: Any, where: str) -> Iterator[tuple[str, dict]]:
    """Leaf dataset configs under a dataset config (ConcatDataset / RepeatDataset aware)."""
    if not isinstance(node, dict):
        return
    if node.get('datasets') is not None:
        for i, child in enumerate(node['datasets']):
            yield from _datasets(child, f'{where}.datasets[{i}]')
    elif node.get('dataset') is not None:
        yield from _datasets(node['dataset'], f'{where}.dataset')
    else:
        yield where, node


def _transforms(pipeline: Any, where: str) -> Iterator[tuple[str, dict]]:
    """Transform configs of a pipeline, nested lists (TestTimeAug) included."""
    for i, step in enumerate(pipeline or []):
        if isinstance(step, (list, tuple)):
            yield from _transforms(step, f'{where}[{i}]')
        elif isinstance(step, dict):
            yield f'{where}[{i}]', step
            if step.get('transforms') is not None:
                yield from _transforms(step['transforms'], f'{where}[{i}].transforms')


def _pipeline_sources(pipeline: Any, where: str) -> tuple[list[Source], list[str]]:
    sources, uint8 = [], []
    for path, step in _transforms(pipeline, where):
        type_ = step.get('type')
        name = type_ if isinstance(type_, str) else getattr(type_, '__name__', '')
        if name in _UINT8_LOADERS:
            uint8.append(f'{path} ({name})')
        if name == 'RandomCrop':
            if float(step.get('cat_max_ratio', 1.0)) < 1.0:
                sources.append((f'{path} (RandomCrop.ignore_index)', _value(step, 'TRANSFORMS')))
        elif 'ignore_index' in step or name == 'LoadAnnotationsUint16':
            sources.append((f'{path} ({name}.ignore_index)', _value(step, 'TRANSFORMS')))
    return sources, uint8


def _loader_sources(cfg: Any, loader_key: str) -> tuple[list[Source], list[str]]:
    loader = _get(cfg, loader_key)
    if not loader or _get(loader, 'dataset') is None:
        return [], []
    sources, uint8 = [], []
    for where, dataset in _datasets(_get(loader, 'dataset'), f'{loader_key}.dataset'):
        sources.append((f'{where}.ignore_index', _value(dataset, 'DATASETS')))
        more, narrow = _pipeline_sources(dataset.get('pipeline'), f'{where}.pipeline')
        sources += more
        uint8 += narrow
    return sources, uint8


def _heads(model: Any) -> Iterator[tuple[str, dict]]:
    for key in ('decode_head', 'auxiliary_head'):
        heads = _get(model, key)
        if isinstance(heads, dict):
            yield f'model.{key}', heads
        elif isinstance(heads, (list, tuple)):
            for i, head in enumerate(heads):
                if isinstance(head, dict):
                    yield f'model.{key}[{i}]', head


def _train_sources(cfg: Any) -> tuple[list[Source], list[str]]:
    sources, uint8 = _loader_sources(cfg, 'train_dataloader')
    model = _get(cfg, 'model') or {}
    preprocessor = _get(model, 'data_preprocessor') or _get(cfg, 'data_preprocessor')
    if isinstance(preprocessor, dict) and preprocessor.get('type') is not None:
        value = _value(preprocessor, 'MODELS', 'seg_pad_val')
        if value is not None:
            sources.append(('model.data_preprocessor.seg_pad_val', int(value)))
    for where, head in _heads(model):
        sources.append((f'{where}.ignore_index', _value(head, 'MODELS')))
        losses = head.get('loss_decode')
        for j, loss in enumerate(losses if isinstance(losses, (list, tuple)) else [losses]):
            if isinstance(loss, dict) and loss.get('ignore_index') is not None:
                sources.append(
                    (f'{where}.loss_decode[{j}].ignore_index', int(loss['ignore_index']))
                )
    return sources, uint8


def _eval_sources(cfg: Any, phase: str) -> tuple[list[Source], list[str]]:
    sources, uint8 = _loader_sources(cfg, f'{phase}_dataloader')
    evaluators = _get(cfg, f'{phase}_evaluator')
    if isinstance(evaluators, dict):
        evaluators = evaluators.get('metrics', evaluators)
    if isinstance(evaluators, dict):
        evaluators = [evaluators]
    for i, metric in enumerate(evaluators or []):
        if isinstance(metric, dict):
            value = _value(metric, 'METRICS')
            if value is not None:
                sources.append(
                    (f'{phase}_evaluator[{i}].ignore_index ({metric.get("type")})', value)
                )
    return sources, uint8


def check_ignore_index(cfg: Config | ConfigDict | dict) -> dict[str, int]:
    """Raise if the ignore index of a config disagrees within a phase.

    Args:
        cfg: A full mmseg config (``Config``, ``ConfigDict`` or plain dict).

    Returns:
        dict[str, int]: The agreed ignore index per phase present ('train', 'val', 'test').

    Raises:
        ValueError: Names every place and its value when a phase has two different values, or
            when an ignore index above 255 meets mmseg's uint8 ``LoadAnnotations``.
    """
    if isinstance(cfg, Config):
        cfg = cfg._cfg_dict
    phases = {
        'train': _train_sources(cfg),
        'val': _eval_sources(cfg, 'val'),
        'test': _eval_sources(cfg, 'test'),
    }
    agreed: dict[str, int] = {}
    problems = []
    for phase, (sources, uint8) in phases.items():
        sources = [(where, value) for where, value in sources if value is not None]
        if not sources:
            continue
        values = sorted({value for _, value in sources})
        if len(values) > 1:
            listing = '\n'.join(f'  {where} = {value}' for where, value in sources)
            problems.append(
                f'{phase}: the ignore index disagrees ({values}); set the same value in all of:\n'
                f'{listing}'
            )
            continue
        agreed[phase] = values[0]
        if values[0] > 255 and uint8:
            problems.append(
                f'{phase}: ignore index {values[0]} does not fit the uint8 label loader at '
                f'{", ".join(uint8)}; use LoadAnnotationsUint16 for 16-bit label maps.'
            )
    if problems:
        raise ValueError('Inconsistent ignore index in the config:\n' + '\n'.join(problems))
    return agreed
