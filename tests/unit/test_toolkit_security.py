"""The toolkit's security: package versions compared as dpkg and rpm compare them, the bulletins' table,
the four packages' alignment, the CVE-2025-23266 stop-gap and the leftovers of old installs.

Real tools where they run here: Debian's comparison is checked against ``dpkg --compare-versions``;
rpm's against rpm's own test cases (tests/fixtures/toolkit/versions/); the packages are read by the
real ``dpkg-query`` from a package database made of the toolkit's real .deb control files (built from
source, RUNBOOK_TOOLKIT_REPO); the config.toml is the real ``nvidia-ctk config default`` with the flag
set by ``nvidia-ctk config --set``. ``nvidia-ctk --version`` of 1.17.7 comes from a stand-in
(tests/standin/nvidia-ctk) printing a real 1.17.8 text whose version the test changes to 1.17.7.
"""

import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from runbook import catalogue, results
from runbook.results import Status, run_check
from runbook.steps import toolkit_security, toolkit_state
from runbook.toolkit import bulletins, repos, security, versions
from runbook.toolkit.targets import HostTarget
from tests.utils.toolkit import built_toolkit

HERE = Path(__file__).parent.parent
FIXTURES = HERE / "fixtures" / "toolkit"
STANDIN = HERE / "standin"

CURATED = [
    "1.17.7-1",
    "1.17.8-1",
    "1.17.8",
    "1.17.10-1",
    "1.18.0~rc.1-1",
    "1.18.0~rc.2-1",
    "1.18.0-1",
    "1.18.0",
    "1:1.17.7-1",
    "0:1.17.8-1",
    "1.17.3-0ubuntu1",
    "1.17.3-0ubuntu1.1",
    "1.17.3-1+deb12u1",
    "1.17.3-1~bpo12+1",
    "1.0",
    "1.0~",
    "1.0~~",
    "1.0~a",
    "1.0a",
    "1.0+",
    "1.0.0",
    "1.00",
    "1.0-0",
    "1.0-",
    "2.0-1",
    "10.1",
    "9.99",
    "1.2.3a-4b",
    "a",
    "1:0",
    "2:0.1",
    "1.0.a",
    "1.0-1.1",
    "1.0-1~1",
    "1.0+dfsg-1",
    "1.0+dfsg~1-1",
    "1.0.",
    "1..0",
]


