"""The fault suite's table: each case records how long it took, the exit code and the diagnosis it got;
the table is printed at the end of the run and written to build/fault-table.md."""

import time
from pathlib import Path

import pytest

ROWS: list[tuple[str, float, str, str]] = []


@pytest.fixture
def fault_row(request):
    """Call with (exit, diagnosis) once the case has run; the time is the test's own."""
    start = time.monotonic()
    seen = {}

    def record(exit_code, diagnosis: str) -> None:
        seen.update(exit=str(exit_code), diagnosis=diagnosis)

    yield record
    if seen:
        ROWS.append((request.node.name, time.monotonic() - start, seen["exit"], seen["diagnosis"]))


def pytest_terminal_summary(terminalreporter):
    if not ROWS:
        return
    lines = ["| case | time (s) | exit | diagnosis |", "| --- | --- | --- | --- |"]
    lines += [f"| {case} | {seconds:.1f} | {code} | {diagnosis} |" for case, seconds, code, diagnosis in ROWS]
    table = "\n".join(lines)
    out = Path(__file__).resolve().parents[2] / "build" / "fault-table.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table + "\n")
    terminalreporter.write_sep("-", "fault suite")
    terminalreporter.write_line(table)
