"""Does a registry or mirror answer as a registry? ``GET /v2/`` with a short deadline, classified.

- A registry answers ``/v2/`` with 200 or 401 and a ``Docker-Distribution-Api-Version`` header (the
  distribution spec's version check); that is the only outcome that counts as answering.
- 402 is a mirror whose quota is used up, 403 one that serves only its own network (a campus, a cloud
  region), 429 one that rate-limits: each looks alive to a naive check (the host answers) but pulls fail.
- Anything else over HTTP (an HTML page, another status, 200 without the header) is not a registry.
- Below HTTP: a name that does not resolve (dns), a port that refuses, no route (unreachable), a TLS
  handshake or certificate that fails (tls), or no answer in time (timeout), including a server that
  sends its headers and then stalls before the body ends.
- Probes run concurrently in daemon threads; ``probe_all`` returns by its deadline whatever still
  hangs (a stalled resolver included), so the whole probe is bounded however the network misbehaves.
- The probe goes to the host directly (no proxy): it tells what this host's network does.

Each outcome has its cause and fix (``CAUSE``, ``FIX``), message ids shown in the active language.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from ..i18n import N_, translate

REGISTRY, QUOTA, FORBIDDEN, RATE_LIMITED = "registry", "quota", "forbidden", "rate-limited"
NOT_REGISTRY = "not-registry"
TLS, DNS, TIMEOUT, REFUSED, UNREACHABLE = "tls", "dns", "timeout", "refused", "unreachable"
OUTCOMES = (REGISTRY, QUOTA, FORBIDDEN, RATE_LIMITED, NOT_REGISTRY, TLS, DNS, TIMEOUT, REFUSED, UNREACHABLE)
BODY_LIMIT = 64 * 1024  # /v2/ answers with {} (or a short error); more is not a registry's answer

CAUSE = {
    REGISTRY: N_("It answers /v2/ as a registry does (Docker-Distribution-Api-Version)."),
    QUOTA: N_(
        "The mirror answers 402 Payment Required: its free quota is used up (for today, or for your IP); "
        "a pull through it fails, and Docker falls back to Docker Hub, which hangs where Docker Hub is blocked."
    ),
    FORBIDDEN: N_(
        "The mirror answers 403 Forbidden: it serves only its own network (a campus, a cloud's region) "
        "or has closed to the public."
    ),
    RATE_LIMITED: N_("The registry answers 429 Too Many Requests: this address has pulled too much lately."),
    NOT_REGISTRY: N_(
        "Something answers, but not as a registry (an HTML page, a redirect, another status): the mirror's "
        "address is wrong, it has closed and its domain shows a web page, or a captive portal or proxy answers."
    ),
    TLS: N_(
        "The TLS handshake failed: the certificate is not trusted (self-signed, expired, for another name) "
        "or something on the path intercepts HTTPS."
    ),
    DNS: N_("The name does not resolve: the mirror's domain is gone, or this host's DNS cannot resolve it."),
    TIMEOUT: N_(
        "No complete answer in time: the address is filtered (typical for Docker Hub, nvcr.io and ghcr.io "
        "from mainland China) or the server stalls."
    ),
    REFUSED: N_("The connection is refused: nothing listens on that port."),
    UNREACHABLE: N_("There is no route to the address: this host has no network path to it."),
}
FIX = {
    REGISTRY: N_("Nothing to fix."),
    QUOTA: N_(
        "Use another mirror (registry_mirrors cn tries the preset's candidates in order), or log in to "
        "the mirror's paid plan; remove the exhausted mirror from daemon.json's registry-mirrors."
    ),
    FORBIDDEN: N_(
        "Use a mirror open to your network (registry_mirrors cn, or your cloud's own accelerator address); "
        "remove this one from daemon.json's registry-mirrors."
    ),
    RATE_LIMITED: N_("Wait, log in (`docker login`) for a higher limit, or pull through a mirror."),
    NOT_REGISTRY: N_(
        "Check the mirror's address against its documentation (a mirror URL has no path: https://host); "
        "pick a current one (registry_mirrors cn)."
    ),
    TLS: N_(
        "Use the mirror's https address with a valid certificate; for your own registry install its CA "
        "under /etc/docker/certs.d/HOST/ca.crt (never disable TLS checks for a public mirror)."
    ),
    DNS: N_(
        "Check the name (`getent hosts NAME`) and /etc/resolv.conf; a mirror whose domain no longer "
        "resolves has closed: pick another (registry_mirrors cn)."
    ),
    TIMEOUT: N_(
        "Set registry_mirrors to a mirror that answers (registry_mirrors cn probes the known ones) and, for "
        "nvcr.io or ghcr.io images, image_prefix cn; or configure the engine's proxy (systemd drop-in "
        "with HTTPS_PROXY)."
    ),
    REFUSED: N_("Check the port in the address, and that the registry runs."),
    UNREACHABLE: N_("Check this host's network and routes, or reach it through a mirror or proxy."),
}


@dataclass(frozen=True)
class Probe:
    """What one ``GET /v2/`` found: the outcome, the HTTP status (0 below HTTP), what was seen, how long."""

    url: str
    outcome: str
    status: int = 0
    detail: str = ""
    seconds: float = 0.0

    @property
    def answers(self) -> bool:
        return self.outcome == REGISTRY

    @property
    def cause(self) -> str:
        return translate(CAUSE[self.outcome])

    @property
    def remediation(self) -> str:
        return translate(FIX[self.outcome])

    def to_dict(self) -> dict:
        d = asdict(self)
        d["seconds"] = round(self.seconds, 3)
        return d


def base_url(address: str) -> str:
    """A registry's address as a URL: ``nvcr.io`` → ``https://nvcr.io``; a URL keeps its scheme."""
    address = address.strip().rstrip("/")
    return address if "://" in address else f"https://{address}"


