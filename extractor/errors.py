"""Domain errors. The CLI turns these into one `Error: ...` line and exit code 1."""

from __future__ import annotations


class ExtractorError(Exception):
    """An expected failure a user can act on; its message is shown as is."""


class UsageError(ExtractorError):
    """A bad option or argument; exit code 2."""


class ConfigError(ExtractorError):
    """A malformed prompt, gold, baseline or manifest file."""


class ProviderError(ExtractorError):
    """A model call failed after its retries.

    `transient` tells whether the failure was of the kind that might succeed later
    (rate limit, 5xx, timeout) as opposed to permanent (bad request, auth, refusal).
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class ReplayMiss(ProviderError):
    """`replay` was asked for a response that was never recorded."""


class InputError(ExtractorError):
    """An input article could not be read or decoded."""
