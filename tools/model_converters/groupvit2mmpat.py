"""Convert GroupViT weights (released ``.pth`` or HF ``GroupViTModel`` state dict) to mmpat.

Examples::

    python tools/model_converters/groupvit2mmpat.py \
        checkpoints/group_vit_gcc_yfcc_30e-879422e0.pth checkpoints/groupvit-s_gcc-yfcc_mmpat.pth
    # HF: save `GroupViTModel.from_pretrained(...).state_dict()` with torch.save first
    python tools/model_converters/groupvit2mmpat.py hf_groupvit_state_dict.pth out.pth
    # record the vocabulary of the config the checkpoint is meant for
    python tools/model_converters/groupvit2mmpat.py \
        checkpoints/group_vit_gcc_yfcc_30e-879422e0.pth checkpoints/groupvit-s_voc_mmpat.pth \
        --config configs/groupvit/groupvit-s_gcc-yfcc_zeroshot_voc.py

The released files also hold the training config and optimizer state, which the safe loader
refuses; pass ``--trust-checkpoint`` for files you trust. The output is
``{'state_dict': ..., 'meta': ...}`` in the layout of the GroupViT zero-shot segmentor
(``OpenVocabEncoderDecoder``: ``backbone.*``, ``text_encoder.*`` with its projector,
``decode_head.*`` with the image projector and the temperatures), loadable with
``load_from=``, as the checkpoint of ``tools/test.py`` / ``mmseg.apis.init_model``, or as the
``pretrained=`` of the backbone, text encoder and head. A checkpoint of mmpat's former layout
(projectors and temperatures at the top level) is rewritten to the current one. With ``--arch``
(default GroupViT-S) the shapes are checked against that architecture and a checkpoint of
another variant is refused with the shapes listed. The work is done by
:func:`mmpat.models.groupvit.convert_groupvit_state_dict`.

Vocabulary: GroupViT weights have none (one file serves the VOC, Context and COCO-Object
configs). With ``--config`` the output's ``meta.dataset_meta`` holds the classes of that
config's test dataset, which ``mmseg.apis.init_model`` / ``MMSegInferencer`` then give the
model, whatever config it is used with. Without it the checkpoint has no ``dataset_meta`` and
the model takes the classes of the test dataset of the config it is built from (mmseg's
Cityscapes default is refused).
"""

from __future__ import annotations

import argparse
import os
import os.path as osp
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='released GroupViT .pth or an HF GroupViTModel state dict')
    parser.add_argument('dst', help='output mmpat checkpoint')
    parser.add_argument('--arch', default='GroupViT-S', help='check shapes against this preset')
    parser.add_argument('--no-check', action='store_true', help='skip the shape check')
    parser.add_argument(
        '--config',
        default=None,
        help="record this config's test dataset classes as meta.dataset_meta (vocabulary)",
    )
    parser.add_argument(
        '--trust-checkpoint', action='store_true', help='allow arbitrary pickles (trusted files)'
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.trust_checkpoint:
        os.environ['MMPAT_TRUST_CHECKPOINTS'] = '1'
    import torch
    from mmseg.registry import MODELS

    import mmpat  # noqa: F401  (registers the models)
    from mmpat.compat import load_checkpoint_file
    from mmpat.models.groupvit import groupvit_zero_shot_cfg
    from mmpat.models.groupvit.convert import (
        check_groupvit_shapes,
        convert_groupvit_state_dict,
        groupvit_checkpoint,
    )

    try:
        dataset_meta = None
        if args.config is not None:
            from mmengine.config import Config

            from mmpat.models.segmentors.config_vocabulary import (
                vocabulary_from_config,
                vocabulary_meta,
            )

            if not osp.isfile(args.config):
                raise FileNotFoundError(f'config {args.config!r} does not exist')
            dataset_meta = vocabulary_meta(*vocabulary_from_config(Config.fromfile(args.config)))
        checkpoint = load_checkpoint_file(args.src, map_location='cpu')
        state_dict = convert_groupvit_state_dict(checkpoint)
        if not args.no_check:
            model = MODELS.build(groupvit_zero_shot_cfg(args.arch))
            check_groupvit_shapes(model, state_dict, args.arch)
    except (FileNotFoundError, ValueError, KeyError, RuntimeError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    meta = dict(source=osp.basename(args.src), arch=args.arch, converter='groupvit2mmpat')
    torch.save(groupvit_checkpoint(state_dict, meta=meta, dataset_meta=dataset_meta), args.dst)
    vocabulary = f', {len(dataset_meta["classes"])} classes' if dataset_meta else ''
    print(f'wrote {args.dst}: {len(state_dict)} tensors{vocabulary}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
