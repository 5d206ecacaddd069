"""CDI freshness: the driver a spec was generated for (read as nvidia-ctk writes it), against the running
driver; its cdiVersion against what the engine reads; the refresh units. The spec is the toolkit's own
generator test's expected output (tests/fixtures/toolkit/README.md), edited by code per case."""

import functools
from pathlib import Path

import pytest
import yaml

from runbook import toolkit
from runbook.results import Status, run_check
from runbook.steps import toolkit_state
from runbook.toolkit import cdi

TEMPLATE = (Path(__file__).parent.parent / "fixtures" / "toolkit" / "cdi" / "generate-default.yaml.tmpl").read_text()
H200_DRIVER = "580.159.04"  # tests/fixtures/h200/nvidia-smi-q-x.xml


def spec(driver: str = "999.88.77", cdi_version: str = "", hook: bool = True) -> str:
    text = TEMPLATE.replace("{{ .driverRoot }}", "").replace("kind: example.com/device", "kind: nvidia.com/gpu")
    assert "999.88.77" in text and "kind: nvidia.com/gpu" in text
    text = text.replace("999.88.77", driver)
    if cdi_version:
        text = text.replace("cdiVersion: 0.5.0", f"cdiVersion: {cdi_version}")
    if not hook:
        doc = cdi.load(text)
        doc["containerEdits"]["hooks"] = [
            h for h in doc["containerEdits"]["hooks"] if "enable-cuda-compat" not in h["args"]
        ]
        text = yaml.safe_dump(doc)
    return text


def test_the_driver_is_read_from_the_hook_then_from_the_libraries():
    assert cdi.driver_version(cdi.load(spec())) == "999.88.77"
    assert cdi.driver_version(cdi.load(spec(hook=False))) == "999.88.77"
    assert cdi.driver_version(cdi.load(spec(H200_DRIVER, hook=False))) == H200_DRIVER
    assert cdi.cdi_version(cdi.load(spec())) == "0.5.0"


@pytest.fixture
def cdi_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cdi"
    folder.mkdir()
    monkeypatch.setattr(toolkit, "cdi_specs", functools.partial(toolkit.cdi_specs, dirs=[str(folder)]))
    return folder


def run(mode="gpus", driver=H200_DRIVER, engine="28.2.2"):
    return run_check("toolkit.cdi", "t", lambda: toolkit_state.check_cdi(mode, driver, engine))


def test_a_spec_for_the_running_driver_passes(cdi_dir):
    (cdi_dir / "nvidia.yaml").write_text(spec(H200_DRIVER))
    r = run()
    assert r.status is Status.PASS, r
    assert H200_DRIVER in r.detail and "cdiVersion 0.5.0" in r.detail


def test_a_spec_from_another_driver_is_stale_a_failure(cdi_dir):
    (cdi_dir / "nvidia.yaml").write_text(spec("999.88.77"))
    r = run()
    assert r.status is Status.FAIL, r
    assert "999.88.77" in r.detail and H200_DRIVER in r.detail
    assert "nvidia-ctk cdi generate" in r.remediation and "29.2" in r.cause


@pytest.mark.parametrize(
    "engine, version, status",
    [
        ("26.0.0", "0.7.0", Status.FAIL),
        ("26.1.0", "0.7.0", Status.PASS),
        ("25.0.3", "0.6.0", Status.PASS),
        ("29.2.1", "0.7.0", Status.PASS),
    ],
)
def test_the_cdi_version_against_what_the_engine_reads(cdi_dir, engine, version, status):
    (cdi_dir / "nvidia.yaml").write_text(spec(H200_DRIVER, cdi_version=version))
    r = run(engine=engine)
    assert r.status is status, r
    if status is Status.FAIL:
        assert "26.1" in r.remediation and "0.6.0" in r.detail


def test_no_spec_fails_only_for_gpu_mode_cdi(cdi_dir):
    assert run(mode="cdi").status is Status.FAIL
    assert run(mode="gpus").status is Status.WARN


def test_a_spec_that_does_not_say_its_driver_warns(cdi_dir):
    doc = cdi.load(spec(hook=False))
    doc["containerEdits"]["mounts"] = []
    (cdi_dir / "nvidia.yaml").write_text(yaml.safe_dump(doc))
    r = run()
    assert r.status is Status.WARN and "cannot be told" in r.detail


@pytest.mark.parametrize(
    "systemd, states, status, words",
    [
        (False, {}, Status.SKIP, "systemd does not run"),
        (True, {"nvidia-cdi-refresh.path": ("not-found", "inactive")}, Status.WARN, "not installed"),
        (True, {"nvidia-cdi-refresh.path": ("disabled", "inactive")}, Status.WARN, "disabled"),
        (True, {"nvidia-cdi-refresh.path": ("enabled", "active")}, Status.PASS, "enabled and active"),
    ],
)
def test_the_refresh_units(systemd, states, status, words):
    r = run_check("toolkit.cdi_refresh", "t", lambda: toolkit_state.check_cdi_refresh(systemd, "1.18.1", states))
    assert r.status is status and words in r.detail, r


def test_the_plans_cdi_step_knows_a_stale_spec():
    assert toolkit.cdi_spec_current(spec(H200_DRIVER).encode(), H200_DRIVER)
    assert not toolkit.cdi_spec_current(spec("999.88.77").encode(), H200_DRIVER)
