"""daemon.json is the user's: adversarial files, merges that lose nothing, refusals that write nothing.
The parse and merge are daemon_json's; the write is the toolkit's configure step on this host."""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap

import pytest

from runbook.errors import DaemonJsonError
from runbook.toolkit import daemon_json, engine_config
from runbook.toolkit.targets import HostTarget

NVIDIA = daemon_json.nvidia_runtime()


def configure(path, changes, now=None):
    return engine_config.configure(HostTarget(), path, changes, now)


def leaves(d, prefix=()):
    """Every (path, value) of a JSON object, lists taken whole."""
    for k, v in d.items():
        if isinstance(v, dict) and v:
            yield from leaves(v, prefix + (k,))
        else:
            yield prefix + (k,), v


def assert_kept(before: dict, after: dict, changes: dict):
    """Every setting of ``before`` is in ``after``, unchanged unless ``changes`` sets that very setting."""
    set_by_change = {p for p, _ in leaves(changes)}
    for path, value in leaves(before):
        node = after
        for k in path:
            assert k in node, f"key {'.'.join(path)} was lost"
            node = node[k]
        if any(path[: len(p)] == p or p[: len(path)] == path for p in set_by_change):
            continue
        if isinstance(value, list):
            assert all(v in node for v in value), f"{'.'.join(path)} lost items"
        else:
            assert node == value, f"{'.'.join(path)} changed"


EXISTING = {
    "runtimes": {"runsc": {"path": "/usr/local/bin/runsc"}, "nvidia": {"path": "/old/nvidia-container-runtime"}},
    "default-runtime": "runsc",
    "registry-mirrors": ["https://mirror.example.com"],
    "log-driver": "json-file",
    "log-opts": {"max-size": "10m", "max-file": "3"},
    "data-root": "/srv/docker",
    "x-unknown-setting": {"nested": [1, 2, {"deep": True}]},
    "features": {"buildkit": True},
}


@pytest.mark.parametrize(
    "content",
    [
        EXISTING,
        {},
        {"runtimes": {}},
        {"registry-mirrors": []},
        {"features": {"cdi": False}},
        {"runtimes": {"nvidia": {"path": "nvidia-container-runtime", "args": []}}},
    ],
)
def test_merging_keeps_every_existing_setting(tmp_path, content):
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps(content))
    changes = daemon_json.nvidia_runtime(cdi=True)
    change = configure(str(path), changes)
    after = json.loads(path.read_text())
    assert_kept(content, after, changes)
    registered = content.get("runtimes", {}).get("nvidia")  # an equivalent registration stays as it is
    assert after["runtimes"]["nvidia"] == (registered or {"path": "nvidia-container-runtime", "args": []})
    assert after["features"]["cdi"] is True
    assert change.changed, "the file did not hold the changes, so it must have been written"


def test_random_nested_files_lose_nothing(tmp_path):
    rng = random.Random(7)

    def value(depth):
        kind = rng.choice(["str", "int", "list", "obj", "bool"] if depth < 3 else ["str", "int", "bool"])
        return {
            "str": lambda: rng.choice(["a", "ü", "", "x" * 50]),
            "int": lambda: rng.randint(-5, 10**6),
            "bool": lambda: rng.random() < 0.5,
            "list": lambda: [value(depth + 1) for _ in range(rng.randint(0, 3))],
            "obj": lambda: {f"k{rng.randint(0, 99)}": value(depth + 1) for _ in range(rng.randint(0, 4))},
        }[kind]()

    for i in range(200):
        content = {f"key{j}": value(0) for j in range(rng.randint(0, 8))}
        if rng.random() < 0.3:
            content["runtimes"] = {"other": {"path": "/bin/other"}}
        if rng.random() < 0.3:
            content["registry-mirrors"] = ["https://m1", "https://m2"]
        path = tmp_path / f"d{i}.json"
        path.write_text(json.dumps(content, indent=rng.choice([None, 2, 4])))
        runtime = daemon_json.nvidia_runtime(set_as_default=rng.random() < 0.5)
        mirrors = daemon_json.registry_mirrors(["https://m2", "https://m3"])
        configure(str(path), runtime)
        configure(str(path), mirrors)
        assert_kept(content, json.loads(path.read_text()), {**runtime, **mirrors})


