"""Run mmseg's own installed unit tests under mmpat and report what passes.

mmsegmentation's wheel installs its tests as a top-level ``tests`` package (listed in the
wheel's RECORD). This tool copies the model tests to a temporary folder, links
``configs`` beside them to the configs the wheel ships (``mmseg/.mim/configs``, which the
tests read as ``../../configs`` of a source checkout), runs pytest with ``-p mmpat`` (so
mmpat's compatibility layer is in place before mmseg is imported, as for a user), and
prints passed / failed / skipped per folder. Failures listed in :data:`EXPECTED` (they
need the network, CUDA or files a wheel does not have) are reported with their reason;
any other failure makes the exit code 1.

Usage::

    python tools/test_upstream.py                     # heads, backbones, necks, segmentors, utils
    python tools/test_upstream.py --folders heads     # one folder
    python tools/test_upstream.py --select test_heads/test_psa_head.py  # given files / node ids
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

FOLDERS = ('heads', 'backbones', 'necks', 'segmentors', 'utils')

# Upstream tests that cannot pass here, by node id under tests/test_models:
# (category, reason, a regex the failure message must match to count as expected).
_NETWORK = r'URLError|Name or service not known|LocalEntryNotFoundError|connection'
_VPD = (
    'source tree + network',
    'reads configs/_base_/models/vpd_sd.py beside the mmseg package (a source checkout), '
    'then downloads class embeddings and Stable Diffusion weights',
    r'vpd_sd\.py',
)
EXPECTED = {
    'test_backbones/test_resnet.py::test_resnet_backbone': (
        'network',
        "downloads torchvision://resnet18 (torchvision's model zoo)",
        _NETWORK,
    ),
    'test_backbones/test_timm_backbone.py::test_timm_backbone': (
        'network',
        'downloads timm weights from the Hugging Face hub (pretrained=True)',
        _NETWORK,
    ),
    'test_backbones/test_vpd.py::TestVPD::test_forward': _VPD,
    'test_segmentors/test_depth_estimator.py::TestDepthEstimator::test__forward': _VPD,
    'test_segmentors/test_depth_estimator.py::TestDepthEstimator::test_slide_flip_inference': _VPD,
}
# Without mmdet, mmseg defines its Mask2Former / MaskFormer heads on a bare BaseModule.
_NO_MMDET = (
    'mmdet missing',
    'mmseg builds this head on mmdet: pip install -e .[mmdet] (requirements/mmdet.txt)',
    r'BaseModule.__init__\(\) got an unexpected keyword argument',
)
WITHOUT_MMDET = {
    'test_heads/test_mask2former_head.py::test_mask2former_head': _NO_MMDET,
    'test_heads/test_maskformer_head.py::test_maskformer_head': _NO_MMDET,
}
if importlib.util.find_spec('mmdet') is None:
    EXPECTED.update(WITHOUT_MMDET)


@dataclass
class Outcome:
    """One upstream test's result: ``passed``, ``failed``, ``skipped``."""

    node: str
    status: str
    message: str = ''

    @property
    def expected(self) -> bool:
        """A failure listed in :data:`EXPECTED` whose message shows the listed cause."""
        entry = EXPECTED.get(self.node)
        return self.status == 'failed' and bool(entry and re.search(entry[2], self.message))

    @property
    def folder(self) -> str:
        first = self.node.split('/')[0]
        return first.removeprefix('test_') if '/' in self.node else '(top level)'


def installed_tests() -> Path:
    """The ``tests/test_models`` folder mmsegmentation's wheel installed (from its RECORD)."""
    try:
        dist = metadata.distribution('mmsegmentation')
    except metadata.PackageNotFoundError:
        sys.exit('test_upstream: mmsegmentation is not installed (pip install mmsegmentation)')
    for file in dist.files or ():
        if file.as_posix() == 'tests/test_models/__init__.py':
            return Path(dist.locate_file(file)).parent
    sys.exit(
        f'test_upstream: the mmsegmentation {dist.version} wheel lists no '
        'tests/test_models/__init__.py in its RECORD (this version ships no tests)'
    )


def shipped_configs() -> Path:
    """The configs mmseg ships inside its package (``mmseg/.mim/configs``)."""
    spec = importlib.util.find_spec('mmseg')
    configs = Path(spec.origin).parent / '.mim' / 'configs'
    if not configs.is_dir():
        sys.exit(f'test_upstream: {configs} is missing (a broken mmsegmentation install?)')
    return configs


def prepare(workdir: Path) -> Path:
    """Lay out ``workdir/tests/test_models`` and ``workdir/configs`` as in mmseg's checkout."""
    source = installed_tests()
    tests = workdir / 'tests'
    tests.mkdir()
    (tests / '__init__.py').write_text('')
    ignore = shutil.ignore_patterns('__pycache__')
    shutil.copytree(source, tests / 'test_models', ignore=ignore)
    (workdir / 'configs').symlink_to(shipped_configs(), target_is_directory=True)
    return tests / 'test_models'


