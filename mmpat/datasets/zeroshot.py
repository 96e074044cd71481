"""Zero-shot benchmark datasets (``docs/zero_shot_datasets.md``), registered in mmseg ``DATASETS``.

================  ===========================  =====  ======================================
benchmark         dataset type                 ids    labels
================  ===========================  =====  ======================================
A-150             ``ADE20K150Dataset``         150    uint8, 0 ignored (reduce_zero_label)
A-847             ``ADE20K847Dataset``         847    uint16, ignore 65535
PC-59             ``PascalContext59Dataset``   59     uint8, 0 (bg) ignored
PC-459            ``PascalContext459Dataset``  459    uint16, ignore 65535
Context-60        ``PascalContext60Dataset``   bg+59  uint8, ignore 255
VOC-20            ``PascalVOC20Dataset``       20     uint8, 0 (bg) and 255 ignored
VOC-21            ``PascalVOC21Dataset``       bg+20  uint8, ignore 255 (GroupViT names)
COCO-Stuff        ``COCOStuff171Dataset``      171    uint8, ignore 255
COCO-Object       ``COCOObjectDataset``        bg+80  uint8, ignore 255
================  ===========================  =====  ======================================

The 16-bit datasets need ``LoadAnnotationsUint16`` (mmseg's loader casts to uint8). VOC-20,
PC-59, Context-60 (background seen) and COCO-Stuff-171 carry the zero-shot splits of the
MaskCLIP+ and MVP-SEG papers as ``seen_classes`` / ``unseen_classes`` metainfo (class names); on
them ``vocabulary='seen'`` and ``unlabelled_unseen=True`` give the inductive and the transductive
zero-shot training sets (see :mod:`.zeroshot_base`). Class lists may be replaced through
``metainfo=dict(classes=...)`` by a subset or by the same classes with synonyms ("tvmonitor, tv
monitor"); dropped classes become ``ignore_index``.
"""

from __future__ import annotations

from mmseg.datasets import (
    ADE20KDataset,
    BaseSegDataset,
    COCOStuffDataset,
    PascalContextDataset,
    PascalContextDataset59,
    PascalVOCDataset,
)
from mmseg.registry import DATASETS

from .class_names import (
    ADE150_CLASSES,
    ADE847_CLASSES,
    COCO_OBJECT81_CLASSES,
    COCO_STUFF171_CLASSES,
    CONTEXT60_CLASSES,
    PC59_CLASSES,
    PC459_CLASSES,
    UNSEEN_CLASSES,
    VOC20_CLASSES,
    VOC21_GROUPVIT_CLASSES,
    seen_unseen_split,
)
from .zeroshot_base import ZeroShotDatasetMixin

UINT16_IGNORE = 65535


def _split_meta(classes: tuple[str, ...], key: str) -> dict:
    seen, unseen = seen_unseen_split(classes, UNSEEN_CLASSES[key])
    return dict(
        seen_classes=tuple(classes[i] for i in seen),
        unseen_classes=tuple(classes[i] for i in unseen),
    )


@DATASETS.register_module()
class ADE20K150Dataset(ZeroShotDatasetMixin, ADE20KDataset):
    """A-150: ADE20K SceneParsing val (``ADEChallengeData2016``), mmseg layout and labels.

    mmseg's ``ADE20KDataset`` with stripped class names ('bed ' -> 'bed'); pass
    ``metainfo=dict(classes=ADE150_SYNONYMS)`` for the WordNet synonyms.
    """

    METAINFO = dict(classes=ADE150_CLASSES, palette=ADE20KDataset.METAINFO['palette'])


@DATASETS.register_module()
class ADE20K847Dataset(ZeroShotDatasetMixin, BaseSegDataset):
    """A-847: ADE20K-full val, 16-bit label maps (ids 0..846, ignore 65535).

    Made by ``tools/dataset_converters/ade20k_full.py``: ``images/validation/*.jpg`` and
    ``annotations/validation/*.png`` under the data root. Label maps prepared the detectron2
    way (``annotations_detectron2/validation/*.tif``) work too with ``seg_map_suffix='.tif'``.

    Args:
        img_suffix: Image file suffix.
        seg_map_suffix: Label map suffix ('.png' or '.tif', 16-bit).
        ignore_index: Ignore value of the label maps.
        **kwargs: ``BaseSegDataset`` arguments (data_root, data_prefix, pipeline, ...).
    """

    METAINFO = dict(classes=ADE847_CLASSES)

    def __init__(
        self,
        *,
        img_suffix: str = '.jpg',
        seg_map_suffix: str = '.png',
        ignore_index: int = UINT16_IGNORE,
        **kwargs,
    ) -> None:
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            ignore_index=ignore_index,
            **kwargs,
        )


@DATASETS.register_module()
class PascalContext459Dataset(ZeroShotDatasetMixin, BaseSegDataset):
    """PC-459: PASCAL Context full val, 16-bit label maps (ids 0..458, ignore 65535).

    Made by ``tools/dataset_converters/pascal_context_459.py`` under ``VOCdevkit/VOC2010``:
    ``SegmentationClassContext459/*.png`` and ``ImageSets/SegmentationContext459/val.txt``.

    Args:
        ann_file: Split file (one image id a line), relative to the data root.
        img_suffix: Image file suffix.
        seg_map_suffix: Label map suffix (16-bit PNG or TIFF).
        ignore_index: Ignore value of the label maps.
        **kwargs: ``BaseSegDataset`` arguments.
    """

    METAINFO = dict(classes=PC459_CLASSES)

    def __init__(
        self,
        *,
        ann_file: str = '',
        img_suffix: str = '.jpg',
        seg_map_suffix: str = '.png',
        ignore_index: int = UINT16_IGNORE,
        **kwargs,
    ) -> None:
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(
            ann_file=ann_file,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            ignore_index=ignore_index,
            **kwargs,
        )


