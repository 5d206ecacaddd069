"""The GPU host kit's image maker (tests/gpu/kit/images.py): names, environment, layout and layers of the
stand-ins, read from what it would write; nothing is uploaded here (tests/engine/test_gpu_kit_images.py does)."""

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import zipfile

import pytest

from runbook.host import cuda
from tests.utils.kit import kit_images
from tests.utils.paths import REPO

images = kit_images()


def env_of(image) -> dict[str, str]:
    return dict(item.partition("=")[::2] for item in image.config["Env"])


def paths(layer) -> set[str]:
    return set(layer.tree.entries)


@pytest.fixture
def nvcc_wheel(tmp_path):
    """A wheel laid out as nvidia-cuda-nvcc's: nvidia/cu13/bin/nvcc, nvcc.profile, crt/, include/."""
    wheel = tmp_path / "nvidia_cuda_nvcc-13.0.88-py3-none-manylinux2014_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name, data in (
            ("nvidia/cu13/bin/nvcc", b"\x7fELF nvcc"),
            ("nvidia/cu13/bin/nvcc.profile", b"TOP = $(_HERE_)/..\n"),
            ("nvidia/cu13/bin/crt/link.stub", b"stub"),
            ("nvidia/cu13/include/fatbinary_section.h", b"/* h */"),
            ("nvidia_cuda_nvcc-13.0.88.dist-info/RECORD", b""),
        ):
            z.writestr(name, data)
    return str(wheel)


def test_the_names_are_the_runbooks_own_picks_for_the_driver(capsys):
    assert images.main(["--names", "--cuda", "13.0"]) == 0
    names = dict(line.split(" ", 1) for line in capsys.readouterr().out.splitlines())
    assert names == {
        "base": cuda.cuda_image_for("13.0", "base"),
        "runtime": cuda.cuda_image_for("13.0", "runtime"),
        "devel": cuda.cuda_image_for("13.0", "devel"),
        "pytorch": cuda.pytorch_image_for("13.0"),
    }


def test_the_cuda_requirement_is_the_fixtures_newest_of_that_minor():
    value, source = images.require_cuda("13.0.2")
    fixture = json.loads(images.REQUIRE_CUDA.read_text())
    assert value == next(e["NVIDIA_REQUIRE_CUDA"] for e in fixture if e["cuda_version"] == "13.0.0")
    assert value.startswith("cuda>=13.0 ") and "nvidia/cuda:13.0.0-base-ubuntu24.04" in source
    with pytest.raises(SystemExit):
        images.require_cuda("99.1.0")


@pytest.mark.parametrize(
    "path, driver",
    [
        ("/usr/local/nvidia/lib64/libcuda.so.1", True),
        ("/usr/lib/x86_64-linux-gnu/libcuda.so.580.159.04", True),
        ("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1", True),
        ("/usr/bin/nvidia-smi", True),
        ("/opt/venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcudart.so.13", False),
        ("/opt/venv/lib/python3.12/site-packages/nvidia/cu13/lib/libnvJitLink.so.13", False),
        ("/usr/lib/x86_64-linux-gnu/libc.so.6", False),
    ],
)
def test_no_image_holds_a_driver_file(path, driver):
    assert images.is_driver_file(path) is driver


def test_the_userland_is_the_required_packages_and_what_they_need():
    def pkg(name, **fields):
        return name, {"Package": name, "Status": "install ok installed", **fields}

    pkgs = dict(
        [
            pkg("bash", Essential="yes", **{"Pre-Depends": "libc6 (>= 2.36), libtinfo6 (>= 6)"}),
            pkg("libc6", Priority="required"),
            pkg("libtinfo6", Priority="required"),
            pkg("apt", Priority="important", Depends="gpgv | gpgv2, libapt-pkg6.0t64 (>= 2.7)"),
            pkg("sqv", Provides="gpgv (= 2.4)"),
            pkg("libapt-pkg6.0t64", Depends="zlib1g:any"),
            pkg("zlib1g"),
            pkg("python3.12", Priority="optional"),
        ]
    )
    assert images.userland_packages(pkgs) == ["apt", "bash", "libapt-pkg6.0t64", "libc6", "libtinfo6", "sqv", "zlib1g"]


