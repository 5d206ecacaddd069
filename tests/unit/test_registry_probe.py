"""The registry probe against real servers on loopback, one per outcome: HTTP servers answering 402,
403, an HTML page and a stall after the headers (Python's http.server), a TLS server with a self-signed
certificate (openssl), a closed port, a name under .invalid (RFC 6761: it never resolves), the real
Docker Hub (no route from CI: what a host in mainland China sees) and the shared loopback registry
(Debian's docker-registry at 127.0.0.1:5000, tests/tooling/engine-up.sh)."""

import contextlib
import json
import socket
import ssl
import subprocess
import time

import pytest

from runbook.i18n import activate
from runbook.network import mirrors
from runbook.network import probe as registry_probe
from tests.utils.engine import require
from tests.utils.loopback import answering
from tests.utils.registry import REGISTRY


@pytest.fixture
def self_signed(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


REGISTRY_HEADERS = {"Docker-Distribution-Api-Version": "registry/2.0", "Content-Type": "application/json"}


def expect(probe, outcome):
    assert probe.outcome == outcome, f"expected {outcome}, got {probe.outcome} ({probe.detail})"


def test_a_registry_answers():
    got = registry_probe.probe(f"http://{REGISTRY}", timeout=5)
    require(got.outcome != registry_probe.REFUSED, f"the loopback registry at {REGISTRY}")
    expect(got, registry_probe.REGISTRY)
    assert got.answers and got.status == 200 and "registry/2.0" in got.detail, got


def test_401_with_the_header_is_a_registry_that_wants_a_token():
    """Docker Hub and most mirrors answer /v2/ with 401 and a Www-Authenticate: that is a registry."""
    with answering(401, {**REGISTRY_HEADERS, "Www-Authenticate": 'Bearer realm="x"'}) as url:
        expect(registry_probe.probe(url, 2), registry_probe.REGISTRY)


@pytest.mark.parametrize(
    "status,outcome",
    [(402, registry_probe.QUOTA), (403, registry_probe.FORBIDDEN), (429, registry_probe.RATE_LIMITED)],
)
def test_an_alive_mirror_that_refuses_to_serve(status, outcome):
    with answering(status, {"Content-Type": "text/plain"}, b"no") as url:
        got = registry_probe.probe(url, 2)
    expect(got, outcome)
    assert not got.answers and got.status == status


def test_an_html_page_is_not_a_registry():
    with answering(200, {"Content-Type": "text/html"}, b"<html><body>parked domain</body></html>") as url:
        got = registry_probe.probe(url, 2)
    expect(got, registry_probe.NOT_REGISTRY)
    assert "HTML" in got.detail, got.detail


def test_200_without_the_distribution_header_is_not_a_registry():
    with answering(200, {"Content-Type": "application/json"}) as url:
        expect(registry_probe.probe(url, 2), registry_probe.NOT_REGISTRY)


def test_a_self_signed_certificate_is_a_tls_failure(self_signed):
    with answering(200, REGISTRY_HEADERS, tls=self_signed) as url:
        got = registry_probe.probe(url, 2)
    expect(got, registry_probe.TLS)
    assert "certificate" in got.detail.lower(), got.detail


def test_a_server_that_stalls_after_its_headers_times_out():
    with answering(200, REGISTRY_HEADERS, body=None) as url:
        start = time.monotonic()
        got = registry_probe.probe(url, 1)
        took = time.monotonic() - start
    expect(got, registry_probe.TIMEOUT)
    assert "body" in got.detail and took < 3, (got.detail, took)


def test_a_closed_port_refuses():
    expect(registry_probe.probe(f"http://127.0.0.1:{closed_port()}", 2), registry_probe.REFUSED)


def test_a_name_that_never_resolves():
    """RFC 6761: names under .invalid never resolve, on any resolver."""
    expect(registry_probe.probe("https://mirror.example.invalid", 2), registry_probe.DNS)


def test_the_real_docker_hub_is_unreachable_here_and_said_so_in_bounded_time():
    """CI has no route to the internet: the probe says how Docker Hub is unreachable (no DNS, no route,
    or no answer), as on a host in mainland China, and within the deadline."""
    start = time.monotonic()
    got = registry_probe.probe_all([mirrors.HUB_ENDPOINT], 2, 6)[0]
    took = time.monotonic() - start
    if got.answers:
        pytest.skip("this machine reaches Docker Hub: the unreachable case cannot be observed here")
    assert got.outcome in (registry_probe.DNS, registry_probe.TIMEOUT, registry_probe.UNREACHABLE), got
    assert took < 7, took


def test_every_probe_stalling_still_ends_by_the_deadline():
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(answering(200, REGISTRY_HEADERS, body=None)) for _ in range(6)]
        start = time.monotonic()
        got = registry_probe.probe_all(urls, timeout=10, deadline=2)
        took = time.monotonic() - start
    assert took < 2.5, f"the probes took {took:.1f} s, past their 2 s deadline"
    assert [p.outcome for p in got] == [registry_probe.TIMEOUT] * 6, got
    assert all("probe deadline" in p.detail for p in got), got


