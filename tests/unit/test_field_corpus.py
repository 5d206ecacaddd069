"""The field corpus (tests/fixtures/field, SOURCES.md): nvidia-smi outputs, error texts and daemon.json files
from hosts this project never saw, read by the runbook's own readers, diagnosis and merge. Each file is checked
against what it says itself (its own GPU count, names and versions, found here by a plain text search), and
the figures of tests/fixtures/field/coverage.py are held to their bar."""

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from runbook import host, params
from runbook.host import cuda, readouts
from runbook.results import Status, run_check
from runbook.steps import Context, images

FIELD = Path(__file__).parent.parent / "fixtures" / "field"
spec = importlib.util.spec_from_file_location("field_coverage", FIELD / "coverage.py")
coverage = sys.modules["field_coverage"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(coverage)


def test_the_corpus_is_as_large_as_promised():
    assert len(coverage.xml_files()) >= 40
    drivers = {host.parse_nvidia_smi_xml(p.read_text()).driver_version.split(".")[0] for p in coverage.xml_files()}
    assert len(drivers - {""}) >= 10, drivers
    assert "390" in drivers, drivers  # the oldest branch the issue asks for
    assert len(coverage.error_texts()) >= 190
    assert len(coverage.daemon_json_files()) >= 25


@pytest.mark.parametrize("folder", ["xml", "captures", "daemon_json"])
def test_every_file_names_its_source(folder):
    """Each corpus file has its repository, commit and path in its folder's SOURCES.json, and no entry is
    left without its file."""
    sources = json.loads((FIELD / folder / "SOURCES.json").read_text())
    files = {p.name for p in (FIELD / folder).iterdir() if p.name != "SOURCES.json"}
    assert files == set(sources)
    for name, source in sources.items():
        assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]), name
        assert source["path"] and re.fullmatch(r"[\w.-]+/[\w.-]+", source["repository"]), name


def test_every_output_parses_without_an_exception():
    parsed = coverage.parse_all()
    assert parsed.files >= 50
    assert parsed.failures == []


def own(text: str, tag: str) -> list[str]:
    """Every ``<tag>`` value of an XML document, found by text search (not by the parser under test)."""
    return [v.strip() for v in re.findall(rf"<{tag}>([^<]*)</{tag}>", text)]


@pytest.mark.parametrize("path", coverage.xml_files(), ids=lambda p: p.name)
def test_each_document_reads_as_it_says(path):
    text = path.read_text()
    d = host.parse_nvidia_smi_xml(text)
    # some projects trimmed their fixture to fewer <gpu> elements than attached_gpus says: the elements count
    assert len(d.gpus) == len(re.findall(r"<gpu[ >]", text)) >= 1
    assert [g.name for g in d.gpus] == [n for n in own(text, "product_name")][: len(d.gpus)]
    for name in ("driver_version", "cuda_version"):
        said = own(text, name)
        version = re.match(r"\d+(\.\d+)+", said[0]) if said else None
        if version:
            assert getattr(d, name) == version.group(0)
        else:  # absent (old drivers), empty or a word: unknown, and the word kept
            assert getattr(d, name) == ""
            assert d.unknown.get(name, "") == (said[0] if said else "")


def test_driver_430s_cuda_version_not_found_is_unknown_with_its_reason():
    d = host.parse_nvidia_smi_xml((FIELD / "xml" / "pai-nvidia_smi_out_of_order.xml").read_text())
    assert (d.driver_version, d.cuda_version, d.unknown["cuda_version"]) == ("430.26", "", "Not Found")
    assert len(d.gpus) == 4 and all(g.name == "Tesla K80" for g in d.gpus)


def test_non_numeric_values_are_unknown_with_the_words_kept():
    for said in ("N/A", "[Not Supported]", "Not Found", "[N/A]", "Unknown Error", "", "[Unknown Error]"):
        for kind in ("version", "mib", "int", "text"):
            r = host.read(kind, said)
            assert r.value is None and r.said == said.strip(), (kind, said, r)
    assert host.read("version", "610.62 [Deprecated; will be removed in CUDA 14.0]").value == "610.62"
    assert host.read("mib", "81559 MiB").value == 81559


