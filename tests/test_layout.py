"""The package's layout holds: no import circle, no import of a higher layer from a lower one, a top level a
newcomer reads in one screen, every subpackage naming its modules, and no module too long to read (data
tables excepted)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "runbook"

# Layers, lowest first: a module may import its own layer and those below it, never one above.
LAYERS = (
    ("errors", "i18n", "files", "version", "catalogue"),
    ("results", "params", "diagnosis", "network"),
    ("host", "workloads"),
    ("engine", "toolkit"),
    ("steps",),
    ("record",),
    ("present", "fleet"),
    ("ui", "kernel", "runner", "verify"),
    ("cli", "__main__"),
)
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}
TOP_LEVEL_AT_MOST = 22
LINES_AT_MOST = 400
DATA_TABLES = {  # modules whose length is a table of data, not code
    "diagnosis.py": "the table of known error texts, each with its cause and fix",
    "params.py": "the parameter table",
}


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (runbook.x.y), packages by their __init__."""
    found = {}
    for path in ROOT.rglob("*.py"):
        if "notebooks" in path.relative_to(ROOT).parts:
            continue
        parts = ("runbook", *path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports, anywhere in its code (function-level imports too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                target = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {f for f in found if f in known and f != name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(name, path, set(mods)) for name, path in mods.items()}


def top(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_no_import_circle():
    g = graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(g[n]):
            if state.get(m) == 1:
                raise AssertionError("import circle: " + " -> ".join([*stack[stack.index(m) :], m]))
            if m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(g):
        if n not in state:
            visit(n)


def test_no_module_imports_a_higher_layer():
    upward = []
    for name, targets in graph().items():
        here = top(name)
        if here == "__init__":
            continue
        assert here in LAYER, f"{name}: runbook/{here} has no layer in tests/test_layout.py"
        upward += [f"{name} -> {t}" for t in targets if top(t) != "__init__" and LAYER[top(t)] > LAYER[here]]
    assert not upward, "imports of a higher layer: " + ", ".join(sorted(upward))


def test_the_top_level_is_short():
    names = sorted(
        p.stem if p.is_file() else p.name
        for p in ROOT.iterdir()
        if (p.suffix == ".py" and p.stem not in ("__init__", "__main__")) or (p / "__init__.py").exists()
    )
    assert len(names) <= TOP_LEVEL_AT_MOST, f"{len(names)} names at runbook/'s top: {names}"


def test_every_subpackage_names_its_modules():
    for init in ROOT.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        for module in init.parent.glob("*.py"):
            if module.stem != "__init__":
                assert f"``{module.stem}``" in doc, f"{init.parent.name}/__init__.py does not name {module.stem}"


def test_no_module_is_too_long():
    long = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        n = len(path.read_text().splitlines())
        if n > LINES_AT_MOST and rel not in DATA_TABLES:
            long.append(f"{rel} ({n})")
    assert not long, f"modules over {LINES_AT_MOST} lines: {long}"
