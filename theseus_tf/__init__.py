"""theseus_tf: BERT-of-Theseus progressive module replacing for TensorFlow/Keras.

The core (`ModuleReplacing`, schedules, `ReplacementScheduler`,
`strip_successor`) is imported here; the subpackages `models`, `data`,
`export`, `metrics` and `utils` on first use (`theseus_tf.models...`), so
that `import theseus_tf` stays quick.
"""

import importlib

from theseus_tf import schedules
from theseus_tf.module_grouping import group_modules
from theseus_tf.module_grouping import select_successor_layers
from theseus_tf.module_replacing import ModuleReplacing
from theseus_tf.module_replacing import module_replacing_layers
from theseus_tf.module_stack import ModuleStack
from theseus_tf.replace_modules import build_successor_layers
from theseus_tf.replace_modules import copy_layer
from theseus_tf.replace_modules import replace_modules
from theseus_tf.replacement_scheduler import ReplacementScheduler
from theseus_tf.sequential_block import SequentialBlock
from theseus_tf.strip_successor import strip_successor

__version__ = "0.1.0"

_SUBPACKAGES = ("data", "export", "metrics", "models", "utils")


def __getattr__(name):
  if name in _SUBPACKAGES:
    return importlib.import_module(f"{__name__}.{name}")
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
  return sorted(list(globals()) + list(_SUBPACKAGES))
