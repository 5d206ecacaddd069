"""withheld.py CUDA_IMAGE PYTORCH_IMAGE OUTFILE: on the GPU host, the probes of steps 3 and 4 (nvidia-smi and the
PyTorch probe) run in their images with no GPU access at all (runc, not the nvidia runtime, even where nvidia is
the engine's default), each output written to OUTFILE verbatim under a header line: what a container that is
given no GPU prints, kept as a capture for the tests that need one (tests/notebooks/test_nbval_any_host.py)."""

import json
import sys

import docker

from runbook import engine, workloads
from runbook.steps import gpu_container

cuda_image, pytorch_image, outfile = sys.argv[1:4]
client = docker.from_env()
probes = (
    ("nvidia-smi", cuda_image, gpu_container.COMMAND),
    ("gpu_probe", pytorch_image, ["python3", "-c", workloads.source("gpu_probe"), "2048"]),
)
with open(outfile, "w") as f:
    for name, image, command in probes:
        out = engine.run(client, image, command, timeout_s=120, options={"runtime": "runc"})
        f.write(f"== {name} in {image}, runtime runc, no GPU: exit {out.exit_code}\n{out.output.rstrip()}\n")
        print(name, "exit", out.exit_code, json.dumps(workloads.parse(out.output)) if name == "gpu_probe" else "")