def random_versions(n: int, seed: int = 23) -> list[str]:
    """Versions from the characters deb-version(7) allows, with digits and separators mixed in."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        parts = [
            rnd.choice(["1", "0", "10", "2", "01", "a", "b", "z", "~", "+", ".", "~rc", "9"])
            for _ in range(rnd.randint(1, 5))
        ]
        v = "1" + "".join(parts)
        if rnd.random() < 0.4:
            v += "-" + rnd.choice(["1", "0", "1ubuntu1", "2~bpo", "1.1", "0+b1"])
        if rnd.random() < 0.15:
            v = rnd.choice(["1", "2"]) + ":" + v
        out.append(v)
    return out


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed on this machine")
def test_debian_comparison_agrees_with_dpkg_over_many_pairs(tmp_path):
    vs = CURATED + random_versions(60)
    rnd = random.Random(5)
    pairs = [(a, b) for a in CURATED for b in CURATED] + [(rnd.choice(vs), rnd.choice(vs)) for _ in range(400)]
    pairs = list(dict.fromkeys(pairs))
    listing = tmp_path / "pairs"
    listing.write_text("".join(f"{a} {b}\n" for a, b in pairs))
    # dpkg exits 0 (true), 1 (false) or 2 and more for a version it refuses ("1.0-": empty revision): those
    # pairs are left out, since apt never holds such a version
    script = (
        'while read a b; do dpkg --compare-versions "$a" lt "$b" 2>/dev/null; lt=$?; '
        'dpkg --compare-versions "$a" eq "$b" 2>/dev/null; eq=$?; '
        "if [ $lt -gt 1 ] || [ $eq -gt 1 ]; then echo x; elif [ $lt = 0 ]; then echo -1; "
        'elif [ $eq = 0 ]; then echo 0; else echo 1; fi; done < "$1"'
    )
    out = subprocess.run(["bash", "-c", script, "bash", str(listing)], capture_output=True, text=True, check=True)
    answers = out.stdout.split()
    assert len(answers) == len(pairs)
    judged = [(a, b, int(want)) for (a, b), want in zip(pairs, answers, strict=True) if want != "x"]
    wrong = [(a, b, want, versions.deb_compare(a, b)) for a, b, want in judged if versions.deb_compare(a, b) != want]
    assert not wrong, f"{len(wrong)} of {len(judged)} pairs differ from dpkg (a, b, dpkg, ours): {wrong[:10]}"
    assert len(judged) > 1500


def test_rpm_comparison_agrees_with_rpms_own_tests():
    text = (FIXTURES / "versions" / "rpmvercmp.at").read_text()
    cases = re.findall(r"^RPMVERCMP\(([^,]*), ([^,]*), (-?\d)\)$", text, re.M)
    assert len(cases) == 69
    wrong = [
        (a, b, int(want), versions.rpm_compare(a, b)) for a, b, want in cases if versions.rpm_compare(a, b) != int(want)
    ]
    assert not wrong, wrong


def test_every_row_of_the_table_has_its_source():
    table = bulletins.table()
    assert table["date"] and table["sources"]
    for row in table["vulnerabilities"]:
        assert re.fullmatch(r"CVE-\d{4}-\d{4,}", row["cve"]), row
        assert row["bulletin"].startswith("https://nvidia.custhelp.com/app/answers/detail/a_id/"), row
        assert row["severity"] in ("critical", "high", "medium", "low"), row
        assert (
            row["affected"] == "<= " + row["affected"].split()[-1]
            and versions.deb_compare(row["affected"].split()[-1], row["fixed"]) < 0
        ), row
    assert {r["cve"] for r in table["vulnerabilities"]} >= {
        "CVE-2024-0132",
        "CVE-2024-0133",
        "CVE-2024-0134",
        "CVE-2024-0135",
        "CVE-2024-0136",
        "CVE-2024-0137",
        "CVE-2025-23359",
        "CVE-2025-23266",
        "CVE-2025-23267",
    }


@pytest.mark.parametrize(
    "version, cves",
    [
        ("1.16.1-1", {"CVE-2024-0132", "CVE-2024-0133"}),
        ("1.16.2-1", {"CVE-2024-0134"}),
        ("1.17.2-1", {"CVE-2024-0135", "CVE-2024-0136", "CVE-2024-0137"}),
        ("1.17.3-1", {"CVE-2025-23359"}),
        ("1.17.7-1", {"CVE-2025-23266", "CVE-2025-23267"}),
        ("1.17.8~rc.1-1", {"CVE-2025-23266", "CVE-2025-23267"}),  # a release candidate comes before the release
        ("1.17.8-1", set()),
        ("1.18.0~rc.1-1", set()),
    ],
)
def test_ranges(version, cves):
    got = {r["cve"] for r in bulletins.affecting(version)}
    assert cves <= got, (version, got)
    for r in bulletins.table()["vulnerabilities"]:
        assert (r["cve"] in got) == (versions.deb_compare(version, r["fixed"]) < 0), (version, r["cve"])
    assert ("CVE-2025-23266" in got) == (versions.deb_compare(version, "1.17.8") < 0)


def ctk_text(version: str) -> str:
    """The real 1.17.8 `nvidia-ctk --version` text with its version changed by code."""
    real = (FIXTURES / "nvidia-ctk-version" / "1.17.8.txt").read_text()
    changed = real.replace("CLI version 1.17.8", f"CLI version {version}", 1)
    assert changed != real or version == "1.17.8"
    return changed


@pytest.fixture
def standin_ctk(tmp_path, monkeypatch):
    """Put the stand-in nvidia-ctk first on PATH, answering with ``ctk_text(version)``."""

    def put(version: str) -> None:
        answer = tmp_path / "ctk-version.txt"
        answer.write_text(ctk_text(version))
        monkeypatch.setenv("RUNBOOK_STANDIN_CTK_VERSION", str(answer))
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir(exist_ok=True)
        (bin_dir / "nvidia-ctk").unlink(missing_ok=True)
        (bin_dir / "nvidia-ctk").symlink_to(STANDIN / "nvidia-ctk")
        monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")

    return put


def no_packages(argv):
    """This machine's own package database, which has no toolkit package (never installed here)."""
    return HostTarget().run(argv)


