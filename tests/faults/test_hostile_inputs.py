"""Hostile input, by the hundred: daemon.json files that dockerd refuses or that are not files at all,
and parameter values built to break a shell, a path or a parser. Every one is refused with the runbook's
own error (never another exception), a refused daemon.json is left byte for byte, and an accepted one
keeps every setting it had."""

import itertools
import json
import os

import pytest

from runbook import params
from runbook.errors import DaemonJsonError, ParameterError
from runbook.toolkit import daemon_json, engine_config
from runbook.toolkit.targets import HostTarget

CHANGES = (
    daemon_json.nvidia_runtime(),
    daemon_json.nvidia_runtime(set_as_default=True, cdi=True),
    daemon_json.registry_mirrors(["https://mirror.example"]),
)

# Values that dockerd refuses, or that clash with the type dockerd expects of a key the runbook merges into.
BAD_VALUES = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e309"]
CLASHES = {
    "runtimes": ['"nvidia"', "[]", "[1]", "1", "true", '{"nvidia": "x"}', '{"nvidia": []}', '{"other": 1}'],
    "registry-mirrors": ['"https://m"', "{}", "1", "[1]", "[null]", "[{}]", "true"],
    "features": ['"cdi"', "[]", "1", "true"],
    "default-runtime": ["1", "[]", "{}", "true"],
}
SYNTAX = [
    "{",
    "}",
    "[]",
    '""',
    "null",
    "1",
    "true",
    '{"a": 1,}',
    '{"a": 1} x',
    "{'a': 1}",
    '{"a": 1, "a": 2}',
    '{"a": /* c */ 1}',
    '{"a": 1} // c',
    '{"a": "\\x"}',
    "\xff\xfe",
    '{"a": 01}',
    '{"a": .5}',
    '{"a": +1}',
    '{"a": 0x10}',
    '{"a": [1,]}',
    '{"a":}',
    "{,}",
    '{"a" 1}',
    '{"a": tru}',
    '{"a": "unterminated}',
]


def refused_cases() -> list[tuple[bytes, int]]:
    """(file, index of the change in CHANGES) that dockerd, and so the runbook, must refuse."""
    every = range(len(CHANGES))
    cases = [(s.encode("utf-8", "surrogateescape"), i) for s in SYNTAX for i in every]
    cases += [(b"\xff\xfe{}", i) for i in every]
    for key, bad in itertools.product(
        ["x", "runtimes", "log-opts", "nested", "registry-mirrors", "features"], BAD_VALUES
    ):
        cases += [(f'{{"{key}": {bad}}}'.encode(), i) for i in every]
        cases += [(f'{{"a": {{"b": [{bad}]}}, "{key}": 1}}'.encode(), i) for i in every]
    for key, values in CLASHES.items():
        touching = [i for i, change in enumerate(CHANGES) if key in change]
        for value, extra in itertools.product(values, ("", ', "log-level": "debug"', ', "x-unknown": {"deep": [1]}')):
            cases += [(f'{{"{key}": {value}{extra}}}'.encode(), i) for i in touching]
    cases += [(b"[" * 100_000 + b"]" * 100_000, i) for i in every]  # nesting too deep to read
    cases += [(b'{"a": ' * 5000 + b"1" + b"}" * 5000, i) for i in every]
    return cases


REFUSED = refused_cases()


@pytest.mark.parametrize("index", range(len(REFUSED)))
def test_a_file_dockerd_would_refuse_is_refused_and_left_byte_for_byte(tmp_path, index):
    raw, change = REFUSED[index]
    path = tmp_path / "daemon.json"
    path.write_bytes(raw)
    with pytest.raises(DaemonJsonError) as e:
        engine_config.configure(HostTarget(), str(path), CHANGES[change])
    assert "nothing was changed" in (str(e.value) + e.value.remediation)
    assert path.read_bytes() == raw, "a refused file must not change"
    assert sorted(os.listdir(tmp_path)) == ["daemon.json"], "no backup or temporary file for a refusal"


def test_hundreds_of_refusals_are_tried():
    assert len(REFUSED) >= 365, len(REFUSED)


