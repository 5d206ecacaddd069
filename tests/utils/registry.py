"""The loopback registry, and an image that exists only there so that whatever uses it pulls it for real."""

from __future__ import annotations

import contextlib
import uuid

from tests.utils.engine import labelled_container

REGISTRY = "127.0.0.1:5000"  # Debian's docker-registry, started by tests/tooling/engine-up.sh


@contextlib.contextmanager
def registry_only_image(client, registry: str, name: str, megabytes: int):
    """An image of ``megabytes`` of random bytes pushed to the loopback registry and removed from the
    engine: whatever uses it has to pull it for real. Removed from the engine again when the block ends."""
    ref = f"{registry}/runbook-test/{name}:{uuid.uuid4().hex[:8]}"
    with labelled_container(client, ["sh", "-c", f"head -c {megabytes * 1000000} /dev/urandom > /blob"]) as maker:
        maker.wait(timeout=120)
        maker.commit(*ref.rsplit(":", 1))
    for _ in client.images.push(ref, stream=True):
        pass
    client.images.remove(ref)
    try:
        yield ref
    finally:
        with contextlib.suppress(Exception):
            client.images.remove(ref, force=True)
