"""Step 2's trust checks: the toolkit's four packages at one version, their versions against NVIDIA's
security bulletins, and what older installs left behind; a vulnerable version is never planned."""

from __future__ import annotations

from .. import toolkit
from ..diagnosis import NB_TOOLKIT
from ..errors import RunbookError
from ..i18n import _
from ..results import CheckResult, Passed, fail, run_check, skip, warn
from ..toolkit import bulletins, security, versions


def vulnerable_version_text(version: str, rows: list[dict]) -> str:
    fixed = max((r["fixed"] for r in rows), key=lambda v: tuple(int(x) for x in v.split(".")))
    return _("toolkit_version={version} is affected by {cves}: pin {fixed} or newer, or leave it empty").format(
        version=version, cves=", ".join(r["cve"] for r in rows), fixed=fixed
    )


def refuse_vulnerable(version: str, manager: str) -> None:
    """The plan never installs a version the bulletins name: a vulnerable pin fails the plan."""
    rows = bulletins.affecting(version, manager)
    if rows:
        raise fail(
            vulnerable_version_text(version, rows),
            cause=_("The version asked for has known container-escape or isolation vulnerabilities."),
            remediation=_("Set toolkit_version to a fixed version (or empty for the newest) and run again."),
            notebook=NB_TOOLKIT,
            evidence=bulletin_lines(rows),
        )


def bulletin_lines(rows: list[dict]) -> str:
    return "\n".join(
        f"{r['cve']} ({r['severity']}, CVSS {r['cvss']}): {r['summary']}; fixed in {r['fixed']}; {r['bulletin']}"
        for r in rows
    )


def security_checks(target, source) -> list[CheckResult]:
    """The toolkit's packages, their versions against NVIDIA's bulletins, and what old installs left."""
    manager, found = security.installed_packages(target.run)
    try:
        ctk = toolkit.ctk_version()
    except RunbookError:
        ctk = None
    flags: set[str] = set()
    for path in security.RUNTIME_CONFIGS:
        try:
            flags |= security.mitigations(target.read(path))
        except OSError:
            continue
    return [
        run_check(
            "toolkit.packages",
            _("The toolkit's four packages at one version"),
            lambda: check_packages(manager, found, ctk),
        ),
        run_check(
            "toolkit.security",
            _("Toolkit version against NVIDIA's security bulletins"),
            lambda: check_security(manager, found, ctk, flags),
        ),
        run_check(
            "toolkit.leftovers",
            _("No leftovers of older installs (nvidia-docker2, stale lists)"),
            lambda: check_leftovers(manager, found, target, source),
        ),
    ]


def _upgrade_command(manager: str | None) -> str:
    if manager == "rpm":
        return "sudo dnf upgrade -y " + " ".join(security.PACKAGES)
    return "sudo apt-get update && sudo apt-get install -y " + " ".join(security.PACKAGES)


def check_packages(manager: str | None, found: dict[str, str], ctk: str | None) -> Passed:
    have = {p: found[p] for p in security.PACKAGES if p in found}
    if not have:
        if ctk:
            raise skip(
                _(
                    "nvidia-ctk {version} is not from dpkg or rpm packages: whether the four agree was not observed"
                ).format(version=ctk)
            )
        raise skip(_("none of the toolkit's packages is installed"))
    listed = ", ".join(f"{p} {v}" for p, v in have.items())
    data = {"manager": manager, "packages": have, "nvidia_ctk": ctk}
    if security.mixed(found, manager or "apt"):
        raise fail(
            _("the toolkit's packages are at different versions: {packages}").format(packages=listed),
            cause=_(
                "Since 1.18 the four packages depend on each other at one exact version; "
                "a mixed set breaks upgrades and hooks."
            ),
            remediation=_("Align them: {command}").format(command=security.align_command(found, manager or "apt")),
            notebook=NB_TOOLKIT,
            data=data,
        )
    missing = [p for p in security.PACKAGES if p not in have]
    if missing:
        raise warn(
            _("installed: {packages}; missing: {missing}").format(packages=listed, missing=", ".join(missing)),
            remediation=_("Install all four at one version: {command}").format(
                command=security.align_command(found, manager or "apt")
            ),
            notebook=NB_TOOLKIT,
            data=data,
        )
    base = have.get("nvidia-container-toolkit-base")
    if ctk and base and versions.upstream(base) != ctk:
        raise warn(
            _("nvidia-ctk on PATH is {ctk}, the package nvidia-container-toolkit-base is {base}").format(
                ctk=ctk, base=base
            ),
            cause=_(
                "Another nvidia-ctk (a copy in /usr/local/bin, a tarball) comes first on PATH "
                "and shadows the packaged one."
            ),
            remediation=_("Remove the other copy (`which -a nvidia-ctk`), or put /usr/bin first on PATH."),
            notebook=NB_TOOLKIT,
            data=data,
        )
    return Passed(_("all four at {version}").format(version=next(iter(have.values()))), data=data)


