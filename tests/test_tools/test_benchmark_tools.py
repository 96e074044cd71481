"""tools/analysis_tools/{benchmark,get_flops,efficiency}.py and mmpat.apis.{benchmarking,flops}
on tiny configs: the JSON of the shared schemas, FLOPs against hand counts and an independent
counter, the vocabulary and mode choices, clear errors (timings are not asserted: shared CPU)."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from helpers.tools import ROOT, load_tool
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from mmpat.apis.benchmarking import build_analysis_model, timing_stats
from mmpat.apis.flops import count_flops, model_complexity

DENSE = str(ROOT / 'tests/data/configs/dense-clip_vit-test_tiny-seg.py')  # slide 32/16
PLAIN = str(ROOT / 'tests/data/configs/tiny_vit-fcn_4it_tiny-seg.py')  # closed, whole
BENCHMARK_KEYS = {
    'format', 'config', 'config_name', 'checkpoint', 'device', 'device_name', 'threads',
    'torch', 'mode', 'shape', 'num_classes', 'warmup', 'repeat', 'time_ms', 'images_per_s',
    'peak_memory_mb', 'memory_kind',
}  # fmt: skip
FLOPS_KEYS = {
    'format', 'config', 'config_name', 'shape', 'num_classes', 'gflops', 'text_gflops',
    'params_m', 'counter', 'unsupported_ops',
}  # fmt: skip


@pytest.fixture(scope='module')
def tools():
    return {
        name: load_tool(f'tools/analysis_tools/{name}.py')
        for name in ('benchmark', 'get_flops', 'efficiency')
    }


def test_benchmark_writes_the_schema(tools, tmp_path, capsys):
    out = tmp_path / 'speed' / 'b.json'
    args = [DENSE, '--shape', '64', '80', '--repeat', '3', '--warmup', '1', '--threads', '1']
    record = tools['benchmark'].main(args + ['--out', str(out)])
    assert json.loads(out.read_text()) == record
    assert set(record) == BENCHMARK_KEYS
    assert record['format'] == 'mmpat-benchmark/1'
    assert record['config'] == DENSE and record['config_name'] == 'dense-clip_vit-test_tiny-seg'
    assert record['checkpoint'] is None and record['device'] == 'cpu' and record['threads'] == 1
    assert record['mode'] == 'slide' and record['shape'] == [64, 80]
    assert record['num_classes'] == 3  # the config's test dataset classes
    assert (record['warmup'], record['repeat']) == (1, 3)
    time_ms = record['time_ms']
    assert set(time_ms) == {'median', 'mean', 'std', 'min', 'max', 'iqr'}
    assert 0 < time_ms['min'] <= time_ms['median'] <= time_ms['max'] and time_ms['iqr'] >= 0
    assert record['images_per_s'] == pytest.approx(1000 / time_ms['median'])
    assert record['memory_kind'] == 'rss' and record['peak_memory_mb'] > 10  # torch alone
    assert 'random weights' in capsys.readouterr().out


def test_timing_stats_of_known_values():
    stats = timing_stats([0.001, 0.002, 0.003, 0.004, 0.010])
    assert stats['median'] == pytest.approx(3.0) and stats['mean'] == pytest.approx(4.0)
    assert stats['min'] == pytest.approx(1.0) and stats['max'] == pytest.approx(10.0)
    assert stats['iqr'] == pytest.approx(4.0 - 2.0)  # inclusive quartiles
    assert stats['std'] == pytest.approx(torch.tensor([1.0, 2, 3, 4, 10]).std().item())


@pytest.mark.parametrize('mode', ['whole', 'slide'])
def test_benchmark_runs_both_modes(tools, mode):
    record = tools['benchmark'].main(
        [DENSE, '--shape', '64', '64', '--repeat', '1', '--warmup', '0', '--mode', mode]
    )
    assert record['mode'] == mode and record['time_ms']['median'] > 0


def test_vocabulary_choices():
    assert build_analysis_model(DENSE, num_classes=7).num_classes == 7
    assert build_analysis_model(DENSE, vocab='cat; dog, puppy; sky').num_classes == 3
    with pytest.raises(ValueError, match='closed-vocabulary'):
        build_analysis_model(PLAIN, vocab='cat; dog')
    assert build_analysis_model(PLAIN, num_classes=5).model.decode_head.num_classes == 5


def test_checkpoint_weights_and_vocabulary_are_used(tools, tmp_path, capsys):
    analysis = build_analysis_model(DENSE)
    state = {k: torch.randn_like(v) for k, v in analysis.model.state_dict().items()}
    meta = dict(dataset_meta=dict(classes=('road', 'tree'), palette=[[0, 0, 0], [9, 9, 9]]))
    checkpoint = tmp_path / 'ckpt.pth'
    torch.save(dict(state_dict=state, meta=meta), checkpoint)
    loaded = build_analysis_model(DENSE, str(checkpoint))
    assert loaded.num_classes == 2  # the checkpoint's meta.dataset_meta, not the config's 3
    for key, value in loaded.model.state_dict().items():
        if key in state:
            assert torch.equal(value, state[key]), key
    args = [DENSE, str(checkpoint), '--shape', '64', '64', '--repeat', '1']
    record = tools['benchmark'].main(args)
    assert record['checkpoint'] == str(checkpoint) and record['num_classes'] == 2
    assert 'random weights' not in capsys.readouterr().out


def test_a_checkpoint_of_another_model_is_refused(tools, tmp_path):
    other = tmp_path / 'other.pth'
    torch.save(dict(state_dict={'backbone.nothing': torch.zeros(2)}), other)
    with pytest.raises(SystemExit, match='does not fit the model'):
        tools['benchmark'].main([DENSE, str(other), '--repeat', '1'])
    with pytest.raises(SystemExit, match="checkpoint '.*missing.pth' does not exist"):
        tools['benchmark'].main([DENSE, str(tmp_path / 'missing.pth')])


@pytest.mark.parametrize('tool', ['benchmark', 'get_flops'])
def test_pretraining_config_is_refused_clearly(tools, tool):
    with pytest.raises(SystemExit) as error:
        tools[tool].main([str(ROOT / 'configs/clip/clip-tiny_scenes.py')])
    message = str(error.value)
    assert message.startswith('error:') and 'CLIPContrastive' in message
    assert 'not a segmentor' in message


def test_missing_config_weights_become_random_with_a_note(tmp_path):
    config = tmp_path / 'cfg.py'
    config.write_text(
        f"_base_ = [{DENSE!r}]\nmodel = dict(backbone=dict(pretrained='{tmp_path}/none.pt'))\n"
    )
    analysis = build_analysis_model(str(config))
    assert any('none.pt' in note and 'random weights' in note for note in analysis.notes)


# ------------------------------------------------------------------------------------ FLOPs
def _hook_count(model: nn.Module, run) -> dict[str, int]:
    """Multiply-adds by hand from the shapes each Conv2d / Linear / MultiheadAttention call
    sees (the attention's projections and products from its (L, B, E) input)."""
    counts = dict(conv=0, linear=0, bmm=0)

    def conv(module, inputs, output):
        k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        counts['conv'] += output.numel() * k

    def linear(module, inputs, output):
        counts['linear'] += output.numel() * module.in_features

    def attention(module, args, kwargs, output):
        query = args[0] if args else kwargs['query']
        length, batch, embed = query.shape  # mmcv's attention: sequence first
        counts['linear'] += 4 * length * batch * embed * embed  # q, k, v and output
        counts['bmm'] += 2 * batch * length * length * embed  # q k^T and weights x v

    handles = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(conv))
        elif isinstance(module, nn.Linear):  # mmcv's Linear too (the attention's out_proj
            handles.append(module.register_forward_hook(linear))  # is functional: no call)
        elif isinstance(module, nn.MultiheadAttention):
            handles.append(module.register_forward_hook(attention, with_kwargs=True))
    with torch.no_grad():
        run()
    for handle in handles:
        handle.remove()
    return counts


