"""The one exception tree of c2m, and the one place that maps it to exit codes.

    C2MError                      exit 1  (unexpected: a bug to fix)
    ├── UsageError                exit 2  bad options, missing source path, bad mapping file
    ├── InvalidDataError          exit 3  data that cannot be used (missing column, corrupt file…)
    ├── MissingPrerequisiteError  exit 4  a step run before the steps it reads from
    ├── ReproducibilityError      exit 5  `c2m verify` found a hash mismatch
    └── (exit 6)                          finished with warnings under `--strict` (outputs written)

Library code raises these with a one-line message naming file, row and column where it can;
the CLI prints ``Error: <message>`` and exits with ``exit_code``.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_INVALID_DATA = 3
EXIT_MISSING_PREREQUISITE = 4
EXIT_REPRODUCIBILITY = 5
EXIT_STRICT_WARNINGS = 6


class C2MError(Exception):
    """Base of every error c2m raises on purpose."""

    exit_code = EXIT_UNEXPECTED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(C2MError):
    """The command was called wrongly: options, paths, mapping files."""

    exit_code = EXIT_USAGE


class InvalidDataError(C2MError):
    """The input data cannot be used as it is."""

    exit_code = EXIT_INVALID_DATA


class MissingPrerequisiteError(C2MError):
    """A step's inputs are not in the workspace; ``hint`` names the command to run first."""

    exit_code = EXIT_MISSING_PREREQUISITE


class ReproducibilityError(C2MError):
    """Re-running the recorded steps gave different bytes."""

    exit_code = EXIT_REPRODUCIBILITY


def exit_code_for(error: BaseException) -> int:
    """The documented exit code for any exception (1 for those c2m did not anticipate)."""
    if isinstance(error, C2MError):
        return error.exit_code
    return EXIT_UNEXPECTED
