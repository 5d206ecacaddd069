#!/usr/bin/env bash
# pip-offline.sh PYTHON FOLDER PACKAGE...: install PACKAGEs into PYTHON from the wheels in FOLDER only (the
# GPU host reaches no package index), into a system Python marked as managed by the OS (PEP 668) too:
# the kit's host is a throwaway machine whose Python the kit's wheels extend.
set -euo pipefail
python=${1:?usage: pip-offline.sh PYTHON FOLDER PACKAGE...}
folder=${2:?usage: pip-offline.sh PYTHON FOLDER PACKAGE...}
shift 2
managed=()
if "$python" -c 'import sys, sysconfig, os; sys.exit(0 if sys.prefix == sys.base_prefix and os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)'; then
  managed=(--break-system-packages)
fi
exec "$python" -m pip install -q --no-index --find-links "$folder" --no-cache-dir --disable-pip-version-check \
  --no-warn-script-location "${managed[@]}" "$@"
