"""Leaderboard tables from result files: load and validate, group, render Markdown.

Inputs are the JSON files of the tools (each a JSON object with a ``format`` key):
``tools/test.py --results`` (``mmpat-results/1``), ``tools/analysis_tools/benchmark.py``
(``mmpat-benchmark/1``), ``get_flops.py`` (``mmpat-flops/1``), ``efficiency.py``
(``mmpat-efficiency/1``) and the reference comparisons of ``tools/benchmarks/``
(``mmpat-refbench/1``).
:data:`FORMATS` lists the keys each must have; docs/tools.md shows the files.

The output follows mmseg's model-zoo tables: one accuracy table per benchmark and averaging mode
(rows: method, backbone, config), a table of all benchmarks side by side (each benchmark its
own column, never averaged together) joined by config name with parameters, FLOPs and speed,
and the reference comparisons. A cell without a number is ``-``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .metrics.benchmarks import BENCHMARK_AVERAGE, SPLIT_BENCHMARKS, describe_average

MISSING = '-'

#: Format name -> (current version, required top-level keys, required keys of nested objects).
FORMATS: dict[str, tuple[int, tuple[str, ...], dict[str, tuple[str, ...]]]] = {
    'mmpat-results': (
        1,
        ('config', 'config_name', 'checkpoint', 'dataset', 'data_root', 'benchmark',
         'num_classes', 'average', 'metrics', 'device', 'date'),
        {'metrics': ('mIoU', 'mIoU_seen', 'mIoU_unseen', 'hIoU', 'aAcc', 'mAcc')},
    ),
    'mmpat-benchmark': (
        1,
        ('config', 'config_name', 'checkpoint', 'device', 'device_name', 'threads', 'torch',
         'mode', 'shape', 'num_classes', 'warmup', 'repeat', 'time_ms', 'images_per_s',
         'peak_memory_mb', 'memory_kind'),
        {'time_ms': ('median', 'mean', 'std', 'min', 'max', 'iqr')},
    ),
    'mmpat-flops': (
        1,
        ('config', 'config_name', 'shape', 'num_classes', 'gflops', 'text_gflops', 'params_m',
         'counter', 'unsupported_ops'),
        {'params_m': ('total', 'trainable')},
    ),
    'mmpat-efficiency': (1, ('rows',), {}),
    'mmpat-refbench': (1, ('rows',), {}),
}  # fmt: skip


class LeaderboardError(ValueError):
    """A result file that cannot be read (the message names the file and what was expected)."""


@dataclass(frozen=True)
class Record:
    """One validated result file.

    Attributes:
        path: The file it was read from.
        kind: Its format name without the version, e.g. ``'mmpat-results'``.
        data: The JSON object.
    """

    path: Path
    kind: str
    data: dict[str, Any]


# --- load and validate ------------------------------------------------------------------------


def validate(data: Any, source: str) -> Record:
    """Check one parsed file against :data:`FORMATS` and wrap it.

    Raises:
        LeaderboardError: Not an object, no ``format``, an unknown / older / newer format, or a
            missing key; the message names ``source``.
    """
    expected = ', '.join(f'{name}/{spec[0]}' for name, spec in FORMATS.items())
    if not isinstance(data, dict) or 'format' not in data:
        raise LeaderboardError(
            f'{source}: not a result file (a JSON object with a "format" key: {expected})'
        )
    name, _, version = str(data['format']).rpartition('/')
    if name not in FORMATS or not version.isdigit():
        raise LeaderboardError(
            f'{source}: unknown format {data["format"]!r}; this leaderboard reads {expected}'
        )
    current, keys, nested = FORMATS[name]
    if int(version) != current:
        age = 'an older' if int(version) < current else 'a newer'
        hint = (
            're-run the tool that wrote it to get the current format'
            if int(version) < current
            else 'update mmpat'
        )
        raise LeaderboardError(
            f'{source}: {data["format"]!r} is {age} format than this leaderboard reads '
            f'({name}/{current}); {hint}'
        )
    missing = [key for key in keys if key not in data]
    for key, inner in nested.items():
        if key in data and not isinstance(data[key], dict):
            missing.append(f'{key} (an object)')
        elif key in data:
            missing += [f'{key}.{k}' for k in inner if k not in data[key]]
    if missing:
        raise LeaderboardError(
            f'{source}: {data["format"]} file lacks {", ".join(missing)} '
            f'(expected keys: {", ".join(keys)})'
        )
    if name == 'mmpat-results' and data['average'] not in ('all', 'present'):
        raise LeaderboardError(
            f"{source}: average must be 'all' or 'present', got {data['average']!r}"
        )
    if name in ('mmpat-efficiency', 'mmpat-refbench') and not isinstance(data['rows'], list):
        raise LeaderboardError(f'{source}: "rows" must be a list of table rows')
    return Record(Path(source), name, data)


def load_record(path: str | Path) -> Record:
    """Read and validate one JSON result file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise LeaderboardError(f'{path}: no such file') from None
    except json.JSONDecodeError as error:
        raise LeaderboardError(f'{path}: not valid JSON ({error})') from None
    return validate(data, str(path))


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; for a directory, the ``*.json`` inside it (sorted, not recursive)."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(path.glob('*.json'))
            if not found:
                raise LeaderboardError(f'{path}: directory holds no *.json result files')
            files += found
        else:
            files.append(path)
    return files