@pytest.mark.parametrize(
    "raw, words",
    [
        (b'{\n  "log-driver": "json-file",\n  // the mirror\n  "registry-mirrors": []\n}', "line 3, column 3"),
        (b'{"a": 1,}', "line 1, column 9"),
        (b'{"a": 1} {"b": 2}', "Extra data"),
        (b'["not", "an", "object"]', "not an object"),
        (b'"text"', "not an object"),
        (b'{"a": 1, "a": 2}', "duplicate key 'a'"),
        (b'{"a": "\xff"}', "not UTF-8"),
        (b'{"runtimes": {"nvidia": {}', "line 1"),
        (b'{"x-limit": NaN}', "NaN is not a JSON value"),
        (b'{"x-limit": -Infinity}', "-Infinity is not a JSON value"),
        (b'{"x-limit": 1e400}', "beyond a 64-bit float"),
        (b'{"x-limit": ' + b"9" * 400 + b"}", "beyond a 64-bit float"),
        (b'{"x-limit": ' + b"9" * 5000 + b"}", "beyond a 64-bit float"),
        (b'{"x": ' + b"[" * 401 + b"]" * 401 + b"}", "more than 400 deep"),
        (b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}", "more than 400 deep"),
        (b'{"runtimes": ["nvidia"]}', "runtimes is a list, not an object"),
        (b'{"runtimes": {"nvidia": "nvidia-container-runtime"}}', "runtimes.nvidia is a string, not an object"),
    ],
)
def test_invalid_files_are_refused_and_left_byte_identical(tmp_path, raw, words):
    path = tmp_path / "daemon.json"
    path.write_bytes(raw)
    with pytest.raises(DaemonJsonError) as e:
        configure(str(path), NVIDIA)
    assert words in str(e.value)
    assert path.read_bytes() == raw
    assert sorted(os.listdir(tmp_path)) == ["daemon.json"], "no backup or temp file for a refused change"


