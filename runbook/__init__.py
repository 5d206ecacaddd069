"""gpu-runbook: from "NVIDIA driver installed" to "PyTorch sees the GPU inside Docker", checked for real.

The notebooks in ``notebooks/`` walk through the steps; this package holds all their logic.
Data flows one way: parameters -> step functions -> results -> display and record -> exit code.
"""
__version__ = "0.1.0"
