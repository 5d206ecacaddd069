"""The runbook's parameters: one table of names, types and defaults, and their validation.

The same table fills the notebooks' ``parameters`` cells (a test keeps them equal), types the CLI's
``-p NAME VALUE`` strings, and refuses bad input before anything runs. Values never reach a shell:
they are passed to the Docker SDK and to subprocess as argument lists.
"""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ParameterError
from .i18n import N_, _, translate
from .network.mirrors import url

# The grammar of an image reference (distribution/reference): [registry[:port]/]path[:tag][@digest]
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)"
IMAGE_REF = re.compile(
    rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?(?:@(?:sha256:[0-9a-f]{{64}}|sha384:[0-9a-f]{{96}}|sha512:[0-9a-f]{{128}}))?$"
)


def check_image_ref(value: str) -> str:
    if len(value) > 255 or not IMAGE_REF.match(value):
        raise ValueError(
            _("{value} is not an image reference (like nvidia/cuda:13.0.2-base-ubuntu24.04)").format(value=repr(value))
        )
    return value


def image_or_auto(value: str) -> str:
    return value if value == "auto" else check_image_ref(value)


# An engine address: a socket path, or a host with an optional user and port; nothing a shell would read,
# and no host or user that ssh would take for an option (-oProxyCommand=…).
ENGINE_ADDRESS = re.compile(
    r"^(?:unix://(?P<socket>(?:/[A-Za-z0-9._+@-]+)+)"
    r"|npipe:////\./pipe/[A-Za-z0-9._-]+"
    r"|(?:tcp|http|https|ssh)://(?:[A-Za-z0-9_][A-Za-z0-9._-]*@)?"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?/?)$",
    re.ASCII,
)
SOCKET_PATH_AT_MOST = 107  # bytes of a Unix socket's path (sun_path is 108, with the closing NUL)


def docker_host(value: str) -> str:
    found = ENGINE_ADDRESS.match(value)
    if value and not found:
        raise ValueError(
            _(
                "{value} is not an engine address (unix:///var/run/docker.sock, tcp://host:2376, ssh://user@host)"
            ).format(value=repr(value))
        )
    if found and found["port"] and not 1 <= int(found["port"]) <= 65535:
        raise ValueError(_("{value}: a port is a number from 1 to 65535").format(value=repr(value)))
    if found and found["socket"] and len(found["socket"].encode()) > SOCKET_PATH_AT_MOST:
        raise ValueError(
            _(
                "{value}: a Unix socket's path can be at most {limit} bytes, this one is {length}; "
                "link it from a shorter path (ln -s) and give that"
            ).format(value=shown(value), limit=SOCKET_PATH_AT_MOST, length=len(found["socket"].encode()))
        )
    return value


