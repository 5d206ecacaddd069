"""drop_host_has.py FOLDER [LISTING]: remove from FOLDER the wheels of the distributions the GPU host's
Python already has (LISTING, default host-has.txt beside this script), so that a kit part carries only
what the host lacks. Names compare as pip normalises them (PEP 503)."""

import re
import sys
from pathlib import Path


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main() -> int:
    folder = Path(sys.argv[1])
    listing = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).with_name("host-has.txt")
    lines = (line.strip() for line in listing.read_text().splitlines())
    has = {normalised(line) for line in lines if line and not line.startswith("#")}
    for wheel in sorted(folder.glob("*.whl")):
        if normalised(wheel.name.split("-")[0]) in has:
            wheel.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
