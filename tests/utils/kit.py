"""The GPU host kit's image writer (tests/gpu/kit/images.py, a script rather than a package) as a module."""

from __future__ import annotations

import importlib.util
import sys

from tests.utils.paths import REPO


def kit_images():
    """tests/gpu/kit/images.py (a script, not a package) as a module, loaded once."""
    if "gpu_kit_images" not in sys.modules:
        spec = importlib.util.spec_from_file_location("gpu_kit_images", REPO / "tests" / "gpu" / "kit" / "images.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # before it runs: its dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules["gpu_kit_images"]