def test_a_layer_is_the_same_bytes_each_time_and_keeps_links(tmp_path):
    (tmp_path / "lib.so.1").write_bytes(b"x" * 5000)
    os.link(tmp_path / "lib.so.1", tmp_path / "hard.so.1")
    os.symlink("lib.so.1", tmp_path / "lib.so")
    tree = images.Tree()
    for name in ("lib.so.1", "hard.so.1", "lib.so"):
        tree.add_host(str(tmp_path / name), f"usr/lib/{name}", root_owned=True)
    tree.add_data("etc/ld.so.conf.d/nvidia.conf", b"/usr/local/cuda/lib64\n")
    tree.add_link("usr/local/cuda", "/etc/alternatives/cuda")
    tree.finish()
    written = []
    for _ in range(2):
        out = io.BytesIO()
        tree.write_tar(out)
        written.append(out.getvalue())
    assert written[0] == written[1]
    assert written[0] == b"".join(images.tar_chunks(tree, 1000))
    with tarfile.open(fileobj=io.BytesIO(written[0])) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["usr/lib/lib.so"].issym() and members["usr/lib/lib.so"].linkname == "lib.so.1"
    assert members["usr/lib/hard.so.1"].islnk() or members["usr/lib/lib.so.1"].islnk()
    assert members["usr/local/cuda"].linkname == "/etc/alternatives/cuda"
    assert members["usr"].isdir() and members["usr/local"].isdir()  # parents present
    assert {m.uid for m in members.values()} == {0}


def test_a_layers_listing_names_each_entry_and_its_contents_digest(tmp_path):
    host = tmp_path / "libx.so.1"
    host.write_bytes(b"x" * 5000)
    os.utime(host, (1_700_000_000, 1_700_000_000))
    tree = images.Tree()
    tree.add_host(str(host), "usr/lib/libx.so.1", root_owned=True)
    tree.add_data("etc/x.conf", b"y\n")
    tree.add_link("usr/lib/libx.so", "libx.so.1")
    tree.finish()
    tree.write_tar(io.BytesIO())
    lines = {line.split(" ", 6)[6]: line.split(" ", 6)[:6] for line in tree.listing}
    digest = hashlib.sha256(b"x" * 5000).hexdigest()[:16]
    assert lines["usr/lib/libx.so.1"] == ["0", "644", "0:0", "0", "5000", digest]  # no host mtime
    assert lines["etc/x.conf"][3:] == ["0", "2", hashlib.sha256(b"y\n").hexdigest()[:16]]
    assert lines["usr/lib/libx.so -> libx.so.1"][0] == "2"
    assert lines["usr"][0] == "5"
    report = tmp_path / "images.files.txt.gz"
    layer = images.Layer("libx", tree, digest="sha256:abc")
    images.write_listings(report, [images.Image("x:1", "base", {}, [layer]), images.Image("y:1", "base", {}, [layer])])
    written = gzip.decompress(report.read_bytes()).decode().splitlines()
    assert written[0] == "# layer sha256:abc: libx" and len(written) == 1 + len(tree.listing)  # a shared layer once


