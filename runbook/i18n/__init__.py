"""The language the runbook speaks: gettext catalogues under ``runbook/locale`` (``en`` and ``zh_CN``).

Two domains: ``runbook`` (every message the package shows: check titles, details, causes, fixes, the
CLI, the reports, the panels) and ``notebooks`` (the notebooks' narrative, their markdown cells).
The language is the ``lang`` parameter when it is set, else the user's locale (``LANGUAGE``,
``LC_ALL``, ``LC_MESSAGES``, ``LANG``, in gettext's order), else English. Commands to copy, check ids,
statuses and verdicts are never translated: scripts read them.

The package's messages go through ``_`` and ``ngettext`` of this module, in the language ``activate``
chose for the process (a CLI run, a notebook kernel's step): each is a string literal, its values put in
with ``.format`` so that Babel extracts it whole (``babel.cfg``). A constant defined at import time is
marked with ``N_`` and shown through ``translate``.

Its modules:

- ``narrative``: the notebooks' narrative (their markdown cells) in the reader's language
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"  # runbook/locale
LANGUAGES = ("en", "zh_CN")
DEFAULT = "en"


def normalise(value: str) -> str | None:
    """The catalogue a locale name selects (``zh_CN.UTF-8`` → ``zh_CN``, ``en_GB`` → ``en``), or None
    when the runbook has no catalogue for it."""
    base = value.split(".")[0].split("@")[0].strip().replace("-", "_")
    if not base:
        return None
    if base.lower() in ("c", "posix"):
        return DEFAULT
    language = base.split("_")[0].lower()
    if language == "zh":
        return "zh_CN"
    if language == "en":
        return "en"
    return None


def from_environment(environ=None) -> str:
    """The language the user's locale asks for, in gettext's order of variables; English by default."""
    environ = os.environ if environ is None else environ
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(var, "")
        if not value:
            continue
        for part in value.split(":"):  # LANGUAGE may list several, in order of preference
            chosen = normalise(part)
            if chosen:
                return chosen
        if var != "LANGUAGE":  # the first locale variable that is set decides, as in gettext
            return DEFAULT
    return DEFAULT


def resolve(lang: str = "") -> str:
    """The language to speak: ``lang`` when given (``''`` means the locale), as one of LANGUAGES."""
    if not lang:
        return from_environment()
    chosen = normalise(lang)
    if chosen is None:
        raise ValueError(
            _("{value} is not a language the runbook speaks ({languages})").format(
                value=repr(lang), languages=", ".join(LANGUAGES)
            )
        )
    return chosen


def translation(domain: str = "runbook", lang: str = "") -> gettext.NullTranslations:
    """The catalogue of ``domain`` for ``lang``; English (the message ids themselves) when there is none."""
    return gettext.translation(domain, LOCALE_DIR, languages=[resolve(lang)], fallback=True)


# The language messages are shown in now: set once per run (the CLI, a notebook kernel's step) by activate().
_active: gettext.NullTranslations | None = None
_active_lang = ""


def activate(lang: str = "") -> str:
    """Speak ``lang`` (``''``: the locale) from now on in this process; returns the language chosen."""
    global _active, _active_lang
    _active_lang = resolve(lang)
    _active = translation("runbook", _active_lang)
    return _active_lang


def active() -> str:
    """The language messages are shown in now."""
    if _active is None:
        activate()
    return _active_lang


def _catalogue() -> gettext.NullTranslations:
    if _active is None:
        activate()
    return _active


def _(message: str) -> str:
    """``message`` (a string literal, so that Babel finds it) in the active language."""
    return _catalogue().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n`` in the active language (both string literals)."""
    return _catalogue().ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a string literal for the catalogue without translating it: a constant defined at import
    time, shown later through ``translate``."""
    return message


def translate(message: str) -> str:
    """A message id marked with ``N_`` elsewhere, in the active language ('' stays '')."""
    return _catalogue().gettext(message) if message else message