def test_flops_equal_a_hand_count_and_params_the_model(tools, tmp_path):
    out = tmp_path / 'f.json'
    record = tools['get_flops'].main([PLAIN, '--shape', '64', '64', '--out', str(out)])
    assert json.loads(out.read_text()) == record and set(record) == FLOPS_KEYS
    assert record['format'] == 'mmpat-flops/1' and record['text_gflops'] is None
    assert record['counter'] == 'mmengine.analysis.FlopAnalyzer'
    analysis = build_analysis_model(PLAIN)
    complexity = model_complexity(analysis, (64, 64))
    image = torch.zeros(1, 3, 64, 64)
    metas = [dict(img_shape=(64, 64), ori_shape=(64, 64))]
    hand = _hook_count(analysis.model, lambda: analysis.model.inference(image, metas))
    by_operator = complexity.image.by_operator
    assert hand['conv'] > 0 and hand['linear'] > 0
    for kind, macs in hand.items():
        assert by_operator[kind] == macs, kind
    assert complexity.image.total == sum(by_operator.values())
    assert record['gflops'] == pytest.approx(complexity.image.total / 1e9)
    params = list(analysis.model.parameters())
    assert record['params_m']['total'] == pytest.approx(sum(p.numel() for p in params) / 1e6)
    assert record['params_m']['trainable'] == record['params_m']['total']  # all trained


