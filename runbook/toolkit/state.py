"""What of the toolkit is in effect on this host: nvidia-ctk's version and the CDI specifications."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess

from ..errors import HostError
from ..i18n import _

CDI_DIRS = ("/etc/cdi", "/var/run/cdi")
CDI_SPEC = "/var/run/cdi/nvidia.yaml"  # where the plan generates the spec


def ctk_version() -> str | None:
    """``nvidia-ctk --version``'s version, or None when nvidia-ctk is not installed."""
    exe = shutil.which("nvidia-ctk")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise HostError(_("nvidia-ctk --version could not run: {error}").format(error=e)) from e
    m = re.search(r"version\s+(\d+\.\d+\.\d+\S*)", out.stdout + out.stderr)
    if out.returncode != 0 or not m:
        raise HostError(
            _("nvidia-ctk --version exited {code}").format(code=out.returncode), evidence=out.stdout + out.stderr
        )
    return m.group(1)


def cdi_specs(dirs=CDI_DIRS) -> list[str]:
    """CDI spec files that declare NVIDIA devices."""
    found = []
    for d in dirs:
        for path in sorted(glob.glob(os.path.join(d, "*.yaml")) + glob.glob(os.path.join(d, "*.json"))):
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    if "nvidia.com/gpu" in f.read():
                        found.append(path)
            except OSError:
                continue
    return found


def cdi_spec_current(spec: bytes | None, driver_version: str | None) -> bool:
    """A spec exists and was generated for this driver (its library paths carry the driver version)."""
    if spec is None or b"nvidia.com/gpu" not in spec:
        return False
    if driver_version is None:
        return True
    from .cdi import driver_version as generated_for
    from .cdi import load

    doc = load(spec.decode(errors="replace"))
    found = generated_for(doc) if doc else None
    return found == driver_version if found else driver_version.encode() in spec
