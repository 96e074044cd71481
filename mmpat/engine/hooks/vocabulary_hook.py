"""Keep an open-vocabulary segmentor's vocabulary equal to the classes of the running split."""

from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop
from mmseg.registry import HOOKS


@HOOKS.register_module()
class VocabularyHook(Hook):
    """Set the model's vocabulary from the dataset before training, validation and testing.

    The model must have ``set_vocabulary(class_names)`` (e.g. ``OpenVocabEncoderDecoder``).
    The class names come from the dataloader's ``dataset.metainfo['classes']``; a dataset may
    give synonyms per class under ``metainfo['class_synonyms']`` (list of lists), which are
    preferred when present.
    """

    priority = 'VERY_HIGH'

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

    def before_val(self, runner) -> None:
        self._sync(runner, runner.val_dataloader)

    def before_test(self, runner) -> None:
        self._sync(runner, runner.test_dataloader)

    def after_val(self, runner) -> None:
        # When validating during training, training goes on with the training vocabulary.
        train_loop = getattr(runner, '_train_loop', None)
        if isinstance(train_loop, BaseLoop):
            self._sync(runner, train_loop.dataloader)
