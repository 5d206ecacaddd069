"""The Docker engine, through the Docker SDK only: connect, pull with progress, run with certain removal.

Every container the runbook creates carries the label ``io.gpu-runbook`` with the run's id, a
deadline and an id of its own, so that leftovers (from a killed run, or a create cut short) can be
found and removed without touching anything else on the engine. docker-py's errors are caught
narrowly and re-raised as the runbook's own, with the cause and fix from the diagnosis table.

- ``connection``: the engine's address (the whole Docker environment), connecting, what it is
- ``pull``: pulls with progress events, and what an image holds
- ``info``: what the engine says it is (Docker or Podman, version, rootless, image store, CDI)
- ``modes``: what each GPU access mode means on each engine (Docker, Podman): one table
- ``containers``: containers run with a deadline and always removed; leftovers found and removed
- ``gpu_access``: the GPU access modes, as containers.create keyword arguments
- ``ssh``: ssh:// engines through the docker CLI's own connection helper
- ``ahead``: the containers a headless run starts as it begins, whose outputs the steps take
"""

from .connection import (
    DEFAULT_HOST,
    LABEL,
    PING_S,
    PODMAN_HOST,
    RUN_ID_ENV,
    connect,
    connection_params,
    error_text,
    local_sockets,
    resolve,
    run_id,
)
from .containers import (
    OWNER_PID_ENV,
    RunOutput,
    clean,
    files_in_image,
    labelled,
    owner,
    owner_gone,
    remove_leftovers,
    run,
)
from .info import (
    ENGINE_NAMES,
    Identity,
    engine_info,
    engine_version,
    hub_mirrors,
    hub_mirrors_of,
    identify,
    identity,
    version_tuple,
)
from .pull import STALL_S, image_env, image_present, pull

__all__ = [
    "DEFAULT_HOST",
    "ENGINE_NAMES",
    "Identity",
    "LABEL",
    "OWNER_PID_ENV",
    "PING_S",
    "PODMAN_HOST",
    "RUN_ID_ENV",
    "RunOutput",
    "STALL_S",
    "clean",
    "connect",
    "connection_params",
    "engine_info",
    "hub_mirrors",
    "hub_mirrors_of",
    "engine_version",
    "error_text",
    "files_in_image",
    "identify",
    "identity",
    "image_env",
    "image_present",
    "labelled",
    "local_sockets",
    "owner",
    "owner_gone",
    "pull",
    "remove_leftovers",
    "resolve",
    "run",
    "run_id",
    "version_tuple",
]
