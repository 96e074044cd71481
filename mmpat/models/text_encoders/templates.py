"""Prompt template sets for encoding class names with a CLIP text tower.

- ``'simple'``: one template, ``'a photo of a {}.'``;
- ``'vild'``: the 14 templates of ViLD (as in mmseg's ``get_templates``);
- ``'imagenet'``: the 80 ImageNet templates of the CLIP paper's prompt ensemble;
- ``'maskclip'``: MaskCLIP's 85: the 80 ImageNet templates and 5 scene templates.

Each template holds one ``{}``, replaced by the class name.
"""

from __future__ import annotations

from collections.abc import Sequence

SIMPLE_TEMPLATES = ('a photo of a {}.',)

VILD_TEMPLATES = (
    'a photo of a {}.',
    'This is a photo of a {}',
    'There is a {} in the scene',
    'There is the {} in the scene',
    'a photo of a {} in the scene',
    'a photo of a small {}.',
    'a photo of a medium {}.',
    'a photo of a large {}.',
    'This is a photo of a small {}.',
    'This is a photo of a medium {}.',
    'This is a photo of a large {}.',
    'There is a small {} in the scene.',
    'There is a medium {} in the scene.',
    'There is a large {} in the scene.',
)

# The CLIP paper's ImageNet prompt ensemble (in its published order).
IMAGENET_TEMPLATES = (
    'a bad photo of a {}.',
    'a photo of many {}.',
    'a sculpture of a {}.',
    'a photo of the hard to see {}.',
    'a low resolution photo of the {}.',
    'a rendering of a {}.',
    'graffiti of a {}.',
    'a bad photo of the {}.',
    'a cropped photo of the {}.',
    'a tattoo of a {}.',
    'the embroidered {}.',
    'a photo of a hard to see {}.',
    'a bright photo of a {}.',
    'a photo of a clean {}.',
    'a photo of a dirty {}.',
    'a dark photo of the {}.',
    'a drawing of a {}.',
    'a photo of my {}.',
    'the plastic {}.',
    'a photo of the cool {}.',
    'a close-up photo of a {}.',
    'a black and white photo of the {}.',
    'a painting of the {}.',
    'a painting of a {}.',
    'a pixelated photo of the {}.',
    'a sculpture of the {}.',
    'a bright photo of the {}.',
    'a cropped photo of a {}.',
    'a plastic {}.',
    'a photo of the dirty {}.',
    'a jpeg corrupted photo of a {}.',
    'a blurry photo of the {}.',
    'a photo of the {}.',
    'a good photo of the {}.',
    'a rendering of the {}.',
    'a {} in a video game.',
    'a photo of one {}.',
    'a doodle of a {}.',
    'a close-up photo of the {}.',
    'a photo of a {}.',
    'the origami {}.',
    'the {} in a video game.',
    'a sketch of a {}.',
    'a doodle of the {}.',
    'a origami {}.',
    'a low resolution photo of a {}.',
    'the toy {}.',
    'a rendition of the {}.',
    'a photo of the clean {}.',
    'a photo of a large {}.',
    'a rendition of a {}.',
    'a photo of a nice {}.',
    'a photo of a weird {}.',
    'a blurry photo of a {}.',
    'a cartoon {}.',
    'art of a {}.',
    'a sketch of the {}.',
    'a embroidered {}.',
    'a pixelated photo of a {}.',
    'itap of the {}.',
    'a jpeg corrupted photo of the {}.',
    'a good photo of a {}.',
    'a plushie {}.',
    'a photo of the nice {}.',
    'a photo of the small {}.',
    'a photo of the weird {}.',
    'the cartoon {}.',
    'art of the {}.',
    'a drawing of the {}.',
    'a photo of the large {}.',
    'a black and white photo of a {}.',
    'the plushie {}.',
    'a dark photo of a {}.',
    'itap of a {}.',
    'graffiti of the {}.',
    'a toy {}.',
    'itap of my {}.',
    'a photo of a cool {}.',
    'a photo of a small {}.',
    'a tattoo of the {}.',
)

# MaskCLIP adds five scene templates to the ImageNet ensemble.
MASKCLIP_TEMPLATES = IMAGENET_TEMPLATES + (
    'there is a {} in the scene.',
    'there is the {} in the scene.',
    'this is a {} in the scene.',
    'this is the {} in the scene.',
    'this is one {} in the scene.',
)

TEMPLATE_SETS: dict[str, tuple[str, ...]] = {
    'simple': SIMPLE_TEMPLATES,
    'vild': VILD_TEMPLATES,
    'imagenet': IMAGENET_TEMPLATES,
    'maskclip': MASKCLIP_TEMPLATES,
}


def get_templates(templates: str | Sequence[str]) -> tuple[str, ...]:
    """Resolve a template set name or validate a list of templates.

    Args:
        templates: A name of :data:`TEMPLATE_SETS` or a sequence of templates with one ``{}``.

    Returns:
        tuple[str, ...]: The templates.

    Raises:
        ValueError: Unknown name, empty list, or a template without exactly one ``{}``.
    """
    if isinstance(templates, str):
        if templates not in TEMPLATE_SETS:
            raise ValueError(
                f'Unknown template set {templates!r}; known: {", ".join(TEMPLATE_SETS)} '
                '(or give a list of templates with one "{}" each)'
            )
        return TEMPLATE_SETS[templates]
    templates = tuple(templates)
    if not templates:
        raise ValueError('empty template list')
    bad = [t for t in templates if not isinstance(t, str) or t.count('{}') != 1]
    if bad:
        raise ValueError(f'templates need exactly one "{{}}" each; bad: {bad[:3]}')
    return templates