def test_open_vocabulary_flops_text_and_frozen_params(tools):
    record = tools['get_flops'].main([DENSE, '--shape', '64', '64', '--mode', 'whole'])
    analysis = build_analysis_model(DENSE, mode='whole')
    params = list(analysis.model.parameters())
    assert record['params_m']['total'] == pytest.approx(sum(p.numel() for p in params) / 1e6)
    assert record['params_m']['trainable'] == 0  # CLIP frozen, DenseCLIPHead has no weights
    assert record['text_gflops'] > 0 and record['gflops'] > 0
    assert 'aten::_native_multi_head_attention' not in record['unsupported_ops']
    assert 'aten::gelu' in record['unsupported_ops']  # element-wise: listed, not counted


def test_slide_counts_every_crop():
    """64 x 64 in 32 px crops at stride 16: 3 x 3 crops, each a whole 32 x 32 pass."""
    slide = model_complexity(build_analysis_model(DENSE), (64, 64)).image
    crop = model_complexity(build_analysis_model(DENSE, mode='whole'), (32, 32)).image
    backbone = 'segmentor.backbone'
    assert slide.by_module[backbone] == 9 * crop.by_module[backbone]


def test_attention_handles_match_torch_flop_counter():
    """Our handles for the fused attention ops against PyTorch's own counter (2 per MAC) on
    the same computations unfused (``need_weights=True`` leaves the fast path; the counter
    sees the SDPA math kernel's matmuls)."""
    attention = nn.MultiheadAttention(16, 2, batch_first=True).eval()
    x = torch.randn(2, 5, 16)

    class SelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attention = attention

        def forward(self, x):
            return self.attention(x, x, x, need_weights=False)[0]

    counted = count_flops(SelfAttention(), (x,))
    assert counted.by_operator['_native_multi_head_attention'] == counted.total > 0
    with FlopCounterMode(display=False) as reference:
        attention(x, x, x, need_weights=True)
    assert 2 * counted.total == reference.get_total_flops()

    q, k, v = torch.randn(2, 3, 7, 8), torch.randn(2, 3, 9, 8), torch.randn(2, 3, 9, 4)

    class SDPA(nn.Module):
        def forward(self, q, k, v):
            return F.scaled_dot_product_attention(q, k, v)

    counted = count_flops(SDPA(), (q, k, v))
    with FlopCounterMode(display=False) as reference:
        F.scaled_dot_product_attention(q, k, v)
    assert 2 * counted.total == reference.get_total_flops() == 2 * 6 * 7 * 9 * (8 + 4)


