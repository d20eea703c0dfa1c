"""Exception hierarchy for predesolv.

Every exception a user can trigger derives from :class:`PredesolvError`. Input errors also
inherit the matching built-in (``ValueError``, ``FileNotFoundError``) so that callers who
already catch those keep working (the openff-interchange convention). The CLI maps
:class:`InputError` subclasses to exit status 2 and :class:`PredesolvRuntimeError` subclasses
to exit status 1.
"""

from __future__ import annotations


class PredesolvError(Exception):
    """Base class of every predesolv exception."""


class InputError(PredesolvError):
    """Bad user input: a config value, a file, a CLI argument (CLI exit status 2)."""


def _with_field(message: str, field: str | None) -> str:
    """``field: message``, naming the field once (a message may already start with it)."""
    if not field or message.startswith(f"{field}:"):
        return message
    return f"{field}: {message}"


class ConfigError(InputError, ValueError):
    """A configuration value is invalid.

    Parameters
    ----------
    message : str
        What is wrong and what is allowed.
    field : str, optional
        Dotted YAML path of the offending field (``simulation.timestep``).
    """

    def __init__(self, message: str, field: str | None = None):
        self.field = field
        super().__init__(_with_field(message, field))


class UnitError(ConfigError):
    """A quantity string could not be parsed or has the wrong dimension."""


class MissingFileError(InputError, FileNotFoundError):
    """A file named in the config or on the command line does not exist."""

    def __init__(self, message: str, field: str | None = None):
        self.field = field
        InputError.__init__(self, _with_field(message, field))

    def __str__(self) -> str:  # FileNotFoundError would otherwise format errno fields
        return self.args[0] if self.args else ""


class PlatformNotAvailableError(InputError, ValueError):
    """The requested OpenMM platform cannot be used on this machine."""


class BuildError(InputError, ValueError):
    """A builder was asked for something physically impossible or inconsistent."""


class RunDirectoryError(InputError, FileExistsError):
    """The run directory exists and holds a finished or foreign run."""

    def __str__(self) -> str:
        return self.args[0] if self.args else ""


class RunDirectoryBusy(RunDirectoryError):
    """Another live process holds the run directory's lock (``holder``: ``pid N on host H
    since T``, as written in the lock file)."""

    def __init__(self, message: str, holder: str = "unknown"):
        self.holder = holder
        super().__init__(message)


class PredesolvRuntimeError(PredesolvError, RuntimeError):
    """Failure while running (CLI exit status 1)."""


class SimulationBlowUpError(PredesolvRuntimeError):
    """Energy or coordinates became non-finite during MD."""


class AnalysisError(InputError, ValueError):
    """An analysis was given inconsistent inputs (a missing group, an empty selection)."""


class Interrupted(PredesolvRuntimeError):
    """SIGINT/SIGTERM: a checkpoint was written (when MD had started); resume with
    ``--resume`` (CLI exit status 130).

    Parameters
    ----------
    what : str
        Where it stopped and what was saved.
    advice : str, optional
        How to continue; a workflow that drives runs (e.g. ``pmf``) replaces it with its own.
    """

    def __init__(self, what: str, advice: str = ""):
        self.what, self.advice = what, advice
        super().__init__(f"{what}. {advice}" if advice else what)
