"""mmpat: open-vocabulary semantic segmentation parts for MMSegmentation 1.x.

Importing mmpat first applies the compatibility layer (:mod:`mmpat.compat`), then registers
every mmpat module into mmseg's registries, so mmseg configs can use mmpat parts with
``custom_imports = dict(imports=['mmpat'], allow_failed_imports=False)``.
"""

from . import compat
from .version import __version__

compat.apply()

from . import datasets, engine, evaluation, models  # noqa: E402  (registration needs the compat layer)

compat.install_inferencer_vocabulary()  # needs mmseg imported, so after the registration

__all__ = ['__version__', 'compat', 'datasets', 'engine', 'evaluation', 'models']
