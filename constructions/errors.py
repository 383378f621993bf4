"""Errors raised by the suite's library code.

Every error says what was wrong and with which value, so that a bad input never fails deep inside
torch with an unrelated message. All derive from :class:`SuiteError` (a ``ValueError``), so callers
can catch the whole family at once.
"""

from __future__ import annotations


class SuiteError(ValueError):
    """Base class of every error the suite raises on purpose."""


class ShapeError(SuiteError):
    """A tensor has the wrong rank or shape."""


class TokenRangeError(SuiteError):
    """A token id lies outside the vocabulary."""


class NonFiniteWeightError(SuiteError):
    """A weight tensor contains NaN or infinity."""


class NonFiniteInputError(SuiteError):
    """An input (a layer's or a network's) contains NaN or infinity."""


class NumericalRangeError(SuiteError):
    """A computed value leaves the range of the floating-point format (it overflows to infinity)."""


class IllConditionedModeError(SuiteError):
    """A compute mode cannot give this layer's outputs to its accuracy (e.g. the FFT on a growing kernel)."""


class NonCausalError(ShapeError):
    """A two-sided layer (``lookahead > 0``) was asked for what only a causal one has: a state to read,
    or a step mode (its output at ``t`` needs inputs after ``t``)."""


class SequenceLayoutError(ShapeError):
    """A token sequence's length or layout differs from the task format it is read in."""


class SparsePathUnavailableError(SuiteError):
    """The structured fast path (:mod:`constructions.sparse_path`) cannot run this network or these
    inputs within its caps; the dense path computes the same outputs."""


class DecodingError(SuiteError):
    """Free-running decoding produced something it cannot feed back (a decoded "no token")."""


class DTypeMismatchError(SuiteError):
    """A tensor's dtype does not match what the module expects."""


class DeviceMismatchError(SuiteError):
    """A tensor lives on a different device than the module."""


class UnknownOptionError(SuiteError):
    """A string option (a compute mode, a profile ...) is not one of the allowed values."""


class InfeasibleTaskError(SuiteError):
    """A task configuration cannot be realized (e.g. more pairs than distinct keys)."""


class ModelFileError(SuiteError):
    """A model file is missing, malformed, or does not fit its declared architecture or task.

    Every problem with a file raises one of the subclasses below (exit code 2 of ``python -m
    reports verify``), never an error from deep inside a reader."""


class ModelFileAccessError(ModelFileError):
    """The path does not exist, is a directory or another non-regular file, or is not readable."""


class ModelFileContainerError(ModelFileError):
    """The bytes are not a readable container: an unknown suffix, a truncated or corrupt safetensors
    header, a ``.pt`` file that is not torch.save's zip archive or holds anything but plain tensors."""


class ModelFileLimitError(ModelFileError):
    """A size the file declares or implies is over a stated limit
    (:data:`constructions.model_file.limits.LIMITS`) or over the memory the machine has free."""


class ModelFileDTypeError(ModelFileError):
    """A tensor's dtype is neither float64 nor converted to it exactly (complex values under a real
    name, bool, integers beyond 2^53, quantized types)."""


class ModelFileMetadataError(ModelFileError):
    """The ``format``/``architecture``/``task`` metadata is missing, not the JSON the format
    specifies (wrong types, unknown kinds or keys), describes a task that cannot exist, or an output
    code that does not fit the network or the task's answers."""


class ModelFileTensorError(ModelFileError):
    """A tensor is missing, surplus, or does not fit the architecture (rank, shape, non-finite)."""


class ExternalFormatError(SuiteError):
    """A record of an external data format (Zoology MQAR arrays, Jelassi copy strings, AR text lines)
    does not follow the format: the message names the file, the line (text) or row (arrays), and what
    is wrong (``constructions/tasks/external/``). ``where`` holds e.g. ``"line 12"`` or ``"row 3"``."""

    def __init__(self, message: str, where: str | None = None):
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where


class ExternalFormatLimitError(ExternalFormatError):
    """A size an external data file declares or implies (rows, sequence length, vocabulary, bytes of a
    line or of an array) is over the readers' limits (``constructions.tasks.external.common.LIMITS``),
    checked before anything of that size is allocated."""


class RunDataError(SuiteError):
    """``python -m reports run-data`` cannot run as asked: a construction that does not take the
    format, an option it does not have, a memory too large to build for the data
    (``reports/run_data.py``)."""


class DataMismatchError(RunDataError):
    """A network read from a file does not fit the data: another task, or a task config (vocabulary,
    pairs, queries, length) other than the one the data's line or row needs; the message names both."""


class UnknownClaimError(SuiteError):
    """A claim id is not in the registry."""


class RegistryError(SuiteError):
    """A claim record violates the registry's schema."""


def require_rank(name: str, tensor, rank: int) -> None:
    if tensor.dim() != rank:
        raise ShapeError(f"{name} must have rank {rank}, got shape {tuple(tensor.shape)}")


def require_finite(name: str, tensor) -> None:
    import torch

    if tensor.is_sparse:
        tensor = tensor.coalesce().values()
    if tensor.is_complex():
        finite = torch.isfinite(tensor.real).all() and torch.isfinite(tensor.imag).all()
    else:
        finite = torch.isfinite(tensor).all()
    if not bool(finite):
        raise NonFiniteWeightError(f"{name} contains non-finite entries (NaN or inf)")


def require_finite_input(name: str, tensor) -> None:
    """``tensor`` (an input, not a weight) holds no NaN or infinity: :class:`NonFiniteInputError` naming
    the first bad position otherwise. One reduction when every entry is finite (the usual case)."""
    import torch

    if bool(torch.isfinite(tensor.sum())):  # a NaN or an infinity makes the sum non-finite
        return
    bad = ~torch.isfinite(tensor)
    if bool(bad.any()):
        where = tuple(int(i) for i in bad.nonzero()[0])
        raise NonFiniteInputError(f"{name} contains non-finite values (NaN or inf), the first at index {where}: "
                                  f"{tensor[where].item()}")


def require_positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InfeasibleTaskError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value
