"""Known error texts -> cause -> fix -> the notebook that fixes it.

The texts are substrings of what the Docker engine, the NVIDIA Container Toolkit and the driver
print; the first entry that matches wins, so more specific texts come first. A cause and a fix are
message ids of the catalogue: they are shown in the language active when they are read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .i18n import N_, _, translate

NB_PREFLIGHT = "01-preflight.ipynb"
NB_TOOLKIT = "02-container-toolkit.ipynb"
NB_GPU = "03-gpu-in-container.ipynb"
NB_PYTORCH = "04-pytorch-in-container.ipynb"
NB_NVCC = "05-why-no-nvcc.ipynb"

DRIVER_FIX = N_(
    "Install the NVIDIA driver for this GPU (Ubuntu: `sudo ubuntu-drivers install`, then reboot) "
    "and check that `nvidia-smi` lists the GPU."
)


def normalized(text: str) -> str:
    """``text`` as the table's patterns are written: lower case, typographic apostrophes as ', quotes
    without the backslashes that layers of JSON and Go's %q put before them (Docker 19.03's
    ``could not select device driver \\"\\"``), and every run of white space one space (terminals and
    issue forms wrap long lines)."""
    text = re.sub(r"\s+", " ", re.sub(r'\\+"', '"', text))
    return text.translate(str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})).lower()


@dataclass(frozen=True)
class Diagnosis:
    key: str
    patterns: tuple[str, ...]
    cause_id: str  # the English text, the catalogue's message id
    remediation_id: str
    notebook: str
    regexes: tuple[str, ...] = ()  # for texts a substring cannot pin down ("manifest for X not found")

    @property
    def cause(self) -> str:
        return translate(self.cause_id)

    @property
    def remediation(self) -> str:
        return translate(self.remediation_id)

    def matches(self, text: str) -> bool:
        low = normalized(text)
        return any(p.lower() in low for p in self.patterns) or any(re.search(r, low) for r in self.regexes)

    def fields(self) -> dict[str, str]:
        """The cause, fix and notebook, as the keyword arguments of a result or an error."""
        return {"cause": self.cause, "remediation": self.remediation, "notebook": self.notebook}


TABLE: tuple[Diagnosis, ...] = (
    Diagnosis(
        "toolkit_missing",
        (
            'could not select device driver "" with capabilities: [[gpu]]',
            'could not select device driver "nvidia" with capabilities: [[gpu]]',  # compose: driver: nvidia
        ),
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
            "engine was not restarted, or the engine reads another daemon.json (a rootless engine its user's, "
            "Docker from snap its own, with its own NVIDIA support)."
        ),
        N_(
            "Run `sudo nvidia-ctk runtime configure --runtime=docker` and restart the engine (rootless: "
            "`nvidia-ctk runtime configure --runtime=docker --config=$HOME/.config/docker/daemon.json` and "
            "`systemctl --user restart docker`); with Docker from snap, update the snap (`sudo snap refresh "
            "docker`), or use Docker Engine from Docker's or the distribution's packages."
        ),
        NB_TOOLKIT,
    ),
    Diagnosis(
        "gpus_flag_unsupported",
        ("unknown flag: --gpus",),
        N_(
            "This docker command has no `--gpus` flag: a Docker CLI older than 19.03, which added it (or an old "
            "Podman, which takes CDI devices: `--device nvidia.com/gpu=all`)."
        ),
        N_(
            "Install a current Docker Engine and CLI from Docker's apt repository (docker-ce, docker-ce-cli); with "
            "the old one, `--runtime=nvidia` of nvidia-docker2 is the way to the GPU."
        ),
        NB_PREFLIGHT,
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
        "wsl_no_adapter",
        ("WSL environment detected but no adapters were found",),
        N_(
            "The toolkit runs under WSL (or Docker Desktop) and Windows gives it no GPU: no NVIDIA GPU, a "
            "Windows driver without WSL support, or WSL 1 (only WSL 2 passes GPUs through)."
        ),
        N_(
            "Install the NVIDIA Windows driver (it brings WSL support), `wsl --update`, use WSL 2 (`wsl "
            "--set-version DISTRO 2`), then check `nvidia-smi` inside WSL; without an NVIDIA GPU, run without "
            "GPU access."
        ),
        NB_PREFLIGHT,
    ),
    Diagnosis(
        "wsl_driver_libs_in_image",
        ("libnvidia-ml.so.1: file exists",),
        N_(
            "The image carries its own copies of the driver's libraries (libnvidia-ml.so.1, libcuda.so.1) where "
            "the toolkit mounts the host's: common under WSL, whose driver lives in /usr/lib/wsl/lib, and with "
            "images built on a GPU host."
        ),
        N_(
            "Use an image without driver libraries (delete them in the Dockerfile: `RUN rm -f "
            "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1 /usr/lib/x86_64-linux-gnu/libcuda.so.1`), or update "
            "the NVIDIA Container Toolkit."
        ),
        NB_GPU,
    ),
    Diagnosis(
        "hook_missing",
        ('"nvidia-container-runtime-hook": executable file not found', "nvidia-container-runtime-hook: no such file"),
        N_(
            "The engine runs the nvidia runtime of the old nvidia-docker2 packaging, whose hook "
            "(nvidia-container-runtime-hook) is gone: the package was replaced by nvidia-container-toolkit, or "
            "only part of the old set is installed."
        ),
        N_(
            "Install the current NVIDIA Container Toolkit (nvidia-container-toolkit, the install plan), run "
            "`sudo nvidia-ctk runtime configure --runtime=docker` and restart the engine."
        ),
        NB_TOOLKIT,
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
        "torch_driver_too_old",
        ("The NVIDIA driver on your system is too old",),
        N_(
            "PyTorch was built for a newer CUDA than the host's driver supports (the number after \"found "
            "version\" is the driver's CUDA: 11040 is CUDA 11.4)."
        ),
        N_(
            "Use a PyTorch build for the driver's CUDA or older (pytorch_image=auto picks one; pip: the "
            "matching --index-url .../whl/cuXXX), or upgrade the NVIDIA driver."
        ),
        NB_PYTORCH,
    ),
    Diagnosis(
        "torch_arch_unsupported",
        (
            "no kernel image is available for execution on the device",
            "is not compatible with the current PyTorch installation",
            "PyTorch no longer supports this GPU",
        ),
        N_(
            "This PyTorch build has no kernels for the GPU's compute capability: a GPU newer than the build "
            "(sm_120, RTX 50xx and Blackwell, needs a CUDA 12.8 build or newer) or older than the oldest it still "
            "supports (each build lists its own: `torch.cuda.get_arch_list()`)."
        ),
        N_(
            "Use a PyTorch build whose arch list has the GPU's capability (`nvidia-smi --query-gpu=compute_cap "
            "--format=csv`): pytorch_image=auto picks one for the driver; pip: the --index-url .../whl/cuXXX of "
            "a CUDA version that supports the GPU (cu128 or newer for sm_120), or an older PyTorch for an old GPU."
        ),
        NB_PYTORCH,
    ),
    Diagnosis(
        "cuda_driver_insufficient",
        ("CUDA driver version is insufficient for CUDA runtime version", "cudaErrorInsufficientDriver"),
        N_("The program's CUDA runtime (in the image) is newer than the host's driver supports (CUDA error 35)."),
        N_(
            "Use an image of the driver's CUDA version or older (cuda_image=auto picks one), or upgrade the "
            "NVIDIA driver; check with `nvidia-smi` on the host (CUDA Version)."
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
            "The driver's libraries are not visible: no NVIDIA driver on the host, Docker from snap, Docker "
            "Desktop, or (in a container) a toolkit whose `ldconfig` setting does not fit this host, so the "
            "libraries it mounted are not in the container's loader cache."
        ),
        N_(
            "Install the NVIDIA driver on the host and check `ldconfig -p | grep libnvidia-ml`; use Docker "
            "Engine, not snap or Docker Desktop; check `ldconfig` in /etc/nvidia-container-runtime/config.toml "
            "names this host's (`ls -l /sbin/ldconfig*`; keep the leading @)."
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
        ("GPU access blocked by the operating system", "insufficient permissions"),
        N_(
            "The driver is loaded but this process may not open the GPU's device nodes (/dev/nvidiactl, "
            "/dev/nvidia*): a container or cgroup device rule withholds them, SELinux keeps containers from "
            "devices (Fedora, RHEL), or the nodes' permissions do (a rootless engine's user among them)."
        ),
        N_(
            "Check `ls -l /dev/nvidia*` (mode crw-rw-rw-, or a group this user is in); in a container, give it "
            "the GPU (gpu_mode=gpus with the toolkit, or gpu_mode=manual); with SELinux enforcing (`getenforce`), "
            "`sudo setsebool -P container_use_devices 1`."
        ),
        NB_PREFLIGHT,
    ),
    Diagnosis(
        "driver_rpc_timeout",
        ("driver rpc error: timed out",),
        N_(
            "nvidia-container-cli timed out waiting for the driver: with no persistence daemon the driver "
            "initialises the GPUs anew for each process that opens them, which on some hosts (many or large "
            "GPUs, a driver unloaded between uses) takes longer than the toolkit waits."
        ),
        N_(
            "Keep the driver initialised: `sudo systemctl enable --now nvidia-persistenced` (or `sudo nvidia-smi "
            "-pm 1`), then run the container again."
        ),
        NB_PREFLIGHT,
    ),
    Diagnosis(
        "driver_mismatch",
        ("driver/library version mismatch",),
        N_(
            "The driver's kernel module and its libraries are of different versions: the driver was upgraded "
            "without a reboot, an older driver's libraries are still found first, or (in a container) the image "
            "brings driver libraries of its own."
        ),
        N_(
            "Reboot (or unload and reload the nvidia kernel modules). If it persists, `ldconfig -p | grep "
            "libnvidia-ml` should find only the version `cat /proc/driver/nvidia/version` names: remove the "
            "older driver's files. In a container, use an image without NVIDIA driver packages: the toolkit "
            "mounts the host's."
        ),
        NB_PREFLIGHT,
    ),
    Diagnosis(
        "driver_not_loaded",
        ("couldn't communicate with the NVIDIA driver", "nvml error: driver not loaded"),
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
        "fabric_manager",
        ("system not yet initialized", "cudaErrorSystemNotReady", "CUDA_ERROR_SYSTEM_NOT_READY"),
        N_(
            "CUDA is not ready on this host (CUDA error 802): GPUs joined by NVSwitch (HGX and DGX A100, H100, "
            "H200, B200) need NVIDIA Fabric Manager running, at exactly the driver's version, before CUDA starts; "
            "nvidia-smi still lists the GPUs."
        ),
        N_(
            "Install NVIDIA Fabric Manager at exactly the driver's version (`nvidia-smi` shows it; the package "
            "nvidia-fabricmanager-BRANCH, e.g. -580, from the repository the driver came from), `sudo systemctl "
            "enable --now nvidia-fabricmanager`, then check that `nvidia-smi -q | grep -A2 Fabric` says Completed."
        ),
        NB_PREFLIGHT,
    ),
    Diagnosis(
        "cuda_unknown_error",
        ("CUDA unknown error", "cuda runtime error (999)", "CUDA_ERROR_UNKNOWN"),
        N_(
            "CUDA could not start on the GPU and knows no reason (CUDA error 999): most often the driver's "
            "nvidia_uvm module after a suspend and resume, or after a driver update without a reboot, or a missing "
            "/dev/nvidia-uvm; the words about CUDA_VISIBLE_DEVICES are only PyTorch's guess."
        ),
        N_(
            "Reload the module (`sudo rmmod nvidia_uvm && sudo modprobe nvidia_uvm`, with no CUDA program "
            "running) or reboot; check that `ls -l /dev/nvidia-uvm` shows the device, on the host and in the "
            "container."
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
        (
            "no matching manifest for",
            "does not match the specified platform",
            "does not match the detected host platform",
            "exec format error",
        ),
        N_(
            "The image exists, but not for this machine's platform (CPU architecture): its manifest list has "
            "no entry for it, or it was built for one other platform only, whose programs this CPU cannot run "
            "(exec format error)."
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
        regexes=(r"manifest for \S+ not found", r"failed to resolve source metadata for \S+: \S+: not found"),
    ),
    Diagnosis(
        "pull_rate_limited",
        ("toomanyrequests", "pull rate limit", "429 Too Many Requests"),
        N_(
            "Docker Hub refused the pull: this address (or this account) reached its pull rate limit (HTTP 429); "
            "anonymous pulls share one limit per IP address, so a NAT or CI runner reaches it sooner."
        ),
        N_(
            "Wait for the limit's window to pass, `docker login` (a free account has a higher limit, a paid one "
            "none), or pull through a registry mirror (registry_mirrors) or from another registry that holds "
            "the image."
        ),
        NB_GPU,
    ),
    Diagnosis(
        "registry_payment_required",
        ("402 Payment Required",),
        N_(
            "The registry, or a mirror or pull-through cache in between, refused to serve the image without "
            "payment (HTTP 402): its free quota or plan is used up."
        ),
        N_(
            "Pull from another registry or mirror that holds the image (or Docker Hub itself), or settle the "
            "registry's plan; `docker info` shows the mirrors the engine uses."
        ),
        NB_GPU,
    ),
    Diagnosis(
        "registry_forbidden",
        ("403 Forbidden", "HTTP 403 response"),
        N_(
            "The registry, or a mirror in between, refused the request (HTTP 403): many mirrors serve only "
            "their own network or customers, or only some repositories, and some answer 403 for a name they "
            "do not hold."
        ),
        N_(
            "Check the image name, then the mirror (`docker info` lists them): remove or replace one that "
            "refuses this host, or pull from the registry itself."
        ),
        NB_GPU,
    ),
    Diagnosis(
        "proxy_unreachable",
        ("proxyconnect tcp", "error connecting to proxy"),
        N_(
            "The engine sends its pulls through an HTTP(S) proxy (HTTP_PROXY/HTTPS_PROXY in its environment) "
            "that does not answer: the proxy is down, its address or port is wrong, or it is empty."
        ),
        N_(
            "Check the proxy the engine uses (`systemctl show docker -p Environment`, "
            "/etc/systemd/system/docker.service.d/*.conf), fix or remove it, then `sudo systemctl daemon-reload "
            "&& sudo systemctl restart docker`."
        ),
        NB_GPU,
    ),
    Diagnosis(
        "registry_tls",
        ("x509: certificate", "tls: failed to verify certificate"),
        N_(
            "The engine does not trust the registry's TLS certificate: a proxy or firewall that inspects TLS "
            "with its own certificate, a registry with a self-signed one, or missing CA certificates."
        ),
        N_(
            "Give the engine the CA that signed it (/etc/docker/certs.d/REGISTRY/ca.crt, or the system's CA "
            "store, then restart the engine); for a proxy that inspects TLS, ask for its CA certificate."
        ),
        NB_GPU,
    ),
    Diagnosis(
        "registry_dns",
        ("dial tcp: lookup ", "no such host", "server misbehaving"),
        N_("The registry's name could not be resolved: the engine's DNS server does not answer or knows no such host."),
        N_(
            "Check name resolution on the host (`getent hosts registry-1.docker.io`, /etc/resolv.conf); set "
            'working DNS servers (`"dns": [...]` in daemon.json or the host\'s resolver), or use a registry '
            "mirror reachable by name."
        ),
        NB_GPU,
    ),
    Diagnosis(
        "registry_timeout",
        (
            "Client.Timeout exceeded while awaiting headers",
            "request canceled while waiting for connection",
            "TLS handshake timeout",
            "i/o timeout",
        ),
        N_(
            "The registry did not answer in time: the network to it is slow, filtered or blocked (a firewall, "
            "a country-level block of Docker Hub), or it needs a proxy the engine does not use."
        ),
        N_(
            "Check the way out (`curl -sI https://registry-1.docker.io/v2/`); give the engine a proxy "
            "(systemd drop-in with HTTPS_PROXY, then restart) or a registry mirror (registry_mirrors), or load "
            "the image with `docker load` and set pull=never."
        ),
        NB_GPU,
    ),
    Diagnosis(
        "registry_unreachable",
        ("dial tcp", "network is unreachable"),
        N_("The registry could not be reached from the engine (no network, a proxy, DNS)."),
        N_(
            "Check the engine's network and proxy settings (`systemctl show docker -p Environment`), use a "
            "registry mirror, or load the image with `docker load` and set pull=never."
        ),
        NB_GPU,
    ),
    Diagnosis(
        "podman_short_name",
        ("did not resolve to an alias",),
        N_(
            "Podman does not guess the registry of an image named without one (a short name such as "
            "nvidia/cuda:TAG): no alias in registries.conf.d names it, and registries.conf lists no "
            "unqualified-search-registries."
        ),
        N_(
            "Name the image with its registry (docker.io/nvidia/cuda:TAG), or add `unqualified-search-registries = "
            '["docker.io"]` to /etc/containers/registries.conf (rootless: ~/.config/containers/registries.conf).'
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
            "Fetch the key again into the keyring (the plan's key step), check the list's signed-by path and "
            "that apt may read the keyring (`ls -l` it: mode 644), then `sudo apt-get update`."
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
        "unknown_device",
        (": unknown device",),
        N_(
            "The container asked for a GPU the host's driver does not list: an index past the host's GPUs "
            "(`--gpus 2` on a host with one, NVIDIA_VISIBLE_DEVICES), a UUID of another host, or a MIG device "
            "named in an older form (MIG-GPU-<uuid>/<gi>/<ci>; newer drivers name them MIG-<uuid>)."
        ),
        N_(
            "Ask for GPUs the host lists: `nvidia-smi -L` names each GPU and MIG device with its index and UUID "
            "(gpus=all, or indexes and UUIDs from that list)."
        ),
        NB_GPU,
    ),
    Diagnosis(
        "cdi_hook_missing",
        ("nvidia-cdi-hook: no such file or directory", '"nvidia-cdi-hook": executable file not found'),
        N_(
            "The CDI specification runs the toolkit's hook program nvidia-cdi-hook, which is not installed at the "
            "path the specification names: a toolkit package without it (some distributions' builds), or a "
            "specification generated by another toolkit than the one installed."
        ),
        N_(
            "Install the NVIDIA Container Toolkit's own packages (the install plan; nvidia-container-toolkit-base "
            "holds nvidia-cdi-hook), then generate the specification again: `sudo nvidia-ctk cdi generate "
            "--output=/var/run/cdi/nvidia.yaml`."
        ),
        NB_TOOLKIT,
    ),
    Diagnosis(
        "rpm_repo_not_found",
        ("repomd.xml: [Errno 14] HTTPS Error 404",),  # yum's words; dnf's name the address between
        N_(
            "dnf or yum found no repository at the address a .repo file names (HTTP 404 for its "
            "repodata/repomd.xml): a typo in the file, a repository that does not exist (NVIDIA's old "
            "nvidia-docker and nvidia-container-runtime repositories are gone), or a path for another release."
        ),
        N_(
            "Find the file that names the address (`grep -rl ADDRESS /etc/yum.repos.d`), fix or remove it, and "
            "let the install plan write NVIDIA's (nvidia-container-toolkit.repo); then `sudo dnf makecache`."
        ),
        NB_TOOLKIT,
        regexes=(r"status code: 404 for \S+/repodata/repomd\.xml",),
    ),
    Diagnosis(
        "toolkit_ldconfig",
        ("ldcache error: open failed",),
        N_(
            "The toolkit's configuration (/etc/nvidia-container-runtime/config.toml, its `ldconfig` setting) names "
            "an ldconfig this host does not have: `@/sbin/ldconfig.real` exists on Debian and Ubuntu only, other "
            "distributions have `@/sbin/ldconfig`; a package for another distribution, or a copied config.toml, "
            "brings the wrong one."
        ),
        N_(
            "Set `ldconfig` in /etc/nvidia-container-runtime/config.toml to the host's own (`ls -l "
            "/sbin/ldconfig*`; keep the leading @), or install the toolkit's package for this distribution."
        ),
        NB_TOOLKIT,
        regexes=(r"ldcache error: process \S*ldconfig\S* failed with error code: 127",),
    ),
    Diagnosis(
        "toolkit_cgroup",
        (
            "cgroup subsystem devices not found",
            "failed to add device rules",
            "devices.allow: permission denied",
            "devices.allow: operation not permitted",
        ),
        N_(
            "The toolkit's legacy path (nvidia-container-cli) could not let the container use the GPUs' device "
            "nodes in its cgroup: a toolkit older than 1.8 knows no cgroup v2 (no devices controller there), and a "
            "rootless engine, or one inside a container, may not change the cgroup's eBPF device filter."
        ),
        N_(
            "Update the NVIDIA Container Toolkit (the install plan); with a rootless engine set `no-cgroups = true` "
            "in /etc/nvidia-container-runtime/config.toml, or use CDI (gpu_mode=cdi), which changes no cgroup."
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
        "no_cuda_gpus",
        ("No CUDA GPUs are available",),
        N_(
            "CUDA found no GPU this process may use: CUDA_VISIBLE_DEVICES names GPUs that are not there (they "
            "count from 0 among the GPUs the process sees: '1' on a one-GPU host or container is none) or is empty, "
            "or the container got no GPU (no GPU access mode, NVIDIA_VISIBLE_DEVICES=void or none)."
        ),
        N_(
            "Run `nvidia-smi -L` where the program runs (in the same container): without GPUs there, give the "
            "container the GPU (gpu_mode=gpus with the toolkit, or gpu_mode=manual); with GPUs there, unset "
            "CUDA_VISIBLE_DEVICES or set it to indexes that list shows (from 0)."
        ),
        NB_PYTORCH,
    ),
    Diagnosis(
        "no_space",
        ("no space left on device",),
        N_("The engine's disk is full."),
        N_("Free space (`docker system prune`, remove unused images) or move the engine's data-root."),
        NB_PREFLIGHT,
    ),
    Diagnosis(
        "shm_too_small",
        ("out of shared memory", "insufficient shared memory", "killed by signal: Bus error"),
        N_(
            "The container's shared memory (/dev/shm, 64 MB by default in Docker) is too small: PyTorch's "
            "DataLoader workers pass their batches through it (and NCCL its buffers), and a worker that runs out "
            "of it dies of a bus error."
        ),
        N_(
            "Start the container with more shared memory (`docker run --shm-size=8g`, compose `shm_size: 8g`) or "
            "with the host's (`--ipc=host`); num_workers=0 in the DataLoader confirms it, at the cost of speed."
        ),
        NB_PYTORCH,
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
    # `docker system dial-stdio` on the remote host (runbook/engine/ssh.py tells these apart).
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


UNKNOWN_CAUSE = N_("The output says: \u201c{said}\u201d; this text is not yet known to the runbook's diagnosis.")
UNKNOWN_FIX = N_(
    "Read the whole output (evidence) for what it names; docs/field-diagnosis.md says how to report a text "
    "the runbook does not know yet, so that it gets its cause and fix."
)


def said(text: str, limit: int = 240) -> str:
    """The line of ``text`` that most likely names the error (the last line that says error, else the
    last non-empty line), cut to ``limit`` characters."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return _("no output")
    errors = [line for line in lines if "error" in line.lower() or "failed" in line.lower()]
    line = (errors or lines)[-1]
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"


def explain(
    text: str = "",
    *,
    key: str | None = None,
    default_cause: str = "",
    default_fix: str = "",
    default_notebook: str = "",
) -> dict[str, str]:
    """Cause, fix and notebook for ``text``: its diagnosis, else the entry ``key``, else the defaults given;
    never an empty cause or fix: a text the table does not know is quoted and said to be unknown."""
    d = diagnose(text) if text else None
    if d is None and key is not None:
        d = by_key(key)
    if d is not None:
        return d.fields()
    return {
        "cause": default_cause or translate(UNKNOWN_CAUSE).format(said=said(text)),
        "remediation": default_fix or translate(UNKNOWN_FIX),
        "notebook": default_notebook or NB_PREFLIGHT,
    }


def by_key(key: str) -> Diagnosis:
    for d in TABLE:
        if d.key == key:
            return d
    raise KeyError(key)
