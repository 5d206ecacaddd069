"""What the tests share, one helper per module; everything here is real (a dockerd, a registry on loopback,
gpg and apt), nothing is mocked.

- ``paths``: where the repository and the test cache are.
- ``cli``: the command line as a user runs it, and reading back the record it wrote.
- ``engine``: the real engine's test image, require-or-skip, and a labelled container that is always removed.
- ``socket_cutter``: a proxy in front of the engine's socket whose connections can be cut mid-request.
- ``registry``: the loopback registry and an image that has to be pulled from it for real.
- ``loopback``: HTTP servers on 127.0.0.1: a folder served as files, or one canned answer to every GET.
- ``apt``: a signed apt repository on loopback, laid out like NVIDIA's.
- ``toolkit``: the NVIDIA Container Toolkit built from source, as the test command exports it.
- ``kit``: the GPU host kit's image writer, loaded as a module.
"""