def load_records(paths: Iterable[str | Path]) -> list[Record]:
    """:func:`load_record` of every file of :func:`expand_paths`."""
    return [load_record(path) for path in expand_paths(paths)]


# --- method and backbone of a config ----------------------------------------------------------


def load_metafiles(configs_dir: str | Path) -> dict[str, tuple[str, str]]:
    """``Models[].Config`` (posix path) -> (``In Collection``, first ``Metadata.Architecture``)
    of every ``<configs_dir>/*/metafile.yaml`` and ``<configs_dir>/../projects/*/metafile.yaml``
    (an absent folder gives an empty index)."""
    index: dict[str, tuple[str, str]] = {}
    # The config families, and the projects beside them (projects/<name>/metafile.yaml).
    folders = (Path(configs_dir), Path(configs_dir).parent / 'projects')
    metafiles = [m for folder in folders for m in sorted(folder.glob('*/metafile.yaml'))]
    for metafile in metafiles:
        try:
            content = yaml.safe_load(metafile.read_text()) or {}
        except yaml.YAMLError as error:
            raise LeaderboardError(f'{metafile}: not valid YAML ({error})') from None
        for model in content.get('Models') or []:
            if not isinstance(model, dict) or 'Config' not in model:
                continue
            architecture = (model.get('Metadata') or {}).get('Architecture') or [MISSING]
            backbone = architecture[0] if isinstance(architecture, list) else str(architecture)
            method = model.get('In Collection') or model.get('Name') or MISSING
            index[Path(model['Config']).as_posix()] = (str(method), str(backbone))
    return index


def model_info(config: str, index: Mapping[str, tuple[str, str]]) -> tuple[str, str]:
    """(method, backbone) of a config path: its metafile entry, else its folder and name.

    Without an entry, the method is the config's folder (``configs/<family>/``) and the
    backbone the second ``_`` field of mmseg's ``{algorithm}_{backbone}_...`` name.
    """
    posix = Path(config).as_posix()
    for key, info in index.items():
        if posix == key or posix.endswith('/' + key):
            return info
    path = Path(config)
    fields = path.stem.split('_')
    return path.parent.name or MISSING, fields[1] if len(fields) > 1 else MISSING


# --- group ------------------------------------------------------------------------------------

RowKey = tuple[str, str, str]  # method, backbone, config name


def _row_key(record: Record, index: Mapping[str, tuple[str, str]]) -> RowKey:
    method, backbone = model_info(record.data['config'], index)
    # A row without a config of its own (e.g. a trivial baseline) may name itself.
    method, backbone = record.data.get('method', method), record.data.get('backbone', backbone)
    return method, backbone, record.data['config_name']


def _benchmark_order(benchmark: str) -> tuple[int, str]:
    order = list(BENCHMARK_AVERAGE)
    return (order.index(benchmark), '') if benchmark in order else (len(order), benchmark)


def accuracy_groups(
    records: Sequence[Record], index: Mapping[str, tuple[str, str]]
) -> dict[tuple[str, str], dict[RowKey, Record]]:
    """Results by (benchmark, average), then by row; benchmarks in the order of the table.

    Raises:
        LeaderboardError: Two files give the same row of the same benchmark and mode.
    """
    groups: dict[tuple[str, str], dict[RowKey, Record]] = {}
    for record in records:
        if record.kind != 'mmpat-results':
            continue
        group = groups.setdefault((record.data['benchmark'], record.data['average']), {})
        key = _row_key(record, index)
        if key in group:
            raise LeaderboardError(
                f'{group[key].path} and {record.path} both hold {key[2]} on '
                f'{record.data["benchmark"]} (average={record.data["average"]!r}); pass one'
            )
        group[key] = record
    return {k: groups[k] for k in sorted(groups, key=lambda k: (_benchmark_order(k[0]), k[1]))}