@DATASETS.register_module()
class PascalContext59Dataset(ZeroShotDatasetMixin, PascalContextDataset59):
    """PC-59: PASCAL Context val, 59 classes, background (0) ignored; mmseg layout.

    Carries the Context zero-shot split (10 unseen classes) as ``seen_classes`` /
    ``unseen_classes`` metainfo.
    """

    METAINFO = dict(
        classes=PC59_CLASSES,
        palette=PascalContextDataset59.METAINFO['palette'],
        **_split_meta(PC59_CLASSES, 'pascal_context59'),
    )


@DATASETS.register_module()
class PascalContext60Dataset(ZeroShotDatasetMixin, PascalContextDataset):
    """Context-60: 'background' + the 59 classes, mmseg layout, labels 0..59, ignore 255.

    In the GroupViT protocol the model decides the background by a threshold (0.35 for Context;
    ``docs/methods/groupvit.md``). In MVP-SEG's / MaskCLIP+'s PASCAL Context protocol (59
    classes + background) it carries the Context zero-shot split (the 10 unseen classes of
    PC-59) as ``seen_classes`` / ``unseen_classes`` metainfo, 'background' counted as seen.
    """

    METAINFO = dict(
        classes=CONTEXT60_CLASSES,
        palette=PascalContextDataset.METAINFO['palette'],
        **_split_meta(CONTEXT60_CLASSES, 'pascal_context59'),
    )


@DATASETS.register_module()
class PascalVOC20Dataset(ZeroShotDatasetMixin, PascalVOCDataset):
    """VOC-20: PASCAL VOC 2012 val without background (label 0 and 255 ignored).

    Carries the VOC zero-shot split (potted plant, sheep, sofa, train, tv monitor) as metainfo.

    Args:
        ann_file: Split file relative to the data root.
        **kwargs: ``PascalVOCDataset`` arguments.
    """

    METAINFO = dict(
        classes=VOC20_CLASSES,
        palette=PascalVOCDataset.METAINFO['palette'][1:],
        **_split_meta(VOC20_CLASSES, 'voc20'),
    )

    def __init__(self, *, ann_file: str, **kwargs) -> None:
        kwargs.setdefault('reduce_zero_label', True)
        super().__init__(ann_file=ann_file, **kwargs)


@DATASETS.register_module()
class PascalVOC21Dataset(ZeroShotDatasetMixin, PascalVOCDataset):
    """VOC-21 (GroupViT protocol): 'background' + 20 classes named as GroupViT does ('table',
    'plant', 'monitor'); the model decides the background by a threshold (0.95 for VOC;
    ``docs/methods/groupvit.md``).

    Args:
        ann_file: Split file relative to the data root.
        **kwargs: ``PascalVOCDataset`` arguments.
    """

    METAINFO = dict(classes=VOC21_GROUPVIT_CLASSES, palette=PascalVOCDataset.METAINFO['palette'])

    def __init__(self, *, ann_file: str, **kwargs) -> None:
        super().__init__(ann_file=ann_file, **kwargs)


@DATASETS.register_module()
class COCOStuff171Dataset(ZeroShotDatasetMixin, COCOStuffDataset):
    """COCO-Stuff-171 (164k val, mmseg ``*_labelTrainIds.png``), with the COCO-Stuff zero-shot
    split (15 unseen classes) as metainfo."""

    METAINFO = dict(
        classes=COCO_STUFF171_CLASSES,
        palette=COCOStuffDataset.METAINFO['palette'],
        **_split_meta(COCO_STUFF171_CLASSES, 'coco_stuff171'),
    )


@DATASETS.register_module()
class COCOObjectDataset(ZeroShotDatasetMixin, BaseSegDataset):
    """COCO-Object (GroupViT protocol): 'background' + 80 things on COCO val2017.

    Label maps from ``tools/dataset_converters/coco_object.py`` (things 1..80, everything else
    0, ignore 255), named ``<image id>_instanceTrainIds.png`` next to the COCO-Stuff maps.
    The model decides the background by a threshold (0.95 for COCO-Object;
    ``docs/methods/groupvit.md``).

    Args:
        img_suffix: Image file suffix.
        seg_map_suffix: Label map suffix.
        **kwargs: ``BaseSegDataset`` arguments.
    """

    METAINFO = dict(
        classes=COCO_OBJECT81_CLASSES,
        palette=[[0, 0, 0]] + list(COCOStuffDataset.METAINFO['palette'][:80]),
    )

    def __init__(
        self,
        *,
        img_suffix: str = '.jpg',
        seg_map_suffix: str = '_instanceTrainIds.png',
        **kwargs,
    ) -> None:
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)


__all__ = [
    'ADE20K150Dataset',
    'ADE20K847Dataset',
    'COCOObjectDataset',
    'COCOStuff171Dataset',
    'PascalContext459Dataset',
    'PascalContext59Dataset',
    'PascalContext60Dataset',
    'PascalVOC20Dataset',
    'PascalVOC21Dataset',
]
