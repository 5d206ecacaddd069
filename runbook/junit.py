"""A record as JUnit XML, for CI systems: one test case per check, grouped by step; a failed check is a
failure with its cause and fix, a skip carries its reason (and whether it was chosen or blocked)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .results import CheckResult, Status


def junit_xml(summary: dict) -> bytes:
    checks = [CheckResult.from_dict(c) for c in summary["checks"]]
    suites = ET.Element(
        "testsuites",
        name="gpu-runbook",
        tests=str(len(checks)),
        failures=str(sum(c.status is Status.FAIL for c in checks)),
        skipped=str(sum(c.status is Status.SKIP for c in checks)),
    )
    by_step: dict[str, list[CheckResult]] = {}
    for c in checks:
        by_step.setdefault(c.id.split(".")[0], []).append(c)
    for group, members in by_step.items():
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=group,
            tests=str(len(members)),
            failures=str(sum(c.status is Status.FAIL for c in members)),
            skipped=str(sum(c.status is Status.SKIP for c in members)),
            hostname=str(summary.get("host", "")),
        )
        for c in members:
            case = ET.SubElement(
                suite, "testcase", classname=f"gpu-runbook.{group}", name=c.id, time=f"{c.duration_s:.3f}"
            )
            if c.status is Status.FAIL:
                failure = ET.SubElement(case, "failure", message=c.detail, type=c.id)
                failure.text = "\n".join(
                    x
                    for x in (
                        f"cause: {c.cause}" if c.cause else "",
                        f"fix: {c.remediation}" if c.remediation else "",
                        c.evidence,
                    )
                    if x
                )
            elif c.status is Status.SKIP:
                ET.SubElement(case, "skipped", message=f"{c.skip_kind or 'blocked'}: {c.detail}")
            elif c.status is Status.WARN:
                ET.SubElement(case, "system-out").text = f"warning: {c.detail}"
    props = ET.SubElement(suites, "properties")
    for key in ("verdict", "verdict_reason", "runbook_version"):
        ET.SubElement(props, "property", name=key, value=str(summary.get(key, "")))
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)