def test_a_host_with_1_17_7_fails_naming_cve_2025_23266_and_1_17_8(standin_ctk, tmp_path):
    standin_ctk("1.17.7")
    checks = toolkit_security.security_checks(
        HostTarget(str(tmp_path / "root")),
        toolkit_state.source_of({"toolkit_mirror": repos.REPO, "toolkit_channel": "stable", "toolkit_version": ""}),
    )
    by_id = {c.id: c for c in checks}
    sec = by_id["toolkit.security"]
    assert sec.status is Status.FAIL, sec
    assert "CVE-2025-23266" in sec.detail and "1.17.8" in sec.detail, sec.detail
    assert "1.17.8" in sec.remediation and sec.cause
    assert "a_id/5659" in sec.evidence
    assert sec.data["version"] == "1.17.7" and sec.data["source"] == "nvidia-ctk"
    verdict, why = results.verdict({catalogue.STEPS[1]: checks}, catalogue.ESSENTIAL)
    assert verdict == "fail" and "toolkit.security" in why


def test_1_17_8_from_the_same_text_passes(standin_ctk, tmp_path):
    standin_ctk("1.17.8")
    r = run_check("toolkit.security", "t", lambda: toolkit_security.check_security("apt", {}, security_ctk(), set()))
    assert r.status is Status.PASS, r
    assert "1.17.8" in r.detail


def security_ctk():
    from runbook import toolkit

    return toolkit.ctk_version()


def test_the_built_toolkits_own_version_text_is_read():
    text = (FIXTURES / "nvidia-ctk-version" / "1.20.0-built.txt").read_text()
    assert re.search(r"version\s+(\d+\.\d+\.\d+\S*)", text).group(1) == "1.20.0"


def test_the_stop_gap_is_a_mitigation_not_a_fix(tmp_path):
    ctk = built_toolkit("bin") / "nvidia-ctk"
    config = tmp_path / "config.toml"
    config.write_text(
        subprocess.run([str(ctk), "config", "default"], capture_output=True, text=True, check=True).stdout
    )
    assert security.mitigations(config.read_bytes()) == set(), "the default config sets no feature flag"
    subprocess.run(
        [
            str(ctk),
            "config",
            f"--config-file={config}",
            "--set",
            "features.disable-cuda-compat-lib-hook=true",
            "--in-place",
        ],
        check=True,
    )
    flags = security.mitigations(config.read_bytes())
    assert "disable-cuda-compat-lib-hook" in flags
    r = run_check("toolkit.security", "t", lambda: toolkit_security.check_security("apt", {}, "1.17.7", flags))
    # CVE-2025-23266 is mitigated; CVE-2025-23267 (high) has no stop-gap: still a failure
    assert r.status is Status.FAIL
    assert r.data["mitigated"] == ["CVE-2025-23266"]
    assert "mitigated" in r.detail and "not fixed" in r.detail


def test_a_mitigated_critical_alone_is_a_warning():
    rows = [r for r in bulletins.table()["vulnerabilities"] if r["cve"] == "CVE-2025-23266"]
    a = security.Assessment("1.17.7", "nvidia-ctk", findings=[security.Finding(rows[0], mitigated=True)])
    assert a.severe == []


def test_a_distribution_build_the_table_cannot_judge_warns():
    r = run_check(
        "toolkit.security",
        "t",
        lambda: toolkit_security.check_security("apt", {p: "1.17.3-0ubuntu1.1" for p in repos.PACKAGES}, None, set()),
    )
    assert r.status is Status.WARN, r
    assert "cannot judge" in r.detail and r.data["undecided"]


