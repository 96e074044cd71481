"""Compact CLIP files: the seeded text tower, pack/unpack bit for bit, refusals, the CLI."""

import pytest
import torch
from helpers.tools import load_tool

import mmpat  # noqa: F401
from mmpat.apis.clip_export import save_clip_weights
from mmpat.apis.seeded_clip import pack_seeded_clip, unpack_seeded_clip
from mmpat.models.clip.seeded_text import is_text_key, seeded_text_state, state_fingerprint
from mmpat.models.segmentors.clip_contrastive import CLIPContrastive

PRESET = 'ViT-test'


def _trained_state(seed=3):
    torch.manual_seed(0)
    model = CLIPContrastive(preset=PRESET, freeze_text_tower=True, text_init_seed=seed)
    with torch.no_grad():  # stand-in for training: the image tower moves, the text stays
        for name, param in model.clip.named_parameters():
            if name.startswith('visual.'):
                param.add_(torch.randn_like(param) * 0.1)
    return {k: v.detach().clone() for k, v in model.clip.state_dict().items()}


def test_seeded_text_state_is_deterministic_and_leaves_the_global_stream_alone():
    torch.manual_seed(5)
    expected_next = torch.rand(3)
    torch.manual_seed(5)
    first = seeded_text_state(PRESET, 1)
    assert torch.equal(torch.rand(3), expected_next)
    assert state_fingerprint(first) == state_fingerprint(seeded_text_state(PRESET, 1))
    assert state_fingerprint(first) != state_fingerprint(seeded_text_state(PRESET, 2))
    assert first and all(is_text_key(k) for k in first)


def test_clip_contrastive_text_tower_comes_from_its_seed_only():
    torch.manual_seed(0)
    a = CLIPContrastive(preset=PRESET, freeze_text_tower=True, text_init_seed=7).clip.state_dict()
    torch.manual_seed(1)
    b = CLIPContrastive(preset=PRESET, freeze_text_tower=True, text_init_seed=7).clip.state_dict()
    text = seeded_text_state(PRESET, 7)
    for key, value in text.items():
        assert torch.equal(a[key], value) and torch.equal(b[key], value)
    # The image tower still follows the global seed.
    assert not torch.equal(a['visual.conv1.weight'], b['visual.conv1.weight'])
    with pytest.raises(ValueError, match='needs freeze_text_tower=True'):
        CLIPContrastive(preset=PRESET, text_init_seed=7)


def test_pack_then_unpack_is_bit_for_bit_and_small(tmp_path):
    state = _trained_state()
    compact_path = str(tmp_path / 'vlm.seeded.pth')
    compact = pack_seeded_clip(state, PRESET, 3, compact_path)
    assert not any(is_text_key(k) for k in compact['trained'])
    rebuilt, _ = unpack_seeded_clip(compact_path)
    assert set(rebuilt) == set(state)
    assert all(torch.equal(rebuilt[k], state[k]) for k in state)
    assert state_fingerprint(rebuilt) == state_fingerprint(state)


def test_pack_refuses_a_text_tower_that_is_not_the_seeded_init(tmp_path):
    state = _trained_state()
    state['text_projection'] = state['text_projection'] + 1e-6
    with pytest.raises(ValueError, match=r"'text_projection' is not the seed-3 init"):
        pack_seeded_clip(state, PRESET, 3, str(tmp_path / 'x.pth'))
    assert not (tmp_path / 'x.pth').exists()
    with pytest.raises(ValueError, match='not the seed-4 init'):
        pack_seeded_clip(_trained_state(), PRESET, 4, str(tmp_path / 'x.pth'))


def test_unpack_refuses_a_tampered_file(tmp_path):
    path = tmp_path / 'vlm.seeded.pth'
    compact = pack_seeded_clip(_trained_state(), PRESET, 3, str(path))
    compact['trained']['logit_scale'] = compact['trained']['logit_scale'] + 1
    torch.save(compact, path)
    with pytest.raises(ValueError, match='differs from the trained one'):
        unpack_seeded_clip(str(path))
    torch.save({'weights': 1}, path)
    with pytest.raises(ValueError, match='not a compact CLIP file'):
        unpack_seeded_clip(str(path))


def test_cli_pack_unpack_check(tmp_path, capsys):
    cli = load_tool('tools/model_converters/seeded_clip.py')
    state = _trained_state()
    export = str(tmp_path / 'clip.pth')
    save_clip_weights(state, PRESET, export)
    compact = str(tmp_path / 'clip.seeded.pth')
    assert cli.main(['pack', export, compact, '--seed', '3']) == 0
    out = str(tmp_path / 'again' / 'clip.pth')
    assert cli.main(['unpack', compact, out]) == 0
    assert (tmp_path / 'again' / 'clip.json').is_file()
    assert cli.main(['check', compact, out]) == 0
    assert 'bit for bit the same' in capsys.readouterr().out
    other = _trained_state()
    other['visual.conv1.weight'] += 1e-7
    save_clip_weights(other, PRESET, str(tmp_path / 'other.pth'))
    assert cli.main(['check', compact, str(tmp_path / 'other.pth')]) == 1
    assert 'DIFFERENT' in capsys.readouterr().out
    assert cli.main(['pack', export, compact, '--seed', '4']) == 2
    assert 'not the seed-4 init' in capsys.readouterr().err
    assert cli.main(['unpack', str(tmp_path / 'missing.pth'), out]) == 2
