"""Train configs over several seeds and print their final validation metrics as a table.

Each (config, seed) trains with ``tools/train.py`` into ``<work-root>/<config stem>/seed<N>``
(skipped when that run's last checkpoint exists), ``--jobs`` runs at a time (each with
``OMP_NUM_THREADS=1`` when more than one runs). The table (markdown) lists every run and the
mean per config of mIoU, mIoU_seen, mIoU_unseen and hIoU, read from the last validation of
each run's ``vis_data/scalars.json``; ``--out`` also writes it as json.

Usage:
    python tools/analysis/seed_sweep.py CONFIG [CONFIG ...] [--seeds 0 1 2] [--jobs 2]
        [--work-root work_dirs/seed_sweep] [--out table.json] [--cfg-options KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEYS = ('mIoU', 'mIoU_seen', 'mIoU_unseen', 'hIoU')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2], help='seeds')
    parser.add_argument('--jobs', type=int, default=1, help='runs at a time')
    parser.add_argument('--work-root', default='work_dirs/seed_sweep', help='parent of the runs')
    parser.add_argument('--out', default=None, help='also write the table as json')
    parser.add_argument('--cfg-options', nargs='+', default=[], help='options for every run')
    return parser.parse_args(argv)


def last_validation(work_dir: Path) -> dict[str, float] | None:
    """The metrics of the last validation logged under ``work_dir`` (None: none yet)."""
    found = None
    for scalars in sorted(work_dir.glob('*/vis_data/scalars.json')):
        for line in scalars.read_text().splitlines():
            record = json.loads(line)
            if 'mIoU' in record or any(k.endswith('/mIoU') for k in record):
                found = {k.split('/')[-1]: v for k, v in record.items()}
    return found


def run(config: str, seed: int, args: argparse.Namespace, quiet_threads: bool) -> dict:
    work_dir = ROOT / args.work_root / Path(config).stem / f'seed{seed}'
    metrics = last_validation(work_dir)
    if metrics is None:
        env = dict(os.environ, OMP_NUM_THREADS='1') if quiet_threads else None
        command = [sys.executable, str(ROOT / 'tools/train.py'), config]
        command += ['--work-dir', str(work_dir), '--cfg-options', f'randomness.seed={seed}']
        command += args.cfg_options
        work_dir.mkdir(parents=True, exist_ok=True)
        with open(work_dir / 'sweep.log', 'w') as log:
            code = subprocess.call(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        if code != 0:
            raise SystemExit(f'{config} seed {seed} failed (exit {code}): see {work_dir}/sweep.log')
        metrics = last_validation(work_dir)
        if metrics is None:
            raise SystemExit(f'{config} seed {seed} logged no validation: see {work_dir}')
    return dict(config=config, seed=seed, **{k: metrics.get(k) for k in KEYS})


def table(rows: list[dict]) -> str:
    """Markdown: every run, then the mean of each config."""
    lines = ['| config | seed | ' + ' | '.join(KEYS) + ' |', '|---|---|' + '---|' * len(KEYS)]
    for row in rows:
        cells = [f'{row[k]:.2f}' if row[k] is not None else '-' for k in KEYS]
        lines.append(f'| {Path(row["config"]).stem} | {row["seed"]} | ' + ' | '.join(cells) + ' |')
    for config in dict.fromkeys(row['config'] for row in rows):
        runs = [row for row in rows if row['config'] == config]
        means = [sum(r[k] for r in runs) / len(runs) for k in KEYS]
        cells = ' | '.join(f'**{m:.2f}**' for m in means)
        lines.append(f'| {Path(config).stem}, mean of {len(runs)} | | {cells} |')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    missing = [c for c in args.configs if not Path(c).is_file()]
    if missing:
        raise SystemExit(f'error: config file(s) not found: {missing}')
    jobs = [(config, seed) for config in args.configs for seed in args.seeds]
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        rows = list(pool.map(lambda job: run(*job, args, args.jobs > 1), jobs))
    print(table(rows))
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == '__main__':
    main()
