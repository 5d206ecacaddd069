"""The project's files agree with each other: notebooks with the parameter table, environment.yml with
pyproject.toml, the README with the check ids and parameters."""

import ast
import json
import re
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


def test_the_readme_layout_names_every_module():
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout") :]
    end = layout.find("\n## ", 1)
    layout = layout if end < 0 else layout[:end]
    for path in sorted((ROOT / "runbook").rglob("*.py")):
        name = path.relative_to(ROOT / "runbook").as_posix()
        if not name.startswith("notebooks/"):
            assert f"{name} " in layout, f"README's layout section does not name runbook/{name}"


def test_the_catalogue_is_the_notebooks_folder():
    from runbook.catalogue import NOTEBOOKS, notebooks_dir

    assert notebooks_dir().resolve() == NOTEBOOKS_DIR.resolve(), "the package's notebooks are the top-level ones"
    for n in NOTEBOOKS:
        assert (NOTEBOOKS_DIR / n.name).is_file(), f"{n.name} is in the catalogue but not in notebooks/"
        if n.module:
            assert callable(n.step), f"{n.stem}: runbook.steps.{n.module}.run is not a function"


def test_readme_names_every_parameter_and_check():
    readme = (ROOT / "README.md").read_text()
    for p in params.PARAMS:
        assert f"`{p.name}`" in readme, f"README lacks parameter {p.name}"
    ids = set(
        re.findall(
            r'"((?:host|engine|toolkit|cuda|gpu|pytorch|nvcc)\.[a-z_]+)"',
            "".join(p.read_text() for p in (ROOT / "runbook").rglob("*.py")),
        )
    )
    assert len(ids) > 15
    for check_id in sorted(ids):
        assert f"`{check_id}`" in readme, f"README lacks check id {check_id}"


def test_readme_lists_every_known_error():
    readme = (ROOT / "README.md").read_text()
    for d in diagnosis.TABLE:
        assert f"| `{d.key}` |" in readme, f"README lacks the diagnosis {d.key}"
