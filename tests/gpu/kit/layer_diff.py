"""What makes two hosts' stand-in images differ: two ``images.files.txt.gz`` listings (written by images.py
beside its report, one line a layer entry: type mode owner mtime size sha256 path), compared layer by layer.

    python3 tests/gpu/kit/layer_diff.py A/images.files.txt.gz B/images.files.txt.gz [--show 10]

Layers are matched by what they hold (the history line), not by digest: the digest is what differs. For each
layer it counts the entries that are the same, differ only in mtime, differ in content (size or digest), in
mode or owner, or are on one side only, and shows a few of each, with the folders most of them are in.
Exit code: 0 when every layer is the same, 1 when one differs, 2 when a listing cannot be read.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import sys
from pathlib import Path


def read(path: Path) -> dict[str, dict[str, list[str]] | None]:
    """{layer's history line: {entry path: [type, mode, owner, mtime, size, sha256]}, or None when the layer was
    not written that run}"""
    layers: dict[str, dict[str, list[str]] | None] = {}
    current: dict[str, list[str]] | None = None
    with gzip.open(path, "rt") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# layer "):
                what = line.split(": ", 1)[1] if ": " in line else line
                current = layers.setdefault(what, {})
                continue
            if line.startswith("# not written"):  # the registry had the layer: no listing of it this run
                layers[line.split(": ", 2)[-1]] = None
                current = None
                continue
            fields = line.split(" ", 6)
            if current is None or len(fields) != 7:
                raise ValueError(f"{path}: not a layer listing: {line[:120]!r}")
            current[fields[6]] = fields[:6]
    return layers


def kind(a: list[str], b: list[str]) -> str:
    if a == b:
        return "same"
    if a[0] != b[0] or a[4] != b[4] or a[5] != b[5]:
        return "content"
    if a[1] != b[1] or a[2] != b[2]:
        return "mode or owner"
    return "mtime only"


def folder(path: str) -> str:
    parts = path.split(" -> ")[0].split("/")
    return "/".join(parts[:3]) + ("/…/__pycache__" if "__pycache__" in parts[3:] else "")


def compare(a: dict, b: dict, show: int) -> tuple[list[str], bool]:
    lines, differs = [], False
    for what in sorted(set(a) | set(b)):
        if what not in a or what not in b:
            differs = True
            lines.append(f"layer {what}: only in {'B' if what not in a else 'A'}")
            continue
        if a[what] is None or b[what] is None:
            differs = True
            side = " and ".join(n for n, s in (("A", a), ("B", b)) if s[what] is None)
            lines.append(f"layer {what}: not listed in {side} (the registry had it; make it again with --force)")
            continue
        groups: dict[str, list[str]] = collections.defaultdict(list)
        for path in sorted(set(a[what]) | set(b[what])):
            if path not in a[what] or path not in b[what]:
                groups[f"only in {'B' if path not in a[what] else 'A'}"].append(path)
            else:
                groups[kind(a[what][path], b[what][path])].append(path)
        same = len(groups.pop("same", []))
        differs = differs or bool(groups)
        lines.append(f"layer {what}: {same} entries the same" + ("" if groups else ", nothing differs"))
        for name, paths in sorted(groups.items()):
            where = collections.Counter(folder(p) for p in paths).most_common(3)
            lines.append(f"  {name}: {len(paths)} (most in {', '.join(f'{d} {n}' for d, n in where)})")
            for path in paths[:show]:
                sides = [" ".join(s[what][path]) if path in s[what] else "-" for s in (a, b)]
                lines.append(f"    {path}: {sides[0]} | {sides[1]}")
    return lines, differs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--show", type=int, default=5, help="entries shown of each kind (default 5)")
    args = ap.parse_args(argv)
    try:
        a, b = read(args.a), read(args.b)
    except (OSError, ValueError, EOFError) as e:
        print(f"layer_diff: {e}", file=sys.stderr)
        return 2
    lines, differs = compare(a, b, args.show)
    print("\n".join(lines))
    return 1 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
