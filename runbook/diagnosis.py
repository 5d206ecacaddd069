"""Known error texts -> cause -> fix -> the notebook that fixes it.

The texts are substrings of what the Docker engine, the NVIDIA Container Toolkit and the driver
print; the first entry that matches wins, so more specific texts come first. A cause and a fix are
message ids of the catalogue: they are shown in the language active when they are read.
"""

from __future__ import annotations

from dataclasses import dataclass

from .i18n import N_, translate

NB_PREFLIGHT = "01-preflight.ipynb"
NB_TOOLKIT = "02-container-toolkit.ipynb"
NB_GPU = "03-gpu-in-container.ipynb"
NB_PYTORCH = "04-pytorch-in-container.ipynb"
NB_NVCC = "05-why-no-nvcc.ipynb"

DRIVER_FIX = N_(
    "Install the NVIDIA driver for this GPU (Ubuntu: `sudo ubuntu-drivers install`, then reboot) "
    "and check that `nvidia-smi` lists the GPU."
)


@dataclass(frozen=True)
class Diagnosis:
    key: str
    patterns: tuple[str, ...]
    cause_id: str  # the English text, the catalogue's message id
    remediation_id: str
    notebook: str

    @property
    def cause(self) -> str:
        return translate(self.cause_id)

    @property
    def remediation(self) -> str:
        return translate(self.remediation_id)

    def matches(self, text: str) -> bool:
        low = text.lower()
        return any(p.lower() in low for p in self.patterns)

    def fields(self) -> dict[str, str]:
        """The cause, fix and notebook, as the keyword arguments of a result or an error."""
        return {"cause": self.cause, "remediation": self.remediation, "notebook": self.notebook}


