"""The notebooks' narrative in the user's language.

The English notebooks are the only source. Each markdown cell's source, exactly as it stands, is a message
of the gettext domain ``notebooks`` (``runbook/locale/<lang>/LC_MESSAGES/notebooks.po``); ``translated``
gives a notebook with each markdown cell's source replaced by its translation and every other cell left
as it is, so the code a class runs is the same in every language. A markdown cell the catalogue does not
translate stays in English.

``python -m runbook.i18n.narrative extract`` brings the catalogues up to date with the notebooks (a new or
changed cell becomes an untranslated or fuzzy message, a removed one obsolete); ``compile`` writes the
``.mo`` files that ``translated`` reads. Both need Babel (the ``test`` extra); translating needs only
the standard library.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

from .. import i18n
from ..catalogue import NOTEBOOKS, OVERVIEW_NOTEBOOK, notebooks_dir

DOMAIN = "notebooks"
HEADER = "# The narrative of gpu-runbook's notebooks: each message is a markdown cell of notebooks/*.ipynb.\n#"
TRANSLATED = tuple(lang for lang in i18n.LANGUAGES if lang != "en")  # the languages with a catalogue


def source(cell: dict) -> str:
    """A cell's source as one string (nbformat stores it as a string or as a list of lines)."""
    text = cell.get("source", "")
    return text if isinstance(text, str) else "".join(text)


def translated(nb: dict, lang: str = "") -> dict:
    """The notebook with its markdown cells in ``lang`` (``''``: the locale's language); for English, the
    notebook itself. Code and raw cells, ids, metadata and outputs are kept as they are."""
    lang = i18n.resolve(lang)
    if lang == "en":
        return nb
    catalogue = i18n.translation(DOMAIN, lang)
    out = copy.deepcopy(nb)
    for cell in out["cells"]:
        if cell["cell_type"] == "markdown" and source(cell):
            cell["source"] = catalogue.gettext(source(cell)).splitlines(keepends=True)
    return out


def translated_text(text: str, lang: str = "") -> str:
    """``translated`` for a notebook file's text, written as nbformat writes it; English text is returned
    unchanged, byte for byte."""
    if i18n.resolve(lang) == "en":
        return text
    return json.dumps(translated(json.loads(text), lang), indent=1, ensure_ascii=False) + "\n"


def localised(path: Path, lang: str, folder: Path) -> Path:
    """The notebook at ``path`` in ``lang``: ``path`` itself for English, else a translated copy written
    into ``folder``."""
    if i18n.resolve(lang) == "en":
        return path
    copied = Path(folder) / i18n.resolve(lang) / path.name
    copied.parent.mkdir(parents=True, exist_ok=True)
    copied.write_text(translated_text(path.read_text(encoding="utf-8"), lang), encoding="utf-8")
    return copied


def po_file(lang: str) -> Path:
    return i18n.LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def messages() -> dict[str, list[tuple[str, str]]]:
    """Every markdown cell's source in the shipped notebooks, with where it is: (notebook, cell id)."""
    found: dict[str, list[tuple[str, str]]] = {}
    for nb in (OVERVIEW_NOTEBOOK, *NOTEBOOKS):
        cells = json.loads((notebooks_dir() / nb.name).read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            if cell["cell_type"] == "markdown" and source(cell):
                found.setdefault(source(cell), []).append((nb.name, cell.get("id", "")))
    return found


def template():
    """The notebooks' messages as a Babel catalogue without translations."""
    from babel.messages.catalog import Catalog

    catalog = Catalog(domain=DOMAIN, project="gpu-runbook", charset="utf-8", fuzzy=False)
    for text, places in messages().items():
        catalog.add(
            text,
            locations=[(f"notebooks/{name}", None) for name, _ in places],
            auto_comments=[f"cell {cell_id}" for _, cell_id in places],
        )
    return catalog


def read(lang: str):
    from babel.messages.pofile import read_po

    with open(po_file(lang), "rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


def write(catalog, path: Path) -> None:
    """The catalogue as a .po file: one line of the file per line of a message (no re-wrapping, so a
    message reads like its markdown)."""
    from babel.messages.pofile import write_po

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        write_po(f, catalog, width=0, include_previous=True)


def compiled(catalog) -> bytes:
    """The .mo file of a catalogue (fuzzy and untranslated messages left out, as msgfmt does)."""
    import io

    from babel.messages.mofile import write_mo

    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def extract() -> None:
    """Bring each language's .po up to date with the notebooks' markdown cells."""
    from babel.messages.catalog import Catalog

    for lang in TRANSLATED:
        path = po_file(lang)
        catalog = read(lang) if path.exists() else Catalog(lang, DOMAIN, HEADER, project="gpu-runbook", fuzzy=False)
        catalog.update(template(), update_creation_date=False)
        write(catalog, path)
        untranslated = sum(1 for m in catalog if m.id and (not m.string or m.fuzzy))
        print(f"{path}: {len(catalog)} message(s), {untranslated} to translate, {len(catalog.obsolete)} obsolete")


def compile_all() -> None:
    """Write each language's .mo from its .po."""
    for lang in TRANSLATED:
        mo = po_file(lang).with_suffix(".mo")
        mo.write_bytes(compiled(read(lang)))
        print(f"{mo}: written")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    commands = {"extract": extract, "compile": compile_all}
    if len(args) != 1 or args[0] not in commands:
        print("usage: python -m runbook.i18n.narrative extract|compile", file=sys.stderr)
        return 2
    commands[args[0]]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