# --- render -----------------------------------------------------------------------------------


def _number(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f'{value:.{digits}f}'
    return str(value)


def _significant(value: Any) -> str:
    """4 significant digits (parameters and FLOPs span 0.001 to 1000): 149.6, 0.003942."""
    return MISSING if value is None else f'{float(value):.4g}'


def _cell(value: Any) -> str:
    """A cell of a free-form row: integers (threads, sizes) as they are, floats to 3 digits."""
    return str(value) if isinstance(value, int) else _number(value, 3)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return lines


def _has_split(benchmark: str, rows: Iterable[Record]) -> bool:
    if benchmark in SPLIT_BENCHMARKS:
        return True
    if benchmark in BENCHMARK_AVERAGE:
        return False
    return any(r.data['metrics'].get('mIoU_unseen') is not None for r in rows)


def render_accuracy(benchmark: str, average: str, rows: Mapping[RowKey, Record]) -> list[str]:
    """One benchmark's table: mIoU (and seen / unseen / hIoU where it has a split)."""
    split = _has_split(benchmark, rows.values())
    metrics = ['mIoU', 'mIoU_seen', 'mIoU_unseen', 'hIoU'] if split else ['mIoU']
    names = {'mIoU_seen': 'mIoU (seen)', 'mIoU_unseen': 'mIoU (unseen)'}
    header = ['Method', 'Backbone', 'Config', *(names.get(m, m) for m in metrics)]
    body = [
        [*key, *(_number(rows[key].data['metrics'][m]) for m in metrics)]
        + [str(rows[key].data['device']), str(rows[key].data['date'])]
        for key in sorted(rows)
    ]
    caption = (
        f"mIoU averaged with `average='{average}'` ({describe_average(average)}); "
        f'{len(rows)} row(s).'
    )
    table = _table([*header, 'Device', 'Date'], body)
    return [f'### {benchmark} (average: {average})', '', caption, '', *table]


def _setup(record: Record) -> str:
    data = record.data
    h, w = data['shape']
    if record.kind == 'mmpat-flops':
        return f'{h}x{w}'
    return f'{data["device_name"]}, {data["threads"]} thr, {h}x{w}, {data["mode"]}'


def _cost_cells(record: Record) -> dict[str, str]:
    """Column name -> cell of a FLOPs or speed file (the setup in the column name)."""
    data, setup = record.data, _setup(record)
    if record.kind == 'mmpat-flops':
        return {
            'Params (M)': _significant(data['params_m']['total']),
            'Trainable (M)': _significant(data['params_m']['trainable']),
            f'GFLOPs ({setup})': _significant(data['gflops']),
            f'Text GFLOPs ({setup})': _significant(data['text_gflops']),
        }
    return {
        f'Time ms ({data["device"]}: {setup})': _number(data['time_ms']['median'], 1),
        f'Peak MB ({data["memory_kind"]}, {setup})': _number(data['peak_memory_mb'], 0),
    }


def render_combined(
    records: Sequence[Record],
    groups: Mapping[tuple[str, str], Mapping[RowKey, Record]],
    index: Mapping[str, tuple[str, str]],
) -> list[str]:
    """All benchmarks side by side (mIoU, one column each) with params, FLOPs and speed."""
    columns: dict[str, dict[RowKey, str]] = {}
    for (benchmark, average), rows in groups.items():
        columns[f'{benchmark} mIoU ({average})'] = {
            key: _number(record.data['metrics']['mIoU']) for key, record in rows.items()
        }
    # Joined by config name: a file naming the config by another path lands on the same row.
    by_name = {key[2]: key for rows in groups.values() for key in rows}
    extra: dict[str, dict[RowKey, str]] = {}
    for record in records:
        if record.kind not in ('mmpat-flops', 'mmpat-benchmark'):
            continue
        key = by_name.setdefault(record.data['config_name'], _row_key(record, index))
        for column, value in _cost_cells(record).items():
            taken = extra.setdefault(column, {})
            if key in taken and taken[key] != value:
                raise LeaderboardError(
                    f'{record.path}: a second, different {column!r} for {key[2]}; pass one'
                )
            taken[key] = value
    columns.update(extra)
    keys = sorted({key for cells in columns.values() for key in cells})
    body = [[*key, *(cells.get(key, MISSING) for cells in columns.values())] for key in keys]
    intro = (
        'Each benchmark is its own column (mIoU, with its averaging mode): numbers of different '
        'benchmarks are never averaged. Parameters, FLOPs and speed are joined by config name; '
        'the device, threads and input size are in the column names.'
    )
    return ['## All benchmarks', '', intro, ''] + _table(
        ['Method', 'Backbone', 'Config', *columns], body
    )


#: The columns of an efficiency row (``tools/analysis_tools/efficiency.py``): header -> key
#: (dots reach into nested objects).
EFFICIENCY_COLUMNS = {
    'Config': 'config_name',
    'Mode': 'mode',
    'Threads': 'threads',
    'GFLOP': 'forward_gflop',
    'Time ms': 'time_ms.median',
    'GFLOP/s': 'gflop_per_s',
    'Matmul peak GFLOP/s': 'peak.gflop_per_s',
    'Ratio to peak': 'ratio_to_peak',
}


def _flatten(row: Mapping[str, Any], prefix: str = '') -> dict[str, Any]:
    """Nested objects as dotted keys: ``{'peak': {'ms': 1}}`` -> ``{'peak.ms': 1}``."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f'{prefix}{key}.'))
        else:
            flat[f'{prefix}{key}'] = value
    return flat


def _notes(data: Mapping[str, Any]) -> str:
    """The scalar keys of a file (device, torch, shape, ...) as one line."""
    notes = []
    for key, value in data.items():
        if key in ('format', 'rows', 'title', 'tool') or isinstance(value, Mapping):
            continue
        if isinstance(value, list):
            if not all(isinstance(v, (int, float, str)) for v in value):
                continue
            value = 'x'.join(map(str, value)) if key == 'shape' else ', '.join(map(str, value))
        notes.append(f'{key}: {value}')
    return '; '.join(notes)


def render_rows_section(title: str, records: Sequence[Record]) -> list[str]:
    """One table per file of rows (efficiency: :data:`EFFICIENCY_COLUMNS`; refbench: every key
    of its rows), the file's scalar keys above it."""
    lines = [f'## {title}', '']
    for record in records:
        rows = [_flatten(row) for row in record.data['rows'] if isinstance(row, Mapping)]
        if record.kind == 'mmpat-efficiency':
            columns = EFFICIENCY_COLUMNS
        else:
            columns = {key: key for key in dict.fromkeys(k for row in rows for k in row)}
        name = record.data.get('title') or record.data.get('tool') or record.path.stem
        lines += [f'### {name}', '']
        notes = _notes(record.data)
        if notes:
            lines += [notes, '']
        cells = [[_cell(row.get(key)) for key in columns.values()] for row in rows]
        lines += (_table(list(columns), cells) if rows else ['(no rows)']) + ['']
    return lines


def render(
    records: Sequence[Record], index: Mapping[str, tuple[str, str]], title: str = 'Leaderboard'
) -> str:
    """The whole Markdown page."""
    groups = accuracy_groups(records, index)
    lines = [f'# {title}', '', f'From {len(records)} result file(s); `-`: no number.', '']
    if groups:
        lines += ['## Accuracy', '']
        for (benchmark, average), rows in groups.items():
            lines += render_accuracy(benchmark, average, rows) + ['']
    if any(r.kind in ('mmpat-results', 'mmpat-flops', 'mmpat-benchmark') for r in records):
        lines += render_combined(records, groups, index) + ['']
    for kind, section in (
        ('mmpat-efficiency', 'Efficiency'),
        ('mmpat-refbench', 'Speed (reference comparisons)'),
    ):
        chosen = [r for r in records if r.kind == kind]
        if chosen:
            lines += render_rows_section(section, chosen)
    return '\n'.join(lines).rstrip() + '\n'


def build_leaderboard(
    paths: Iterable[str | Path], configs_dir: str | Path, title: str = 'Leaderboard'
) -> str:
    """Load the files (and directories) in ``paths`` and render them."""
    return render(load_records(paths), load_metafiles(configs_dir), title)
