"""``PseudoLabelHook``: MVP-SEG+'s transductive knowledge transfer to a student segmentor.

Before every training iteration, unlabelled pixels (``ignore_index`` in the ground truth: in the
transductive zero-shot setting this is where the unseen classes are) get pseudo-labels of the
unseen classes: from a trained teacher (an MVP-SEG model) for the first ``switch_iter``
iterations, then from the student itself (self-training). The label of a pixel is the argmax
over the unseen classes (the paper's rule: every unlabelled pixel is taken for an unseen one).
Where the data also has unlabelled pixels that are not unseen objects (VOC's object boundaries,
COCO-Stuff's unlabelled areas), ``only_where_unseen_wins=True`` labels a pixel only where the
labeller's argmax over the whole vocabulary is an unseen class, so the others stay ignored.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS, MODELS

from mmpat.compat import load_checkpoint_file
from mmpat.utils.vocabulary import primary_name


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


def _drop_pretrained(node) -> None:
    if isinstance(node, dict):
        for key in list(node):
            if key == 'pretrained':
                node[key] = None
            else:
                _drop_pretrained(node[key])
    elif isinstance(node, list):
        for item in node:
            _drop_pretrained(item)


def load_teacher(config: str, checkpoint: str, cfg_options: dict | None = None):
    """Build a segmentor from ``config`` and load ``checkpoint`` strictly.

    The checkpoint holds every weight (mmengine saves the frozen CLIP towers too), so the
    config's ``pretrained`` files are not read: the teacher needs only its checkpoint.

    Raises:
        FileNotFoundError: The config or the checkpoint is missing (named).
        ValueError: The checkpoint's keys do not fit the model (a few are named).
    """
    for what, path in (('teacher_config', config), ('teacher_checkpoint', checkpoint)):
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f'PseudoLabelHook: {what} {path} not found (train the MVP-SEG teacher first, '
                'e.g. python tools/train.py <its config>)'
            )
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model_cfg = cfg.model.to_dict()
    _drop_pretrained(model_cfg)
    model = MODELS.build(model_cfg)
    state = load_checkpoint_file(checkpoint)
    state = state.get('state_dict', state) if isinstance(state, dict) else state
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if 'attn_mask' not in k]
    if missing or unexpected:
        raise ValueError(
            f'PseudoLabelHook: the teacher checkpoint {checkpoint} does not fit {config}: '
            f'missing keys {missing[:5]}{" ..." if len(missing) > 5 else ""}, unexpected keys '
            f'{list(unexpected)[:5]}{" ..." if len(unexpected) > 5 else ""}'
        )
    return model.eval()


@torch.no_grad()
def fill_pseudo_labels(
    labeller,
    data_batch: dict,
    unseen: Sequence[int],
    ignore_index: int = 255,
    only_where_unseen_wins: bool = False,
) -> float:
    """Write pseudo-labels into the ignored pixels of ``data_batch``'s ground truth, in place.

    Args:
        labeller: A segmentor with ``data_preprocessor`` and ``inference`` (mmseg's API) and
            the same vocabulary as the ground truth.
        data_batch (dict): The dataloader's batch (``inputs``, ``data_samples``).
        unseen (Sequence[int]): Vocabulary indices of the unseen classes.
        ignore_index (int): The unlabelled value.
        only_where_unseen_wins (bool): See the module docstring.

    Returns:
        float: Fraction of the batch's pixels that received a pseudo-label.
    """
    samples = [s.clone() for s in data_batch['data_samples']]  # the preprocessor pads them
    data = labeller.data_preprocessor(dict(inputs=data_batch['inputs'], data_samples=samples), True)
    metas = [s.metainfo for s in data['data_samples']]
    logits = labeller.inference(data['inputs'], metas)  # [B, C, H, W], padded size
    unseen_index = torch.as_tensor(list(unseen), device=logits.device)
    best_unseen = unseen_index[logits[:, unseen_index].argmax(dim=1)]  # [B, H, W]
    wins = logits.argmax(dim=1) == best_unseen
    filled = total = 0
    for row, sample in enumerate(data_batch['data_samples']):
        gt = sample.gt_sem_seg.data  # [1, h, w], before padding (top-left of the batch)
        height, width = gt.shape[-2:]
        label = best_unseen[row, :height, :width].to(gt)
        target = gt[0] == ignore_index
        if only_where_unseen_wins:
            target &= wins[row, :height, :width].to(target.device)
        gt[0][target] = label[target.to(label.device)].to(gt.device)
        filled += int(target.sum())
        total += height * width
    return filled / max(total, 1)


@HOOKS.register_module()
class PseudoLabelHook(Hook):
    """Pseudo-label the unseen classes from a teacher, then from the student (MVP-SEG+).

    The student (the runner's model, e.g. ``OpenVocabEncoderDecoder`` with a DeepLab head whose
    classifier is ``MultiViewPromptTextEncoder``) trains on the whole vocabulary (transductive:
    use ``VocabularyHook(inductive=False)``). The teacher is built from its config and loaded
    from its checkpoint at the start of training (lazily, so a run resumed after
    ``switch_iter`` never needs it); it gets the student's vocabulary.

    Args:
        teacher_config (str): Config file of the teacher (e.g. an MVP-SEG config).
        teacher_checkpoint (str): Its trained checkpoint.
        switch_iter (int): Iterations labelled by the teacher; later ones by the student.
        unseen_classes (Sequence[str], optional): Unseen class names (default: the training
            dataset's ``unseen_classes`` metainfo).
        teacher_cfg_options (dict, optional): Overrides of the teacher config (e.g. the CLIP
            weights path, ``{'model.backbone.pretrained': ...}``).
        only_where_unseen_wins (bool): Label only where an unseen class wins overall.
        ignore_index (int): The unlabelled value of the ground truth.
    """

    priority = 'NORMAL'

    def __init__(
        self,
        *,
        teacher_config: str,
        teacher_checkpoint: str,
        switch_iter: int,
        unseen_classes: Sequence[str] | None = None,
        teacher_cfg_options: dict | None = None,
        only_where_unseen_wins: bool = False,
        ignore_index: int = 255,
    ) -> None:
        if switch_iter < 0:
            raise ValueError(f'switch_iter must be >= 0, got {switch_iter}')
        self.teacher_config = teacher_config
        self.teacher_checkpoint = teacher_checkpoint
        self.switch_iter = switch_iter
        self.unseen_classes = None if unseen_classes is None else list(unseen_classes)
        self.teacher_cfg_options = teacher_cfg_options
        self.only_where_unseen_wins = only_where_unseen_wins
        self.ignore_index = ignore_index
        self.teacher = None
        self.unseen: list[int] = []
        self.last_source: str | None = None

    def before_train(self, runner) -> None:
        self._prepare(runner)

    def _prepare(self, runner) -> None:
        student = _unwrap(runner.model)
        names = [primary_name(n) for n in getattr(student, 'class_names', [])]
        if not names:
            raise RuntimeError('PseudoLabelHook: the student has no vocabulary (VocabularyHook?)')
        unseen = self.unseen_classes
        if unseen is None:
            dataset = getattr(runner.train_dataloader, 'dataset', None)
            unseen = list((getattr(dataset, 'metainfo', None) or {}).get('unseen_classes') or ())
        unseen = [primary_name(n) for n in unseen]
        absent = [n for n in unseen if n not in names]
        if not unseen or absent:
            raise ValueError(
                f'PseudoLabelHook: unseen classes {absent or "(none given)"} are not in the '
                f'student vocabulary {names[:8]}...; train the student on the whole vocabulary '
                "(transductive) and give unseen_classes or a dataset with 'unseen_classes'"
            )
        self.unseen = [names.index(n) for n in unseen]
        if runner.iter < self.switch_iter:
            self._build_teacher(runner, student)

    def _build_teacher(self, runner, student) -> None:
        teacher = load_teacher(
            self.teacher_config, self.teacher_checkpoint, self.teacher_cfg_options
        )
        device = next(student.parameters()).device
        teacher = teacher.to(device)
        teacher.set_vocabulary(list(student.class_names))
        for param in teacher.parameters():
            param.requires_grad = False
        self.teacher = teacher
        runner.logger.info(
            f'PseudoLabelHook: teacher {self.teacher_config} ({self.teacher_checkpoint}) labels '
            f'the unseen classes until iteration {self.switch_iter}, then self-training'
        )

    def before_train_iter(self, runner, batch_idx: int, data_batch: dict | None = None) -> None:
        if data_batch is None:
            return
        if not self.unseen:
            self._prepare(runner)
        student = _unwrap(runner.model)
        if runner.iter < self.switch_iter:
            if self.teacher is None:
                self._build_teacher(runner, student)
            labeller, self.last_source = self.teacher, 'teacher'
        else:
            if self.teacher is not None:
                self.teacher = None  # frees its memory after the switch
                runner.logger.info('PseudoLabelHook: switched to self-training')
            labeller, self.last_source = student, 'student'
        was_training = student.training
        student.eval()  # batch norm statistics must not see the labelling pass
        try:
            fraction = fill_pseudo_labels(
                labeller,
                data_batch,
                self.unseen,
                ignore_index=self.ignore_index,
                only_where_unseen_wins=self.only_where_unseen_wins,
            )
        finally:
            student.train(was_training)
        runner.message_hub.update_scalar('train/pseudo_label_fraction', fraction)
