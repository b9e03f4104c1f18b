"""framework-contrib: the second example plugin. Through the ``framework`` entry point
(``framework_contrib.plugin``) it registers the ``layer_norm`` layer, the ``adagrad``
optimizer, the ``csv_logger`` callback and the ``macro_f1`` metric, and ships
``conf/optimizer/adagrad.yaml``."""

from framework_contrib.callbacks import CsvLogger
from framework_contrib.layers import LayerNorm
from framework_contrib.metrics import MacroF1
from framework_contrib.optimizers import Adagrad

__all__ = ["Adagrad", "CsvLogger", "LayerNorm", "MacroF1"]
