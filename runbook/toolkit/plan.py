"""An install plan: steps shown first, applied only when asked, each one idempotent and checked.

A step says why it is there, what a person would type for it, how to tell that it is already in
effect on a target, and how to make it so. Steps act only through their target (this host, a chroot,
a container: ``runbook.toolkit.targets``), so the same plan is shown, applied and tested the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .. import diagnosis
from ..errors import ToolkitError
from ..i18n import _


@dataclass
class Step:
    why: str
    show: str  # the step as a person would type it
    done: Callable[[object], bool]  # is it already in effect on the target?
    do: Callable[[object], None]  # make it so (raises ToolkitError)


@dataclass
class Plan:
    manager: str  # apt, dnf, zypper
    os_name: str
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def commands(self) -> list[str]:
        return [s.show for s in self.steps]

    def text(self) -> str:
        lines = [f"# {s.why}\n{s.show}" for s in self.steps]
        return "\n".join(lines + ["# " + _("note: {note}").format(note=n) for n in self.notes])


@dataclass
class Applied:
    show: str
    outcome: str  # "already done", "applied"
    why: str


def apply(plan: Plan, target, log: Callable[[str], None] = print) -> list[Applied]:
    """Apply the steps in order: a step already in effect is left alone; a step applied is checked
    afterwards. Raises ToolkitError at the first step that fails or does not take effect."""
    done = []
    for step in plan.steps:
        if step.done(target):
            done.append(Applied(step.show, "already done", step.why))
            log(_("already done: {command}").format(command=step.show))
            continue
        log(_("applying: {command}").format(command=step.show))
        step.do(target)
        if not step.done(target):
            raise ToolkitError(
                _("`{command}` ran but did not take effect").format(command=step.show),
                notebook=diagnosis.NB_TOOLKIT,
                remediation=_("Read the output above; fix the cause and apply again."),
            )
        done.append(Applied(step.show, "applied", step.why))
    return done


def run_ok(target, argv: list[str], what: str) -> str:
    """Run ``argv`` on the target; a non-zero exit is a ToolkitError with the diagnosis of its output."""
    code, out = target.run(argv)
    if code != 0:
        raise ToolkitError(
            _("{what} failed (exit {code})").format(what=what, code=code),
            evidence=out[-4000:],
            **diagnosis.explain(
                out,
                default_notebook=diagnosis.NB_TOOLKIT,
                default_fix=_("Read the output; fix the cause and apply again."),
            ),
        )
    return out


def group_members(group_file: bytes | None, group: str) -> list[str]:
    """The users listed for ``group`` in an /etc/group file's content."""
    for line in (group_file or b"").decode(errors="replace").splitlines():
        fields = line.split(":")
        if len(fields) == 4 and fields[0] == group:
            return [u for u in fields[3].split(",") if u]
    return []


def docker_group_step(user: str) -> Step:
    def member(t) -> bool:
        return user in group_members(t.read("/etc/group"), "docker")

    return Step(
        _(
            "add {user} to the docker group (root-equivalent: anyone in it controls the host; takes a new "
            "login, and a restarted Jupyter server; rootless Docker is the alternative)"
        ).format(user=user),
        f"sudo usermod -aG docker {user}",
        done=member,
        do=lambda t: run_ok(t, ["usermod", "-aG", "docker", user], "usermod"),
    )