def test_the_whole_probe_is_bounded_at_30_s():
    assert mirrors.probe_deadline(5) == 15 and mirrors.probe_deadline(60) == 30


def test_every_outcome_has_a_cause_and_a_fix_in_both_languages():
    for outcome in registry_probe.OUTCOMES:
        p = registry_probe.Probe("https://m.example", outcome)
        activate("en")
        english = (p.cause, p.remediation)
        activate("zh_CN")
        chinese = (p.cause, p.remediation)
        activate("en")
        assert all(english), outcome
        assert chinese != english and all(chinese), f"{outcome} has no Chinese cause and fix"


@pytest.fixture
def presets(tmp_path, monkeypatch):
    """The cn presets mapped to loopback servers, through RUNBOOK_MIRROR_PRESETS."""

    def write(candidates, **more):
        path = tmp_path / "presets.json"
        data = {"registry_mirrors": {"cn": {"candidates": [{"url": u} for u in candidates]}}, **more}
        path.write_text(json.dumps(data))
        monkeypatch.setenv(mirrors.PRESETS_ENV, str(path))
        return path

    return write


def test_a_preset_whose_first_two_candidates_are_dead_keeps_the_third(presets):
    with answering(402) as quota:
        presets([quota, "https://mirror.example.invalid", f"http://{REGISTRY}"])
        kept, probes = mirrors.answering(mirrors.registry_candidates("cn"), 2)
    require(probes[2].outcome != registry_probe.REFUSED, f"the loopback registry at {REGISTRY}")
    assert kept == [f"http://{REGISTRY}"], [(p.url, p.outcome) for p in probes]
    assert [p.outcome for p in probes] == [registry_probe.QUOTA, registry_probe.DNS, registry_probe.REGISTRY]


@pytest.mark.parametrize(
    "content,wanted",
    [
        ("not json", "presets.json"),
        ('{"registry_mirrors": {"cn": {"candidates": [{"url": "https://m; rm -rf /"}]}}}', "not a plain http(s) URL"),
        ('{"registry_mirrors": {"cn": {"candidates": [{"href": "https://m"}]}}}', "presets' shape"),
        ('{"image_prefix": {"cn": {"prefix": "$(reboot)", "registries": []}}}', "host names"),
        ('{"toolkit_mirror": {"cn": {"url": "file:///etc/shadow"}}}', "not a plain http(s) URL"),
    ],
)
def test_a_presets_file_is_data_and_anything_else_is_refused(tmp_path, monkeypatch, content, wanted):
    path = tmp_path / "presets.json"
    path.write_text(content)
    monkeypatch.setenv(mirrors.PRESETS_ENV, str(path))
    with pytest.raises(ValueError) as e:
        mirrors.presets()
    assert wanted in str(e.value), str(e.value)


def test_the_shipped_presets_are_sourced_and_dated():
    from importlib import resources

    data = json.loads((resources.files("runbook") / "mirrors.json").read_text())
    for kind in ("registry_mirrors", "image_prefix", "toolkit_mirror", "pip_index_url"):
        for name, preset in data[kind].items():
            entries = preset.get("candidates") or [preset]
            for entry in entries:
                assert entry.get("source") and entry.get("checked"), f"{kind} {name}: {entry} has no source or date"
    assert mirrors.presets()["toolkit_mirror"]["cn"] == "https://mirrors.ustc.edu.cn/libnvidia-container"


