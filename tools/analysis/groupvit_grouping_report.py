"""Diagnose a GroupViT zero-shot segmentor: is it the grouping or the naming that fails?

For every image of the config's test set (whole image, the config's preprocessing) it records
the final groups (argmax of the multiplied soft assignments, as the protocol), the protocol's
label map and the ground truth, then prints:

* groups in use per image, best-group IoU of the ground-truth objects;
* mIoU of the protocol, of the *oracle labelling* (each group named by its majority
  ground-truth class: the ceiling for these groups) and of the trivial baseline (most
  frequent class everywhere);
* dominant-object recognition: accuracy of the whole-image embedding and of the group holding
  most of the dominant object (for two-word class names such as 'red circle', also the first
  and the last word alone);
* the protocol's most confident group (highest class score S, the one group the background
  threshold always keeps): how often it is an object (its majority ground-truth class is not
  background) and how often it is then named right; and the mean top score S of object groups
  and of background groups (the threshold can only tell them apart if these differ); how often
  it is the group holding the most object pixels and the object share of its pixels;
* predicted and true foreground fraction (how the background threshold behaves);
* for a model trained with token-level losses (``GroupViTPretrain`` with a
  ``token_projector``), the protocol's mIoU with every group named by what its own tokens name
  (``token_group_logits``) instead of by its group token: when it is far above the protocol's
  mIoU, the groups and the tokens are right and the group tokens are what fails;
* for two-word class names, the text side: mean cosine between the class text embeddings of
  names that share the first word ('red circle' / 'red square') and of names that share the
  last word ('red circle' / 'blue circle'). Near 1 for one kind means the text tower ignores
  the other word: no image feature can then be named by it (on the scenes the shape words
  collapse, 1.000, while colours stay apart).

Example::

    python tools/analysis/groupvit_grouping_report.py \\
        projects/groupvit_scenes/configs/groupvit-tiny_scenes-captions.py \\
        work_dirs/groupvit-tiny_scenes-captions/iter_1000.pth [--max-images 100] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'config', help='a GroupViT config (zero-shot segmentor or GroupViTPretrain)'
    )
    parser.add_argument('checkpoint', help='weights (mmpat checkpoint, released .pth or HF)')
    parser.add_argument('--max-images', type=int, default=None, help='only the first N images')
    parser.add_argument('--json', action='store_true', help='print the report as JSON')
    parser.add_argument('--trust-checkpoint', action='store_true', help='allow trusted pickles')
    parser.add_argument('--cfg-options', nargs='+', default=[], help='key=value overrides')
    return parser.parse_args(argv)


def _words_right(pred: str, target: str) -> tuple[bool, bool] | None:
    """(first word right, last word right) for two-word names, else None."""
    p, t = pred.split(), target.split()
    if len(p) != 2 or len(t) != 2:
        return None
    return p[0] == t[0], p[1] == t[1]


def _mean_or_nan(values) -> float:
    """Mean of a possibly empty list (NaN when empty)."""
    return sum(float(v) for v in values) / len(values) if values else float('nan')


def shared_word_cosines(classes, text_emb) -> dict | None:
    """Mean cosine of class text embeddings whose names share the first / the last word.

    Args:
        classes (Sequence[str]): Class names (all must have two words, else None).
        text_emb: [C, D] tensor of their text embeddings (normalised here).

    Returns:
        dict | None: ``first_word`` and ``last_word`` means (NaN where no pair shares it).
    """
    from itertools import combinations

    import torch.nn.functional as F

    words = [name.split() for name in classes]
    if len(words) < 2 or any(len(w) != 2 for w in words):
        return None
    emb = F.normalize(text_emb.float(), dim=-1)
    sim = emb @ emb.t()
    pairs = dict(first_word=[], last_word=[])
    for i, j in combinations(range(len(words)), 2):
        for key, pos in (('first_word', 0), ('last_word', 1)):
            if words[i][pos] == words[j][pos]:
                pairs[key].append(float(sim[i, j]))
    return {key: _mean_or_nan(values) for key, values in pairs.items()}


def _record_confident_group(stats, groups, oracle, group_scores, offset, gt=None) -> None:
    """Is the protocol's most confident group (of those on the map) an object, named right?

    ``oracle`` is the map of each group's majority ground-truth class (``oracle_labels``).
    With the ground truth ``gt`` (and object pixels in it), also: is that group the one holding
    the most object pixels (``holds_most_object``), and the object share of its pixels
    (``object_share``)? A group that names the whole image while holding background shows here.
    """
    import numpy as np

    majority = {int(g): int(oracle[groups == g][0]) for g in np.unique(groups)}
    best = max(majority, key=lambda g: group_scores[g].max())
    if gt is not None:
        is_object = (gt != 0) & (gt != 255)
        if is_object.any():
            object_pixels = {g: int((is_object & (groups == g)).sum()) for g in majority}
            stats['holds_most_object'].append(object_pixels[best] == max(object_pixels.values()))
            stats['object_share'].append(object_pixels[best] / int((groups == best).sum()))
    stats['is_object'].append(majority[best] not in (0, 255))
    if stats['is_object'][-1]:
        stats['named_right'].append(int(group_scores[best].argmax()) + offset == majority[best])
    for group, label in majority.items():
        if label != 255:
            key = 'background_score' if label == 0 else 'object_score'
            stats[key].append(float(group_scores[group].max()))


def report(model, dataloader, max_images: int | None = None) -> dict:
    """Collect the statistics of the module docstring over a dataloader (batch size 1)."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from mmpat.evaluation.grouping_quality import best_group_ious, oracle_labels
    from mmpat.evaluation.metrics.open_vocab_iou import OpenVocabIoUMetric
    from mmpat.evaluation.trivial_baselines import constant_map_metrics

    meta = dict(dataloader.dataset.metainfo)
    classes = list(meta['classes'])
    model.set_vocabulary(classes)
    head = model.decode_head  # GroupViTZeroShotHead: the protocol
    offset = len(model.class_names) - len(model.text_class_names)  # 1: threshold background
    # Groups can be named by their tokens when the model's extension projects them
    # (ScenesGroupingLosses of projects/groupvit_scenes with a token-level term).
    extension = getattr(model, 'extension', None)
    by_tokens = getattr(extension, 'token_projector', None) is not None
    preds, oracles, gts, token_preds = [], [], [], []
    groups_used, object_ious, fg_pred, fg_true = [], [], [], []
    hits = dict(image=[], group=[], image_words=[], group_words=[])
    confident = dict(
        is_object=[],
        named_right=[],
        object_score=[],
        background_score=[],
        holds_most_object=[],
        object_share=[],
    )
    for index, batch in enumerate(dataloader):
        if max_images is not None and index >= max_images:
            break
        data = model.data_preprocessor(batch, False)
        inputs, sample = data['inputs'], data['data_samples'][0]
        gt = sample.gt_sem_seg.data[0].cpu().numpy().astype(np.int64)
        with torch.no_grad():
            feats = model.extract_feat(inputs)
            text = model.class_embeddings
            assign = head.group_assignment(feats, tuple(gt.shape))[0]
            logits = head.decode_groups(feats, text, inputs.shape[2:])
            logits = F.interpolate(logits, size=gt.shape, mode='bilinear', align_corners=False)
            image_emb = F.normalize(head.img_projector(feats['pooled']), dim=-1)[0]
            group_emb = F.normalize(head.img_projector(feats['tokens']), dim=-1)[0]
            group_scores = head.group_class_scores(feats, text)[0].cpu().numpy()  # [S, C]
            if by_tokens:
                named = head.decode_groups(
                    feats, text, inputs.shape[2:], extension.token_group_logits(model, feats)
                )
                named = F.interpolate(named, size=gt.shape, mode='bilinear', align_corners=False)
                token_preds.append(named[0].argmax(dim=0).cpu().numpy())
        groups = assign.argmax(dim=0).cpu().numpy()
        oracle = oracle_labels(groups, gt)
        if offset:
            _record_confident_group(confident, groups, oracle, group_scores, offset, gt)
        pred = logits[0].argmax(dim=0).cpu().numpy()
        preds.append(pred)
        gts.append(gt)
        oracles.append(oracle)
        groups_used.append(len(np.unique(groups)))
        object_ious += best_group_ious(groups, gt)
        valid = gt != 255
        fg_pred.append(float((pred[valid] != 0).mean()) if offset else float('nan'))
        fg_true.append(float((gt[valid] != 0).mean()) if offset else float('nan'))
        counts = np.bincount(gt[valid], minlength=len(classes))
        counts[:offset] = 0  # a leading background is never the dominant object
        if counts.sum() == 0:
            continue
        dominant = int(counts.argmax())
        owner = int(np.bincount(groups[gt == dominant]).argmax())
        for key, emb in (('image', image_emb), ('group', group_emb[owner])):
            guess = int((emb @ text.t()).argmax()) + offset
            hits[key].append(guess == dominant)
            words = _words_right(classes[guess], classes[dominant])
            if words is not None:
                hits[f'{key}_words'].append(words)
    if not gts:
        raise ValueError('the dataloader gave no images')
    metric = OpenVocabIoUMetric(dataset_meta=meta)
    result = dict(
        images=len(gts),
        groups_per_image=float(np.mean(groups_used)),
        object_best_group_iou=float(np.mean(object_ious)) if object_ious else float('nan'),
        mIoU_protocol=metric.evaluate_maps(preds, gts),
        mIoU_oracle_labels=metric.evaluate_maps(oracles, gts),
        trivial=constant_map_metrics(gts, meta),
        foreground_fraction=dict(pred=float(np.mean(fg_pred)), true=float(np.mean(fg_true))),
        dominant_object=dict(
            n=len(hits['image']),
            chance=1.0 / max(len(classes) - offset, 1),
            image_acc=_mean_or_nan(hits['image']),
            group_acc=_mean_or_nan(hits['group']),
        ),
    )
    if token_preds:
        result['mIoU_protocol_token_naming'] = metric.evaluate_maps(token_preds, gts)
    cosines = shared_word_cosines(classes[offset:], model.class_embeddings)
    if cosines is not None:
        result['text_cosines'] = cosines
    if confident['is_object']:
        result['confident_group'] = dict(
            object_fraction=_mean_or_nan(confident['is_object']),
            named_right=_mean_or_nan(confident['named_right']),
            object_score=_mean_or_nan(confident['object_score']),
            background_score=_mean_or_nan(confident['background_score']),
            holds_most_object=_mean_or_nan(confident['holds_most_object']),
            object_share=_mean_or_nan(confident['object_share']),
        )
    for key in ('image', 'group'):
        words = hits[f'{key}_words']
        if words:
            result['dominant_object'][f'{key}_first_word_acc'] = float(
                np.mean([w[0] for w in words])
            )
            result['dominant_object'][f'{key}_last_word_acc'] = float(
                np.mean([w[1] for w in words])
            )
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.trust_checkpoint:
        os.environ['MMPAT_TRUST_CHECKPOINTS'] = '1'
    import mmpat  # noqa: F401  (compat layer before mmseg)

    # isort: split
    from mmengine.runner import Runner
    from mmseg.utils import register_all_modules

    from mmpat.apis import load_groupvit_segmentor

    register_all_modules(init_default_scope=True)
    try:
        model, cfg = load_groupvit_segmentor(args.config, args.checkpoint, args.cfg_options)
    except (FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    loader_cfg = cfg.test_dataloader.to_dict()
    loader_cfg.update(batch_size=1, num_workers=0, persistent_workers=False)
    result = report(model, Runner.build_dataloader(loader_cfg), args.max_images)
    if args.json:
        print(json.dumps(result))
        return 0
    dom = result['dominant_object']
    print(f'{result["images"]} images; groups per image {result["groups_per_image"]:.2f}; '
          f'object best-group IoU {result["object_best_group_iou"]:.3f}')  # fmt: skip
    for name, key in (('protocol', 'mIoU_protocol'), ('oracle group labels', 'mIoU_oracle_labels'),
                      ('protocol, tokens name groups', 'mIoU_protocol_token_naming'),
                      ('trivial (most frequent class)', 'trivial')):  # fmt: skip
        if key not in result:
            continue
        values = result[key]
        print(f'  {name:30s} mIoU {values["mIoU"]:6.2f}  seen {values["mIoU_seen"]:6.2f}  '
              f'unseen {values["mIoU_unseen"]:6.2f}  hIoU {values["hIoU"]:6.2f}')  # fmt: skip
    if 'confident_group' in result:
        conf = result['confident_group']
        print(f'  most confident group: an object in {conf["object_fraction"]:.1%} of the images, '
              f'then named right {conf["named_right"]:.1%}; mean top score S of object groups '
              f'{conf["object_score"]:.4f}, '
              f'of background groups {conf["background_score"]:.4f}; it holds the most object '
              f'pixels in {conf["holds_most_object"]:.1%} of the images, object share of its '
              f'pixels {conf["object_share"]:.3f}')  # fmt: skip
    fg = result['foreground_fraction']
    print(f'  foreground fraction: predicted {fg["pred"]:.3f}, true {fg["true"]:.3f}')
    print(f'  dominant object ({dom["n"]} images, chance {dom["chance"]:.3f}): '
          f'image embedding {dom["image_acc"]:.3f}, its group {dom["group_acc"]:.3f}')  # fmt: skip
    if 'image_first_word_acc' in dom:
        print('  words right (first / last): image '
              f'{dom["image_first_word_acc"]:.3f} / {dom["image_last_word_acc"]:.3f}, group '
              f'{dom.get("group_first_word_acc", float("nan")):.3f} / '
              f'{dom.get("group_last_word_acc", float("nan")):.3f}')  # fmt: skip
    if 'text_cosines' in result:
        cos = result['text_cosines']
        print('  text: mean cosine of class names sharing the first word '
              f'{cos["first_word"]:.3f}, sharing the last word {cos["last_word"]:.3f}')  # fmt: skip
    return 0


if __name__ == '__main__':
    sys.exit(main())
