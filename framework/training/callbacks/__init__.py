"""The built-in callbacks. Each is a plugin the trainer registers for the length of
``fit``; see ``framework/training/hookspecs.py`` for when each hook runs."""

from framework.training.callbacks.checkpoint import ModelCheckpoint
from framework.training.callbacks.early_stopping import EarlyStopping
from framework.training.callbacks.nan_guard import NaNGuard, NonFiniteLossError, TrainingDivergedError
from framework.training.callbacks.progress import ProgressBar
from framework.training.schedules import LearningRateScheduler

CALLBACKS = (EarlyStopping, ModelCheckpoint, NaNGuard, LearningRateScheduler, ProgressBar)

__all__ = [
    "CALLBACKS",
    "EarlyStopping",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "NaNGuard",
    "NonFiniteLossError",
    "ProgressBar",
    "TrainingDivergedError",
]
