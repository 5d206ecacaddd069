import pytest

from runbook import params
from runbook.errors import ParameterError


def test_defaults_validate_to_themselves():
    assert params.validate({}) == params.defaults()


def test_strings_from_the_cli_are_typed():
    p = params.validate({"timeout_s": "30", "matmul_size": "512", "pull_devel": "true", "min_free_disk_gib": "0"})
    assert p["timeout_s"] == 30.0 and isinstance(p["timeout_s"], float)
    assert p["matmul_size"] == 512 and isinstance(p["matmul_size"], int)
    assert p["pull_devel"] is True
    assert p["min_free_disk_gib"] == 0.0


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("nosuch", "1", "unknown parameter"),
        ("timeout", "1", "did you mean timeout_s"),
        ("timeout_s", "soon", "not a number"),
        ("timeout_s", "0", "greater than zero"),
        ("matmul_size", "1.5", "whole number"),
        ("pull_devel", "maybe", "true or false"),
        ("pull", "sometimes", "missing, always, never"),
        ("gpu_mode", "magic", "gpus, runtime, cdi, manual"),
        ("gpus", "0;rm -rf /", "not 'all' or a list"),
        ("cuda_image", "Bad Image!", "not an image reference"),
        ("cuda_image", "nvidia/cuda:13.0.2 base", "not an image reference"),
        ("pytorch_image", "$(reboot)", "not an image reference"),
        ("docker_host", "/var/run/docker.sock", "not an engine address"),
        ("min_free_disk_gib", "-1", "not be negative"),
        ("timeout_s", "nan", "not a finite number"),
        ("pull_timeout_s", float("inf"), "not a finite number"),
        ("gpus", "0,1,0", "names 0 more than once"),
        ("toolkit_mirror", "https://mirror.example.com/$(reboot)", "not a plain http(s) URL"),
        ("toolkit_mirror", "https://mirror.example.com/a;rm -rf /", "not a plain http(s) URL"),
        ("toolkit_mirror", "https://mirror.example.com/`id`", "not a plain http(s) URL"),
        ("toolkit_mirror", "ftp://mirror.example.com/", "not a plain http(s) URL"),
        ("registry_mirrors", "https://a.example.com,https://b.example.com|x", "not a plain http(s) URL"),
        ("daemon_json", "daemon.json", "not an absolute path"),
        ("daemon_json", "/etc", "is a folder"),
        ("daemon_json", "/etc/docker\n/daemon.json", "control character"),
        ("daemon_json", "/etc/docker/\tdaemon.json", "control character"),
        ("toolkit_version", 1.18, "write it in quotes"),
    ],
)
def test_bad_values_name_the_parameter(name, value, words):
    with pytest.raises(ParameterError) as e:
        params.validate({name: value})
    assert e.value.name == name
    assert name in str(e.value) and words in str(e.value), str(e.value)


@pytest.mark.parametrize(
    "ref",
    [
        "nvidia/cuda:13.0.2-base-ubuntu24.04",
        "ubuntu",
        "localhost:5000/a/b:1",
        "127.0.0.1:5000/runbook-test/pullme:1",
        "nvcr.io/nvidia/pytorch:25.10-py3",
        "rig/base:host",
        "nvidia/cuda@sha256:" + "a" * 64,
    ],
)
def test_good_image_references(ref):
    assert params.validate({"cuda_image": ref})["cuda_image"] == ref


@pytest.mark.parametrize(
    "value, expected",
    [
        ("all", "all"),
        ("0", "0"),
        ("0, 1", "0,1"),
        ("GPU-8c209b99-f92d-aac5-cf67-90054a3b4e22", "GPU-8c209b99-f92d-aac5-cf67-90054a3b4e22"),
    ],
)
def test_gpu_selection(value, expected):
    assert params.validate({"gpus": value})["gpus"] == expected


def test_python_values_are_accepted_as_is():
    assert params.validate({"pull_devel": True, "timeout_s": 5})["timeout_s"] == 5.0


def test_bool_is_not_a_number():
    with pytest.raises(ParameterError):
        params.validate({"timeout_s": True})


def test_yaml_numbers_for_text_parameters():
    """YAML reads `gpus: 0` as the number 0: a whole number is the text it was written as."""
    assert params.validate({"gpus": 0})["gpus"] == "0"


def test_parameter_names_must_be_words():
    with pytest.raises(ParameterError) as e:
        params.validate({1: "x"})
    assert "parameter names are words" in str(e.value)


@pytest.mark.parametrize(
    "value",
    [
        "https://nvidia.github.io/libnvidia-container",
        "http://127.0.0.1:8080/repo/",
        "https://mirror.example.com/nvidia%2Dmirror/a_b~c",
    ],
)
def test_plain_urls_are_accepted(value):
    assert params.validate({"toolkit_mirror": value})["toolkit_mirror"] == value.rstrip("/")


def test_daemon_json_path_expands_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert params.validate({"daemon_json": "~/.config/docker/daemon.json"})["daemon_json"] == str(
        tmp_path / ".config/docker/daemon.json"
    )


