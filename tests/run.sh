#!/usr/bin/env bash
# The test command (README.md, docs/contributing.md): sets up what the tests need on a fresh Debian machine and runs them all.
#   - a virtual environment in .venv with the project and its test dependencies
#   - as root: a Docker engine, a registry on loopback and the test image (tests/tooling/engine-up.sh); then
#     the engine tests must run (RUNBOOK_REQUIRE_ENGINE=1 turns a missing engine into a failure)
#   - as root: Docker 26 (Debian trixie's) and Podman beside it, each on its own socket, with the test image
#     (tests/tooling/engines-up.sh); tests/engine/test_engines.py runs the engine-side set against each
#   - as root: Debian's Chromium, for the JupyterLab tests (Playwright drives it headless), and Debian's
#     CJK fonts (fonts-noto-cjk) for the workspace in Chinese
#   - as root: the NVIDIA Container Toolkit built from its source, its packages and a signed repository
#     laid out like NVIDIA's, in build/toolkit (tests/tooling/toolkit-up.sh, cached); their paths exported for
#     the toolkit tests, or the reason it cannot be built here, which those tests then skip with
#   - ruff (lint and format check), the docs site (mkdocs build --strict into build/site), then pytest
#     over tests/ (the wheel test builds and installs the wheel into a fresh virtual environment), and nbval over the notebooks whose checked outputs do not depend
#     on the host
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[lab,test]'
if [ "$(id -u)" -eq 0 ]; then
  bash tests/tooling/engine-up.sh
  bash tests/tooling/engines-up.sh
  # the browser tests drive Debian's Chromium with Playwright; the Chinese workspace needs CJK fonts
  if [ ! -x /usr/bin/chromium ] || ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk >/dev/null
  fi
  export RUNBOOK_REQUIRE_ENGINE=1 RUNBOOK_REQUIRE_BROWSER=1
  set +e
  bash tests/tooling/toolkit-up.sh build/toolkit
  rc=$?
  set -e
  case $rc in
    0) export RUNBOOK_TOOLKIT_BIN=$PWD/build/toolkit/bin RUNBOOK_TOOLKIT_REPO=$PWD/build/toolkit/repo ;;
    3) export RUNBOOK_TOOLKIT_UNAVAILABLE="$(cat build/toolkit/unavailable)" ;;
    *) exit $rc ;;
  esac
else
  echo "run.sh: not root; engine tests run only if an engine and the test image are already there" >&2
fi
.venv/bin/ruff check runbook tests benchmarks tools
.venv/bin/ruff format --check runbook tests benchmarks tools
# the documentation site: a broken link, a missing anchor or a page left out of the nav fails here
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict -d build/site
exec .venv/bin/python -m pytest -p no:cacheprovider tests \
  notebooks/02-container-toolkit.ipynb notebooks/05-why-no-nvcc.ipynb \
  --nbval-lax --nbval-sanitize-with runbook/nbval-sanitize.cfg "$@"
