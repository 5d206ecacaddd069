"""gpu-runbook bundle, opened: every part present or named in MANIFEST.txt with why it is absent; no
secret of daemon.json or of a record's parameters in any file. The host's files come from a folder laid
out as the host (the real /etc is not touched); the engine is the real one (docker info, read only)."""

import json
import tarfile
from pathlib import Path

import pytest

from runbook import cli
from runbook.record import bundle
from runbook.toolkit import daemon_json

FIXTURES = Path(__file__).parent.parent / "fixtures"
SECRETS = ("hunter2-proxy", "s3cr3t-mirror", "tok-abc123xyz", "recordpass99")


@pytest.fixture
def host_root(tmp_path):
    root = tmp_path / "root"
    (root / "etc/docker").mkdir(parents=True)
    (root / "etc/nvidia-container-runtime").mkdir(parents=True)
    (root / "etc/cdi").mkdir(parents=True)
    (root / "etc/os-release").write_text((FIXTURES / "h200" / "os-release").read_text())
    # a daemon.json as the runbook writes it (daemon_json.render), with credentials in the values people put there
    config = {
        "runtimes": {"nvidia": {"path": "nvidia-container-runtime", "args": []}},
        "registry-mirrors": ["https://builder:s3cr3t-mirror@mirror.example.com"],
        "proxies": {"http-proxy": "http://ops:hunter2-proxy@proxy.example.com:3128"},
        "registry-auth-token": "tok-abc123xyz",
    }
    (root / "etc/docker/daemon.json").write_bytes(daemon_json.render(config))
    (root / "etc/cdi/nvidia.yaml").write_text(
        (FIXTURES / "toolkit" / "cdi" / "generate-default.yaml.tmpl").read_text().replace("{{ .driverRoot }}", "")
    )
    return root


@pytest.fixture
def record(tmp_path):
    """A real record's summary.json whose parameters got a password (as a hand-edited record might)."""
    summary = json.loads((FIXTURES / "fleet" / "fleet-01" / "summary.json").read_text())
    summary["parameters"]["registry_mirrors"] = "https://ci:recordpass99@mirror.example.com"
    folder = tmp_path / "record"
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_the_bundle_holds_every_part_or_says_why_and_no_secret(host_root, record, tmp_path, monkeypatch, client):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "b.tar.gz"
    path, manifest = bundle.write(
        str(out), root=str(host_root), daemon_json="/etc/docker/daemon.json", record=str(record)
    )
    assert path == out and out.stat().st_mode & 0o077 == 0
    with tarfile.open(out) as tar:
        names = [m.name.split("/", 1)[1] for m in tar.getmembers()]
        texts = {
            n: tar.extractfile(m).read().decode(errors="replace") for n, m in zip(names, tar.getmembers(), strict=True)
        }
    listed = [p.name for p in bundle.parts(root=str(host_root), record=str(record))]
    states = dict(manifest)
    assert list(states) == listed and "MANIFEST.txt" in names
    for name in listed:
        in_archive = any(n == name or n.startswith(name + "/") for n in names)
        if states[name].startswith("present"):
            assert in_archive, name
        else:
            assert not in_archive and states[name].startswith("absent: ") and len(states[name]) > 10, (
                name,
                states[name],
            )
        assert f"{name}: {states[name]}" in texts["MANIFEST.txt"]
    for must in ("daemon.json", "cdi", "os-release", "last-record", "docker-info.json", "docker-version.json"):
        assert states[must].startswith("present"), (must, states[must])
    assert (
        "nvidia.com/gpu" in texts["cdi/etc_cdi_nvidia.yaml"] or "example.com/device" in texts["cdi/etc_cdi_nvidia.yaml"]
    )
    assert json.loads(texts["docker-version.json"])["ApiVersion"]
    leaked = [(n, s) for n, t in texts.items() for s in SECRETS if s in t]
    assert not leaked, leaked
    # masked, not dropped: the structure is still there to read
    assert '"registry-auth-token": "***"' in texts["daemon.json"] and "mirror.example.com" in texts["daemon.json"]
    assert "***@mirror.example.com" in texts["last-record/summary.json"]


def test_nvidia_bug_report_only_when_asked_and_installed(host_root, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    names = [p.name for p in bundle.parts(root=str(host_root))]
    assert "nvidia-bug-report.log.gz" not in names
    asked = [
        p for p in bundle.parts(root=str(host_root), nvidia_bug_report=True) if p.name == "nvidia-bug-report.log.gz"
    ]
    assert len(asked) == 1
    with pytest.raises(bundle.Absent, match="not installed"):
        asked[0].collect()


@pytest.mark.parametrize(
    "text, secret",
    [
        ('{"password": "pw1"}', "pw1"),
        ("token = abc", "abc"),
        ("Authorization: Bearer eyJhbGciOi.x.y", "eyJhbGciOi"),
        ("ssh://root:pw2@gpu-host", "pw2"),
        ('"IdentityToken": "it-1"', "it-1"),
    ],
)
def test_mask(text, secret):
    assert secret not in bundle.mask(text)


def test_the_command_line(host_root, record, tmp_path, capsys, client):
    out = tmp_path / "cli.tar.gz"
    code = cli.main(["bundle", "--out", str(out), "--record", str(record)])
    assert code == 0 and out.is_file()
    assert "MANIFEST" not in capsys.readouterr().err


def test_a_bundle_cut_short_leaves_no_file_that_looks_like_one(tmp_path, monkeypatch):
    """Interrupted while a part is collected (Ctrl-C), or out of room while the archive is written (raised
    where tarfile would raise it): neither the bundle's name nor its part file is left."""

    def interrupted():
        raise KeyboardInterrupt("SIGINT")

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    one = bundle.Part("a.txt", "a", lambda: b"a\n")
    monkeypatch.setattr(bundle, "parts", lambda **kw: [one, bundle.Part("b", "b", interrupted)])
    with pytest.raises(KeyboardInterrupt):
        bundle.write(str(tmp_path / "b.tar.gz"))
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(bundle, "parts", lambda **kw: [one])
    monkeypatch.setattr(bundle.tarfile.TarFile, "addfile", full_disk)
    with pytest.raises(bundle.RunSetupError, match="No space left on device"):
        bundle.write(str(tmp_path / "b.tar.gz"))
    assert list(tmp_path.iterdir()) == []
