"""Explicit SSM+FNN (and Transformer) weight settings that solve the paper's tasks, and the layers,
networks and resource accounting they are built from."""

from .embedding import BinaryEmbedding, OneHotEmbedding, TableEmbedding, code_bits
from .errors import (
    DeviceMismatchError,
    DTypeMismatchError,
    InfeasibleTaskError,
    NonFiniteWeightError,
    ShapeError,
    SuiteError,
    TokenRangeError,
)
from .fnn import FNN
from .layout import AffineMap, Layout
from .network import SSMNetwork
from .resources import Resources, measure
from .ssm import DenseSSM, DiagonalSSM, ShiftSSM, SSMBank, SSMLayer, accumulator, fir, shifts
from .vocabulary import Vocabulary

__all__ = [
    "BinaryEmbedding",
    "OneHotEmbedding",
    "TableEmbedding",
    "code_bits",
    "DeviceMismatchError",
    "DTypeMismatchError",
    "InfeasibleTaskError",
    "NonFiniteWeightError",
    "ShapeError",
    "SuiteError",
    "TokenRangeError",
    "FNN",
    "AffineMap",
    "Layout",
    "SSMNetwork",
    "Resources",
    "measure",
    "DenseSSM",
    "DiagonalSSM",
    "ShiftSSM",
    "SSMBank",
    "SSMLayer",
    "accumulator",
    "fir",
    "shifts",
    "Vocabulary",
]
