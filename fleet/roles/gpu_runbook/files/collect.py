"""Writes each host's record folder on the controller, once for the whole fleet (one process, not a task
per host): the folder made fresh, the fetched record unpacked into it when the host ran, and fleet.json,
what became of the host. Reads the hosts' outcomes as a JSON list on stdin; prints one line per host.

Each outcome names its ``folder`` and the ``fetched`` tar; the rest of it is written as fleet.json.
"""

import json
import shutil
import sys
import tarfile
from pathlib import Path


def write(outcome: dict) -> str:
    outcome = dict(outcome)
    folder, fetched = Path(outcome.pop("folder")), Path(outcome.pop("fetched"))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if outcome["state"] == "ran":
        if fetched.is_file():
            with tarfile.open(fetched) as tar:
                tar.extractall(folder, filter="data")
        else:
            outcome.update(state="broken", message=f"the record was not fetched to {fetched}")
    fetched.unlink(missing_ok=True)
    (folder / "fleet.json").write_text(json.dumps(outcome, indent=2, sort_keys=True) + "\n")
    return f"{outcome['host']}: {outcome['state']} -> {folder}"


def main() -> None:
    outcomes = json.load(sys.stdin)
    for outcome in outcomes:
        print(write(outcome))
    for fetched in {Path(o["fetched"]).parent for o in outcomes}:
        if fetched.is_dir() and not any(fetched.iterdir()):
            fetched.rmdir()


if __name__ == "__main__":
    main()
