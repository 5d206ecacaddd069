"""Where things are: the repository's root, and the cache that the engine's set-up script fills."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
CACHE = Path(os.environ.get("RUNBOOK_TEST_CACHE", "/var/cache/gpu-runbook-test"))