def test_severity_decides_fail_or_warn():
    rows = {r["cve"]: r for r in bulletins.table()["vulnerabilities"]}
    medium = security.Assessment("1.16.2", "nvidia-ctk", findings=[security.Finding(rows["CVE-2024-0134"])])
    high = security.Assessment("1.17.2", "nvidia-ctk", findings=[security.Finding(rows["CVE-2024-0135"])])
    assert medium.severe == [] and [f.row["cve"] for f in high.severe] == ["CVE-2024-0135"]


def dpkg_database(tmp_path: Path, version_of: dict[str, str]) -> Path:
    """A dpkg database (``--admindir``) holding the toolkit's real .deb control files, at the versions given."""
    debs = sorted((built_toolkit("repo") / "stable" / "deb").rglob("*.deb"))
    assert len(debs) == 4, debs
    admin = tmp_path / "dpkg"
    (admin / "info").mkdir(parents=True)
    stanzas = []
    for deb in debs:
        control = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True).stdout
        name = re.search(r"^Package: (\S+)", control, re.M).group(1)
        control = re.sub(r"^Version: .*$", f"Version: {version_of.get(name, '')}", control, flags=re.M)
        if not version_of.get(name):
            continue
        stanzas.append(
            control.replace("Package: " + name + "\n", f"Package: {name}\nStatus: install ok installed\n", 1)
        )
    (admin / "status").write_text("\n".join(s.rstrip("\n") + "\n" for s in stanzas))
    return admin


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="dpkg is not installed on this machine")
def test_a_mixed_set_since_1_18_fails_with_the_command_that_aligns_them(tmp_path):
    admin = dpkg_database(
        tmp_path,
        {
            "nvidia-container-toolkit": "1.20.0-1",
            "nvidia-container-toolkit-base": "1.20.0-1",
            "libnvidia-container-tools": "1.18.1-1",
            "libnvidia-container1": "1.18.1-1",
        },
    )

    def run(argv):
        return HostTarget().run([argv[0], f"--admindir={admin}", *argv[1:]] if argv[0] == "dpkg-query" else argv)

    manager, found = security.installed_packages(run)
    assert (
        manager == "apt"
        and found["libnvidia-container1"] == "1.18.1-1"
        and found["nvidia-container-toolkit"] == "1.20.0-1"
    )
    r = run_check("toolkit.packages", "t", lambda: toolkit_security.check_packages(manager, found, "1.20.0"))
    assert r.status is Status.FAIL, r
    assert r.remediation.endswith(" ".join(f"{p}=1.20.0-1" for p in repos.PACKAGES)), r.remediation
    assert "--allow-downgrades" in r.remediation


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="dpkg is not installed on this machine")
def test_the_real_packages_at_one_version_pass(tmp_path):
    admin = dpkg_database(tmp_path, {p: "1.20.0-1" for p in repos.PACKAGES})

    def run(argv):
        return HostTarget().run([argv[0], f"--admindir={admin}", *argv[1:]] if argv[0] == "dpkg-query" else argv)

    manager, found = security.installed_packages(run)
    assert found == {p: "1.20.0-1" for p in repos.PACKAGES}
    r = run_check("toolkit.packages", "t", lambda: toolkit_security.check_packages(manager, found, "1.20.0"))
    assert r.status is Status.PASS, r
    r = run_check("toolkit.security", "t", lambda: toolkit_security.check_security(manager, found, "1.20.0", set()))
    assert r.status is Status.PASS, r


def test_before_1_18_a_mixed_set_is_allowed():
    found = {
        "nvidia-container-toolkit": "1.17.8-1",
        "nvidia-container-toolkit-base": "1.17.8-1",
        "libnvidia-container-tools": "1.17.9-1",
        "libnvidia-container1": "1.17.9-1",
    }
    assert not security.mixed(found)


