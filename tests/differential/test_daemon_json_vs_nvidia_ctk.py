"""daemon.json: the runbook's merge against the real `nvidia-ctk runtime configure --runtime=docker
--config=FILE` (the NVIDIA Container Toolkit built from its source by tests/tooling/toolkit-up.sh), on the same
files, with each of nvidia-ctk's options (none, --set-as-default, --cdi.enabled, both): odd but valid
files and invalid ones. Where they agree, both write the same settings (compared as JSON values: the
formatting differs on purpose, see the last tests) and every key of the user's file survives. Where they
differ on purpose, the case says why, and the test checks that the difference is the one it says."""

import json
import subprocess
from dataclasses import dataclass

import pytest

from runbook.errors import DaemonJsonError
from runbook.toolkit import daemon_json, engine_config
from runbook.toolkit.targets import HostTarget

KEEPS = "the runbook keeps what nvidia-ctk drops or changes"
REFUSES = "the runbook refuses, nvidia-ctk writes"
READS = "the runbook writes, nvidia-ctk refuses"
LEAVES = "the runbook leaves the user's equivalent registration, nvidia-ctk rewrites it"

FLAGS = {
    "plain": [],
    "default": ["--set-as-default"],
    "cdi": ["--cdi.enabled"],
    "default+cdi": ["--set-as-default", "--cdi.enabled"],
}


@dataclass(frozen=True)
class Case:
    name: str
    raw: bytes | None  # None: no file at all
    differs: str = ""  # KEEPS, REFUSES or READS; empty: they agree
    why: str = ""
    only: tuple[str, ...] = ()  # the FLAGS under which they differ (empty: all)


def j(value) -> bytes:
    return json.dumps(value, indent=4).encode()


WHY_ARGS = "nvidia-ctk replaces the whole runtimes.nvidia entry; the runbook merges into it and never drops a setting"
WHY_FLOAT = "nvidia-ctk reads every number as a 64-bit float and writes back a rounded integer; the runbook keeps it"
WHY_TRAILING = (
    "nvidia-ctk reads the first JSON value and drops the rest of the file when it writes; the runbook will not "
    "rewrite a file that dockerd cannot read"
)
WHY_DUPLICATE = (
    "Go's JSON (nvidia-ctk's, and dockerd's) keeps the last of two equal keys silently; the runbook refuses, since "
    "writing the file back would drop the other one, which may be the one meant"
)
WHY_EQUIVALENT = (
    "the same program (nvidia-container-runtime) by the user's absolute path, with the same (no) arguments, is "
    "already the registration nvidia-ctk makes; nvidia-ctk replaces the path with the bare name, the runbook keeps "
    "the user's"
)
WHY_CDI = "nvidia-ctk replaces the features object with {cdi: true} (dropping the other features); the runbook merges"

