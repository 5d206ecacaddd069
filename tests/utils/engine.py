"""The real engine as the tests use it: the test image, require-or-skip, and a container with the
runbook's labels that is removed when the block ends, whatever happens in it."""

from __future__ import annotations

import contextlib
import os

import pytest

from runbook import engine

TEST_IMAGE = "runbook-test/debian:bookworm"  # made by tests/tooling/engine-up.sh with debootstrap


def require(available: bool, what: str, how: str = "run tests/tooling/engine-up.sh (as root)") -> None:
    """Skip when ``what`` is not available, or fail when the test command demands it
    (RUNBOOK_REQUIRE_ENGINE=1, set by tests/run.sh as root), so that CI cannot pass without running it."""
    if available:
        return
    message = f"{what} is not available; {how}"
    if os.environ.get("RUNBOOK_REQUIRE_ENGINE") == "1":
        pytest.fail(message)
    pytest.skip(message)


def runbook_labels(run: str | None = None, deadline: float = 0) -> dict:
    """The labels the runbook gives its containers, so that the runbook's clean-up finds test containers too."""
    return {
        engine.LABEL: "1",
        f"{engine.LABEL}.run": run or engine.run_id(),
        f"{engine.LABEL}.deadline": str(int(deadline)),
    }


@contextlib.contextmanager
def labelled_container(client, command=("sleep", "900"), image=TEST_IMAGE, start=True, **kwargs):
    """A container of the test image with the runbook's labels and, unless asked, no network (as the
    runbook's own), removed when the block ends."""
    create = client.containers.run if start else client.containers.create
    extra = {"detach": True} if start else {}
    kwargs.setdefault("network_mode", "none")
    c = create(image, list(command), labels=kwargs.pop("labels", runbook_labels()), **extra, **kwargs)
    try:
        yield c
    finally:
        with contextlib.suppress(Exception):
            c.remove(force=True)
