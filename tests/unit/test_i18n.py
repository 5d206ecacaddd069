"""The runbook's languages: the catalogues match the source, every message has its Chinese, the compiled
catalogues are what the .po files give, and the language is chosen as documented."""

import ast
import io
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from runbook import diagnosis, i18n, params, results
from runbook.catalogue import NOTEBOOKS
from runbook.present import ladder
from runbook.present import report as render
from runbook.results import CheckResult, Status

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "runbook"
LOCALE = PACKAGE / "locale"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}  # what babel.cfg's extraction finds


def catalogue(lang: str):
    with open(LOCALE / lang / "LC_MESSAGES" / "runbook.po", "rb") as f:
        return read_po(f, locale=lang)


def extracted() -> dict[str, str | tuple[str, str]]:
    """Every message id in the package's source, as Babel's extraction (babel.cfg) sees it."""
    found = {}
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(PACKAGE), method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        key = message[0] if isinstance(message, tuple) else message
        found[key] = message
    return found


def fields(text: str) -> set[str]:
    """The names of a message's placeholders ({image}, {seconds:.1f} -> image, seconds)."""
    return {name for _literal, name, _spec, _conv in string.Formatter().parse(text) if name is not None}


def test_extraction_finds_the_messages():
    ids = extracted()
    assert len(ids) > 300
    for expected in ("Docker engine reachable", "first rung that does not work", "record: {files}"):
        assert expected in ids


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_extracted_message_is_in_the_catalogue(lang):
    ids = catalogue(lang)
    missing = [m for m in extracted() if ids.get(m) is None]
    assert not missing, f"not in {lang}/runbook.po (docs/contributing.md, Translations): {missing[:5]}"


def test_every_message_has_a_chinese_translation_with_the_same_placeholders():
    zh = catalogue("zh_CN")
    assert zh.num_plurals == 1
    for message in extracted().values():
        key = message[0] if isinstance(message, tuple) else message
        entry = zh.get(key)
        assert entry is not None, key
        assert not entry.fuzzy, f"fuzzy translation: {key!r}"
        translated = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        assert all(t.strip() for t in translated), f"no Chinese for {key!r}"
        wanted = set().union(*(fields(m) for m in (message if isinstance(message, tuple) else (message,))))
        for t in translated:
            assert fields(t) == wanted, f"{key!r}: placeholders {fields(t)} in the Chinese, {wanted} in English"


def test_commands_to_copy_stay_as_they_are_in_chinese():
    zh = catalogue("zh_CN")
    for entry in zh:
        if not entry.id or isinstance(entry.id, tuple):
            continue
        assert re.findall(r"`[^`]+`", entry.string) == re.findall(r"`[^`]+`", entry.id), entry.id


def test_the_catalogues_hold_no_stale_messages():
    ids = set(extracted())
    for lang in i18n.LANGUAGES:
        stale = [m.id for m in catalogue(lang) if m.id and (m.id[0] if isinstance(m.id, tuple) else m.id) not in ids]
        assert not stale, f"{lang}/runbook.po holds messages the source no longer has: {stale[:5]}"


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_the_committed_mo_is_the_compiled_po(lang):
    compiled = io.BytesIO()
    write_mo(compiled, catalogue(lang))
    committed = (LOCALE / lang / "LC_MESSAGES" / "runbook.mo").read_bytes()
    assert committed == compiled.getvalue(), f"{lang}/runbook.mo is stale: pybabel compile (docs/contributing.md)"


GETTEXT = {"_", "N_", "ngettext"}


def gettext_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in GETTEXT:
            yield node


def test_every_message_is_a_string_literal_that_extraction_sees():
    """``_("...").format(...)``, never ``_(f"...")``, ``_("a" + b)`` or ``_(name)``: Babel extracts literals
    only. Nor a call inside an f-string, where Babel (on Python 3.11) does not look."""
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        where = path.relative_to(ROOT)
        for call in gettext_calls(tree):
            literal = [a for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            expected = 2 if call.func.id == "ngettext" else 1
            if len(literal) != expected or call.keywords:
                problems.append(f"{where}:{call.lineno}: {call.func.id}() of {ast.unparse(call.args[0])}")
        for fstring in (n for n in ast.walk(tree) if isinstance(n, ast.JoinedStr)):
            for call in gettext_calls(fstring):
                problems.append(f"{where}:{call.lineno}: {call.func.id}() inside an f-string")
        for node in ast.walk(tree):  # a variable named _ would hide the translation function
            if isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store):
                if "from .i18n import" in path.read_text() or "from ..i18n import" in path.read_text():
                    problems.append(f"{where}:{node.lineno}: assigns to _")
    assert not problems, "\n".join(problems)