CASES = [
    # odd but valid files
    Case("no-file", None),
    Case("empty-object", b"{}"),
    Case("compact-one-line", b'{"debug":true,"log-level":"warn"}'),
    Case("crlf-line-ends", b'{\r\n  "debug": true,\r\n  "log-level": "info"\r\n}\r\n'),
    Case("empty-runtimes", j({"runtimes": {}})),
    Case("other-runtime", j({"runtimes": {"runsc": {"path": "/usr/local/bin/runsc"}}})),
    Case(
        "other-runtimes-with-args",
        j(
            {
                "runtimes": {
                    "crun": {"path": "/usr/bin/crun", "runtimeArgs": ["--systemd-cgroup"]},
                    "kata": {"runtimeType": "io.containerd.kata.v2", "options": {"ConfigPath": "/etc/kata.toml"}},
                }
            }
        ),
    ),
    Case("nvidia-as-nvidia-ctk-writes", j({"runtimes": {"nvidia": {"args": [], "path": "nvidia-container-runtime"}}})),
    Case(
        "nvidia-other-path",
        j({"runtimes": {"nvidia": {"path": "/usr/local/nvidia/toolkit/nvidia-container-runtime"}}}),
        LEAVES,
        WHY_EQUIVALENT,
    ),
    Case("nvidia-empty-entry", j({"runtimes": {"nvidia": {}}})),
    Case(
        "nvidia-other-path-runtime-args",
        j({"runtimes": {"nvidia": {"path": "/opt/nvidia/runtime", "runtimeArgs": ["--debug"]}}}),
        KEEPS,
        WHY_ARGS,
    ),
    Case(
        "nvidia-with-args",
        j({"runtimes": {"nvidia": {"path": "nvidia-container-runtime", "args": ["--log=/tmp/x"]}}}),
        KEEPS,
        WHY_ARGS,
    ),
    Case("default-runtime-runsc", j({"default-runtime": "runsc", "runtimes": {"runsc": {"path": "runsc"}}})),
    Case("default-runtime-nvidia", j({"default-runtime": "nvidia"})),
    Case("default-runtime-runc", j({"default-runtime": "runc"})),
    Case("registry-mirrors", j({"registry-mirrors": ["https://mirror.gcr.io", "https://m.example.com"]})),
    Case(
        "mirrors-insecure-log-opts",
        j(
            {
                "insecure-registries": ["127.0.0.1:5000"],
                "registry-mirrors": [],
                "log-driver": "json-file",
                "log-opts": {"max-size": "10m", "max-file": "3"},
            }
        ),
    ),
    Case("unknown-keys", j({"x-unknown": {"nested": [1, {"deep": True}, None]}, "x-empty": {}, "x-list": []})),
    Case("empty-key", j({"": "empty key", " ": 1})),
    Case("keys-not-sorted", b'{"zeta": 1, "alpha": 2, "mid": {"b": 1, "a": 2}}'),
    Case("cgroup-and-data-root", j({"exec-opts": ["native.cgroupdriver=cgroupfs"], "data-root": "/srv/docker"})),
    Case("features-cdi-false", j({"features": {"cdi": False}})),
    Case("features-cdi-true", j({"features": {"cdi": True}})),
    Case(
        "features-others",
        j({"features": {"buildkit": True, "containerd-snapshotter": False}}),
        KEEPS,
        WHY_CDI,
        ("cdi", "default+cdi"),
    ),
    Case(
        "numbers-in-float-range",
        b'{"max-concurrent-downloads": 3, "x-f": 1.5, "x-e": 1e-7, "x-max": 1.7976931348623157e308}',
    ),
    Case("integer-2-pow-53", b'{"x-id": 9007199254740992}'),
    Case("integer-2-pow-53-plus-1", b'{"x-id": 9007199254740993}', KEEPS, WHY_FLOAT),
    Case("integer-beyond-2-pow-64", b'{"x-id": 12345678901234567890}', KEEPS, WHY_FLOAT),
    Case("negative-zero-and-one-point-zero", b'{"x-a": -0.0, "x-b": 1.0, "x-c": -0}'),
    Case("unicode-text", j({"x-名前": "値 ✓ ünïcödé", "log-opts": {"tag": "é"}})),
    Case("unicode-escapes", b'{"x-emoji": "\\ud83d\\ude00", "x-e": "\\u00e9"}'),
    Case("html-characters", j({"x-html": "<a href='x'>&amp;</a>"})),
    Case("line-separators", j({"x-ls": "a\u2028b\u2029c", "x-nul": "a\u0000b"})),
    Case("long-string", j({"x-long": "x" * 1_000_000})),
    Case("nested-100-deep", b'{"x": ' + b"[" * 100 + b"]" * 100 + b"}"),
    Case(
        "lone-surrogate",
        b'{"x-s": "\\ud800"}',
        KEEPS,
        "nvidia-ctk turns an unpaired surrogate escape into U+FFFD; the runbook writes the escape back as it was",
    ),
    Case(
        "runtimes-null",
        b'{"runtimes": null}',
        READS,
        "null holds no setting (dockerd reads it as none), so the runbook adds the runtime; nvidia-ctk panics "
        "on it (a type assertion on runtimes)",
    ),
    Case(
        "empty-file",
        b"",
        READS,
        "dockerd reads an empty daemon.json as no settings, and so does the runbook; nvidia-ctk stops at EOF",
    ),
    Case("whitespace-only", b"  \n\t\n", READS, "as an empty file: no settings for dockerd; nvidia-ctk stops at EOF"),
    Case(
        "byte-order-mark",
        daemon_json.BOM + b'{"debug": true}',
        READS,
        "the runbook drops a UTF-8 byte-order mark, which dockerd cannot read; nvidia-ctk refuses the file",
    ),
    # invalid files
    Case("trailing-comma", b'{"debug": true,}'),
    Case("comment", b'{\n  // the mirror\n  "debug": true\n}'),
    Case("unclosed", b'{"runtimes": {"nvidia": {}'),
    Case("top-level-list", b'["debug"]'),
    Case("top-level-string", b'"debug"'),
    Case("top-level-null", b"null"),  # nvidia-ctk panics (assignment to a nil map); the runbook refuses
    Case("nan", b'{"x": NaN}'),
    Case("infinity", b'{"x": Infinity}'),
    Case("number-beyond-float", b'{"x": 1e400}'),
    Case("integer-beyond-float", b'{"x": ' + b"9" * 400 + b"}"),
    Case("runtimes-list", b'{"runtimes": ["nvidia"]}'),  # nvidia-ctk panics; the runbook names the setting
    Case("runtimes-string", b'{"runtimes": "nvidia"}'),  # the same
    Case(
        "nvidia-runtime-string",
        b'{"runtimes": {"nvidia": "nvidia-container-runtime"}}',
        REFUSES,
        "dockerd refuses a runtime that is not an object; nvidia-ctk replaces it, the runbook leaves the file to "
        "be fixed by hand rather than drop a value",
    ),
    Case(
        "features-list",
        b'{"features": ["cdi"]}',
        REFUSES,
        "dockerd refuses features that are not an object; with --cdi.enabled nvidia-ctk replaces them, the runbook "
        "leaves the file to be fixed by hand",
        ("cdi", "default+cdi"),
    ),
    Case("second-value-after-the-object", b'{"debug": true} {"log-level": "warn"}', REFUSES, WHY_TRAILING),
    Case("garbage-after-the-object", b'{"debug": true} trailing words', REFUSES, WHY_TRAILING),
    Case("duplicate-key", b'{"debug": true, "debug": false}', REFUSES, WHY_DUPLICATE),
    Case(
        "duplicate-runtime",
        b'{"runtimes": {"runsc": {"path": "/a"}, "runsc": {"path": "/b"}}}',
        REFUSES,
        WHY_DUPLICATE,
    ),
    Case(
        "not-utf-8",
        b'{"x-latin1": "caf\xe9"}',
        REFUSES,
        "nvidia-ctk replaces bytes that are not UTF-8 with U+FFFD silently; the runbook does not rewrite text it "
        "cannot read",
    ),
    Case(
        "nested-600-deep",
        b'{"x": ' + b"[" * 600 + b"]" * 600 + b"}",
        REFUSES,
        f"Python's JSON stops near 1000 levels; the runbook refuses beyond {daemon_json.MAX_DEPTH} (dockerd's "
        "settings nest 3 deep) rather than crash; Go's goes to 10000",
    ),
]


