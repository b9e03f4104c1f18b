"""The numerical core: NumPy only, usable from a notebook with no Hydra or MLflow."""

from framework.core.activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh, sigmoid, softmax
from framework.core.conv import Conv2D
from framework.core.errors import (
    FileFormatError,
    FrameworkError,
    InvalidValueError,
    MissingFileError,
    NotBuiltError,
    OutputWriteError,
    ShapeError,
)
from framework.core.flatten import Flatten
from framework.core.initializers import (
    Constant,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    Initializer,
    LecunNormal,
    Normal,
    Ones,
    Uniform,
    Zeros,
)
from framework.core.layer import Layer
from framework.core.layers import BatchNorm, Dense, Dropout
from framework.core.losses import (
    MSE,
    BinaryCrossEntropy,
    CrossEntropy,
    Loss,
    SoftmaxCrossEntropy,
)
from framework.core.metrics import (
    METRICS,
    Accuracy,
    MeanAbsoluteError,
    MeanSquaredError,
    Metric,
    MetricStateError,
    TopKAccuracy,
    confusion_matrix,
    predicted_classes,
    target_classes,
)
from framework.core.model import Sequential
from framework.core.optimizers import (
    SGD,
    Adam,
    AdamW,
    Optimizer,
    RMSprop,
    clip_grad_norm,
)
from framework.core.parameter import Parameter
from framework.core.pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D

LAYERS = (
    Dense,
    Dropout,
    BatchNorm,
    ReLU,
    LeakyReLU,
    Sigmoid,
    Tanh,
    Softmax,
    Identity,
    Conv2D,
    MaxPool2D,
    AvgPool2D,
    GlobalAvgPool2D,
    Flatten,
)
LOSSES = (MSE, CrossEntropy, SoftmaxCrossEntropy, BinaryCrossEntropy)
OPTIMIZERS = (SGD, RMSprop, Adam, AdamW)
INITIALIZERS = (Zeros, Ones, Constant, Normal, Uniform, GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal)

__all__ = [
    "Adam",
    "AdamW",
    "AvgPool2D",
    "BatchNorm",
    "Conv2D",
    "Flatten",
    "GlobalAvgPool2D",
    "MaxPool2D",
    "BinaryCrossEntropy",
    "Constant",
    "CrossEntropy",
    "Dense",
    "Dropout",
    "FileFormatError",
    "FrameworkError",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Identity",
    "Initializer",
    "InvalidValueError",
    "MissingFileError",
    "Layer",
    "LeakyReLU",
    "LecunNormal",
    "Loss",
    "MSE",
    "Normal",
    "NotBuiltError",
    "Ones",
    "Optimizer",
    "OutputWriteError",
    "Parameter",
    "RMSprop",
    "ReLU",
    "SGD",
    "Sequential",
    "ShapeError",
    "Sigmoid",
    "Softmax",
    "SoftmaxCrossEntropy",
    "Tanh",
    "Uniform",
    "Zeros",
    "clip_grad_norm",
    "LAYERS",
    "LOSSES",
    "OPTIMIZERS",
    "INITIALIZERS",
    "METRICS",
    "Metric",
    "Accuracy",
    "TopKAccuracy",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "confusion_matrix",
    "MetricStateError",
    "predicted_classes",
    "target_classes",
    "sigmoid",
    "softmax",
]
