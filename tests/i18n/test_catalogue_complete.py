"""The Spanish catalogue is complete: every message has a reviewed (non-empty, non-fuzzy) translation,
and the compiled catalogue committed beside it is up to date."""

import gettext
import re
from pathlib import Path

import polib
from django.conf import settings

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES" / "django.po"


def _entries() -> list[polib.POEntry]:
    return [entry for entry in polib.pofile(str(CATALOGUE)) if not entry.obsolete]


def test_every_message_has_a_spanish_translation():
    missing = []
    for entry in _entries():
        if entry.msgid_plural:
            translated = bool(entry.msgstr_plural) and all(entry.msgstr_plural.values())
        else:
            translated = bool(entry.msgstr.strip())
        if not translated or entry.fuzzy:
            missing.append(entry.msgid)
    assert missing == [], f"{len(missing)} messages lack a reviewed Spanish translation: {missing[:10]}"


def test_placeholders_survive_translation():
    """A translation that drops or renames %(name)s would crash or hide the value at render time."""
    broken = []
    for entry in _entries():
        names = set(re.findall(r"%\((\w+)\)", entry.msgid + entry.msgid_plural))
        translations = entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]
        for text in translations:
            used = set(re.findall(r"%\((\w+)\)", text))
            if used - names or (not entry.msgid_plural and used != names):
                broken.append(entry.msgid)
    assert broken == []


def test_compiled_catalogue_matches_the_source():
    """django.mo is committed (a fresh machine may lack gettext); it must hold every translation."""
    with open(CATALOGUE.with_suffix(".mo"), "rb") as compiled_file:
        compiled = gettext.GNUTranslations(compiled_file)
    stale = [
        entry.msgid
        for entry in _entries()
        if not entry.msgid_plural
        and entry.msgid
        and (compiled.pgettext(entry.msgctxt, entry.msgid) if entry.msgctxt else compiled.gettext(entry.msgid))
        != entry.msgstr
    ]
    assert stale == [], f"run compilemessages: {stale[:5]}"