@dataclass
class Outcome:
    written: dict | None  # the file's settings afterwards; None: refused
    detail: str


def by_nvidia_ctk(ctk, path, flags) -> Outcome:
    proc = subprocess.run(
        [str(ctk), "runtime", "configure", "--runtime=docker", f"--config={path}", *flags],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        return Outcome(None, f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}")
    return Outcome(json.loads(path.read_bytes()), proc.stderr)


def by_runbook(path, flags) -> Outcome:
    changes = daemon_json.nvidia_runtime(set_as_default="--set-as-default" in flags, cdi="--cdi.enabled" in flags)
    try:
        engine_config.configure(HostTarget(), str(path), changes)
    except DaemonJsonError as e:
        return Outcome(None, str(e))
    return Outcome(json.loads(path.read_bytes()), "")


def run_both(tmp_path, ctk, case: Case, flags) -> tuple[Outcome, Outcome]:
    out = []
    for who in ("nvidia-ctk", "runbook"):
        path = tmp_path / who / "daemon.json"
        path.parent.mkdir()
        if case.raw is not None:
            path.write_bytes(case.raw)
        out.append(by_nvidia_ctk(ctk, path, flags) if who == "nvidia-ctk" else by_runbook(path, flags))
        if out[-1].written is None and case.raw is not None:
            assert path.read_bytes() == case.raw, f"{who} refused the file but changed it"
    return out[0], out[1]


def runtime_settings(settings: dict) -> dict:
    """What dockerd takes from the configuration for the toolkit: the runtimes' names, nvidia's program,
    the default runtime and CDI."""
    runtimes = settings.get("runtimes") or {}
    return {
        "runtimes": sorted(runtimes),
        "nvidia": (runtimes.get("nvidia") or {}).get("path"),
        "default-runtime": settings.get("default-runtime"),
        "cdi": (settings.get("features") or {}).get("cdi"),
    }


def key_paths(value, at=()):
    """Every key of a JSON object, as the path of keys that leads to it."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield (*at, k)
            yield from key_paths(v, (*at, k))


def missing_keys(before: dict, after: dict) -> list:
    missing = []
    for path in key_paths(before):
        node = after
        for k in path:
            if not isinstance(node, dict) or k not in node:
                missing.append(path)
                break
            node = node[k]
    return missing


def user_settings(case: Case) -> dict:
    raw = (case.raw or b"{}").removeprefix(daemon_json.BOM)
    return json.loads(raw) if raw.strip() else {}


@pytest.mark.parametrize("flags", FLAGS.values(), ids=FLAGS.keys())
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_runbook_and_nvidia_ctk_on_the_same_file(tmp_path, toolkit_bin, case, flags):
    ctk, runbook = run_both(tmp_path, toolkit_bin / "nvidia-ctk", case, flags)
    name = next(k for k, v in FLAGS.items() if v == flags)
    differs = case.differs if not case.only or name in case.only else ""
    if differs == REFUSES:
        assert runbook.written is None, f"expected the runbook to refuse ({case.why}); it wrote {runbook.written}"
        assert ctk.written is not None, f"expected nvidia-ctk to write ({case.why}); {ctk.detail}"
    elif differs == READS:
        assert ctk.written is None, f"expected nvidia-ctk to refuse ({case.why}); it wrote {ctk.written}"
        assert runbook.written is not None, f"expected the runbook to write ({case.why}); {runbook.detail}"
        expected = runtime_settings(daemon_json.merge({}, by_changes(flags)))
        got = runtime_settings(runbook.written)
        assert got == expected, f"expected the runtime settings {expected}, got {got}"
    elif differs == LEAVES:
        kept = user_settings(case)["runtimes"]["nvidia"]
        assert runbook.written["runtimes"]["nvidia"] == kept, f"expected the user's entry {kept} ({case.why})"
        got, expected = runtime_settings(runbook.written), runtime_settings(ctk.written)
        assert {**got, "nvidia": None} == {**expected, "nvidia": None}, f"expected {expected} but the path, got {got}"
    elif differs == KEEPS:
        assert runbook.written != ctk.written, f"expected a difference ({case.why}); both wrote {runbook.written}"
        got, expected = runtime_settings(runbook.written), runtime_settings(ctk.written)
        assert got == expected, f"expected nvidia-ctk's runtime settings {expected}, the runbook gave {got}"
    elif ctk.written is None:
        assert runbook.written is None, f"nvidia-ctk refused ({ctk.detail}); the runbook wrote {runbook.written}"
    else:
        assert runbook.written == ctk.written, f"nvidia-ctk wrote {ctk.written}, the runbook {runbook.written}"
    if runbook.written is not None:
        lost = missing_keys(user_settings(case), runbook.written)
        assert not lost, f"keys of the user's file lost by the runbook: {lost}"


def by_changes(flags) -> dict:
    return daemon_json.nvidia_runtime(set_as_default="--set-as-default" in flags, cdi="--cdi.enabled" in flags)


def test_there_are_at_least_40_inputs():
    assert len(CASES) >= 40, f"expected at least 40 daemon.json inputs, got {len(CASES)}"


def test_every_difference_says_why():
    unsaid = [c.name for c in CASES if c.differs and not c.why]
    assert not unsaid, f"cases that differ without saying why: {unsaid}"


def test_on_purpose_the_runbook_keeps_the_users_key_order_and_nvidia_ctk_sorts(tmp_path, toolkit_bin):
    """The runbook keeps the user's order (a diff against the backup shows only the change); nvidia-ctk's Go
    map is written sorted."""
    case = next(c for c in CASES if c.name == "keys-not-sorted")
    ctk_path, runbook_path = tmp_path / "ctk.json", tmp_path / "runbook.json"
    for p in (ctk_path, runbook_path):
        p.write_bytes(case.raw)
    by_nvidia_ctk(toolkit_bin / "nvidia-ctk", ctk_path, [])
    by_runbook(runbook_path, [])
    got = list(json.loads(runbook_path.read_bytes()))
    assert got == ["zeta", "alpha", "mid", "runtimes"], f"the runbook's key order: {got}"
    sorted_by_ctk = list(json.loads(ctk_path.read_bytes()))
    assert sorted_by_ctk == ["alpha", "mid", "runtimes", "zeta"], f"nvidia-ctk's key order: {sorted_by_ctk}"


def test_on_purpose_a_file_that_holds_the_settings_is_left_byte_for_byte_and_nvidia_ctk_rewrites_it(
    tmp_path, toolkit_bin
):
    """Already configured, in the user's own formatting: the runbook writes nothing (no backup, no change
    of time); nvidia-ctk writes its own formatting over it."""
    raw = b'{"runtimes":{"nvidia":{"path":"nvidia-container-runtime","args":[]}},"debug":true}\n'
    ctk_path, runbook_path = tmp_path / "ctk.json", tmp_path / "runbook.json"
    for p in (ctk_path, runbook_path):
        p.write_bytes(raw)
    by_nvidia_ctk(toolkit_bin / "nvidia-ctk", ctk_path, [])
    by_runbook(runbook_path, [])
    assert runbook_path.read_bytes() == raw, f"the runbook rewrote it: {runbook_path.read_bytes()!r}"
    assert ctk_path.read_bytes() != raw, "nvidia-ctk left it as it was"
