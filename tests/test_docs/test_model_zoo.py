"""Every config family has a model-zoo README and a metafile that mim can read.

A family is a folder of ``configs/`` other than ``_base_``, or a project ``projects/<name>/``
(its configs in ``projects/<name>/configs/``, README and metafile at the project's root). Its
``metafile.yaml`` must parse, and every ``Config:`` path in it must exist; every config file of
the folder must be linked from its ``README.md`` (a Markdown link to the file) or listed in the
metafile.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = sorted(p for p in (ROOT / 'configs').iterdir() if p.is_dir() and p.name != '_base_')
FAMILIES += sorted(p for p in (ROOT / 'projects').iterdir() if (p / 'configs').is_dir())
IDS = [p.name for p in FAMILIES]


def config_files(family: Path) -> list[Path]:
    folder = family / 'configs' if family.parent.name == 'projects' else family
    return sorted(folder.glob('*.py'))


LINK = re.compile(r'\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')  # [text](target "title")


def read_metafile(family: Path) -> dict:
    meta = yaml.safe_load((family / 'metafile.yaml').read_text())
    assert isinstance(meta, dict), f'{family.name}/metafile.yaml is not a mapping'
    assert isinstance(meta.get('Models'), list) and meta['Models'], (
        f'{family.name}/metafile.yaml has no Models'
    )
    return meta


def readme_links(family: Path) -> set[Path]:
    """Local files the README links to, resolved against the family folder."""
    links = set()
    for target in LINK.findall((family / 'README.md').read_text()):
        if '://' in target or target.startswith(('#', 'mailto:')):
            continue
        links.add((family / target.split('#')[0]).resolve())
    return links


def test_there_are_families():
    assert {'clip', 'dense_clip', 'groupvit', 'pat', 'groupvit_scenes'} <= set(IDS)


@pytest.mark.parametrize('family', FAMILIES, ids=IDS)
def test_family_has_readme_and_metafile(family: Path):
    assert (family / 'README.md').is_file(), f'configs/{family.name} has no README.md'
    assert (family / 'metafile.yaml').is_file(), f'configs/{family.name} has no metafile.yaml'


@pytest.mark.parametrize('family', FAMILIES, ids=IDS)
def test_metafile_configs_exist(family: Path):
    meta = read_metafile(family)
    models = meta['Models']
    names = [model.get('Name') for model in models]
    assert len(set(names)) == len(names), f'duplicate model names in {family.name}: {names}'
    collections = {collection['Name'] for collection in meta.get('Collections') or []}
    for model in models:
        config = model.get('Config')
        assert config, f'{family.name}/metafile.yaml: model {model.get("Name")} has no Config'
        assert (ROOT / config).is_file(), f'{family.name}/metafile.yaml: {config} does not exist'
        if collections:
            assert model.get('In Collection') in collections, model.get('Name')
        for result in model.get('Results') or []:
            assert {'Task', 'Dataset', 'Metrics'} <= set(result), model.get('Name')


@pytest.mark.parametrize('family', FAMILIES, ids=IDS)
def test_every_config_is_documented(family: Path):
    models = read_metafile(family)['Models']
    listed = {(ROOT / m['Config']).resolve() for m in models if m.get('Config')}
    linked = readme_links(family)
    missing = [p.name for p in config_files(family) if p.resolve() not in listed | linked]
    assert not missing, (
        f'configs/{family.name}: not linked in README.md nor listed in metafile.yaml: {missing}'
    )
