"""gpu-runbook: from "NVIDIA driver installed" to "PyTorch sees the GPU inside Docker", checked for real.

The notebooks (shipped in ``runbook/notebooks``) walk through the steps; this package holds all their
logic. Data flows one way: parameters -> step functions -> results -> display and record -> exit code.
"""

from .version import version as _version

__version__ = _version()
