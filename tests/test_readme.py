"""The README is the front door: short, its commands and snippets working, its links alive."""

from __future__ import annotations

import copy
import importlib.metadata
import re
from pathlib import Path
from typing import Any

import django
import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.core.checks import run_checks
from django.test import override_settings

from user_messages import api
from user_messages.models import Message

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
QUICKSTART = """```sh
bash example_project/start.sh   # the example project on SQLite: http://127.0.0.1:8000/
bash .ci/test                   # the test suite (SQLite; no server needed)
```
"""
DOCS_BUILD = "python -m sphinx -W --keep-going -n -b html docs docs/_build/html"


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.S | re.M)


def test_the_readme_fits_in_250_lines() -> None:
    assert len(README.splitlines()) <= 250


def test_the_readme_keeps_the_two_quickstart_commands() -> None:
    assert QUICKSTART in README
    assert (REPO / "example_project" / "start.sh").is_file()
    assert (REPO / ".ci" / "test").is_file()


def test_every_relative_link_of_the_readme_points_to_a_file_that_exists() -> None:
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    relative = [link for link in links if not link.startswith(("http://", "https://"))]
    docs_pages = [link for link in relative if link.startswith("docs/")]

    assert len(docs_pages) >= 15  # one per feature, at least
    assert [link for link in relative if not (REPO / link).exists()] == []
    # Pages only: the built site and GitHub both render them.
    assert [link for link in docs_pages if not link.endswith(".md")] == []


def test_the_readme_builds_the_docs_as_ci_does() -> None:
    (command,) = [block for block in blocks("sh") if "sphinx" in block]
    assert command.strip().endswith(DOCS_BUILD)
    ci = (REPO / ".ci" / "run").read_text()
    assert DOCS_BUILD.replace("python -m sphinx", 'python" -m sphinx -q') in ci
    assert '-e ".[docs]"' in command
    assert "docs" in (
        importlib.metadata.metadata("django-user-messages-plus").get_all("Provides-Extra") or []
    )


def startproject_settings() -> dict[str, Any]:
    """The settings `django-admin startproject` writes, as a namespace."""
    template = Path(django.__file__).parent / "conf" / "project_template" / "project_name"
    code = (template / "settings.py-tpl").read_text()
    code = re.sub(r"\{% .*? %\}", "", re.sub(r"\{\{.*?\}\}", "x", code))
    namespace: dict[str, Any] = {"__file__": str(template / "settings.py")}
    exec(code, namespace)
    return namespace


def test_the_readme_settings_put_the_context_processor_after_djangos() -> None:
    settings = startproject_settings()
    settings["TEMPLATES"] = copy.deepcopy(settings["TEMPLATES"])
    (code,) = [block for block in blocks("python") if "INSTALLED_APPS" in block]

    exec(code, settings)

    processors = settings["TEMPLATES"][0]["OPTIONS"]["context_processors"]
    assert processors[-2:] == [
        "django.contrib.messages.context_processors.messages",
        "user_messages.context_processors.messages",
    ]
    assert settings["INSTALLED_APPS"][-2:] == ["django.contrib.messages", "user_messages"]
    with override_settings(TEMPLATES=settings["TEMPLATES"]):
        ids = [error.id for error in run_checks()]
    assert "user_messages.E002" not in ids
    assert "admin.E404" not in ids


@pytest.mark.django_db
def test_the_readme_sends_what_it_says(user: AbstractBaseUser) -> None:
    (code,) = [block for block in blocks("python") if "api.info" in block]

    exec(code, {"user": user})

    assert [(m.message, m.deliver_once, m.meta) for m in Message.objects.order_by("pk")] == [
        ("Your export is ready.", True, {"url": "/exports/42/"}),
        ("Verify your e-mail address.", False, {}),
    ]
    assert [m.message for m in api.get_messages(user=user)] == [
        "Your export is ready.",
        "Verify your e-mail address.",
    ]
    assert [m.message for m in api.get_messages(user=user)] == ["Verify your e-mail address."]


def test_the_readme_installs_only_extras_the_package_has() -> None:
    declared = importlib.metadata.metadata("django-user-messages-plus").get_all("Provides-Extra")
    installs = re.findall(r'pip install (?:-e )?"[^"]*\[([\w,]+)\]"', README)

    assert installs == ["graphql", "graphql", "docs"]
    assert {extra for found in installs for extra in found.split(",")} <= set(declared or [])