ODD_BUT_VALID = [
    {},
    {"x": 10**30},
    {"x": -(10**30)},
    {"x": 1.5e300},
    {"x": "ü☃\u2028"},
    {"registry-mirrors": []},
    {"runtimes": {}},
    {"runtimes": {"runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--debug"]}}},
    {"runtimes": {"nvidia": {"path": "/opt/nvidia/nvidia-container-runtime", "runtimeArgs": []}}},
    {"default-runtime": "runsc", "runtimes": {"runsc": {"path": "runsc"}}},
    {"features": {"buildkit": True}},
    {"features": {"cdi": False}},
    {"log-opts": {"max-size": "10m"}},
    {"a": {"b": {"c": {"d": {"e": [1, {"f": None}]}}}}},
    {"": ""},
    {" ": [None, True, False]},
]


@pytest.mark.parametrize("content, changes", list(itertools.product(ODD_BUT_VALID, CHANGES)))
def test_an_odd_but_valid_file_keeps_every_setting(tmp_path, content, changes):
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps(content, ensure_ascii=False))
    engine_config.configure(HostTarget(), str(path), changes)
    after = json.loads(path.read_text())
    for key, value in content.items():
        assert key in after, f"key {key!r} was lost"
        if key not in changes:
            assert after[key] == value, f"{key!r} changed"


@pytest.mark.parametrize("make", ["fifo", "dev-zero", "loop", "folder", "long"])
def test_what_is_not_a_regular_file_is_refused_before_it_is_opened(tmp_path, make):
    path = tmp_path / "daemon.json"
    if make == "fifo":
        os.mkfifo(path)
    elif make == "dev-zero":
        path.symlink_to("/dev/zero")
    elif make == "loop":
        path.symlink_to(tmp_path / "daemon.json")
    elif make == "folder":
        path.mkdir()
    else:
        path = tmp_path / ("x" * 300)
    with pytest.raises(DaemonJsonError, match="cannot read"):
        engine_config.configure(HostTarget(), str(path), CHANGES[0])


# --- parameters ---------------------------------------------------------------------------------------

SHELL = [
    "; rm -rf /",
    "$(id)",
    "`id`",
    "| sh",
    "& whoami",
    "&& reboot",
    "> /etc/passwd",
    "< /etc/shadow",
    "\n id",
    "'",
    '"',
    "\\",
    "$HOME",
    "${IFS}",
    "*",
    "?",
    "[a]",
    "{a,b}",
    "~root",
    "!!",
    "#",
    "%00",
    "\x00",
    "\x1b[31m",
]
STRANGE = [
    "",
    " ",
    "\t",
    "\n",
    "a" * 5000,
    "é",
    "☃",
    "\u202e",
    "..",
    "../../etc",
    "/",
    "//",
    "-rf",
    "--help",
    "nan",
    "inf",
    "-inf",
    "1e400",
    "-1",
    "0",
    "0x10",
    "1_000",
    "True",
    "None",
    "null",
    "[]",
    "{}",
    "http://",
    "https://a b",
    "unix://",
    "ssh://",
    "tcp://127.0.0.1:abc",
    "file:///etc/passwd",
]
VALUES = STRANGE + SHELL + [f"nvidia/cuda:13.0.3-base{s}" for s in SHELL] + [f"https://m.example/{s}" for s in SHELL]


def test_more_than_a_thousand_hostile_values_are_each_refused_or_kept_harmless():
    tried = 0
    for p, value in itertools.product(params.PARAMS, VALUES):
        tried += 1
        try:
            got = params.validate({p.name: value})[p.name]
        except ParameterError as e:
            assert p.name in str(e)
            continue
        if isinstance(got, str) and p.name not in ("record_dir",):
            assert not set(got) & set("`$;|&<>\n\x00"), f"{p.name} accepted {value!r} as {got!r}"
    assert tried >= 1032, tried


@pytest.mark.parametrize("value", [v for v in VALUES if set(v.strip()) & set("`$;|&<>'\"\\\x00")])
def test_a_hostile_image_name_is_refused(value):
    with pytest.raises(ParameterError):
        params.validate({"cuda_image": f"nvidia/cuda{value}"})
