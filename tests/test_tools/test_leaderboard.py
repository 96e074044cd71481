"""tools/leaderboard.py and mmpat/evaluation/leaderboard.py on result files written here."""

from __future__ import annotations

import json

import pytest
from helpers.tools import load_tool

from mmpat.evaluation.leaderboard import LeaderboardError, build_leaderboard, load_record

METAFILE = """
Collections:
- Name: MaskCLIP
Models:
- Name: dense-clip_vit-b16_zeroshot_ade20k-847
  In Collection: MaskCLIP
  Config: configs/dense_clip/dense-clip_vit-b16_zeroshot_ade20k-847.py
  Metadata:
    Architecture:
    - CLIP ViT-B/16 (frozen)
    - DenseCLIPHead
"""
DENSE = 'configs/dense_clip/dense-clip_vit-b16_zeroshot_ade20k-847.py'
MINE = 'work/cfgs/my-net_r50_a847.py'  # in no metafile


def result(config, benchmark, miou, average='present', **metrics):
    return {
        'format': 'mmpat-results/1',
        'config': config,
        'config_name': config.rsplit('/', 1)[-1][: -len('.py')],
        'checkpoint': None,
        'dataset': 'ADE20K847Dataset',
        'data_root': 'data/ade20k_full',
        'benchmark': benchmark,
        'num_classes': 847,
        'average': average,
        'metrics': dict(
            dict(mIoU=miou, mIoU_seen=None, mIoU_unseen=None, hIoU=None, aAcc=50.0, mAcc=20.0),
            **metrics,
        ),
        'device': 'cpu',
        'date': '2026-01-02',
    }


def flops(config, gflops, total, trainable):
    return {
        'format': 'mmpat-flops/1',
        'config': config,
        'config_name': config.rsplit('/', 1)[-1][: -len('.py')],
        'shape': [448, 448],
        'num_classes': 847,
        'gflops': gflops,
        'text_gflops': None,
        'params_m': {'total': total, 'trainable': trainable},
        'counter': 'mmengine.analysis.FlopAnalyzer',
        'unsupported_ops': {},
    }


def speed(config, median_ms, peak_mb):
    return {
        'format': 'mmpat-benchmark/1',
        'config': config,
        'config_name': config.rsplit('/', 1)[-1][: -len('.py')],
        'checkpoint': None,
        'device': 'cpu',
        'device_name': 'Test CPU',
        'threads': 2,
        'torch': '2.0',
        'mode': 'slide',
        'shape': [448, 448],
        'num_classes': 847,
        'warmup': 1,
        'repeat': 3,
        'time_ms': dict(median=median_ms, mean=1.0, std=0.1, min=1.0, max=2.0, iqr=0.2),
        'images_per_s': 1.0,
        'peak_memory_mb': peak_mb,
        'memory_kind': 'rss',
    }


@pytest.fixture
def configs_dir(tmp_path):
    folder = tmp_path / 'configs' / 'dense_clip'
    folder.mkdir(parents=True)
    (folder / 'metafile.yaml').write_text(METAFILE)
    return tmp_path / 'configs'


def write(folder, name, record):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(record))
    return path


def table_rows(text, heading):
    """The table rows (header and body, no separator) of the section ``heading``."""
    section = text.split(heading + '\n', 1)[1].split('\n#', 1)[0]
    return [line for line in section.splitlines() if line.startswith('| ')]


def test_tables_rows_methods_and_missing_cells(tmp_path, configs_dir):
    results = tmp_path / 'results'
    write(results, 'a.json', result(DENSE, 'A-847', 10.5))
    write(results, 'b.json', result(MINE, 'A-847', 12.25))
    write(results, 'c.json', result(DENSE, 'PC-459', 20.0))
    write(results, 'd.json', flops(DENSE, 81.5, 149.62, 0.0))  # params: 4 digits
    write(results, 'e.json', speed(MINE, 1234.56, 2048.4))
    text = build_leaderboard([results], configs_dir, title='Test board')

    assert text.startswith('# Test board\n')
    assert table_rows(text, '### A-847 (average: present)') == [
        '| Method | Backbone | Config | mIoU | Device | Date |',
        '| MaskCLIP | CLIP ViT-B/16 (frozen) | dense-clip_vit-b16_zeroshot_ade20k-847 | 10.50 '
        '| cpu | 2026-01-02 |',
        '| cfgs | r50 | my-net_r50_a847 | 12.25 | cpu | 2026-01-02 |',  # from the path
    ]
    assert "mIoU averaged with `average='present'`" in text
    assert table_rows(text, '## All benchmarks') == [
        '| Method | Backbone | Config | A-847 mIoU (present) | PC-459 mIoU (present) '
        '| Params (M) | Trainable (M) | GFLOPs (448x448) | Text GFLOPs (448x448) '
        '| Time ms (cpu: Test CPU, 2 thr, 448x448, slide) '
        '| Peak MB (rss, Test CPU, 2 thr, 448x448, slide) |',
        '| MaskCLIP | CLIP ViT-B/16 (frozen) | dense-clip_vit-b16_zeroshot_ade20k-847 | 10.50 '
        '| 20.00 | 149.6 | 0 | 81.5 | - | - | - |',
        '| cfgs | r50 | my-net_r50_a847 | 12.25 | - | - | - | - | - | 1234.6 | 2048 |',
    ]