def test_a_restart_command_of_ones_own_needs_its_acknowledgement():
    with pytest.raises(ParameterError, match="allow_restart_command=true"):
        params.validate({"engine_restart": "/usr/local/bin/restart-docker"})
    got = params.validate({"engine_restart": "/usr/local/bin/restart-docker", "allow_restart_command": "true"})
    assert got["engine_restart"] == "/usr/local/bin/restart-docker"
    for named in ("systemd", "user", "none"):
        assert params.validate({"engine_restart": named})["engine_restart"] == named, "named forms need no flag"


@pytest.mark.parametrize(
    "command", ["sh -c 'systemctl restart docker; curl x | sh'", "/bin/bash -c reboot", "busybox sh -c id"]
)
def test_a_shell_command_line_is_never_a_restart_command(command):
    with pytest.raises(ParameterError, match="runs a shell command line"):
        params.validate({"engine_restart": command, "allow_restart_command": True})


def test_the_plan_says_a_restart_command_runs_as_root():
    from runbook.steps import toolkit_state

    plan = toolkit_state.plan_for(
        {"engine_restart": "/opt/bin/restart-engine --now", "allow_restart_command": True}, "ubuntu:24.04"
    )
    restart = plan.steps[-1]
    assert restart.show == "/opt/bin/restart-engine --now"
    assert "runs as root" in restart.why, restart.why


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("timeout_s", "1e20", "more than 604800 (a week)"),  # overflowed the engine client's clock
        ("pull_timeout_s", "1e300", "more than 604800"),
        ("probe_timeout_s", 1e300, "more than 604800"),
        ("matmul_size", "99999999999", "more than 16384"),
        ("timeout_s", "٥", "'٥' is not a number"),  # float() reads it as 5
        ("matmul_size", "٥", "not a whole number"),
        ("gpus", "٠", "not 'all' or a list"),  # \d matched it; the driver knows no such GPU
        ("gpus", "00,0", "names 0 more than once"),
        ("gpus", "GPU--", "not 'all' or a list"),
        ("cuda_image", "ubuntu@md5:" + "a" * 32, "not an image reference"),
        ("cuda_image", "ubuntu@sha256:" + "a" * 40, "not an image reference"),
        ("cuda_image", "ubuntu@sha256:" + "A" * 64, "not an image reference"),
        ("docker_host", "tcp://host:99999", "a port is a number from 1 to 65535"),
        ("docker_host", "tcp://host:0", "a port is a number from 1 to 65535"),
        ("docker_host", "ssh://user@-oProxyCommand=x", "not an engine address"),
        ("docker_host", "ssh://-x@host", "not an engine address"),
        ("docker_host", "tcp://..", "not an engine address"),
        ("docker_host", "unix:///tmp/" + "a" * 200 + ".sock", "at most 107 bytes, this one is 210"),
    ],
)
def test_values_the_engine_or_the_driver_would_misread_are_refused(name, value, words):
    with pytest.raises(ParameterError) as e:
        params.validate({name: value})
    assert words in str(e.value), str(e.value)


OLD_MIG = "MIG-GPU-8c209b99-f92d-aac5-cf67-90054a3b4e22/1/0"  # a MIG device as drivers before R470 name it


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("gpus", "01, 0:02", "1,0:2"),
        ("gpus", OLD_MIG, OLD_MIG),
        ("docker_host", "unix:///" + "a" * 106, "unix:///" + "a" * 106),
        ("docker_host", "tcp://[::1]:2375", "tcp://[::1]:2375"),
        ("pull_devel", " true ", True),
        ("timeout_s", 604800, 604800.0),
        ("matmul_size", "16384", 16384),
    ],
)
def test_values_at_the_edges_are_kept(name, value, expected):
    assert params.validate({name: value})[name] == expected


def test_an_error_line_quotes_a_huge_value_cut_short():
    """A YAML alias bomb (billion laughs) is a list of lists of millions of items: its error stays a line."""
    bomb = ["x"] * 9
    for _ in range(8):
        bomb = [bomb] * 9
    with pytest.raises(ParameterError) as e:
        params.validate({"timeout_s": bomb})
    assert len(str(e.value)) < 300 and "is not a number" in str(e.value)


@pytest.mark.parametrize(
    "text, name, expected",
    [
        ("gpus: 010\n", "gpus", "10"),  # YAML 1.1: the octal 8
        ("gpus: 0x1\n", "gpus", ParameterError),  # YAML 1.1: 1
        ("matmul_size: 010\n", "matmul_size", 10),
        ("matmul_size: 0x10\n", "matmul_size", ParameterError),  # YAML 1.1: 16
        ("toolkit_version: 1.18\n", "toolkit_version", "1.18"),
        ("timeout_s: 90\n", "timeout_s", 90.0),
        ("measure_throughput: no\n", "measure_throughput", False),
    ],
)
def test_a_parameters_file_is_read_as_written(tmp_path, text, name, expected):
    from runbook import runner

    path = tmp_path / "p.yaml"
    path.write_text(text)
    values = runner.load_values(str(path), [])
    if expected is ParameterError:
        with pytest.raises(ParameterError, match=name):
            params.validate(values)
    else:
        assert params.validate(values)[name] == expected


def test_a_name_given_twice_on_the_command_line_is_refused():
    assert params.from_pairs([["gpus", "0"], ["pull", "never"]]) == {"gpus": "0", "pull": "never"}
    with pytest.raises(ParameterError, match="given twice"):
        params.from_pairs([["gpus", "0"], ["gpus", "1"]])