def test_rpm_query_output_is_read():
    # rpm prints "package X is not installed" for an absent package (its own wording)
    out = (
        "nvidia-container-toolkit 0:1.17.8-1\npackage nvidia-docker2 is not installed\n"
        "libnvidia-container1 1:1.17.8-1\n"
    )
    assert security.parse_rpm_query(out) == {
        "nvidia-container-toolkit": "1.17.8-1",
        "libnvidia-container1": "1:1.17.8-1",
    }


def test_leftovers_are_found(tmp_path):
    root = tmp_path
    lists = root / "etc/apt/sources.list.d"
    lists.mkdir(parents=True)
    real = (FIXTURES / "nvidia-container-toolkit.list").read_bytes()
    (lists / "nvidia-container-toolkit.list").write_bytes(
        real.replace(b"deb https://", b"deb [signed-by=/etc/apt/keyrings/other.gpg] https://")
    )
    (lists / "nvidia-docker.list").write_text("deb https://nvidia.github.io/nvidia-docker/ubuntu22.04/$(ARCH) /\n")
    repos_d = root / "etc/yum.repos.d"
    repos_d.mkdir(parents=True)
    (repos_d / "nvidia-docker.repo").write_bytes((FIXTURES / "nvidia-container-toolkit.repo").read_bytes())
    target = HostTarget(str(root))
    src = repos.Source()
    r = run_check(
        "toolkit.leftovers",
        "t",
        lambda: toolkit_security.check_leftovers("apt", {"nvidia-docker2": "2.14.0-1"}, target, src),
    )
    assert r.status is Status.WARN, r
    assert "nvidia-docker2" in r.detail and "/etc/apt/sources.list.d/nvidia-docker.list" in r.detail
    assert "/etc/yum.repos.d/nvidia-docker.repo" in r.detail and "/etc/apt/keyrings/other.gpg" in r.detail
    assert "sudo apt-get purge -y nvidia-docker2" in r.remediation


def test_no_leftovers_pass(tmp_path):
    (tmp_path / "etc/apt/sources.list.d").mkdir(parents=True)
    listing = repos.signed_list((FIXTURES / "nvidia-container-toolkit.list").read_bytes(), repos.Source())
    (tmp_path / "etc/apt/sources.list.d/nvidia-container-toolkit.list").write_bytes(listing)
    r = run_check(
        "toolkit.leftovers",
        "t",
        lambda: toolkit_security.check_leftovers("apt", {}, HostTarget(str(tmp_path)), repos.Source()),
    )
    assert r.status is Status.PASS, r


def test_the_plan_never_installs_a_vulnerable_pin(tmp_path):
    from runbook.errors import RunSetupError, ToolkitError

    r = run_check("toolkit.plan", "t", lambda: toolkit_state.check_plan(None, {"ID": "ubuntu"}, "1.17.7-1"))
    assert r.status is Status.FAIL and "CVE-2025-23266" in r.detail and "1.17.8" in r.detail
    r = run_check(
        "toolkit.apply",
        "t",
        lambda: toolkit_state.apply_plan(object.__new__(type("P", (), {"manager": "apt"})), True, "1.17.7-1"),
    )
    assert r.status is Status.SKIP and "vulnerable" in r.detail
    with pytest.raises(RunSetupError, match="CVE-2025-23266"):
        toolkit_state.plan_for({"toolkit_version": "1.17.7-1"}, "ubuntu:24.04")
    assert toolkit_state.plan_for({"toolkit_version": "1.17.8-1"}, "ubuntu:24.04").commands()[-1]
    with pytest.raises(ToolkitError, match="CVE-2025-23266"):
        repos.refuse_vulnerable("1.17.7-1")
    repos.refuse_vulnerable("1.18.1-1")


def test_a_distribution_build_is_judged_by_its_package_not_by_nvidia_ctk():
    """nvidia-ctk prints the upstream version only (1.17.3); the package's revision says whose build it is."""
    found = {p: "1.17.3-0ubuntu1.1" for p in repos.PACKAGES}
    r = run_check("toolkit.security", "t", lambda: toolkit_security.check_security("apt", found, "1.17.3", set()))
    assert r.status is Status.WARN and r.data["source"] != "nvidia-ctk", r
