"""What a headless run starts ahead (engine.ahead): the containers steps 3 and 4 will ask for with the run's
parameters, planned by the steps themselves, so that a step's request and its plan cannot drift apart."""

from __future__ import annotations

from typing import Any

import docker

from .. import diagnosis, params
from . import context, gpu_container, pytorch_container


def planned(values: dict[str, Any], notebooks: list[str]) -> tuple[docker.DockerClient | None, list]:
    """The containers steps 3 and 4 will start with ``values`` (those of ``notebooks`` that run), and the
    client to start them on, for a headless run to start them ahead (engine.ahead). None when step 2 runs
    with a parameter that acts (it may install the toolkit or restart the engine first), when the steps
    replay a record, or when their images are to be pulled (pull=always) or are not on the engine."""
    p = params.validate(values)
    acting = [n for n in params.ACTING if p[n] != params.BY_NAME[n].default]
    if p["replay"] or p["pull"] == "always" or (acting and diagnosis.NB_TOOLKIT.removesuffix(".ipynb") in notebooks):
        return None, []
    wanted = {diagnosis.NB_GPU: gpu_container, diagnosis.NB_PYTORCH: pytorch_container}
    steps = [step for nb, step in wanted.items() if nb.removesuffix(".ipynb") in notebooks]
    if not steps:
        return None, []
    ctx = context(p)
    if ctx.client is None:
        return None, []
    return ctx.client, [plan for step in steps for plan in step.planned(ctx)]