def one_of(*choices: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in choices:
            raise ValueError(_("{value} is not one of {choices}").format(value=repr(value), choices=", ".join(choices)))
        return value

    check.choices = choices  # the JupyterLab panel offers them as a dropdown
    return check


INDEX = r"[0-9]+(?::[0-9]+)?"
UUID = r"(?:GPU|MIG)-(?:GPU-)?[0-9a-fA-F]+(?:-[0-9a-fA-F]+)*(?:/[0-9]+/[0-9]+)?"


def gpu_selection(value: str) -> str:
    """'all', or a comma-separated list of GPU indices or UUIDs (GPU-…), MIG devices by index (0:1) or UUID
    (MIG-…, or MIG-GPU-…/gi/ci of drivers before R470)."""
    if value == "all":
        return value
    # indices in ASCII digits as the driver numbers them (00 is 0; ٠ is none); a UUID's hex in groups
    items = [v.strip() for v in value.split(",")]
    items = [":".join(str(int(i)) for i in v.split(":")) if re.fullmatch(INDEX, v) else v for v in items]
    if not items or not all(re.fullmatch(f"{INDEX}|{UUID}", v) for v in items):
        raise ValueError(
            _(
                "{value} is not 'all' or a list of GPU indices or UUIDs such as 0,1 or GPU-8c20…, or MIG devices "
                "such as 0:1 or MIG-…"
            ).format(value=repr(value))
        )
    repeated = sorted({v for v in items if items.count(v) > 1})
    if repeated:
        raise ValueError(
            _("{value} names {repeated} more than once").format(value=repr(value), repeated=", ".join(repeated))
        )
    return ",".join(items)


def url_list(value: str) -> str:
    return ",".join(url(v.strip()) for v in value.split(",") if v.strip())


def _preset_or(kind: str, otherwise: Callable[[str], str]) -> Callable[[str], str]:
    """A preset's name of runbook/mirrors.json (``cn``), or a value ``otherwise`` accepts."""

    def check(value: str) -> str:
        from .network import mirrors

        if value and "/" not in value and value in mirrors.preset_names(kind):
            return value
        return otherwise(value)

    return check


def registry_host(value: str) -> str:
    """A prefix mirror's host[:port] (m.daocloud.io), as image names start with it."""
    from .network import mirrors

    if value and not mirrors.HOST.match(value):
        raise ValueError(
            _("{value} is not a preset (cn) or a registry host such as m.daocloud.io").format(value=repr(value))
        )
    return value


def package_version(value: str) -> str:
    if value and not re.fullmatch(r"[0-9][0-9A-Za-z.+~:-]*", value):
        raise ValueError(_("{value} is not a package version such as 1.18.1-1").format(value=repr(value)))
    return value


NAMED_RESTARTS = ("systemd", "user", "none")
SHELLS = ("sh", "bash", "dash", "zsh", "ksh", "mksh", "fish", "csh", "tcsh", "busybox")


def restart_command(value: str) -> str:
    """systemd, user, none, or a command given as words (split like a shell would, never run by one)."""
    import os
    import shlex

    if value in NAMED_RESTARTS:
        return value
    try:
        argv = shlex.split(value)
    except ValueError as e:
        raise ValueError(
            _("{value} cannot be split into a command: {error}").format(value=repr(value), error=e)
        ) from None
    if not argv:
        raise ValueError(_("is empty; use systemd, user, none or a command"))
    if os.path.basename(argv[0]) in SHELLS and "-c" in argv[1:]:
        raise ValueError(
            _(
                "{value} runs a shell command line; give the restart command itself "
                "(or a script file), which the runbook runs without a shell"
            ).format(value=repr(value))
        )
    return value


def file_path(value: str) -> str:
    """An absolute path (``~`` allowed) that is not a folder; empty for the default."""
    import os

    if not value:
        return value
    path = os.path.expanduser(value)
    if "\0" in path or not os.path.isabs(path):
        raise ValueError(_("{value} is not an absolute path such as /etc/docker/daemon.json").format(value=repr(value)))
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        # a newline or a tab pasted with the path: no engine reads such a file, and the plan would print it broken
        raise ValueError(
            _("{value} holds a control character (a newline, a tab); give the file's path alone").format(
                value=repr(value)
            )
        )
    if os.path.isdir(path):
        raise ValueError(
            _("{value} is a folder; name the file, such as {example}").format(
                value=repr(value), example=path.rstrip("/") + "/daemon.json"
            )
        )
    return path


def record_folder(value: str) -> str:
    """Empty, or a record's folder (one holding summary.json), made absolute against the current folder:
    the notebook's own in JupyterLab, the caller's for `gpu-runbook run`."""
    import os

    if not value:
        return value
    path = os.path.abspath(os.path.expanduser(value))
    if not os.path.isfile(os.path.join(path, "summary.json")):
        raise ValueError(
            _("{value} is not a record's folder (no summary.json in {path})").format(value=repr(value), path=path)
        )
    return path


def language(value: str) -> str:
    """'' (the locale's language) or a language the runbook speaks: en, zh_CN (zh-CN, zh_CN.UTF-8 too)."""
    from . import i18n

    return i18n.resolve(value) if value else value


def positive(value: float) -> float:
    if value <= 0:
        raise ValueError(_("{value} must be greater than zero").format(value=shown(value)))
    return value


def at_most(limit: float, why: str) -> Callable[[float], float]:
    """Greater than zero and at most ``limit``: past it a value is a typo, and one the clocks or the memory
    it asks for cannot hold (a timeout of 1e20 s overflows the engine client's clock)."""

    def check(value: float) -> float:
        if positive(value) > limit:
            raise ValueError(
                _("{value} is more than {limit} ({why})").format(value=shown(value), limit=limit, why=translate(why))
            )
        return value

    return check


A_WEEK = at_most(7 * 24 * 3600, N_("a week"))


def at_least_zero(value: float) -> float:
    if value < 0:
        raise ValueError(_("{value} must not be negative").format(value=shown(value)))
    return value


@dataclass(frozen=True)
class Param:
    name: str
    type: type
    default: Any
    help: str  # a message id: shown through i18n.translate
    check: Callable[[Any], Any] | None = None
    acts: bool = False  # it changes the host (installs, writes its configuration, restarts): never read from a record
    aims: bool = False  # it names what runs, or where (an image, the engine): never read from a record either


PARAMS: tuple[Param, ...] = (
    Param(
        "docker_host", str, "", N_("Engine address; empty: DOCKER_HOST, else the local socket."), docker_host, aims=True
    ),
    Param(
        "cuda_image",
        str,
        "auto",
        N_("CUDA base image for the nvidia-smi check; auto: the newest the driver supports."),
        image_or_auto,
        aims=True,
    ),
    Param(
        "pytorch_image",
        str,
        "auto",
        N_("PyTorch CUDA image for the torch.cuda check; auto: chosen for the driver."),
        image_or_auto,
        aims=True,
    ),
    Param(
        "devel_image",
        str,
        "auto",
        N_("CUDA devel image (with nvcc); auto: the devel image for the newest CUDA the driver supports."),
        image_or_auto,
        aims=True,
    ),
    Param("pull_devel", bool, False, N_("Pull the devel image (several GB) and run nvcc --version in it.")),
    Param("pull", str, "missing", N_("Pull policy: missing, always or never."), one_of("missing", "always", "never")),
    Param(
        "gpu_mode",
        str,
        "gpus",
        N_("GPU access: gpus (--gpus), runtime (--runtime=nvidia), cdi, manual."),
        one_of("gpus", "runtime", "cdi", "manual"),
    ),
    Param(
        "gpus",
        str,
        "all",
        N_("GPUs to give the containers: all, or indices/UUIDs such as 0,1 (MIG devices: 0:1 or MIG-…)."),
        gpu_selection,
    ),
    Param("timeout_s", float, 300.0, N_("Seconds a container may run before it is killed."), A_WEEK),
    Param("pull_timeout_s", float, 1800.0, N_("Seconds an image pull may take."), A_WEEK),
    Param(
        "min_free_disk_gib",
        float,
        20.0,
        N_("Free disk below this (GiB) where the engine keeps images is a warning."),
        at_least_zero,
    ),
    Param(
        "measure_throughput",
        bool,
        True,
        N_("Measure bf16 matmul TFLOP/s and copy bandwidth in the container and on the host."),
    ),
    Param(
        "matmul_size",
        int,
        2048,
        N_("Size n of the n x n matrix product checked on the GPU against the CPU."),
        at_most(16384, N_("the CPU's float64 product of a larger size takes minutes and many GiB")),
    ),
    Param(
        "toolkit_apply",
        bool,
        False,
        N_("Apply the toolkit install plan (needs root); off: the plan is only shown."),
        acts=True,
    ),
    Param(
        "toolkit_version",
        str,
        "",
        N_("One version for the four toolkit packages; empty: the newest."),
        package_version,
        acts=True,
    ),
    Param(
        "toolkit_channel",
        str,
        "stable",
        N_("Toolkit repository channel: stable or experimental."),
        one_of("stable", "experimental"),
        acts=True,
    ),
    Param(
        "toolkit_mirror",
        str,
        "https://nvidia.github.io/libnvidia-container",
        N_(
            "Base URL of the toolkit's repository (a mirror for hosts that cannot reach it), or a preset: "
            "cn (USTC's copy)."
        ),
        _preset_or("toolkit_mirror", url),
        acts=True,
    ),
    Param(
        "daemon_json",
        str,
        "",
        N_("The engine's daemon.json; empty: /etc/docker/daemon.json, or ~/.config/docker/daemon.json when rootless."),
        file_path,
        aims=True,  # the file the toolkit's settings are written into
    ),
    Param(
        "rootless",
        bool,
        False,
        N_("Configure a rootless engine (the user's daemon.json and service, no-cgroups)."),
        aims=True,  # which daemon.json and service, and the no-cgroups setting
    ),
    Param("set_as_default", bool, False, N_("Make nvidia the engine's default runtime."), acts=True),
    Param(
        "enable_cdi", bool, False, N_("Enable CDI in the engine and generate the GPUs' CDI specification."), acts=True
    ),
    Param(
        "registry_mirrors",
        str,
        "",
        N_(
            "Registry mirrors for Docker Hub images, or a preset (cn): probed first, those that answer are "
            "kept in order and added to daemon.json with the toolkit's settings (comma-separated URLs)."
        ),
        _preset_or("registry_mirrors", url_list),
        acts=True,
    ),
    Param(
        "image_prefix",
        str,
        "",
        N_(
            "Pull images of nvcr.io, ghcr.io and other registries but Docker Hub through a prefix mirror: "
            "a preset (cn: m.daocloud.io/nvcr.io/...) or a host; empty: from their own registries."
        ),
        _preset_or("image_prefix", registry_host),
        aims=True,
    ),
    Param(
        "probe_timeout_s",
        float,
        5.0,
        N_(
            "Seconds each registry probe (GET /v2/) may wait at each stage; all probes together end by 3x "
            "this, at most 30 s."
        ),
        A_WEEK,
    ),
    Param(
        "engine_restart",
        str,
        "systemd",
        N_(
            "How to restart the engine after configuring it: systemd, user (systemctl --user), none, "
            "or a command (run without a shell)."
        ),
        restart_command,
        acts=True,
    ),
    Param(
        "allow_restart_command",
        bool,
        False,
        N_(
            "Allow engine_restart to be a command of your own, run as root once daemon.json changes "
            "(shown in the plan first)."
        ),
        acts=True,
    ),
    Param(
        "add_docker_group",
        bool,
        False,
        N_("Add the user who ran sudo to the docker group (root-equivalent)."),
        acts=True,
    ),
    Param(
        "interactive",
        bool,
        True,
        N_("JupyterLab: a panel with a button and live progress per step; headless runs set it false."),
    ),
    Param(
        "strict",
        bool,
        True,
        N_(
            "Headless (interactive false): a failed check raises in its cell after its output is shown, so plain "
            "papermill exits non-zero; JupyterLab panels never raise; the runbook's own runner sets it false."
        ),
    ),
    Param(
        "record_dir", str, "", N_("Folder of executed notebooks the report summarises; empty: the notebooks beside it.")
    ),
    Param(
        "lang",
        str,
        "",
        N_("Language of the results, reports and panels: en or zh_CN; empty: the locale's (LANG), else English."),
        language,
    ),
    Param(
        "replay",
        str,
        "",
        N_(
            "A record's folder: each step shows that host's recorded checks, marked as replayed, instead of "
            "running them here; empty: run them here."
        ),
        record_folder,
    ),
)
BY_NAME = {p.name: p for p in PARAMS}
ACTING = tuple(p.name for p in PARAMS if p.acts)  # what verify never takes from a record
AIMING = tuple(p.name for p in PARAMS if p.aims)  # nor this: a record never chooses the image or the engine


CREDENTIALS = re.compile(r"([a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


def masked(text: str) -> str:
    """``text`` with the user and password of any URL in it hidden (ssh://***@host): records are shared."""
    return CREDENTIALS.sub(r"\1***@", text)


def for_record(values: dict[str, Any]) -> dict[str, Any]:
    """Parameter values as a record keeps them: credentials masked."""
    return {k: masked(v) if isinstance(v, str) else v for k, v in values.items()}


def table() -> str:
    """The parameters as lines of name, type, default and help."""
    return "\n".join(f"{p.name:18} {p.type.__name__:5} default {p.default!r:10}  {translate(p.help)}" for p in PARAMS)


def defaults() -> dict[str, Any]:
    return {p.name: p.default for p in PARAMS}


_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = 80
_SHOWN.maxlist = _SHOWN.maxtuple = _SHOWN.maxdict = _SHOWN.maxset = 4
_SHOWN.maxlevel = 2


def shown(value: Any) -> str:
    """``repr(value)`` cut short, as an error line quotes it: a YAML alias bomb is a list of millions."""
    return _SHOWN.repr(value)


def _coerce(p: Param, value: Any) -> Any:
    """Turn a value (a CLI string, a YAML scalar, a Python value) into the parameter's type."""
    if p.type is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "on"):
            return True
        if isinstance(value, str) and value.strip().lower() in ("false", "no", "0", "off"):
            return False
        raise ValueError(_("{value} is not true or false").format(value=shown(value)))
    if p.type in (int, float):
        if isinstance(value, bool):
            raise ValueError(_("{value} is not a number").format(value=shown(value)))
        if isinstance(value, str):
            wanted = _("{value} is not a number") if p.type is float else _("{value} is not a whole number")
            if not value.isascii():  # float() reads other scripts' digits (٥ is 5): a number is written 0-9
                raise ValueError(wanted.format(value=shown(value)))
            try:
                value = float(value) if p.type is float else int(value, 10)
            except ValueError:
                raise ValueError(wanted.format(value=shown(value))) from None
        if p.type is int and isinstance(value, float):
            if not value.is_integer():
                raise ValueError(_("{value} is not a whole number").format(value=shown(value)))
            value = int(value)
        if not isinstance(value, (int, float)):
            raise ValueError(_("{value} is not a number").format(value=shown(value)))
        if not math.isfinite(value):
            raise ValueError(_("{value} is not a finite number").format(value=repr(value)))
        return p.type(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # YAML reads `gpus: 0` as a number
    if not isinstance(value, str):
        raise ValueError(_("{value} is not a string; write it in quotes").format(value=shown(value)))
    return value.strip()


def from_pairs(pairs: list[list[str]]) -> dict[str, str]:
    """The command line's ``-p NAME VALUE`` pairs as a mapping; a name given twice is refused (the last
    would win silently), as a parameters file that names a key twice is."""
    values: dict[str, str] = {}
    for name, value in pairs:
        if name in values:
            raise ParameterError(
                name,
                _("given twice (-p {name} {first} and -p {name} {second}); give it once").format(
                    name=name, first=shown(values[name]), second=shown(value)
                ),
            )
        values[name] = value
    return values


def validate(values: dict[str, Any]) -> dict[str, Any]:
    """All parameters, defaults filled in, typed and checked; ParameterError names the first bad one."""
    out = defaults()
    for name, raw in values.items():
        if not isinstance(name, str):
            raise ParameterError(str(name), _("parameter names are words such as cuda_image, not numbers or lists"))
        p = BY_NAME.get(name)
        if p is None:
            close = [n for n in BY_NAME if n.split("_")[0] == name.split("_")[0]]
            known = ", ".join(BY_NAME)
            raise ParameterError(
                name,
                _("unknown parameter (did you mean {close}?); known: {known}").format(
                    close=", ".join(close), known=known
                )
                if close
                else _("unknown parameter; known: {known}").format(known=known),
            )
        try:
            value = _coerce(p, raw)
            out[name] = p.check(value) if p.check else value
        except ValueError as e:
            raise ParameterError(name, str(e)) from None
    if out["engine_restart"] not in NAMED_RESTARTS and not out["allow_restart_command"]:
        raise ParameterError(
            "engine_restart",
            _(
                "{value} is a command that would run as root when "
                "the engine's configuration changes; set allow_restart_command=true to allow it "
                "(or use systemd, user, none)"
            ).format(value=repr(out["engine_restart"])),
        )
    return out
