"""Checks as JUnit XML, the format CI systems show as test results: a run's record (``junit_xml``, for
``gpu-runbook run --junit-xml``) or a fleet host's (``xml``, one test suite per host). One test case
per check: a failed check is a failure (its cause, fix and evidence as the text), a skipped one is
skipped with its reason, a warning passes with the warning as its output; a fleet host without a record
(broken, unreachable) is one test case in error, with why. Both write a check through ``testcase``."""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

from ..results import CheckResult, Status

# what XML cannot hold: tool output may have it (ANSI escapes), a record's JSON a lone surrogate
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: str) -> str:
    return NOT_XML.sub("\ufffd", text)


def _cleaned(root: ET.Element) -> ET.Element:
    """``root`` with every text and attribute fit for XML: a record's check ids, host names and times are
    data, and may hold what XML cannot (a control character, a lone surrogate)."""
    for el in root.iter():
        el.attrib = {k: _clean(v) for k, v in el.attrib.items()}
        if el.text:
            el.text = _clean(el.text)
    return root


def testcase(parent: ET.Element, c: CheckResult, classname: str) -> ET.Element:
    """One check as a test case, the same way for a run and for a fleet host: a failure carries its
    detail, cause, fix and evidence; a skip says whether it was chosen or blocked; a warning passes, with
    the warning as its output."""
    case = ET.SubElement(parent, "testcase", classname=classname, name=c.id, time=f"{c.duration_s:.3f}")
    body = "\n".join(
        part for part in (c.detail, c.cause and f"cause: {c.cause}", c.remediation and f"fix: {c.remediation}") if part
    )
    if c.status is Status.FAIL:
        ET.SubElement(case, "failure", message=_clean(c.detail), type=c.id).text = _clean(
            "\n\n".join(p for p in (body, c.evidence) if p)
        )
    elif c.status is Status.SKIP:
        ET.SubElement(case, "skipped", message=_clean(f"{c.skip_kind or 'blocked'}: {c.detail}"))
    elif c.status is Status.WARN:
        ET.SubElement(case, "system-out").text = _clean(f"warning: {body}")
    return case


def xml(host) -> str:
    """A fleet host (``fleet.Host``: its name, state, message, summary and checks) as one test suite; a
    host without a record is one test case in error, with why."""
    suite = ET.Element("testsuite", name=host.name)
    if host.summary:
        suite.set("hostname", host.summary.get("host", ""))
        if host.summary.get("finished"):
            suite.set("timestamp", host.summary["finished"])
    for c in host.checks:
        testcase(suite, c, f"{host.name}.{c.id.split('.')[0]}")
    if not host.checks:
        case = ET.SubElement(suite, "testcase", classname=f"{host.name}.fleet", name=f"fleet.{host.state}", time="0")
        first = host.message.splitlines()[0] if host.message else host.state
        ET.SubElement(case, "error", message=_clean(first), type=host.state).text = _clean(host.message)
    counts = {s: sum(1 for c in host.checks if c.status is s) for s in Status}
    suite.set("tests", str(max(len(host.checks), 1)))
    suite.set("failures", str(counts[Status.FAIL]))
    suite.set("errors", "0" if host.checks else "1")
    suite.set("skipped", str(counts[Status.SKIP]))
    suite.set("time", f"{sum(c.duration_s for c in host.checks):.3f}")
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(_cleaned(suite), encoding="unicode") + "\n"


def junit_xml(summary: dict) -> bytes:
    """A record (summary.json) as JUnit XML: one test suite per kind of check (host, engine, toolkit, …),
    one test case per check."""
    checks = [CheckResult.from_dict(c) for c in summary["checks"]]
    suites = ET.Element(
        "testsuites",
        name="gpu-runbook",
        tests=str(len(checks)),
        failures=str(sum(c.status is Status.FAIL for c in checks)),
        skipped=str(sum(c.status is Status.SKIP for c in checks)),
    )
    by_group: dict[str, list] = {}
    for c in checks:
        by_group.setdefault(c.id.split(".")[0], []).append(c)
    for group, members in by_group.items():
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
            testcase(suite, c, f"gpu-runbook.{group}")
    props = ET.SubElement(suites, "properties")
    for key in ("verdict", "verdict_reason", "runbook_version"):
        ET.SubElement(props, "property", name=key, value=_clean(str(summary.get(key, ""))))
    return ET.tostring(_cleaned(suites), encoding="utf-8", xml_declaration=True)
