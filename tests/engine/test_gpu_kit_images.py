"""The GPU host kit's way of making images, for real: a stand-in written into the loopback registry through
its HTTP API (uncompressed OCI layers, one of them mounted from another repository), then pulled by the real
engine with the runbook's own pull and run as a container."""

import uuid

import pytest

from runbook import engine
from tests.utils.kit import kit_images

pytestmark = pytest.mark.engine
images = kit_images()


def test_a_stand_in_written_into_the_registry_is_pulled_and_runs(client, registry, no_leftovers):
    # a small first layer (the host's dash and the libraries it loads), so that the shared test registry
    # keeps the same few blobs run after run
    small = images.Tree()
    small.add_host("/usr/bin/dash", "usr/bin/sh", root_owned=True)
    images.add_libraries(small, ["/usr/bin/dash"])
    images.merged_usr(small)
    userland = images.Layer("sh and its libraries", small)
    tree = images.Tree()
    tree.add_data("etc/kit-test", b"made by images.py\n")
    tree.add_link("usr/local/cuda", "/etc/alternatives/cuda")
    layer = images.Layer("a test layer", tree)
    for la in (userland, layer):
        la.tree.finish()
    tag = uuid.uuid4().hex[:8]
    config = {"Env": ["PATH=/usr/local/nvidia/bin:/usr/bin:/bin", "KIT=1"], "Cmd": ["/bin/sh"], "Labels": {}}
    first = images.Image(f"kit-test/first:{tag}", "base", config, [userland])
    second = images.Image(f"kit-test/stand-in:{tag}", "base", config, [userland, layer])
    reg = images.Registry(registry)
    images.publish(reg, first)
    assert images.ensure_layer(reg, "kit-test/stand-in", userland) in ("mounted", "there")
    made = images.publish(reg, second)
    assert made["layers"] == 2 and reg.has_manifest("kit-test/stand-in", tag)
    # the report names each layer's digest: the pulled image's layers are those
    assert list(made["layer_digests"]) == ["sh and its libraries", "a test layer"]
    ref = f"{registry}/kit-test/stand-in:{tag}"
    try:
        events = []
        img = engine.pull(client, ref, "always", 300, lambda *a, **k: events.append(a))
        assert img.attrs["RootFS"]["Layers"] == list(made["layer_digests"].values())
        assert "KIT=1" in engine.image_env(client, ref)
        out = engine.run(
            client,
            ref,
            ["sh", "-c", "read -r line </etc/kit-test; echo $line; [ -L /usr/local/cuda ] && echo link; echo $KIT"],
            timeout_s=120,
        )
        assert out.exit_code == 0, out.output
        assert out.output.split() == ["made", "by", "images.py", "link", "1"]
    finally:
        client.images.remove(ref, force=True)
