"""graphene is an optional extra: only schema, views and graphql_limits import it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = """
import sys
import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=[
        "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
        "django.contrib.sessions", "django.contrib.messages", "user_messages",
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates",
                "OPTIONS": {"context_processors": ["user_messages.context_processors.messages"]}}],
)
django.setup()
import user_messages.admin, user_messages.api, user_messages.cache, user_messages.checks
import user_messages.context_processors, user_messages.models
from user_messages.checks import check_context_processors, check_settings
assert check_context_processors() == [] and check_settings() == []
loaded = sorted(name for name in sys.modules if name.split(".")[0] in {"graphene", "graphql"})
print(loaded)
"""


def last_line_printed_by(program: str) -> str:
    """Run ``program`` in a fresh interpreter with only this repository importable."""
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        env={"PATH": "", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_the_app_runs_without_importing_graphene():
    assert last_line_printed_by(PROGRAM) == "[]"


STRAWBERRY_PROGRAM = PROGRAM.replace(
    "loaded = sorted(",
    "import user_messages.strawberry, user_messages.strawberry.views\nloaded = sorted(",
).replace('{"graphene", "graphql"}', '{"graphene", "graphene_django"}')


def test_the_strawberry_api_imports_without_graphene():
    pytest.importorskip("strawberry")

    assert last_line_printed_by(STRAWBERRY_PROGRAM) == "[]"


DISMISS_PROGRAM = (
    PROGRAM.replace(
        "import user_messages.context_processors, user_messages.models\n",
        "import user_messages.context_processors, user_messages.models\n"
        "before = set(sys.modules)\n"
        "import user_messages.dismiss, user_messages.urls\n"
        "import user_messages.templatetags.user_messages\n",
    )
    .replace(
        'for name in sys.modules if name.split(".")[0] in {"graphene", "graphql"}',
        'for name in set(sys.modules) - before if name.split(".")[0] in OPTIONAL',
    )
    .replace(
        "import sys\n",
        'import sys\nOPTIONAL = {"graphene", "graphql", "strawberry", "channels"}\n',
        1,
    )
)


def test_the_dismiss_views_and_template_tags_need_no_graphql_and_no_channels():
    """Template-only sites use them: they import neither GraphQL stack nor Channels."""
    assert "set(sys.modules) - before" in DISMISS_PROGRAM
    assert last_line_printed_by(DISMISS_PROGRAM) == "[]"
