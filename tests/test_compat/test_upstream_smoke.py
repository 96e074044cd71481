"""tools/test_upstream.py: a fixed subset of mmseg's installed tests passes under mmpat, and
the report tells expected failures (with their cause) from real ones."""

import importlib.util
import sys

import pytest
from helpers.tools import ROOT, run_tool


def _load_runner():
    # registered in sys.modules: the tool's dataclass needs its module there
    spec = importlib.util.spec_from_file_location(
        'test_upstream_tool', ROOT / 'tools/test_upstream.py'
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


upstream = _load_runner()

# The upstream tests of the ops mmpat's mmcv.ops provides (PSAMask, CrissCrossAttention
# built, DCN in ResNet / ResNeXt blocks) and, with mmdet, Mask2Former and MaskFormer.
SUBSET = [
    'test_heads/test_psa_head.py',
    'test_heads/test_cc_head.py',
    'test_backbones/test_resnet.py::test_resnet_basic_block',
    'test_backbones/test_resnet.py::test_resnet_bottleneck',
    'test_backbones/test_resnext.py',
]
MMDET_SUBSET = ['test_heads/test_mask2former_head.py', 'test_heads/test_maskformer_head.py']
HAS_MMDET = importlib.util.find_spec('mmdet') is not None


def test_subset_of_upstream_tests_passes_under_mmpat(tmp_path):
    subset = SUBSET + (MMDET_SUBSET if HAS_MMDET else [])
    result = run_tool(
        [sys.executable, str(ROOT / 'tools/test_upstream.py'), '--select', *subset], tmp_path
    )
    lines = result.stdout.splitlines()
    counts = {line.split()[0]: line.split()[1:] for line in lines[1:4] if line.split()}
    # passed failed expected skipped per folder; cc_head skips its CUDA forward itself
    assert counts['heads'] == [str(3 if HAS_MMDET else 1), '0', '0', '1'], result.stdout
    assert counts['backbones'] == ['4', '0', '0', '0'], result.stdout
    assert 'CCHead requires CUDA' in result.stdout


def outcome(node, status, message=''):
    return upstream.Outcome(node, status, message)


def test_report_counts_expected_failures_only_with_their_cause():
    network = 'test_backbones/test_resnet.py::test_resnet_backbone'
    text, unexpected = upstream.summarise(
        [
            outcome('test_heads/test_a.py::test_a', 'passed'),
            outcome('test_heads/test_b.py::test_b', 'failed', 'AssertionError: wrong shape'),
            outcome(network, 'failed', 'URLError: <urlopen error Name or service not known>'),
            outcome('test_heads/test_c.py::test_c', 'skipped', 'needs CUDA'),
        ]
    )
    assert [o.node for o in unexpected] == ['test_heads/test_b.py::test_b']
    assert '1 passed, 1 failed, 1 skipped' in text and '[network]' in text
    assert 'UNEXPECTED FAILURES' in text and 'wrong shape' in text
    # the same test failing for another reason is not excused
    _, unexpected = upstream.summarise([outcome(network, 'failed', 'TypeError: bad argument')])
    assert [o.node for o in unexpected] == [network]


def test_node_ids_from_junit_class_names():
    assert (
        upstream._node_id('tests.test_models.test_heads.test_psa_head', 'test_psa_head')
        == 'test_heads/test_psa_head.py::test_psa_head'
    )
    assert (
        upstream._node_id('tests.test_models.test_backbones.test_vpd.TestVPD', 'test_forward')
        == 'test_backbones/test_vpd.py::TestVPD::test_forward'
    )


def test_unknown_selection_is_refused_by_name(tmp_path):
    with pytest.raises(SystemExit, match='test_heads/test_nothing.py'):
        upstream.run(select=['test_heads/test_nothing.py'])