def test_cuda_images_have_nvidias_environment_layout_and_layers(nvcc_wheel):
    userland = images.Layer("userland", images.Tree())
    made = {i.flavour: i for i in images.cuda_images("13.0", userland, nvcc_wheel, ["base", "runtime", "devel"])}
    base, runtime, devel = made["base"], made["runtime"], made["devel"]
    assert [len(i.layers) for i in (base, runtime, devel)] == [2, 3, 4]
    assert runtime.layers[:2] == base.layers and devel.layers[:3] == runtime.layers  # FROM each other
    assert all(i.layers[0] is userland for i in made.values())
    env = env_of(base)
    assert env["PATH"].startswith("/usr/local/nvidia/bin:/usr/local/cuda/bin:")
    assert env["LD_LIBRARY_PATH"].startswith("/usr/local/nvidia/lib:/usr/local/nvidia/lib64")
    assert env["NVIDIA_VISIBLE_DEVICES"] == "all" and env["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility"
    assert (
        env["CUDA_VERSION"]
        == base.name.split(":")[1].split("-")[0]
        == images.cuda.table()["cuda_images"]["13.0"]["version"]
    )
    assert images.cuda.parse_require_cuda(base.config["Env"]).met_by("13.0", "580.159.04", ("unknown",))
    assert env_of(devel)["LIBRARY_PATH"] == "/usr/local/cuda/lib64/stubs" and "LIBRARY_PATH" not in env
    assert images.LABEL in base.config["Labels"]
    # /usr/local/cuda without bin/ in base and runtime; nvcc in devel's own layer
    below = set().union(*(paths(la) for la in runtime.layers))
    assert not any(p.startswith("usr/local/cuda-13.0/bin") for p in below)
    assert base.layers[1].tree.entries["usr/local/cuda"].target == "/etc/alternatives/cuda"
    assert base.layers[1].tree.entries["etc/alternatives/cuda"].target == "/usr/local/cuda-13.0"
    nvcc = devel.layers[3].tree.entries["usr/local/cuda-13.0/bin/nvcc"]
    assert nvcc.mode & 0o111 and nvcc.data == b"\x7fELF nvcc"
    assert not devel.layers[3].tree.entries["usr/local/cuda-13.0/bin/nvcc.profile"].mode & 0o111


def test_no_devel_image_without_nvcc():
    made = images.cuda_images("13.0", images.Layer("u", images.Tree()), None, ["base", "devel"])
    assert [i.flavour for i in made] == ["base"]


def test_the_pytorch_image_is_a_virtual_environment_at_opt_conda(tmp_path):
    userland = images.Layer("userland", images.Tree())
    image = images.pytorch_image("13.0", userland, ("packaging",))
    assert image.name == cuda.pytorch_image_for("13.0")
    assert image.layers[0] is userland
    tree = image.layers[1].tree
    entries = tree.entries
    if "opt/conda/pyvenv.cfg" in entries:
        cfg = entries["opt/conda/pyvenv.cfg"].data.decode()
        assert "include-system-site-packages = false" in cfg
        assert entries["opt/conda/bin/python3"].target == "python"
        assert entries["opt/conda/bin/python"].target.startswith("/")
    site = [p for p in entries if p.endswith("site-packages/packaging/__init__.py")]
    assert site, "packaging's files are in the image"
    assert not any(p.startswith("usr/local/cuda") for p in entries), "the PyTorch runtime image has no CUDA toolkit"
    env = env_of(image)
    assert env["PATH"].split(":")[:3] == ["/usr/local/nvidia/bin", "/usr/local/cuda/bin", "/opt/conda/bin"]
    assert image.config["WorkingDir"] == "/workspace"
    assert not any(images.is_driver_file("/" + p) for p in entries)


def test_what_a_package_needs_follows_the_extras_its_requirements_ask_for():
    """gpu-runbook asks for docker[ssh]: paramiko comes with it (torch may ask for cuda-toolkit[...] likewise)."""
    names = {d.metadata["Name"].lower() for d in images.package_closure(("gpu-runbook",))}
    assert {"gpu-runbook", "docker", "requests", "paramiko"} <= names
    assert "jupyterlab" not in names


def test_layer_diff_names_the_files_that_made_two_hosts_images_differ(tmp_path, capsys):
    sys.path.insert(0, str(REPO / "tests" / "gpu" / "kit"))
    import layer_diff

    listings = []
    for host in ("a", "b"):
        root = tmp_path / host
        (root / "pkg").mkdir(parents=True)
        (root / "pkg" / "same.py").write_text("x = 1\n")
        (root / "pkg" / "mod.py").write_text(f"x = {host!r}\n")
        os.utime(root / "pkg" / "same.py", (1_700_000_000 + len(listings), 1_700_000_000))  # install times differ
        if host == "b":
            (root / "pkg" / "extra.py").write_text("y = 2\n")
        tree = images.Tree()
        tree.add_host_tree(str(root), "opt/conda/lib")
        tree.write_tar(io.BytesIO())
        listings.append(tmp_path / f"{host}.files.txt.gz")
        images.write_listings(listings[-1], [images.Image("x:1", "pytorch", {}, [images.Layer("python", tree, "d")])])
    assert layer_diff.main([str(listings[0]), str(listings[0])]) == 0
    assert "nothing differs" in capsys.readouterr().out
    assert layer_diff.main([str(listings[0]), str(listings[1])]) == 1
    out = capsys.readouterr().out
    assert "content: 1" in out and "opt/conda/lib/pkg/mod.py: 0 644 0:0 0 8 " in out
    assert "only in B: 1" in out and "opt/conda/lib/pkg/extra.py" in out
    assert "pkg/same.py" not in out  # the same content, whatever its mtime on each host
    unwritten = tmp_path / "c.files.txt.gz"  # a run that found the layer in the registry did not write it
    images.write_listings(unwritten, [images.Image("x:1", "pytorch", {}, [images.Layer("python", images.Tree(), "d")])])
    assert layer_diff.main([str(listings[0]), str(unwritten)]) == 1
    assert "layer python: not listed in B (the registry had it" in capsys.readouterr().out
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"not a listing\n"))
    assert layer_diff.main([str(listings[0]), str(tmp_path / "bad.gz")]) == 2


