"""The project's files agree with each other: notebooks with the parameter table, environment.yml with
pyproject.toml, the generated reference (docs/reference) with the code, the architecture page with the tree."""

import ast
import functools
import importlib.util
import json
import re
import sys
import tomllib
from pathlib import Path

import yaml

from runbook import diagnosis, params
from runbook.catalogue import OVERVIEW, STEPS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = ROOT / "notebooks"


def parameters_cell(path):
    nb = json.loads(path.read_text())
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: exactly one cell must be tagged parameters"
    return "".join(tagged[0]["source"])


def test_every_step_has_its_notebook():
    assert sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb")) == sorted(STEPS + (OVERVIEW,))


def test_parameter_cells_hold_only_the_defaults_of_the_table():
    for path in [NOTEBOOKS_DIR / f"{s}.ipynb" for s in STEPS]:
        tree = ast.parse(parameters_cell(path))
        for node in tree.body:
            assert isinstance(node, ast.Assign) and len(node.targets) == 1, f"{path.name}: only assignments"
            name = node.targets[0].id
            assert name in params.BY_NAME, f"{path.name}: {name} is not in runbook.params"
            assert ast.literal_eval(node.value) == params.BY_NAME[name].default, f"{path.name}: {name}"


def test_every_step_notebook_can_replay_a_record():
    """Each step notebook declares ``replay`` and hands it to its step's one call, so that
    ``gpu-runbook lab --replay`` replays the whole path."""
    from runbook.catalogue import NOTEBOOKS

    for n in NOTEBOOKS:
        if not n.module:
            continue
        path = NOTEBOOKS_DIR / n.name
        assert "replay = ''" in parameters_cell(path), f"{n.name}: the parameters cell lacks replay = ''"
        calls = [
            "".join(c["source"])
            for c in json.loads(path.read_text())["cells"]
            if "ui.run_step(" in "".join(c["source"])
        ]
        assert len(calls) == 1, f"{n.name}: expected one ui.run_step call, found {len(calls)}"
        assert "replay=replay" in calls[0], f"{n.name}: ui.run_step is not given replay=replay"


def test_notebooks_keep_outputs_only_where_nbval_checks_them():
    for path in sorted(NOTEBOOKS_DIR.glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            checked = "NBVAL_CHECK_OUTPUT" in "".join(cell["source"])
            if not checked:
                assert not cell["outputs"] and cell.get("execution_count") is None, (
                    f"{path.name}: only nbval-checked cells keep outputs"
                )
            else:
                assert cell["outputs"], f"{path.name}: an nbval-checked cell needs its reference output"


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_installs_the_project_itself_with_its_extras():
    """conda users get pyproject's dependencies from pyproject itself, never from a second list."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    extras = ",".join(sorted(project["optional-dependencies"]))
    assert pip == [f"-e .[{extras}]"], f"environment.yml's pip list must be only the project: {pip}"
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python == "python" + project["requires-python"], (python, project["requires-python"])


def test_the_architecture_page_names_every_module():
    page = (ROOT / "docs" / "architecture.md").read_text()
    layout = page[page.index("## Layout") :]
    end = layout.find("\n## ", 1)
    layout = layout if end < 0 else layout[:end]
    named = re.findall(r"^\s*([\w/]+(?:\.py|/))\s", layout, re.MULTILINE)
    twice = sorted({n for n in named if named.count(n) > 1})
    assert not twice, f"docs/architecture.md's layout names these twice: {twice}"
    for path in sorted((ROOT / "runbook").rglob("*.py")):
        name = path.relative_to(ROOT / "runbook").as_posix()
        if not name.startswith("notebooks/"):
            assert f"{name} " in layout, f"docs/architecture.md's layout does not name runbook/{name}"


def test_the_catalogue_is_the_notebooks_folder():
    from runbook.catalogue import NOTEBOOKS, notebooks_dir

    assert notebooks_dir().resolve() == NOTEBOOKS_DIR.resolve(), "the package's notebooks are the top-level ones"
    for n in NOTEBOOKS:
        assert (NOTEBOOKS_DIR / n.name).is_file(), f"{n.name} is in the catalogue but not in notebooks/"
        if n.module:
            assert callable(n.step), f"{n.stem}: runbook.steps.{n.module}.run is not a function"


@functools.cache
def reference():
    """tools/gen_reference.py, which makes the reference pages from the code."""
    spec = importlib.util.spec_from_file_location("gen_reference", ROOT / "tools" / "gen_reference.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_the_committed_reference_is_what_the_code_says():
    gen = reference()
    for name, text in gen.generate().items():
        path = ROOT / "docs" / "reference" / name
        committed = path.read_text() if path.is_file() else None
        assert committed == text, f"docs/reference/{name} differs from what the code says: run `{gen.COMMAND}`"


def test_the_reference_names_every_parameter_and_check():
    """The reference is made from the code; this reads the code another way (every check-id literal in
    runbook/) so that a check the generator cannot read still fails here."""
    pages = reference().generate()
    for p in params.PARAMS:
        assert f"| `{p.name}` |" in pages["parameters.md"], f"the reference lacks parameter {p.name}"
    ids = set(
        re.findall(
            r'"((?:host|engine|toolkit|cuda|gpu|pytorch|nvcc)\.[a-z_]+)"',
            "".join(p.read_text() for p in (ROOT / "runbook").rglob("*.py")),
        )
    )
    assert len(ids) > 15
    for check_id in sorted(ids):
        assert f"| `{check_id}` |" in pages["checks.md"], (
            f"the reference lacks check id {check_id}: write it as run_check({check_id!r}, _('its title'), ...)"
        )


def test_every_check_has_a_title_and_a_step():
    from runbook.catalogue import NOTEBOOKS

    gen = reference()
    checks = gen.all_checks()
    steps = {f"steps.{n.module}" for n in NOTEBOOKS if n.module}
    assert {c.id for c in checks} >= {i for n in NOTEBOOKS for i in n.essential}, "an essential check is not made"
    for c in checks:
        assert c.title.strip() and not re.fullmatch(r"<\w+>", c.title), f"{c.id} has no title"
        assert c.module in steps or c.module == "record", f"{c.id} is made outside the steps ({c.module})"


def test_every_diagnosis_has_words_a_cause_a_fix_and_a_notebook():
    page = reference().generate()["diagnoses.md"]
    assert len({d.key for d in diagnosis.TABLE}) == len(diagnosis.TABLE), "a diagnosis key is used twice"
    for d in diagnosis.TABLE:
        assert d.patterns and all(p.strip() for p in d.patterns), f"{d.key}: no words to look for"
        assert d.cause_id.strip() and d.remediation_id.strip(), f"{d.key}: a cause and a fix are needed"
        assert (NOTEBOOKS_DIR / d.notebook).is_file(), f"{d.key}: no notebook {d.notebook}"
        assert f"## {d.key}\n" in page, f"the reference lacks the diagnosis {d.key}"


def test_the_readmes_are_doorways_whose_links_hold():
    """README.md and README.zh-CN.md are short, name each other, and link only to files that exist (mkdocs
    checks the links of docs/; these two are outside it)."""
    for name, other in (("README.md", "README.zh-CN.md"), ("README.zh-CN.md", "README.md")):
        text = (ROOT / name).read_text()
        assert len(text.splitlines()) <= 150, f"{name} has {len(text.splitlines())} lines: keep it a doorway"
        assert f"]({other})" in text, f"{name} does not link to {other}"
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" not in target:
                assert (ROOT / target).exists(), f"{name} links to {target}, which does not exist"
