"""A signed apt repository on loopback, laid out like NVIDIA's: Debian's hello package, a throwaway key,
and NVIDIA's own .list and .repo files verbatim. Real gpg, dpkg-scanpackages and HTTP; nothing mocked."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import subprocess
from pathlib import Path

import pytest

from runbook import toolkit
from tests.utils.loopback import served
from tests.utils.paths import CACHE, REPO

TOOLKIT_FIXTURES = REPO / "tests" / "fixtures" / "toolkit"


def nvidia_texts(root: Path) -> None:
    """NVIDIA's .list and .repo files, verbatim from the fixtures, where NVIDIA's repository keeps them
    (stable/deb/, stable/rpm/, experimental/...): they name NVIDIA's host, not the server."""
    for channel, src in (("stable", TOOLKIT_FIXTURES), ("experimental", TOOLKIT_FIXTURES / "experimental")):
        for kind, name in (("deb", "nvidia-container-toolkit.list"), ("rpm", "nvidia-container-toolkit.repo")):
            (root / channel / kind).mkdir(parents=True, exist_ok=True)
            (root / channel / kind / name).write_bytes((src / name).read_bytes())


def gpg(home, *args, data=None) -> bytes:
    return subprocess.run(
        ["gpg", "--batch", "--yes", "--homedir", str(home), *args], input=data, capture_output=True, check=True
    ).stdout


def stop_agent(home: Path) -> None:
    """Ends the gpg-agent that gpg started for ``home``: it would outlive the test and its folder."""
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True)


def make_key(home: Path, name: str) -> bytes:
    """A throwaway signing key in its own GNUPGHOME; returns the armored public key."""
    home.mkdir(mode=0o700)
    gpg(home, "--passphrase", "", "--quick-gen-key", f"{name} <{name}@example.invalid>", "rsa2048", "sign", "1d")
    key = gpg(home, "--armor", "--export")
    stop_agent(home)
    return key


class AptRepo:
    """Debian's hello package (fetched by tests/tooling/engine-up.sh) in a flat repository at stable/deb/amd64,
    signed by a throwaway key served as /gpgkey, with NVIDIA's own .list and .repo files beside it,
    verbatim (they name NVIDIA's host: the runbook's mirror setting must rewrite them); served over
    HTTP on 127.0.0.1."""

    def __init__(self, root: Path, home: Path):
        debs = sorted(glob.glob(str(CACHE / "debs" / "hello_*.deb")))
        if not debs:
            pytest.fail(f"no hello .deb in {CACHE}/debs; run tests/tooling/engine-up.sh")
        self.root = root
        (root / "gpgkey").write_bytes(make_key(home, "repo"))
        arch_dir = root / "stable" / "deb" / "amd64"
        arch_dir.mkdir(parents=True)
        (arch_dir / Path(debs[0]).name).write_bytes(Path(debs[0]).read_bytes())
        packages = subprocess.run(
            ["dpkg-scanpackages", "--multiversion", "."], cwd=arch_dir, capture_output=True, check=True
        ).stdout
        (arch_dir / "Packages").write_bytes(packages)
        digest = hashlib.sha256(packages).hexdigest()
        (arch_dir / "Release").write_text(
            "Origin: runbook-test\nLabel: runbook-test\nSuite: stable\nCodename: stable\n"
            "Date: Sat, 28 Nov 2026 00:00:00 UTC\nArchitectures: amd64\n"
            f"SHA256:\n {digest} {len(packages)} Packages\n"
        )
        (arch_dir / "InRelease").write_bytes(gpg(home, "--clearsign", "--output", "-", str(arch_dir / "Release")))
        stop_agent(home)
        nvidia_texts(root)
        self._served = contextlib.ExitStack()
        self.url = self._served.enter_context(served(root))

    def source(self) -> toolkit.Source:
        return toolkit.Source(mirror=self.url, packages=("hello",))

    def close(self) -> None:
        self._served.close()
