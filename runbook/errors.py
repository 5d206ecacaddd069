"""The runbook's exceptions: one root, structured fields, after papermill's and docker-py's models.

Low-level errors (docker-py's, OSError) are caught narrowly and re-raised as one of these, carrying
the cause and the fix from the diagnosis table, so that a check can report them without a traceback.
"""

from __future__ import annotations

from .i18n import _


class RunbookError(Exception):
    """Root of the runbook's errors. ``cause`` says why, ``remediation`` what to do about it,
    ``notebook`` which notebook fixes it, ``evidence`` the raw text that was seen."""

    def __init__(self, message: str, *, cause: str = "", remediation: str = "", notebook: str = "", evidence: str = ""):
        super().__init__(message)
        self.cause, self.remediation, self.notebook, self.evidence = cause, remediation, notebook, evidence


class ParameterError(RunbookError, ValueError):
    """A parameter is unknown, of the wrong type, or not a valid value; nothing has run."""

    def __init__(self, name: str, message: str):
        super().__init__(
            _("parameter {name}: {message}").format(name=repr(name), message=message),
            remediation=_("Fix the parameter (`gpu-runbook params` lists them all) and run again."),
        )
        self.name = name


class RunSetupError(RunbookError):
    """The run itself could not be made (a notebook missing, an output folder that would be overwritten)."""


class RecordNotWritten(RunSetupError):
    """A file of the record could not be written (a full or read-only disk): says which, and how much room
    it needed, so that the operator knows what to free."""

    def __init__(self, folder, name: str, error: OSError, needed: int):
        super().__init__(
            _("the record in {folder} could not be written ({name}): {error}; it needed {size} more").format(
                folder=folder, name=name, error=error.strerror or error, size=human_size(needed)
            ),
            remediation=_("Free space, then run again into a new --out."),
        )


def human_size(n: int) -> str:
    """A byte count as people read it: 812 B, 14.2 KiB, 3.1 MiB."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


class HostError(RunbookError):
    """A fact about the host could not be read (a tool missing or failing)."""


class EngineError(RunbookError):
    """Talking to the Docker engine failed."""


class EngineUnreachable(EngineError):
    """No engine answered at the configured address."""


class EnginePermissionDenied(EngineError):
    """The engine's socket exists but this user may not use it."""


class ImageUnavailable(EngineError):
    """An image is not present and could not (or, by the pull policy, may not) be pulled."""


class ChecksFailed(RunbookError):
    """Raised in a notebook cell (strict, headless) after its results are shown, when a check failed."""


class ToolkitError(RunbookError):
    """A step of the toolkit's install plan failed; the steps before it stay applied (each is idempotent)."""


class DaemonJsonError(RunbookError):
    """The engine's daemon.json cannot be read, parsed or written; nothing was changed."""


class ImageNotPulled(ImageUnavailable):
    """An image is not present and the pull policy (pull=never) forbids pulling it."""


class ContainerFailed(EngineError):
    """A container could not be created or started, or its command exited non-zero."""

    def __init__(self, message: str, *, exit_code: int | None = None, output: str = "", **kw):
        super().__init__(message, **kw)
        self.exit_code, self.output = exit_code, output


class ContainerTimeout(ContainerFailed):
    """A container ran past its step's timeout and was killed."""