def check_security(manager: str | None, found: dict[str, str], ctk: str | None, flags: set[str]) -> Passed:
    # the packages' own versions carry the revision that tells NVIDIA's build from a distribution's;
    # nvidia-ctk's (upstream only) is judged where no package says
    seen = {p: found[p] for p in security.PACKAGES if p in found}
    if ctk and not seen:
        seen["nvidia-ctk"] = ctk
    a = security.assess(seen, manager or "apt", flags)
    if a is None:
        raise skip(_("the toolkit is not installed: no version to judge"))
    date = bulletins.table()["date"]
    rows = [f.row for f in a.findings]
    data = {
        "version": a.version,
        "source": a.source,
        "cves": [r["cve"] for r in rows],
        "mitigated": [f.row["cve"] for f in a.findings if f.mitigated],
        "undecided": a.undecided,
        "table_date": date,
    }
    if not rows:
        return Passed(
            _("{source} {version}: none of the {count} CVEs in the table of {date} affects it").format(
                source=a.source, version=a.version, count=len(bulletins.table()["vulnerabilities"]), date=date
            ),
            data=data,
        )
    fixed = max((r["fixed"] for r in rows), key=lambda v: tuple(int(x) for x in v.split(".")))
    cves = ", ".join(r["cve"] for r in rows)
    evidence = bulletin_lines(rows)
    upgrade = _("Upgrade the four packages to {fixed} or newer: {command}").format(
        fixed=fixed, command=_upgrade_command(manager)
    )
    if a.undecided:
        raise warn(
            _(
                "{source} {version} is not one of NVIDIA's builds: by its upstream version it would be affected by "
                "{cves} (fixed in {fixed}), but a distribution may have patched it; the table cannot judge it"
            ).format(source=a.source, version=a.version, cves=cves, fixed=fixed),
            remediation=_(
                "Check the distribution's security advisory for this package, or install NVIDIA's {fixed} or newer."
            ).format(fixed=fixed),
            notebook=NB_TOOLKIT,
            evidence=evidence,
            data=data,
        )
    mitigated = [f.row["cve"] for f in a.findings if f.mitigated]
    note = (
        " " + _("{cves}: mitigated by the config.toml feature flag, not fixed").format(cves=", ".join(mitigated))
        if mitigated
        else ""
    )
    if a.severe:
        raise fail(
            _("{source} {version} is affected by {cves}; fixed in {fixed}").format(
                source=a.source, version=a.version, cves=cves, fixed=fixed
            )
            + note,
            cause=_(
                "NVIDIA's security bulletins name this version: a crafted image can escape the container "
                "or tamper with the host."
            ),
            remediation=upgrade,
            notebook=NB_TOOLKIT,
            evidence=evidence,
            data=data,
        )
    raise warn(
        _("{source} {version} is affected by {cves} (medium, or mitigated); fixed in {fixed}").format(
            source=a.source, version=a.version, cves=cves, fixed=fixed
        )
        + note,
        remediation=upgrade,
        notebook=NB_TOOLKIT,
        evidence=evidence,
        data=data,
    )


def check_leftovers(manager: str | None, found: dict[str, str], target, source) -> Passed:
    problems, fixes = [], []
    old = security.leftover_packages(found)
    if old:
        problems.append(_("old packages installed: {packages}").format(packages=", ".join(old)))
        remove = "sudo dnf remove -y " if manager == "rpm" else "sudo apt-get purge -y "
        fixes.append(remove + " ".join(old))
    stale = toolkit.repos.stale_apt_lists(target, source) + security.stale_repo_files(target)
    if stale:
        problems.append(
            _("lists or .repo files naming the toolkit's repositories beside the plan's: {files}").format(
                files=", ".join(stale)
            )
        )
        fixes.append("sudo rm " + " ".join(stale))
    try:
        keys = security.foreign_signed_by(target.read(security.APT_LIST))
    except OSError:
        keys = []
    if keys:
        problems.append(
            _("{list} is signed by {keys}, not {keyring}").format(
                list=security.APT_LIST, keys=", ".join(keys), keyring=toolkit.repos.KEYRING
            )
        )
        fixes.append(_("apply the plan again (toolkit_apply=true): it rewrites the list"))
    if problems:
        raise warn(
            "; ".join(problems),
            cause=_(
                "Two lists that name one repository with different signed-by keys stop apt (`Conflicting values "
                "set for option Signed-By`); nvidia-docker2 is the 2023 way and rewrites daemon.json."
            ),
            remediation="; ".join(fixes),
            notebook=NB_TOOLKIT,
            data={"packages": old, "files": stale, "keys": keys},
        )
    return Passed(_("no nvidia-docker2, no nvidia-container-runtime package, no second list or .repo"), data={})
