"""The one exception hierarchy of drkit.

Every error carries the process exit code DESIGN.md assigns to its kind:
0 every objective met, 1 a drill deviated, 2 usage error or invalid input,
3 infrastructure or tool error. Wrap library errors with ``raise ... from exc``.
"""

from __future__ import annotations


class DrkitError(Exception):
    """Base of every error drkit raises on purpose."""

    exit_code: int = 3

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UsageError(DrkitError):
    """Bad input from a person: arguments, files, JSON. Exit code 2."""

    exit_code = 2


class ConfigError(UsageError):
    """A stack config value is missing or invalid. ``key`` names it (e.g. ``drkit:objectLock.mode``)."""

    def __init__(self, key: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{key}: {message}", hint=hint)
        self.key = key


class ProjectError(UsageError):
    """No Pulumi project, unknown stack, or unreadable stack file."""


class InvalidDicomError(UsageError):
    """A DICOM input cannot be archived. ``reason`` is a machine-readable code (see drills.contracts)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


class InfraError(DrkitError):
    """The cloud, the embedded server or a peer tool failed. Exit code 3."""

    exit_code = 3


class EndpointUnreachable(InfraError):
    """An endpoint did not answer."""


class SimulationError(InfraError):
    """The embedded cloud's simulation was driven into a state it cannot honour."""


class RegionFenced(InfraError):
    """A drill fenced a region off (the client-side half of a simulated region outage)."""