def test_the_language_is_the_parameter_else_the_locale_else_english():
    assert i18n.from_environment({"LANG": "zh_CN.UTF-8"}) == "zh_CN"
    assert i18n.from_environment({"LANG": "zh_CN.UTF-8", "LC_ALL": "C.UTF-8"}) == "en"
    assert i18n.from_environment({"LANGUAGE": "fr:zh_TW", "LANG": "en_US.UTF-8"}) == "zh_CN"
    assert i18n.from_environment({"LANG": "de_DE.UTF-8"}) == "en"
    assert i18n.from_environment({}) == "en"
    assert params.validate({"lang": "zh-CN"})["lang"] == "zh_CN"
    assert params.validate({"lang": ""})["lang"] == ""
    with pytest.raises(params.ParameterError, match="lang"):
        params.validate({"lang": "klingon"})


@pytest.fixture
def speak():
    """Switch the active language for one test; English again after it."""
    yield i18n.activate
    i18n.activate("en")


def test_results_diagnoses_and_the_ladder_speak_the_active_language(speak):
    failed = CheckResult("host.driver", "t", Status.FAIL, "d", **diagnosis.by_key("no_space").fields())
    speak("zh_CN")
    assert diagnosis.by_key("no_space").cause == "引擎所在的磁盘已满。"
    assert ladder.ladder([failed])[0].name == "宿主机的 NVIDIA 驱动正常"
    verdict, reason = results.verdict({"01-preflight": [failed]}, {})
    assert (verdict, reason) == ("fail", "1 项检查失败：host.driver")
    assert "结论：fail" in render.verdict_line({"verdict": "fail", "verdict_reason": reason})
    speak("en")
    assert diagnosis.by_key("no_space").cause == "The engine's disk is full."
    assert results.verdict({"01-preflight": [failed]}, {})[1] == "1 check failed: host.driver"


def test_every_step_title_has_its_chinese(speak):
    speak("zh_CN")
    for n in NOTEBOOKS:
        assert i18n.translate(n.title) != n.title or n.title == "The NVIDIA Container Toolkit", n.title


def test_the_report_page_names_its_language(speak):
    summary = {
        "host": "h",
        "runbook_version": "0",
        "verdict": "pass",
        "verdict_reason": "",
        "counts": {"pass": 1},
        "checks": [CheckResult("host.os", "t", Status.PASS, "d").to_dict()],
    }
    speak("zh_CN")
    page = render.report_page(summary)
    assert '<html lang="zh-CN">' in page and "GPU 访问阶梯" in page
    speak("en")
    assert '<html lang="en">' in render.report_page(summary)


def test_a_record_replays_and_verifies_in_another_language(speak):
    """Records are compared by check id and status: the English H200 record replays in Chinese, and the
    same checks with Chinese details are no drift."""
    from runbook import record, verify
    from runbook.record import replay
    from runbook.steps import gpu_container

    h200 = ROOT / "records" / "h200-2026-11-28"
    before = verify.read_summary(h200)
    recorded = record.checks_by_step(before)["03-gpu-in-container"]
    speak("zh_CN")
    got = replay.step(gpu_container.run, h200)()
    assert [(c.id, c.status) for c in got] == [(c.id, c.status) for c in recorded]
    assert all(c.detail.startswith("回放自 vm, 2026-11-28：") for c in got)
    assert "回放记录 h200-2026-11-28" in replay.step(gpu_container.run, h200).banner
    after = {**before, "lang": "zh_CN", "checks": [{**c, "detail": "（中文）"} for c in before["checks"]]}
    assert verify.check_drift(before, after) == []
    assert verify.fact_drift(before, after) == []