def test_two_benchmarks_are_never_averaged(tmp_path, configs_dir):
    files = [
        write(tmp_path, 'a.json', result(DENSE, 'A-847', 10.0)),
        write(tmp_path, 'b.json', result(DENSE, 'PC-459', 30.0)),
    ]
    text = build_leaderboard(files, configs_dir)
    assert '### A-847 (average: present)' in text and '### PC-459 (average: present)' in text
    assert '20.00' not in text  # the mean of the two is nowhere
    assert table_rows(text, '### PC-459 (average: present)')[1].split(' | ')[3] == '30.00'


def test_one_benchmark_in_two_modes_gives_two_tables(tmp_path, configs_dir):
    files = [
        write(tmp_path, 'a.json', result(DENSE, 'A-847', 10.0, average='all')),
        write(tmp_path, 'b.json', result(DENSE, 'A-847', 12.0)),
    ]
    text = build_leaderboard(files, configs_dir)
    assert table_rows(text, '### A-847 (average: all)')[1].split(' | ')[3] == '10.00'
    assert table_rows(text, '### A-847 (average: present)')[1].split(' | ')[3] == '12.00'
    assert '11.00' not in text


def test_split_benchmark_shows_seen_unseen_hiou(tmp_path, configs_dir):
    record = result(
        'configs/mvp_seg/mvp-seg_vit-b16_20k_voc-20-zs.py',
        'VOC-20 15/5',
        70.0,
        average='all',
        mIoU_seen=80.0,
        mIoU_unseen=None,  # NaN in the run: missing, not 0
        hIoU=None,
    )
    text = build_leaderboard([write(tmp_path, 'a.json', record)], configs_dir)
    assert table_rows(text, '### VOC-20 15/5 (average: all)') == [
        '| Method | Backbone | Config | mIoU | mIoU (seen) | mIoU (unseen) | hIoU | Device '
        '| Date |',
        '| mvp_seg | vit-b16 | mvp-seg_vit-b16_20k_voc-20-zs | 70.00 | 80.00 | - | - | cpu '
        '| 2026-01-02 |',
    ]


def test_refbench_section(tmp_path, configs_dir):
    record = {
        'format': 'mmpat-refbench/1',
        'tool': 'bench_clip',
        'device_name': 'Test CPU',
        'rows': [{'case': 'image 224', 'ours_ms': 12.3456, 'ratio': 1.02}, {'case': 'text'}],
    }
    text = build_leaderboard([write(tmp_path, 'r.json', record)], configs_dir)
    assert '## Speed (reference comparisons)' in text and 'device_name: Test CPU' in text
    assert table_rows(text, '### bench_clip') == [
        '| case | ours_ms | ratio |',
        '| image 224 | 12.346 | 1.020 |',
        '| text | - | - |',
    ]


@pytest.mark.parametrize(
    'content, message',
    [
        ({**result(DENSE, 'A-847', 1.0), 'format': 'mmpat-results/0'}, 'older format'),
        ({**result(DENSE, 'A-847', 1.0), 'format': 'mmpat-results/2'}, 'newer format'),
        ({'format': 'mmseg-results/1'}, "unknown format 'mmseg-results/1'"),
        ({'mIoU': 3.0}, 'not a result file'),
        ({k: v for k, v in result(DENSE, 'A-847', 1.0).items() if k != 'benchmark'}, 'benchmark'),
        ({**result(DENSE, 'A-847', 1.0), 'metrics': {'mIoU': 1.0}}, 'metrics.mIoU_seen'),
        ({**result(DENSE, 'A-847', 1.0), 'average': 'mean'}, "average must be 'all' or"),
        ({**speed(DENSE, 1.0, 1.0), 'time_ms': {'mean': 1.0}}, 'time_ms.median'),
    ],
)
def test_bad_files_are_clear_errors(tmp_path, content, message):
    path = write(tmp_path, 'bad.json', content)
    with pytest.raises(LeaderboardError, match='bad.json') as error:
        load_record(path)
    assert message in str(error.value)


