"""Registries and mirrors: the URLs and presets users give, and whether each answers.

- ``mirrors``: mirror presets (``runbook/mirrors.json``, dated, with sources), image_prefix, an image's registry
- ``probe``: ``GET /v2/`` of a registry or mirror, classified (registry, 402, 403, TLS, DNS, timeout, …)
"""
