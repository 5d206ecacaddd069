"""The notebooks' narrative in Chinese: every markdown cell translated in the catalogue (runbook/locale), the
catalogue and its compiled .mo in step with the notebooks, and the code of a translated notebook the very
code of the English one."""

import json
import re

import pytest

from runbook.catalogue import NOTEBOOKS, OVERVIEW_NOTEBOOK, notebooks_dir
from runbook.i18n import narrative

pytest.importorskip("babel")  # reading the .po needs Babel (the test extra)

ALL = [n.name for n in (OVERVIEW_NOTEBOOK, *NOTEBOOKS)]
CJK = re.compile(r"[\u4e00-\u9fff]")
CODE_SPAN = re.compile(r"`[^`\n]+`")


def shipped(name: str) -> dict:
    return json.loads((notebooks_dir() / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def catalogue():
    return narrative.read("zh_CN")


def test_every_markdown_cell_has_a_chinese_translation(catalogue):
    missing = []
    for text, places in narrative.messages().items():
        message = catalogue.get(text)
        if message is None or not message.string.strip() or message.fuzzy:
            missing.append(places)
    assert missing == [], f"markdown cells without a (non-fuzzy) zh_CN translation: {missing}"
    assert len(narrative.messages()) >= len(ALL), "the notebooks' markdown cells were not found"


def test_every_translation_is_chinese_and_keeps_the_commands_names_and_headings(catalogue):
    for text, places in narrative.messages().items():
        chinese = catalogue.get(text).string if catalogue.get(text) else ""
        assert CJK.search(chinese), f"{places}: the translation has no Chinese in it:\n{chinese}"
        assert sorted(set(CODE_SPAN.findall(chinese))) == sorted(set(CODE_SPAN.findall(text))), (
            f"{places}: the commands and names in `backticks` differ from the English cell's"
        )
        heads = [line.split(" ")[0] for line in text.splitlines() if line.startswith("#")]
        assert [line.split(" ")[0] for line in chinese.splitlines() if line.startswith("#")] == heads, places


def test_the_catalogue_has_no_obsolete_or_unknown_message(catalogue):
    obsolete = list(catalogue.obsolete)
    assert obsolete == [], f"obsolete messages (python -m runbook.i18n.narrative extract marks them): {obsolete}"
    extra = {m.id for m in catalogue if m.id} - narrative.messages().keys()
    assert extra == set(), f"messages that are no markdown cell of the notebooks: {extra}"


def test_the_committed_mo_is_the_compiled_po(catalogue):
    mo = narrative.po_file("zh_CN").with_suffix(".mo")
    assert mo.read_bytes() == narrative.compiled(catalogue), "run python -m runbook.i18n.narrative compile"


def test_extract_changes_nothing_in_a_catalogue_in_step(tmp_path, monkeypatch):
    po = narrative.po_file("zh_CN")
    copy = tmp_path / "zh_CN" / "LC_MESSAGES" / po.name
    copy.parent.mkdir(parents=True)
    copy.write_bytes(po.read_bytes())
    monkeypatch.setattr(narrative.i18n, "LOCALE_DIR", tmp_path)
    narrative.extract()
    assert copy.read_bytes() == po.read_bytes(), "extract rewrote a catalogue that was in step with the notebooks"


@pytest.mark.parametrize("name", ALL)
def test_the_code_of_both_languages_is_the_same(name):
    en = shipped(name)
    zh = narrative.translated(en, "zh_CN")
    assert zh["metadata"] == en["metadata"] and zh["nbformat"] == en["nbformat"]
    assert [c["id"] for c in zh["cells"]] == [c["id"] for c in en["cells"]]
    for en_cell, zh_cell in zip(en["cells"], zh["cells"], strict=True):
        if en_cell["cell_type"] == "markdown":
            assert zh_cell["metadata"] == en_cell["metadata"], en_cell["id"]
            assert zh_cell["source"] != en_cell["source"], f"{name} {en_cell['id']} is still in English"
        else:
            assert zh_cell == en_cell, f"{name} {en_cell['id']}: the code differs between the languages"


@pytest.mark.parametrize("name", ALL)
def test_english_is_the_notebook_itself(name):
    text = (notebooks_dir() / name).read_text(encoding="utf-8")
    assert narrative.translated_text(text, "en") == text
    assert narrative.translated(json.loads(text), "en") == json.loads(text)


def test_a_notebook_in_chinese_is_written_as_nbformat_writes_it(tmp_path):
    path = narrative.localised(notebooks_dir() / "01-preflight.ipynb", "zh_CN", tmp_path)
    assert path.parent.parent == tmp_path and path.name == "01-preflight.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    first = nb["cells"][0]
    assert first["source"][0] == "# 1. 预检：这台主机准备好了吗？\n", first["source"][:2]
    assert all(isinstance(c["source"], list) for c in nb["cells"]), "sources are lists of lines, as nbformat writes"
    assert narrative.localised(notebooks_dir() / "01-preflight.ipynb", "en", tmp_path) == (
        notebooks_dir() / "01-preflight.ipynb"
    )


def test_the_locale_chooses_the_language(monkeypatch):
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    en = shipped("00-overview.ipynb")
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert narrative.translated(en, "")["cells"][0]["source"][0].startswith("# GPU 操作手册")
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert narrative.translated(en, "") == en