def test_unreadable_inputs(tmp_path, configs_dir):
    (tmp_path / 'broken.json').write_text('{"format": ')
    with pytest.raises(LeaderboardError, match='broken.json: not valid JSON'):
        load_record(tmp_path / 'broken.json')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(LeaderboardError, match='holds no'):
        build_leaderboard([tmp_path / 'empty'], configs_dir)
    a = write(tmp_path / 'x', 'a.json', result(DENSE, 'A-847', 1.0))
    b = write(tmp_path / 'y', 'a.json', result(DENSE, 'A-847', 2.0))
    with pytest.raises(LeaderboardError, match='both hold dense-clip_vit-b16_zeroshot_ade20k-847'):
        build_leaderboard([a, b], configs_dir)


def test_cli_writes_the_file_and_names_bad_files(tmp_path, configs_dir, capsys):
    tool = load_tool('tools/leaderboard.py')
    good = write(tmp_path / 'in', 'a.json', result(DENSE, 'A-847', 10.5))
    out = tmp_path / 'out' / 'leaderboard.md'
    tool.main([str(good), '--out', str(out), '--configs-dir', str(configs_dir)])
    assert '| MaskCLIP | CLIP ViT-B/16 (frozen) |' in out.read_text()
    old = write(tmp_path, 'old.json', {**result(DENSE, 'A-847', 1.0), 'format': 'mmpat-results/0'})
    with pytest.raises(SystemExit, match=r'error: .*old.json.*older format'):
        tool.main([str(old), '--configs-dir', str(configs_dir)])


def test_the_repository_metafiles_name_the_methods(tmp_path):
    tool = load_tool('tools/leaderboard.py')
    text = build_leaderboard(
        [write(tmp_path, 'a.json', result(DENSE, 'A-847', 10.5))], tool.ROOT / 'configs'
    )
    assert '| MaskCLIP | CLIP ViT-B/16 (frozen) | dense-clip_vit-b16_zeroshot_ade20k-847 |' in text


def test_results_record_names_the_zero_shot_split_and_writes_nan_as_null(tmp_path):
    import datetime

    from mmpat.evaluation.results_file import results_record, write_results

    voc = dict(type='PascalVOC20Dataset', data_root='data/VOCdevkit/VOC2012')
    record = results_record(
        config='configs/mvp_seg/mvp-seg_vit-b16_20k_voc-20-zs.py',
        checkpoint='work_dirs/x/iter_20000.pth',
        test_dataset=voc,
        train_dataset=dict(type='ConcatDataset', datasets=[dict(voc, vocabulary='seen')]),
        num_classes=20,
        average='all',
        metrics={'mIoU': 40.0, 'mIoU_seen': 50.0, 'mIoU_unseen': float('nan'), 'aAcc': 80.0}
        | {'mAcc': 45.0, 'hIoU': float('nan')},
        device='cpu',
        date=datetime.date(2026, 3, 4),
    )
    path = write_results(tmp_path / 'sub' / 'r.json', record)
    data = load_record(path).data
    assert data['benchmark'] == 'VOC-20 15/5' and data['date'] == '2026-03-04'
    assert data['metrics'] == dict(
        mIoU=40.0, mIoU_seen=50.0, mIoU_unseen=None, hIoU=None, aAcc=80.0, mAcc=45.0
    )
    plain = results_record(**{**_args(record), 'train_dataset': None})
    assert plain['benchmark'] == 'VOC-20'
    with pytest.raises(ValueError, match=r"no \['mIoU', 'aAcc', 'mAcc'\]"):
        results_record(**{**_args(record), 'metrics': {'loss': 1.0}})


def _args(record):
    return dict(
        config=record['config'],
        checkpoint=None,
        test_dataset=dict(type=record['dataset']),
        train_dataset=None,
        num_classes=record['num_classes'],
        average=record['average'],
        metrics=dict(mIoU=1.0, aAcc=1.0, mAcc=1.0),
        device='cpu',
    )


def test_efficiency_section(tmp_path, configs_dir):
    row = dict(
        config=DENSE,
        config_name='dense',
        mode='slide',
        threads=1,
        forward_gflop=80.0,
        time_ms=dict(median=1000.0, iqr=5.0),
        gflop_per_s=80.0,
        peak=dict(matmul_size=2048, gflop_per_s=160.0),
        ratio_to_peak=0.5,
    )
    record = {
        'format': 'mmpat-efficiency/1',
        'device': 'cpu',
        'device_name': 'Test CPU',
        'shape': [448, 448],
        'rows': [row, {**row, 'threads': 2, 'ratio_to_peak': None}],
    }
    text = build_leaderboard([write(tmp_path, 'eff.json', record)], configs_dir)
    assert 'device: cpu; device_name: Test CPU; shape: 448x448' in text
    assert table_rows(text, '### eff') == [
        '| Config | Mode | Threads | GFLOP | Time ms | GFLOP/s | Matmul peak GFLOP/s '
        '| Ratio to peak |',
        '| dense | slide | 1 | 80.000 | 1000.000 | 80.000 | 160.000 | 0.500 |',
        '| dense | slide | 2 | 80.000 | 1000.000 | 80.000 | 160.000 | - |',
    ]
