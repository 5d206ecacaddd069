"""Package versions compared as the package managers compare them, so that "is 1.17.7-1 older than the
fixed 1.17.8?" has the answer apt or dnf would give.

- ``deb_compare(a, b)``: Debian's algorithm (deb-version(7), dpkg's ``verrevcmp``): ``[epoch:]upstream
  [-revision]``; the epoch compared as a number (absent = 0); upstream and revision compared by
  alternating non-digit runs (letters before non-letters, ``~`` before everything, even the end) and
  digit runs (as numbers). Returns -1, 0 or 1, as ``dpkg --compare-versions`` decides lt/eq/gt.
- ``rpm_compare(a, b)``: rpm's ``rpmvercmp`` over ``[epoch:]version[-release]``: alphanumeric segments,
  digits newer than letters, ``~`` older and ``^`` newer than the end.
- ``upstream(v)``: the version without epoch and revision (``1:1.17.8-1`` -> ``1.17.8``).
- ``parse_dpkg_query``: the installed packages and their versions, as ``DPKG_QUERY`` prints them.
"""

from __future__ import annotations

import re


def _order(c: str) -> int:
    """dpkg's order of one character in a non-digit run: ~ first, then the end, then letters, then the rest."""
    if c == "~":
        return -1
    if _alpha(c):
        return ord(c)
    return ord(c) + 256


def _verrevcmp(a: str, b: str) -> int:
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not _digit(a[i])) or (j < len(b) and not _digit(b[j])):
            ac = _order(a[i]) if i < len(a) and not _digit(a[i]) else 0
            bc = _order(b[j]) if j < len(b) and not _digit(b[j]) else 0
            if ac != bc:
                return -1 if ac < bc else 1
            i, j = i + 1, j + 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and _digit(a[i]) and j < len(b) and _digit(b[j]):
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i, j = i + 1, j + 1
        if i < len(a) and _digit(a[i]):
            return 1
        if j < len(b) and _digit(b[j]):
            return -1
        if first_diff:
            return -1 if first_diff < 0 else 1
    return 0


def _split(v: str) -> tuple[int, str, str]:
    """(epoch, upstream, revision): the epoch before the first colon, the revision after the last hyphen."""
    v = v.strip()
    epoch = 0
    m = re.match(r"^(\d+):(.*)$", v)
    if m:
        epoch, v = int(m.group(1)), m.group(2)
    upstream, sep, revision = v.rpartition("-")
    if not sep:
        upstream, revision = v, ""
    return epoch, upstream, revision


def deb_compare(a: str, b: str) -> int:
    ea, ua, ra = _split(a)
    eb, ub, rb = _split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _verrevcmp(ua, ub) or _verrevcmp(ra, rb)


def upstream(v: str) -> str:
    return _split(v)[1]


def revision(v: str) -> str:
    return _split(v)[2]


def epoch(v: str) -> int:
    return _split(v)[0]


def _digit(c: str) -> bool:
    return "0" <= c <= "9"


def _alpha(c: str) -> bool:
    return "a" <= c <= "z" or "A" <= c <= "Z"


def _alnum(c: str) -> bool:
    return _digit(c) or _alpha(c)


def _rpmvercmp(a: str, b: str) -> int:
    """rpm's rpmvercmp (rpmio/rpmvercmp.c), step by step."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        while i < len(a) and not _alnum(a[i]) and a[i] not in "~^":
            i += 1
        while j < len(b) and not _alnum(b[j]) and b[j] not in "~^":
            j += 1
        ca = a[i] if i < len(a) else ""
        cb = b[j] if j < len(b) else ""
        if "~" in (ca, cb):  # a tilde sorts before everything, even the end
            if ca != "~":
                return 1
            if cb != "~":
                return -1
            i, j = i + 1, j + 1
            continue
        if "^" in (ca, cb):  # a caret sorts after the end, before everything else
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != "^":
                return 1
            if cb != "^":
                return -1
            i, j = i + 1, j + 1
            continue
        if not (ca and cb):
            break
        kind = _digit if _digit(ca) else _alpha
        si, sj = i, j
        while i < len(a) and kind(a[i]):
            i += 1
        while j < len(b) and kind(b[j]):
            j += 1
        one, two = a[si:i], b[sj:j]
        if not two:  # segments of different types: the numeric one is newer
            return 1 if kind is _digit else -1
        if kind is _digit:
            one, two = one.lstrip("0"), two.lstrip("0")
            if len(one) != len(two):
                return 1 if len(one) > len(two) else -1
        if one != two:
            return 1 if one > two else -1
    if i >= len(a) and j >= len(b):
        return 0
    return -1 if i >= len(a) else 1


def rpm_compare(a: str, b: str) -> int:
    ea, va, ra = _split(a)
    eb, vb, rb = _split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    c = _rpmvercmp(va, vb)
    if c or not (ra and rb):
        return c
    return _rpmvercmp(ra, rb)


def compare(a: str, b: str, manager: str = "apt") -> int:
    """The comparison of the host's package manager: rpm's for dnf and zypper, Debian's otherwise."""
    return rpm_compare(a, b) if manager in ("dnf", "zypper", "rpm") else deb_compare(a, b)


DPKG_QUERY = ["dpkg-query", "-W", "-f=${Package} ${Version} ${db:Status-Abbrev}\n"]


def parse_dpkg_query(text: str) -> dict[str, str]:
    """``DPKG_QUERY``'s output: the installed packages ("ii") and their versions."""
    found = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2].startswith("ii"):
            found[parts[0]] = parts[1]
    return found