@pytest.mark.parametrize("path", coverage.capture_files(), ids=lambda p: p.name)
def test_each_capture_reads_as_it_says(path):
    """-L, the table and the CSV of one capture agree with each other and with the driver its name gives; the
    table's CUDA is what `nvidia-smi --version` said (R610 spells both "KMD" and "CUDA UMD")."""
    s = coverage.sections(path)
    driver = coverage.capture_driver(path)
    listed = host.parse_nvidia_smi_list(s["nvidia-smi -L"])
    rows = readouts.parse_nvidia_smi_csv(s["nvidia-smi --query-gpu"])
    table = readouts.parse_nvidia_smi_table(s["nvidia-smi"])
    assert listed and len(rows) == len(listed)
    assert [r["name"].value for r in rows] == [g.name for g in listed]
    assert [r["uuid"].value for r in rows] == [g.uuid for g in listed]
    assert table["driver_version"].value == driver
    assert {r.get("kmd_version", r["driver_version"]).value for r in rows} == {driver}
    said = re.findall(r"^CUDA (?:UMD )?Version\s*:\s*(\d+\.\d+)", s["nvidia-smi --version"], re.M | re.I)
    assert table["cuda_version"].value == said[-1]


def test_the_csv_reads_units_and_older_names():
    text = "index, name, memory.total [MiB], clocks_throttle_reasons.active\n0, NVIDIA H200, 143771 MiB, 0x0000\n"
    (row,) = readouts.parse_nvidia_smi_csv(text)
    assert row["memory.total"].value == 143771
    assert row["clocks_event_reasons.active"].value == "0x0000"
    assert row["index"].value == 0


def test_error_texts_are_diagnosed_right_and_never_wrong():
    d = coverage.diagnose_all()
    assert d.total >= 190
    assert d.wrong == [], [(e["source"], e["cause"], got) for e, got in d.wrong]
    assert len(d.right) / d.total >= 0.95, [(e["source"], e["cause"]) for e in d.unknown]


def test_every_daemon_json_is_kept():
    kept = coverage.daemon_json_all()
    assert kept.failures == []
    assert kept.registered >= 10  # the files that register nvidia already, each left byte for byte


def test_the_cuda_table_knows_the_newest_driver_seen():
    """When the field shows a driver branch newer than the table's newest, the table is out of date."""
    branch, where = coverage.newest_driver_seen()
    assert branch <= cuda.newest_branch(), f"R{branch} ({where}) is newer than the CUDA table's R{cuda.newest_branch()}"


def test_each_branchs_own_cuda_version_is_the_tables_ceiling():
    """The CUDA version a real driver reports is the table's ceiling for it (on Linux; Windows numbers its
    drivers apart)."""
    for path in coverage.capture_files():
        if path.name.startswith("linux"):
            s = coverage.sections(path)
            reported = readouts.parse_nvidia_smi_table(s["nvidia-smi"])["cuda_version"].value
            assert cuda.max_cuda_for_driver(coverage.capture_driver(path)) == reported, path.name


def choose_for(path: Path, kind: str = "base"):
    """Step 3's image choice (cuda_image=auto) for the host of an nvidia-smi -q -x document."""
    ctx = Context(params=params.validate({"cuda_image": "auto"}), driver=host.parse_nvidia_smi_xml(path.read_text()))
    return run_check("gpu.image", "x", lambda: images.choose(ctx, "cuda_image", kind, "CUDA image"))


@pytest.mark.parametrize("path", coverage.xml_files(), ids=lambda p: p.name)
def test_every_document_gets_an_image_or_an_honest_skip(path):
    r = choose_for(path)
    assert r.status in (Status.PASS, Status.WARN, Status.SKIP), r.detail
    if r.status is Status.SKIP:
        assert "set cuda_image" in r.detail
    else:
        assert r.data["image"].startswith("nvidia/cuda:")


def test_a_driver_without_a_version_is_skipped_saying_what_nvidia_smi_printed():
    r = choose_for(FIELD / "xml" / "netdata-rtx-pro-6000-driver-580.xml")
    assert r.status is Status.SKIP and "no driver version" in r.detail


def test_a_driver_newer_than_the_table_warns_and_still_chooses(monkeypatch):
    """A host of a branch the table does not know yet: the newest image the table knows, and a warning."""
    table = {**cuda.table(), "min_driver": {k: v for k, v in cuda.table()["min_driver"].items() if k < "13.2"}}
    monkeypatch.setattr(cuda, "table", lambda: table)
    r = choose_for(FIELD / "xml" / "telegraf-rtx-3080-v13.xml")  # driver 595.58.03, CUDA 13.2
    assert r.status is Status.WARN
    assert "newer than the CUDA table knows" in r.detail and r.data["image"].startswith("nvidia/cuda:13.")
    assert r.remediation