def classify(status: int, headers: http.client.HTTPMessage, body: bytes) -> tuple[str, str]:
    """The outcome of an HTTP answer to /v2/, and what was seen."""
    api = headers.get("Docker-Distribution-Api-Version", "")
    kind = headers.get("Content-Type", "")
    seen = f"HTTP {status}" + (f", {api}" if api else "") + (f", {kind}" if kind else "")
    if status in (200, 401) and api:
        return REGISTRY, seen
    if status == 402:
        return QUOTA, seen
    if status == 403:
        return FORBIDDEN, seen
    if status == 429:
        return RATE_LIMITED, seen
    if status in (301, 302, 307, 308):
        seen += f", Location: {headers.get('Location', '')}"
    elif b"<html" in body[:4096].lower() or "html" in kind:
        seen += ", HTML"
    return NOT_REGISTRY, seen


def probe(url: str, timeout: float = 5.0) -> Probe:
    """One ``GET {url}/v2/``: each of resolve, connect, handshake, headers and body waits at most
    ``timeout`` seconds (``probe_all`` bounds the whole)."""
    start = time.monotonic()
    parts = urlsplit(base_url(url))
    host, secure = parts.hostname or "", parts.scheme == "https"
    port = parts.port or (443 if secure else 80)

    def done(outcome: str, detail: str, status: int = 0) -> Probe:
        return Probe(url, outcome, status, detail, time.monotonic() - start)

    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        return done(DNS, f"{host}: {e.strerror}")
    family, _type, proto, _name, address = addresses[0]
    sock = socket.socket(family, socket.SOCK_STREAM, proto)
    sock.settimeout(timeout)
    stage = "connect"
    try:
        sock.connect(address)
        if secure:
            stage = "TLS handshake"
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        stage = "headers"
        conn = http.client.HTTPSConnection(host, port) if secure else http.client.HTTPConnection(host, port)
        conn.sock = sock
        conn.request("GET", "/v2/", headers={"User-Agent": "gpu-runbook registry probe"})
        response = conn.getresponse()
        stage = "body"
        body = response.read(BODY_LIMIT)
        outcome, seen = classify(response.status, response.headers, body)
        return done(outcome, seen, response.status)
    except ssl.SSLError as e:
        return done(TLS, f"{host}:{port}: {getattr(e, 'verify_message', '') or e.reason or e}")
    except TimeoutError:
        return done(TIMEOUT, f"{host}:{port}: no answer in {timeout:g} s ({stage})")
    except ConnectionRefusedError:
        return done(REFUSED, f"{address[0]}:{port}: connection refused")
    except (http.client.HTTPException, ConnectionError) as e:
        return done(NOT_REGISTRY, f"{host}:{port}: {type(e).__name__}: {e} ({stage})")
    except OSError as e:
        return done(UNREACHABLE, f"{address[0]}:{port}: {e.strerror or e} ({stage})")
    finally:
        sock.close()


def probe_all(urls: list[str], timeout: float = 5.0, deadline: float = 15.0) -> list[Probe]:
    """Every URL probed at once, in the order given; a probe still running at ``deadline`` seconds
    (a resolver that never answers) is a timeout, and its thread is left to end on its own."""
    unique = list(dict.fromkeys(urls))
    found: dict[str, Probe] = {}
    threads = []
    for u in unique:
        t = threading.Thread(target=lambda u=u: found.__setitem__(u, probe(u, timeout)), daemon=True)
        t.start()
        threads.append(t)
    end = time.monotonic() + deadline
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    late = f"no answer in {deadline:g} s (probe deadline)"
    return [found.get(u) or Probe(u, TIMEOUT, 0, late, deadline) for u in urls]
