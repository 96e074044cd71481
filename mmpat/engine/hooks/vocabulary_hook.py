"""Keep an open-vocabulary segmentor's vocabulary equal to the classes of the running split."""

from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop
from mmseg.registry import HOOKS

from mmpat.utils.vocabulary import primary_name


@HOOKS.register_module()
class VocabularyHook(Hook):
    """Set the model's vocabulary from the dataset before training, validation and testing.

    The model must have ``set_vocabulary(class_names)`` (e.g. ``OpenVocabEncoderDecoder``).
    The class names come from the dataloader's ``dataset.metainfo['classes']``; a dataset may
    give synonyms per class under ``metainfo['class_synonyms']`` (list of lists), which are
    preferred when present.

    Before training, in the inductive zero-shot setting (``inductive=True``, the default), the
    training vocabulary must not name any class of the dataset's ``unseen_classes`` (e.g.
    ``ScenesDataset(split='train', vocabulary='seen')``); a transductive method (which may
    name unseen classes in training, as MVP-SEG+) sets ``inductive=False``.

    Args:
        inductive (bool): Refuse unseen class names in the training vocabulary.
    """

    priority = 'VERY_HIGH'

    def __init__(self, inductive: bool = True) -> None:
        self.inductive = inductive

    @staticmethod
    def _sync(runner, dataloader) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        dataset = getattr(dataloader, 'dataset', None)
        metainfo = getattr(dataset, 'metainfo', None) or {}
        names = metainfo.get('class_synonyms') or metainfo.get('classes')
        if not names:
            raise ValueError(
                f'VocabularyHook: the dataset {type(dataset).__name__} has no classes in its '
                'metainfo; set model.class_names in the config instead.'
            )
        if list(map(str, names)) != list(map(str, getattr(model, 'class_names', []))):
            model.set_vocabulary(list(names), palette=metainfo.get('palette'))

    def before_train(self, runner) -> None:
        self._sync(runner, runner.train_dataloader)
        if self.inductive:
            self._check_inductive(runner)

    @staticmethod
    def _check_inductive(runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        dataset = getattr(runner.train_dataloader, 'dataset', None)
        unseen_names = (getattr(dataset, 'metainfo', None) or {}).get('unseen_classes') or ()
        unseen = {primary_name(n) for n in unseen_names}  # 'tvmonitor, tv monitor' -> first
        names = {primary_name(n) for n in getattr(model, 'class_names', [])}
        leaked = sorted(names & unseen)
        if leaked:
            raise ValueError(
                f'VocabularyHook: the training vocabulary names unseen classes {leaked} '
                '(inductive zero-shot setting): train on the seen vocabulary (e.g. '
                "ScenesDataset(split='train', vocabulary='seen')), or set "
                'VocabularyHook(inductive=False) for a transductive method'
            )

    def before_val(self, runner) -> None:
        self._sync(runner, runner.val_dataloader)

    def before_test(self, runner) -> None:
        self._sync(runner, runner.test_dataloader)

    def after_val(self, runner) -> None:
        # When validating during training, training goes on with the training vocabulary.
        train_loop = getattr(runner, '_train_loop', None)
        if isinstance(train_loop, BaseLoop):
            self._sync(runner, train_loop.dataloader)