@pytest.mark.parametrize(
    "image,prefix,expected",
    [
        ("nvcr.io/nvidia/pytorch:25.01-py3", "cn", "m.daocloud.io/nvcr.io/nvidia/pytorch:25.01-py3"),
        ("ghcr.io/org/image:1", "cn", "m.daocloud.io/ghcr.io/org/image:1"),
        ("nvidia/cuda:13.0.2-base-ubuntu24.04", "cn", "nvidia/cuda:13.0.2-base-ubuntu24.04"),  # Hub: mirrors
        ("registry.example.com/team/img:1", "cn", "registry.example.com/team/img:1"),  # not served by cn
        ("registry.example.com/team/img:1", "mirror.corp:5000", "mirror.corp:5000/registry.example.com/team/img:1"),
        ("nvcr.io/nvidia/pytorch:25.01-py3", "", "nvcr.io/nvidia/pytorch:25.01-py3"),
        ("m.daocloud.io/nvcr.io/nvidia/pytorch:1", "cn", "m.daocloud.io/nvcr.io/nvidia/pytorch:1"),  # already
    ],
)
def test_image_prefix_rewrites_only_registries_other_than_docker_hub(image, prefix, expected):
    assert mirrors.with_prefix(image, prefix) == expected


@pytest.mark.parametrize(
    "image,registry",
    [
        ("ubuntu", "docker.io"),
        ("nvidia/cuda:13.0", "docker.io"),
        ("docker.io/library/ubuntu", "docker.io"),
        ("nvcr.io/nvidia/pytorch:1", "nvcr.io"),
        ("127.0.0.1:5000/a/b", "127.0.0.1:5000"),
        ("localhost/a", "localhost"),
    ],
)
def test_the_registry_of_an_image_is_read_as_the_engine_reads_it(image, registry):
    assert mirrors.split(image).registry == registry


def test_a_bad_presets_file_is_one_line_and_exit_2(tmp_path):
    import os
    import subprocess
    import sys

    path = tmp_path / "presets.json"
    path.write_text('{"registry_mirrors": {"cn": {"candidates": [{"url": "$(reboot)"}]}}}')
    proc = subprocess.run(
        [sys.executable, "-m", "runbook", "plan", "-p", "registry_mirrors", "cn", "--os", "ubuntu:24.04"],
        capture_output=True,
        text=True,
        env={**os.environ, mirrors.PRESETS_ENV: str(path)},
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"the presets in {path}: '$(reboot)' is not a plain http(s) URL" in proc.stderr, proc.stderr


def test_the_plan_writes_only_the_mirrors_that_answer_in_their_order(presets):
    from runbook import params
    from runbook.steps import toolkit_state

    require(registry_probe.probe(f"http://{REGISTRY}", 2).answers, f"the loopback registry at {REGISTRY}")
    with answering(403) as campus_only:
        presets([campus_only, "https://mirror.example.invalid", f"http://{REGISTRY}"])
        text = toolkit_state.plan_for(params.validate({"registry_mirrors": "cn"}), "ubuntu:24.04").text()
    assert f'"registry-mirrors": ["http://{REGISTRY}"]' in text, text
    assert campus_only not in text and "example.invalid" not in text, text


def test_the_plan_shows_the_images_that_image_prefix_renames():
    import subprocess
    import sys

    argv = [sys.executable, "-m", "runbook", "plan", "--os", "ubuntu:24.04", "-p", "image_prefix", "cn"]
    argv += [
        "-p",
        "pytorch_image",
        "nvcr.io/nvidia/pytorch:25.01-py3",
        "-p",
        "cuda_image",
        "nvidia/cuda:13.0.2-base-ubuntu24.04",
    ]
    proc = subprocess.run(argv, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "# nvcr.io/nvidia/pytorch:25.01-py3 -> m.daocloud.io/nvcr.io/nvidia/pytorch:25.01-py3" in lines, lines[-3:]
    assert not any(line.startswith("# nvidia/cuda") for line in lines), "a Docker Hub image goes through mirrors"