TABLE: tuple[Diagnosis, ...] = (
    Diagnosis(
        "toolkit_missing",
        ('could not select device driver "" with capabilities: [[gpu]]',),
        N_(
            "NVIDIA Container Toolkit not installed or engine not restarted: the Docker engine found no "
            "nvidia-container-runtime-hook on its PATH when it started (or it is the snap package of Docker)."
        ),
        N_(
            "Install the NVIDIA Container Toolkit, run `sudo nvidia-ctk runtime configure --runtime=docker`, "
            "then `sudo systemctl restart docker`. With Docker from snap, switch to Docker Engine from "
            "Docker's apt repository."
        ),
        NB_TOOLKIT,
    ),
    Diagnosis(
        "cdi_unsupported",
        ('could not select device driver "cdi"', "nvidia.com/gpu=all is not an absolute path"),
        N_(
            "The engine does not resolve CDI devices: Docker older than 25 (whose CLI takes `--device "
            "nvidia.com/gpu=all` for a device path), or CDI not enabled in daemon.json."
        ),
        N_(
            "Upgrade to Docker Engine 25 or newer and enable CDI (`sudo nvidia-ctk runtime configure "
            "--runtime=docker --cdi.enabled`, restart the engine), or use gpu_mode=gpus."
        ),
        NB_TOOLKIT,
    ),
    Diagnosis(
        "runtime_unknown",
        ("unknown or invalid runtime name: nvidia", "unknown runtime specified nvidia"),
        N_(
            "The engine has no `nvidia` runtime in its configuration: the toolkit was not configured, the "
            "engine was not restarted, or a rootless engine reads another daemon.json."
        ),
        N_(
            "Run `sudo nvidia-ctk runtime configure --runtime=docker` and restart the engine (rootless: "
            "`nvidia-ctk runtime configure --runtime=docker --config=$HOME/.config/docker/daemon.json` and "
            "`systemctl --user restart docker`)."
        ),
        NB_TOOLKIT,
    ),
    Diagnosis(
        "docker_permission",
        ("permission denied while trying to connect to the docker daemon socket", "PermissionError(13"),
        N_(
            "This user may not use the Docker engine's socket: not in the `docker` group, or the group is not "
            "active yet (it takes a new login; a Jupyter server started before keeps the old groups)."
        ),
        N_(
            "`sudo usermod -aG docker $USER`, then log out and in again (and restart Jupyter). The docker "
            "group is root-equivalent; rootless Docker is the alternative. Never chmod the socket."
        ),
        NB_PREFLIGHT,
    ),
    Diagnosis(
        "engine_stalled",
        ("Read timed out",),
        N_(
            "The engine's socket accepted the connection but the engine did not answer in time: dockerd is hung or "
            "overloaded, or something other than dockerd listens on that socket."
        ),
        N_(
            "Look at the engine (`sudo systemctl status docker`, `sudo journalctl -u docker`), restart it (`sudo "
            "systemctl restart docker`), and check docker_host / DOCKER_HOST names the engine's socket."
        ),
        NB_PREFLIGHT,
    ),
    Diagnosis(
        "engine_unreachable",
        ("Error while fetching server API version", "Cannot connect to the Docker daemon"),
        N_(
            "No Docker engine answers at this address: it is not installed, not running, or DOCKER_HOST / "
            "docker_host points elsewhere."
        ),
        N_(
            "Install Docker Engine and start it (`sudo systemctl enable --now docker`), or set docker_host to "
            "the engine's address (e.g. unix:///var/run/docker.sock)."
        ),
        NB_PREFLIGHT,
    ),
    Diagnosis(
        "pull_stalled",
        ("no progress for",),
        N_(
            "The pull sent no progress for a long time: the registry (or a proxy or mirror in between) accepted the "
            "request and then stopped answering."
        ),
        N_(
            "Check the registry and any mirror or proxy the engine uses (`docker info` shows the mirrors); pull the "
            "image by hand to see where it stops, or load it with `docker load` and set pull=never."
        ),
        NB_GPU,
    ),
    Diagnosis(
        "cuda_requirement",
        ("unsatisfied condition: cuda>=", "unsatisfied condition: cuda >="),
        N_("The image requires a newer CUDA (its NVIDIA_REQUIRE_CUDA) than the host's driver supports."),
        N_(
            "Use an image tag for the CUDA version the driver supports (cuda_image=auto picks one), or "
            "upgrade the NVIDIA driver."
        ),
        NB_GPU,
    ),
    Diagnosis(
        "nvml_missing",
        (
            "load library failed: libnvidia-ml.so.1",
            "libnvidia-ml.so.1: cannot open shared object file",
            "NVIDIA-SMI couldn't find libnvidia-ml.so",
        ),
        N_(
            "The driver's libraries are not visible: no NVIDIA driver on the host, Docker from snap, or Docker Desktop."
        ),
        N_(
            "Install the NVIDIA driver on the host and check `ldconfig -p | grep libnvidia-ml`; use Docker "
            "Engine, not snap or Docker Desktop."
        ),
        NB_PREFLIGHT,
    ),
    Diagnosis(
        "nvml_unknown_error",
        ("Failed to initialize NVML: Unknown Error",),
        N_(
            "The container lost its GPU device rules: with the systemd cgroup driver, a `systemctl "
            "daemon-reload` drops them from running containers."
        ),
        N_(
            "Recreate the container; for long-running ones use CDI (gpu_mode=cdi) or the cgroupfs driver "
            '(`"exec-opts": ["native.cgroupdriver=cgroupfs"]` in daemon.json).'
        ),
        NB_GPU,
    ),
    Diagnosis(
        "cdi_unresolvable",
        ("unresolvable CDI devices",),
        N_("The engine found no CDI spec for the requested device, or a stale one."),
        N_(
            "Generate the spec: `sudo nvidia-ctk cdi generate --output=/var/run/cdi/nvidia.yaml`, check with "
            "`nvidia-ctk cdi list` (again after every driver upgrade)."
        ),
        NB_TOOLKIT,
    ),
    Diagnosis(
        "gpu_access_blocked",
        ("GPU access blocked by the operating system",),
        N_(
            "The driver is loaded but this process may not open the GPU's device nodes (/dev/nvidiactl, "
            "/dev/nvidia*): a container or cgroup device rule withholds them, or their permissions do."
        ),
        N_(
            "Check `ls -l /dev/nvidia*` (mode crw-rw-rw-, or a group this user is in); in a container, give it "
            "the GPU (gpu_mode=gpus with the toolkit, or gpu_mode=manual)."
        ),
        NB_PREFLIGHT,
    ),
    Diagnosis(
        "driver_mismatch",
        ("driver/library version mismatch",),
        N_("The NVIDIA driver was upgraded without a reboot: the kernel module and the libraries differ."),
        N_("Reboot (or unload and reload the nvidia kernel modules)."),
        NB_PREFLIGHT,
    ),
    Diagnosis(
        "driver_not_loaded",
        ("couldn't communicate with the NVIDIA driver",),
        N_(
            "nvidia-smi is installed but the NVIDIA kernel module is not loaded: the driver was installed or the "
            "kernel updated without a reboot, the module was not built for the running kernel (DKMS), or "
            "Secure Boot refused the unsigned module."
        ),
        N_(
            "Reboot. If it persists: `sudo dkms status` (a module for `uname -r`?), `mokutil --sb-state` "
            "(Secure Boot enrolls or refuses the module), then reinstall the driver for the running kernel "
            "(`sudo ubuntu-drivers install`)."
        ),
        NB_PREFLIGHT,
    ),
    Diagnosis(
        "forward_compat",
        ("forward compatibility was attempted on non supported HW",),
        N_(
            "The image's CUDA forward-compatibility libraries were used on a GPU that does not support them "
            "(consumer GPUs)."
        ),
        N_("Use an image whose CUDA version the host driver supports natively, or upgrade the driver."),
        NB_GPU,
    ),
    Diagnosis(
        "platform_mismatch",
        ("no matching manifest for", "does not match the specified platform"),
        N_(
            "The image exists, but not for this machine's platform (CPU architecture): its manifest list has "
            "no entry for it."
        ),
        N_(
            "Use an image published for this platform (`docker manifest inspect IMAGE` lists them); "
            "nvidia/cuda and pytorch/pytorch publish linux/amd64 and linux/arm64."
        ),
        NB_GPU,
    ),
    Diagnosis(
        "manifest_unknown",
        ("manifest unknown", "not found: manifest"),
        N_(
            "The registry has no image under this name and tag: `latest` is not published for nvidia/cuda, "
            "and tags of end-of-life CUDA versions are deleted."
        ),
        N_(
            "Pin a full, supported tag (e.g. nvidia/cuda:13.0.2-base-ubuntu24.04); cuda_image=auto picks one "
            "for the driver."
        ),
        NB_GPU,
    ),
    Diagnosis(
        "registry_unreachable",
        ("no such host", "i/o timeout", "TLS handshake timeout", "dial tcp", "network is unreachable"),
        N_("The registry could not be reached from the engine (no network, a proxy, DNS)."),
        N_(
            "Check the engine's network and proxy settings (`systemctl show docker -p Environment`), use a "
            "registry mirror, or load the image with `docker load` and set pull=never."
        ),
        NB_GPU,
    ),
    Diagnosis(
        "pull_denied",
        ("pull access denied", "unauthorized", "requested access to the resource is denied"),
        N_("The registry refused the pull: the repository does not exist or needs a login."),
        N_("Check the image name; `docker login` to the registry if it is private."),
        NB_GPU,
    ),
    Diagnosis(
        "apt_signed_by_conflict",
        ("Conflicting values set for option Signed-By",),
        N_(
            "Two apt lists name NVIDIA's repository with different keys: a list left by the old nvidia-docker "
            "method beside the current one."
        ),
        N_("Remove the old list (the install plan finds and removes it), then `sudo apt-get update`."),
        NB_TOOLKIT,
    ),
    Diagnosis(
        "apt_signature",
        ("NO_PUBKEY", "signatures couldn't be verified", "is not signed", "EXPKEYSIG", "BADSIG"),
        N_(
            "apt could not verify the repository's signature with the keyring the list names: a wrong, old or "
            "expired key."
        ),
        N_(
            "Fetch the key again into the keyring (the plan's key step), check the list's signed-by path, then "
            "`sudo apt-get update`."
        ),
        NB_TOOLKIT,
    ),
    Diagnosis(
        "runtime_binary_missing",
        (
            '"nvidia-container-runtime": executable file not found',
            "nvidia-container-runtime: no such file",
            'exec: "nvidia-container-runtime"',
        ),
        N_(
            "The engine is configured with the nvidia runtime, but its program nvidia-container-runtime is not "
            "installed (or not on the engine's PATH)."
        ),
        N_("Install the toolkit's packages (the install plan), then restart the engine."),
        NB_TOOLKIT,
    ),
    Diagnosis(
        "container_cli_missing",
        ("couldn't find binary nvidia-container-cli", '"nvidia-container-cli": executable file not found'),
        N_(
            "The toolkit's legacy path ran: `--gpus` with runc as the engine's runtime (or the nvidia runtime in "
            "legacy mode) goes through the prestart hook, which needs nvidia-container-cli from "
            "libnvidia-container-tools, and it is not installed (or not on the engine's PATH)."
        ),
        N_(
            "Install libnvidia-container-tools and libnvidia-container1 at the toolkit's version (the install "
            "plan does), or leave the legacy path: make nvidia the engine's default runtime (set_as_default=true; "
            "its jit-cdi mode injects the GPUs by CDI), or use gpu_mode=runtime or gpu_mode=cdi."
        ),
        NB_TOOLKIT,
    ),
    Diagnosis(
        "nvml_not_found",
        ("failed to initialize NVML: ERROR_LIBRARY_NOT_FOUND",),
        N_(
            "The nvidia runtime (mode auto: CDI made on the fly) found no NVIDIA driver library (NVML, "
            "libnvidia-ml.so.1) on the host to build the GPUs' CDI specification: no driver is installed, or its "
            "libraries are not in the loader's cache."
        ),
        N_("Install the NVIDIA driver on the host; check `nvidia-smi` and `ldconfig -p | grep libnvidia-ml`."),
        NB_PREFLIGHT,
    ),
    Diagnosis(
        "no_space",
        ("no space left on device",),
        N_("The engine's disk is full."),
        N_("Free space (`docker system prune`, remove unused images) or move the engine's data-root."),
        NB_PREFLIGHT,
    ),
    Diagnosis(
        "no_gpu_in_container",
        ("Found no NVIDIA driver on your system", "no CUDA-capable device is detected"),
        N_(
            "The container got no GPU: no device nodes or driver libraries were put into it (no GPU access "
            "mode took effect), or the host has no GPU."
        ),
        N_(
            "Give the container the GPU (gpu_mode=gpus with the toolkit installed, or gpu_mode=manual) and "
            "check step 3 (nvidia-smi in a container) first."
        ),
        NB_GPU,
    ),
    Diagnosis(
        "nvcc_absent",
        ('exec: "nvcc": executable file not found', "nvcc: not found", "nvcc: command not found"),
        N_(
            "The image has no CUDA compiler: only devel images ship nvcc; base and runtime images (and the "
            "PyTorch runtime images) do not."
        ),
        N_(
            "Use an nvidia/cuda:*-devel-* image to build CUDA code (devel_image=auto picks one for the driver), "
            "and a runtime image to run what was built."
        ),
        NB_NVCC,
    ),
    Diagnosis(
        "nvidia_smi_wrapper",
        ("bin/nvidia-smi: not found",),
        N_(
            "The nvidia-smi in the container is a wrapper script (the host's, mounted by the toolkit) that runs the "
            "driver's binary at a path the container does not have: the host puts a script first on PATH."
        ),
        N_(
            "Let the toolkit find the driver's own nvidia-smi: put its folder first on the engine's PATH (or make "
            "the host's wrapper a link to the binary), restart the engine; with CDI, `sudo nvidia-ctk cdi generate "
            "--output=/var/run/cdi/nvidia.yaml` mounts the driver's own path."
        ),
        NB_GPU,
    ),
    Diagnosis(
        "nvidia_smi_absent",
        ('exec: "nvidia-smi": executable file not found', "nvidia-smi: not found", "nvidia-smi: command not found"),
        N_(
            "`nvidia-smi` is not on the container's PATH: images do not ship it; the toolkit (utility capability) "
            "or gpu_mode=manual puts the host driver's copy in, at the host's path. Either the container got no "
            "GPU access, or the host keeps its driver outside the image's PATH (e.g. /usr/local/nvidia/bin, "
            "which NVIDIA's CUDA images put on PATH and plain images such as ubuntu do not)."
        ),
        N_(
            "Run with GPU access (gpu_mode=gpus after installing the toolkit, or gpu_mode=manual to test the "
            "driver without it). On a host whose driver lives in /usr/local/nvidia, use an nvidia/cuda image or "
            "give the container that PATH (`-e PATH=/usr/local/nvidia/bin:/usr/bin:/bin`)."
        ),
        NB_GPU,
    ),
    # Engines reached over SSH (docker_host ssh://...): docker-py connects with paramiko, then runs
    # `docker system dial-stdio` on the remote host (runbook/remote.py tells these apart).
    Diagnosis(
        "ssh_host_key_unknown",
        ("not found in known_hosts",),
        N_(
            "The SSH server's host key is not in this user's ~/.ssh/known_hosts: docker-py (paramiko) refuses an "
            "unknown host and never asks, and it reads no other known_hosts file (not UserKnownHostsFile)."
        ),
        N_(
            "Check the host's key fingerprint on the host (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`), "
            "then add it: `ssh-keyscan -p PORT HOST >> ~/.ssh/known_hosts` (or connect once with `ssh -p PORT "
            "USER@HOST` and accept it)."
        ),
        NB_PREFLIGHT,
    ),
    Diagnosis(
        "ssh_host_key_changed",
        ("Host key for server",),
        N_(
            "The SSH server's host key differs from the one in ~/.ssh/known_hosts: the host was reinstalled, "
            "its address now belongs to another machine, or someone is in between."
        ),
        N_(
            "Find out why the key changed before anything else; once it is known good, replace the old key: "
            "`ssh-keygen -R '[HOST]:PORT'`, then add the new one."
        ),
        NB_PREFLIGHT,
    ),
    Diagnosis(
        "ssh_auth",
        ("Authentication failed", "No authentication methods available", "Bad authentication type"),
        N_(
            "The SSH server refused this user: no key was offered (docker-py offers ssh-agent's keys, the default "
            "~/.ssh/id_* and the IdentityFile of ~/.ssh/config for that host), or the key is not in the remote "
            "user's authorized_keys."
        ),
        N_(
            "Give the remote user your public key (`ssh-copy-id -p PORT USER@HOST`) or name the right key in "
            "~/.ssh/config (Host HOST / IdentityFile ...); check with `ssh -p PORT USER@HOST docker version`."
        ),
        NB_PREFLIGHT,
    ),
    Diagnosis(
        "ssh_unreachable",
        ("Unable to connect to port",),
        N_(
            "No SSH server answers at this address and port: the host is down, sshd is not running, a firewall "
            "drops the connection, or the port is wrong (docker-py connects to the port in the ssh:// address, "
            "22 when none is given, and ignores the Port of ~/.ssh/config)."
        ),
        N_("Check the host with `ssh -p PORT USER@HOST true`; put the port in the address (ssh://USER@HOST:PORT)."),
        NB_PREFLIGHT,
    ),
    Diagnosis(
        "ssh_no_docker_cli",
        ("docker: not found", "docker: command not found"),
        N_(
            "SSH works, but the remote host has no `docker` command on the PATH of a non-interactive login: "
            "an ssh:// engine is reached through `docker system dial-stdio`, run there by the Docker CLI."
        ),
        N_(
            "Install the Docker CLI on the remote host (Docker's docker-ce-cli, or Debian's docker.io) and make "
            "sure `ssh USER@HOST docker version` finds it."
        ),
        NB_PREFLIGHT,
    ),
)


def diagnose(text: str) -> Diagnosis | None:
    """The first known diagnosis whose text occurs in ``text``, or None."""
    for d in TABLE:
        if d.matches(text):
            return d
    return None


def explain(
    text: str = "",
    *,
    key: str | None = None,
    default_cause: str = "",
    default_fix: str = "",
    default_notebook: str = "",
) -> dict[str, str]:
    """Cause, fix and notebook for ``text``: its diagnosis, else the entry ``key``, else the defaults given."""
    d = diagnose(text) if text else None
    if d is None and key is not None:
        d = by_key(key)
    if d is not None:
        return d.fields()
    return {"cause": default_cause, "remediation": default_fix, "notebook": default_notebook}


def by_key(key: str) -> Diagnosis:
    for d in TABLE:
        if d.key == key:
            return d
    raise KeyError(key)
