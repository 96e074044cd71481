"""Project test set-up (as tests/conftest.py: the repository importable, mmpat applied before
mmseg) and a tiny GroupViTPretrain with the scenes extension."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
for path in (ROOT, ROOT / 'tests'):  # the repository (projects, tools) and the test helpers
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# isort: off
import mmpat  # noqa: E402,F401  (compat layer first)
import pytest  # noqa: E402
import torch  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402
from mmseg.utils import register_all_modules  # noqa: E402

import projects.groupvit_scenes.groupvit_scenes  # noqa: E402,F401  (registers the project)
# isort: on

register_all_modules(init_default_scope=True)

SCENE_CAPTIONS = ('a red circle and a blue star', 'a green square', 'a yellow cross')


@pytest.fixture
def pretrain_losses():
    """``fn(**extension_fields) -> (model, losses)``: GroupViT-test with 2 noun-phrase prompts
    and the ``ScenesGroupingLosses`` extension with those fields."""

    def build_and_run(**fields):
        torch.manual_seed(0)
        cfg = dict(
            type='GroupViTPretrain',
            arch='GroupViT-test',
            num_prompts=fields.pop('num_prompts', 2),
            noun_phrases=True,
            extension=dict(type='ScenesGroupingLosses', **fields),
        )
        model = MODELS.build(cfg)
        model.train()
        samples = [SegDataSample(metainfo=dict(caption=c)) for c in SCENE_CAPTIONS]
        return model, model.loss(torch.randn(len(samples), 3, 64, 64), samples)

    return build_and_run