def run_pytest(models: Path, targets: list[str], report: Path) -> int:
    """Run pytest on ``targets`` (relative to ``models``) with mmpat loaded first."""
    env = dict(os.environ)
    env.setdefault('OMP_NUM_THREADS', '1')
    env.setdefault('MKL_NUM_THREADS', '1')
    command = [
        sys.executable,
        '-m',
        'pytest',
        '-p',
        'mmpat',
        '-p',
        'no:cacheprovider',
        '--continue-on-collection-errors',
        '-q',
        '--tb=line',
        '--override-ini=addopts=',
        f'--junitxml={report}',
        *targets,
    ]
    return subprocess.run(command, cwd=models, env=env, capture_output=True, text=True).returncode


def read_report(report: Path) -> list[Outcome]:
    """Outcomes from pytest's JUnit XML, named ``test_heads/test_x.py::test_y``."""
    outcomes = []
    for case in ET.parse(report).getroot().iter('testcase'):
        node = _node_id(case.get('classname', ''), case.get('name', ''))
        status, message = 'passed', ''
        for child in case:
            if child.tag in ('failure', 'error'):
                status, message = 'failed', child.get('message', '') or (child.text or '')
            elif child.tag == 'skipped':
                status, message = 'skipped', child.get('message', '')
        outcomes.append(Outcome(node, status, ' '.join(message.split())[:200]))
    return outcomes


def _node_id(classname: str, name: str) -> str:
    # classname is "tests.test_models.test_heads.test_x[.TestClass]"; a collection error
    # has an empty name.
    parts = classname.removeprefix('tests.test_models.').split('.')
    for split in range(len(parts), 0, -1):
        candidate = '/'.join(parts[:split]) + '.py'
        if candidate.split('/')[-1].startswith('test_'):
            rest = parts[split:]
            return '::'.join([candidate, *rest, name] if name else [candidate, *rest])
    return f'{classname}::{name}'


def summarise(outcomes: list[Outcome]) -> tuple[str, list[Outcome]]:
    """The printed report and the unexpected failures."""
    lines = [f'{"folder":<14}{"passed":>8}{"failed":>8}{"expected":>10}{"skipped":>9}']
    unexpected = [o for o in outcomes if o.status == 'failed' and not o.expected]
    for folder in sorted({o.folder for o in outcomes}):
        mine = [o for o in outcomes if o.folder == folder]
        counts = Counter(o.status for o in mine)
        expected = sum(o.expected for o in mine)
        lines.append(
            f'{folder:<14}{counts["passed"]:>8}{counts["failed"] - expected:>8}'
            f'{expected:>10}{counts["skipped"]:>9}'
        )
    total = Counter(o.status for o in outcomes)
    lines.append(f'{total["passed"]} passed, {len(unexpected)} failed, {total["skipped"]} skipped')
    expected_failures = [o for o in outcomes if o.expected]
    if expected_failures:
        lines.append('\nExpected failures (they need what this machine has not):')
        lines += [
            f'  [{EXPECTED[o.node][0]}] {o.node}: {EXPECTED[o.node][1]}' for o in expected_failures
        ]
    passing = sorted(set(EXPECTED) & {o.node for o in outcomes if o.status == 'passed'})
    if passing:
        lines.append('\nListed as expected failures but passed (update EXPECTED):')
        lines += [f'  {node}' for node in passing]
    skipped = [o for o in outcomes if o.status == 'skipped']
    if skipped:
        lines.append('\nSkipped by the upstream tests themselves:')
        lines += [f'  {o.node}: {o.message}' for o in skipped]
    if unexpected:
        lines.append('\nUNEXPECTED FAILURES:')
        lines += [f'  {o.node}: {o.message}' for o in unexpected]
    return '\n'.join(lines), unexpected


def run(folders: list[str] | None = None, select: list[str] | None = None) -> list[Outcome]:
    """Run the selected upstream tests and return their outcomes."""
    targets = list(select or ()) or [f'test_{folder}' for folder in folders or FOLDERS]
    with tempfile.TemporaryDirectory(prefix='mmseg-upstream-') as tmp:
        models = prepare(Path(tmp))
        missing = [t for t in targets if not (models / t.split('::')[0]).exists()]
        if missing:
            sys.exit(f'test_upstream: not in the installed mmseg tests: {", ".join(missing)}')
        report = Path(tmp) / 'report.xml'
        code = run_pytest(models, targets, report)
        if not report.exists():
            sys.exit(f'test_upstream: pytest wrote no report (exit code {code})')
        return read_report(report)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--folders', nargs='+', choices=FOLDERS, help='default: all of them')
    parser.add_argument(
        '--select',
        nargs='+',
        metavar='PATH',
        help='files or node ids under tests/test_models, e.g. test_heads/test_psa_head.py',
    )
    args = parser.parse_args(argv)
    text, unexpected = summarise(run(args.folders, args.select))
    print(text)
    return 1 if unexpected else 0


if __name__ == '__main__':
    sys.exit(main())
