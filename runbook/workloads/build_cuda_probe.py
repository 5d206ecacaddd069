"""Build cuda_probe (x86_64 Linux, glibc 2.34 or newer at run time) from cuda_probe.c, with the source's
SHA-256 compiled in so that a test can tell the committed binary was built from the committed source.

Usage: python3 -m runbook.workloads.build_cuda_probe  (needs gcc; writes runbook/workloads/cuda_probe.x86_64)
"""

import hashlib
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SOURCE = HERE / "cuda_probe.c"
BINARY = HERE / "cuda_probe.x86_64"


def source_sha256() -> str:
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()


def build(out: Path = BINARY) -> Path:
    subprocess.run(
        [
            "gcc",
            "-O2",
            "-s",
            "-Wall",
            "-Werror",
            f'-DPROBE_SOURCE_SHA256="{source_sha256()}"',
            "-o",
            str(out),
            str(SOURCE),
            "-ldl",
        ],
        check=True,
    )
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else BINARY))