def test_a_compiled_module_is_the_same_bytes_from_any_host_and_python_loads_it(tmp_path):
    """Two hosts that installed the same module at different times: their timestamp pycs differ (each
    records its source's mtime), the layers' do not, and Python loads the layer's pyc, not the source."""
    import py_compile
    import subprocess

    layers = []
    for host, mtime in (("a", 1_700_000_000), ("b", 1_750_000_000)):
        source = tmp_path / host / "pkg" / "mod.py"
        source.parent.mkdir(parents=True)
        source.write_text("VALUE = 'compiled'\n")
        os.utime(source, (mtime, mtime))
        mode = py_compile.PycInvalidationMode.TIMESTAMP
        py_compile.compile(str(source), dfile="/opt/site/pkg/mod.py", invalidation_mode=mode)  # one install path
        tree = images.Tree()
        tree.add_host_tree(str(tmp_path / host), "opt/site")
        out = io.BytesIO()
        tree.write_tar(out)
        layers.append(out.getvalue())
    pycs = list(tmp_path.glob("*/pkg/__pycache__/*.pyc"))
    assert len(pycs) == 2 and pycs[0].read_bytes() != pycs[1].read_bytes()
    assert layers[0] == layers[1]
    with tarfile.open(fileobj=io.BytesIO(layers[0])) as tar:
        tar.extractall(tmp_path / "image", filter="tar")
    pyc = next((tmp_path / "image").glob("opt/site/pkg/__pycache__/*.pyc")).read_bytes()
    assert pyc[4:8] == (1).to_bytes(4, "little")  # hash-based, unchecked
    # the source now says otherwise: an unchecked pyc is still what Python runs
    (tmp_path / "image/opt/site/pkg/mod.py").write_text("VALUE = 'source'\n")
    run = subprocess.run(
        [sys.executable, "-B", "-c", "import pkg.mod; print(pkg.mod.VALUE)"],
        env={**os.environ, "PYTHONPATH": str(tmp_path / "image/opt/site")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == "compiled"
    # a pyc of another Python, or one whose source is gone, goes in as it is
    other = tmp_path / "other.cpython-0.pyc"
    other.write_bytes(b"\x00\x00\r\n" + bytes(12) + b"code")
    assert images.hash_based_pyc(str(other)) is None
