"""German translations: shipped, compiled, and complete."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import translation

from user_messages.models import Message

LOCALE = Path(__file__).resolve().parent.parent / "user_messages" / "locale"


def test_model_and_app_names_are_translated_to_german():
    with translation.override("de"):
        assert str(Message._meta.verbose_name) == "Mitteilung"
        assert str(Message._meta.verbose_name_plural) == "Mitteilungen"
        assert str(Message._meta.get_field("expires_at").verbose_name) == "läuft ab um"


def _entries(po: str) -> dict[str, str]:
    """msgid -> msgstr of a .po file, joined across lines; plural forms keep their first."""
    entries: dict[str, str] = {}
    key = None
    current = ""
    target = None
    fuzzy = False
    for line in [*po.splitlines(), ""]:
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        if line.startswith("msgid "):
            key, target = line[6:].strip('"'), "id"
        elif line.startswith(("msgstr ", "msgstr[0] ")):
            current, target = line.split(" ", 1)[1].strip('"'), "str"
        elif line.startswith('"') and target == "id":
            key = (key or "") + line.strip('"')
        elif line.startswith('"') and target == "str":
            current += line.strip('"')
        elif not line.strip() and key:
            entries[key] = "" if fuzzy else current
            key, current, target, fuzzy = None, "", None, False
    return entries


def test_every_german_string_is_translated():
    entries = _entries((LOCALE / "de" / "LC_MESSAGES" / "django.po").read_text())

    assert entries
    assert [msgid for msgid, msgstr in entries.items() if not msgstr] == []


@pytest.mark.skipif(
    shutil.which("xgettext") is None and not os.environ.get("CI"),
    reason="needs GNU gettext (CI installs it, so there it fails instead)",
)
def test_the_catalogue_has_every_string_the_code_marks(tmp_path):
    package = Path(__file__).resolve().parent.parent / "user_messages"
    copy = tmp_path / "user_messages"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "de", "--no-location"],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
    )
    shipped = _entries((LOCALE / "de" / "LC_MESSAGES" / "django.po").read_text())
    fresh = _entries((copy / "locale" / "de" / "LC_MESSAGES" / "django.po").read_text())

    assert sorted(set(fresh) - set(shipped)) == []
    assert sorted(set(shipped) - set(fresh)) == []
