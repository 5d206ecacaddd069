"""A host's checks as JUnit XML, the format CI systems show as test results: one test suite per host,
one test case per check. A failed check is a failure (its cause, fix and evidence as the text), a
skipped one is skipped with its reason, a warning passes with the warning as its output; a host without
a record (broken, unreachable) is one test case in error, with why."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from .results import Status

if TYPE_CHECKING:
    from .fleet import Host

NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # tool output may hold them (ANSI escapes)


def _clean(text: str) -> str:
    return NOT_XML.sub("\ufffd", text)


def xml(host: Host) -> str:
    suite = ET.Element("testsuite", name=host.name)
    if host.summary:
        suite.set("hostname", host.summary.get("host", ""))
        if host.summary.get("finished"):
            suite.set("timestamp", host.summary["finished"])
    for c in host.checks:
        case = ET.SubElement(
            suite, "testcase", classname=f"{host.name}.{c.id.split('.')[0]}", name=c.id, time=f"{c.duration_s:.3f}"
        )
        body = "\n".join(
            part
            for part in (c.detail, c.cause and f"cause: {c.cause}", c.remediation and f"fix: {c.remediation}")
            if part
        )
        if c.status is Status.FAIL:
            ET.SubElement(case, "failure", message=_clean(c.detail), type=c.id).text = _clean(
                "\n\n".join(p for p in (body, c.evidence) if p)
            )
        elif c.status is Status.SKIP:
            ET.SubElement(case, "skipped", message=_clean(c.detail))
        elif c.status is Status.WARN:
            ET.SubElement(case, "system-out").text = _clean(f"warning: {body}")
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
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
