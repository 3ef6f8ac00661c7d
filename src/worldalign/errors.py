"""The exceptions worldalign raises for bad input.

Every message names the file, field or value at fault and what was expected, so a user can fix
the input without reading our source.
"""


class WorldAlignError(Exception):
    """Base class of every error worldalign raises on purpose."""


class DatasetError(WorldAlignError):
    """A dataset on disk is missing, truncated, or disagrees with its own metadata."""


class ConfigError(WorldAlignError):
    """A configuration value, task name, camera name or checkpoint does not fit."""


class CheckpointError(WorldAlignError):
    """A checkpoint or model file is missing, truncated or corrupt (it cannot be read back)."""


class TrainingError(WorldAlignError):
    """A training run met a value it must not continue from (a NaN or infinite loss, gradient or
    weight); it stops before saving anything built on it."""


class DecodeError(WorldAlignError):
    """A token sequence (e.g. a model's output) does not decode to what it must encode: unknown
    ids, characters outside the alphabet, or the wrong number of values."""


class ResultFileError(WorldAlignError):
    """A result file read back (a rollout's ``metrics.json``, an alignment's ``before_after.json``, a
    training log, a video they list) is missing, was written by another command or an older
    version, or holds a value of the wrong kind."""