def test_groupvit_zero_shot_is_traced():
    from mmpat.models.groupvit import get_groupvit_preset

    preset = get_groupvit_preset('GroupViT-test')
    options = {f'model.backbone.{k}': v for k, v in preset['image'].items()}
    options.update({f'model.text_encoder.{k}': v for k, v in preset['text'].items()})
    options.update(
        {
            'model.text_encoder.proj': dict(preset['proj']),
            'model.decode_head.in_channels': preset['image']['embed_dim'],
            'model.decode_head.proj': dict(preset['proj']),
        }
    )
    config = str(ROOT / 'configs/groupvit/groupvit-s_gcc-yfcc_zeroshot_voc.py')
    analysis = build_analysis_model(config, num_classes=3, mode='whole', cfg_options=options)
    complexity = model_complexity(analysis, (64, 64))
    assert complexity.image.by_module['segmentor.backbone'] > 0 and complexity.text.total > 0


# ------------------------------------------------------------------------------- efficiency
def test_efficiency_smoke(tools, tmp_path):
    out = tmp_path / 'e.json'
    args = [DENSE, PLAIN, '--shape', '64', '64', '--threads', '1', '--repeat', '2']
    args += ['--timer', 'cpu', '--matmul-size', '64', '--out', str(out)]
    record = tools['efficiency'].main(args)
    assert json.loads(out.read_text()) == record and record['format'] == 'mmpat-efficiency/1'
    rows = {row['config_name']: row for row in record['rows']}
    assert set(rows) == {'dense-clip_vit-test_tiny-seg', 'tiny_vit-fcn_4it_tiny-seg'}
    flops = tools['get_flops'].main([PLAIN, '--shape', '64', '64'])
    row = rows['tiny_vit-fcn_4it_tiny-seg']
    assert row['analyzer_gmacs'] == pytest.approx(flops['gflops'])
    assert row['forward_gflop'] == pytest.approx(2 * flops['gflops'])
    rate = row['forward_gflop'] * 1000 / row['time_ms']['median']
    assert row['gflop_per_s'] == pytest.approx(rate)
    assert row['ratio_to_peak'] == pytest.approx(rate / row['peak']['gflop_per_s'])
    assert row['peak']['best_gflop_per_s'] >= row['peak']['gflop_per_s'] > 0
    assert row['timer'] == 'cpu' and 0 < row['prediction_gflop'] <= row['forward_gflop']
    # the dense CLIP head reads only 'dense': the class token and last-block tokens are unread
    dense = rows['dense-clip_vit-test_tiny-seg']
    assert dense['prediction_gflop'] < dense['forward_gflop']


# ------------------------------------------------------------------- reference comparisons
def _refbench_rows(path, tool: str) -> list[dict]:
    """The rows of a ``--out`` file, checked to be ``mmpat-refbench/1`` of ``tool``."""
    record = json.loads(path.read_text())
    assert record['format'] == 'mmpat-refbench/1' and record['tool'] == tool
    assert record['threads'] >= 1 and record['rows']
    for row in record['rows']:
        if row['reference_ms'] is not None:
            assert row['ratio'] == pytest.approx(row['ours_ms'] / row['reference_ms'])
    return record['rows']


def test_bench_clip_writes_its_rows(tmp_path, capsys):
    out = tmp_path / 'clip.json'
    load_tool('tools/benchmarks/bench_clip.py').main(
        ['--preset', 'ViT-test', '--sizes', '32', '--batches', '1', '--repeats', '1']
        + ['--text-classes', '3', '--text-repeats', '1', '--out', str(out)]
    )
    rows = _refbench_rows(out, 'bench_clip')
    assert [r['ours'] for r in rows] == ['CLIPPyramid', 'OpenCLIPTextEncoder.encode_vocabulary']
    assert all(r['max_abs_diff'] < 1e-5 for r in rows)  # same weights: the parity checks
    assert 'written: ' in capsys.readouterr().out


def test_bench_groupvit_writes_its_rows(tmp_path, capsys):
    pytest.importorskip('transformers')
    out = tmp_path / 'groupvit.json'
    bench = load_tool('tools/benchmarks/bench_groupvit.py')
    assert bench.main(['--repeats', '1', '--batch', '1', '--skip-slide', '--out', str(out)]) == 0
    (row,) = _refbench_rows(out, 'bench_groupvit')
    assert row['reference'] == 'HF transformers GroupViTModel' and row['max_abs_diff'] < 1e-4
    assert f'{row["ours_ms"]:.0f} ms' in capsys.readouterr().out  # the printed table's number
