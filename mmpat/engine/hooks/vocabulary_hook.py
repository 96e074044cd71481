"""Keep an open-vocabulary segmentor's vocabulary equal to the classes of the running split."""

from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop
from mmseg.registry import HOOKS

from mmpat.models.segmentors.config_vocabulary import vocabulary_from_config, vocabulary_meta
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

    Every checkpoint the runner saves carries the vocabulary of the config's test dataset (all
    its classes, the unseen ones too; the model's own vocabulary when the config has no test
    dataset) as ``meta.dataset_meta`` (``classes``: display names, ``palette``,
    ``class_synonyms``), which ``mmseg.apis.init_model`` and ``MMSegInferencer`` give back to
    the model; mmengine's own entry (the training dataset's metainfo) moves to
    ``meta.train_dataset_meta`` and is put back on load, so resuming compares it as before.

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

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        # The vocabulary the model is tested with (the config's test dataset), not the one it
        # is trained with at the moment of saving: an inductive zero-shot model trains on the
        # seen classes only, and a checkpoint naming those would never predict an unseen class
        # in init_model / MMSegInferencer. Without a test dataset, the model's own vocabulary.
        try:
            vocabulary = vocabulary_meta(*vocabulary_from_config(runner.cfg))
        except (ValueError, KeyError, FileNotFoundError) as error:
            own = getattr(model, 'checkpoint_meta', None)
            vocabulary = own() if own is not None else None
            if vocabulary is None:
                runner.logger.warning(
                    f'VocabularyHook: the checkpoint records no vocabulary ({error})'
                )
                return
        meta = checkpoint.setdefault('meta', {})
        if 'dataset_meta' in meta:
            meta['train_dataset_meta'] = meta['dataset_meta']
        meta['dataset_meta'] = vocabulary

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.get('meta')
        if isinstance(meta, dict) and 'train_dataset_meta' in meta:
            meta['dataset_meta'] = meta.pop('train_dataset_meta')

    def before_val(self, runner) -> None:
        self._sync(runner, runner.val_dataloader)

    def before_test(self, runner) -> None:
        self._sync(runner, runner.test_dataloader)

    def after_val(self, runner) -> None:
        # When validating during training, training goes on with the training vocabulary.
        train_loop = getattr(runner, '_train_loop', None)
        if isinstance(train_loop, BaseLoop):
            self._sync(runner, train_loop.dataloader)