def test_a_file_nested_as_deep_as_allowed_is_merged(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text('{"x": ' + "[" * 399 + "]" * 399 + "}")
    configure(str(path), NVIDIA)
    after = json.loads(path.read_text())
    assert daemon_json._depth(after["x"]) == 399, "the nested value was changed"


def test_a_null_setting_is_no_value_and_takes_the_change(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text('{"runtimes": null}')
    configure(str(path), NVIDIA)
    after = json.loads(path.read_text())
    assert after["runtimes"] == NVIDIA["runtimes"], f"got {after}"


def test_numbers_dockerd_reads_are_kept_exactly(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text('{"x-big": 12345678901234567890, "x-float": 1e308, "x-small": -5e-324}')
    configure(str(path), NVIDIA)
    after = json.loads(path.read_text())
    expected = {"x-big": 12345678901234567890, "x-float": 1e308, "x-small": -5e-324}
    assert {k: after[k] for k in expected} == expected, f"got {after}"


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"  \n")
    change = configure(str(empty), NVIDIA)
    assert change.changed and change.backup and open(change.backup, "rb").read() == b"  \n"
    missing = tmp_path / "sub" / "daemon.json"
    change = configure(str(missing), NVIDIA)
    assert change.changed and change.backup is None
    assert json.loads(missing.read_text()) == NVIDIA


def test_a_bom_is_dropped_and_the_settings_kept(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_bytes(daemon_json.BOM + b'{"log-level": "debug"}')
    configure(str(path), NVIDIA)
    raw = path.read_bytes()
    assert not raw.startswith(daemon_json.BOM)
    assert json.loads(raw)["log-level"] == "debug"


def test_reapplying_changes_nothing(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps(EXISTING))
    as_default = daemon_json.nvidia_runtime(set_as_default=True)
    first = configure(str(path), as_default)
    content = path.read_bytes()
    second = configure(str(path), as_default)
    assert first.changed and not second.changed and second.backup is None
    assert path.read_bytes() == content
    assert len([n for n in os.listdir(tmp_path) if ".bak-" in n]) == 1


def test_backups_are_never_overwritten(tmp_path):
    import datetime as dt

    now = dt.datetime(2026, 11, 28, 12, 0, 0, tzinfo=dt.UTC)
    path = tmp_path / "daemon.json"
    versions = []
    for i in range(3):
        path.write_text(json.dumps({"n": i}))
        versions.append(path.read_bytes())
        configure(str(path), NVIDIA, now=now)
    backups = sorted(n for n in os.listdir(tmp_path) if ".bak-" in n)
    assert backups == [
        "daemon.json.bak-20261128T120000Z",
        "daemon.json.bak-20261128T120000Z-1",
        "daemon.json.bak-20261128T120000Z-2",
    ]
    assert [(tmp_path / b).read_bytes() for b in backups] == versions


def test_a_symlink_is_followed_and_kept(tmp_path):
    target = tmp_path / "real" / "daemon.json"
    target.parent.mkdir()
    target.write_text('{"debug": true}')
    link = tmp_path / "daemon.json"
    link.symlink_to(target)
    change = configure(str(link), NVIDIA)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert json.loads(target.read_text())["debug"] is True and "nvidia" in json.loads(target.read_text())["runtimes"]
    assert change.path == str(target) and change.backup.startswith(str(target))


def test_mode_and_owner_are_kept(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text("{}")
    os.chmod(path, 0o440)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    configure(str(path), NVIDIA)
    st = os.stat(path)
    assert st.st_mode & 0o777 == 0o440
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (65534, 65534)


def test_a_huge_file_keeps_every_key(tmp_path):
    content = {f"x-key-{i}": {"value": i, "list": list(range(20))} for i in range(50_000)}
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps(content))
    configure(str(path), NVIDIA)
    after = json.loads(path.read_text())
    assert len(after) == 50_001 and after["x-key-49999"] == content["x-key-49999"]


def test_a_crash_in_the_middle_of_a_write_leaves_the_old_file(tmp_path):
    """The writing process is killed after the new content is on disk but before the rename."""
    path = tmp_path / "daemon.json"
    original = json.dumps(EXISTING, indent=4).encode()
    path.write_bytes(original)
    script = textwrap.dedent(f"""
        import os, signal
        from runbook.toolkit import daemon_json
        from runbook.toolkit.targets import HostTarget
        from runbook.toolkit import engine_config
        os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
        engine_config.configure(HostTarget(), {str(path)!r}, daemon_json.nvidia_runtime(set_as_default=True))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert path.read_bytes() == original
    configure(str(path), daemon_json.nvidia_runtime(set_as_default=True))  # the next run completes the change
    assert json.loads(path.read_text())["default-runtime"] == "nvidia"


def test_an_unwritable_folder_is_refused_cleanly(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "daemon.json").write_text("{}")
    os.chmod(folder, 0o555)
    with pytest.raises(DaemonJsonError, match="cannot"):
        configure(str(folder / "daemon.json"), NVIDIA)
    assert (folder / "daemon.json").read_text() == "{}"


def test_mirrors_are_added_once_and_kept_in_order(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text('{"registry-mirrors": ["https://a", "https://b"]}')
    configure(str(path), daemon_json.registry_mirrors(["https://b", "https://c"]))
    assert json.loads(path.read_text())["registry-mirrors"] == ["https://a", "https://b", "https://c"]


@pytest.mark.parametrize(
    "registered",
    [
        {"path": "nvidia-container-runtime", "runtimeArgs": []},  # nvidia-docker2's daemon.json
        {"path": "/usr/bin/nvidia-container-runtime", "runtimeArgs": []},  # NVIDIA's docs, DGX images
        {"path": "/usr/bin/nvidia-container-runtime"},
        {"path": "/usr/local/nvidia/toolkit/nvidia-container-runtime", "args": []},  # the GPU operator's
    ],
)
def test_an_equivalent_registration_is_left_byte_for_byte(tmp_path, registered):
    """A runtime registered by absolute path or bare name, with args or runtimeArgs, empty or absent, is
    already what nvidia-ctk would register: the file is not written, and the user's path stays."""
    path = tmp_path / "daemon.json"
    original = json.dumps({"runtimes": {"nvidia": registered}, "log-driver": "journald"}, indent=4).encode()
    path.write_bytes(original)
    change = configure(str(path), NVIDIA)
    assert not change.changed and change.backup is None
    assert path.read_bytes() == original


def test_the_users_path_and_arguments_stay(tmp_path):
    """Arguments of the user's own are kept (a list is extended, never replaced), and so is the path."""
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps({"runtimes": {"nvidia": {"path": "/opt/nv/nvidia-container-runtime", "args": ["-x"]}}}))
    configure(str(path), NVIDIA)
    after = json.loads(path.read_text())["runtimes"]["nvidia"]
    assert after == {"path": "/opt/nv/nvidia-container-runtime", "args": ["-x"]}


def test_another_program_under_the_name_nvidia_is_replaced_as_before(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps({"runtimes": {"nvidia": {"path": "/usr/bin/runc"}}}))
    assert configure(str(path), NVIDIA).changed
    assert json.loads(path.read_text())["runtimes"]["nvidia"] == {"path": "nvidia-container-runtime", "args": []}
